"""The Interactions API's JSON (POST /v1beta/interactions): its shapes, the request read, the steps written.

Unlike generateContent, this API is snake_case on the wire, both ways, as google-genai's
`client.interactions` (google/genai/_gaos/types/interactions) sends and reads it.
"""

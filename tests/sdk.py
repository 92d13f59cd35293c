"""google-genai clients pointed at a test server: Gemini Developer API, Vertex AI, Vertex AI express."""

from __future__ import annotations

import google.oauth2.credentials
from google import genai
from google.genai import types


def developer_client(url: str) -> genai.Client:
    return genai.Client(api_key="test-key", http_options=types.HttpOptions(base_url=url))


def vertex_client(url: str) -> genai.Client:
    return genai.Client(
        vertexai=True,
        project="test-project",
        location="us-central1",
        credentials=google.oauth2.credentials.Credentials(token="test-token"),
        http_options=types.HttpOptions(base_url=url),
    )


def vertex_express_client(url: str) -> genai.Client:
    return genai.Client(vertexai=True, api_key="test-key", http_options=types.HttpOptions(base_url=url))

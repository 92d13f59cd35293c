"""generationConfig fields that change the answer, through the SDK: log-probabilities, and the plain words
that say why a response finished early."""

from __future__ import annotations

from google import genai
from google.genai import types

from live import LiveServer
from sdk import vertex_client

QUESTION = "```python\nprint(6 * 7)\n```"
GENERATE = "/v1beta/models/scripted:generateContent"
CODE_TOOL = types.Tool(code_execution=types.ToolCodeExecution())


def test_log_probabilities_cover_the_whole_trail(gemini_client: genai.Client) -> None:
    config = types.GenerateContentConfig(tools=[CODE_TOOL], response_logprobs=True, logprobs=1)
    response = gemini_client.models.generate_content(model="scripted", contents=QUESTION, config=config)
    candidate = response.candidates[0]
    chosen = candidate.logprobs_result.chosen_candidates
    # The scripted model is certain of every word it writes: the code's fence and all.
    assert "".join(token.token for token in chosen).startswith(
        "Running the code.\n```python\nprint(6 * 7)\n```"
    )
    assert all(token.log_probability == 0 for token in chosen)
    assert [top.candidates for top in candidate.logprobs_result.top_candidates] == [
        [token] for token in chosen
    ]
    assert candidate.avg_logprobs == 0


def test_a_stream_carries_the_log_probabilities_in_its_last_chunk(gemini_client: genai.Client) -> None:
    config = types.GenerateContentConfig(response_logprobs=True)
    chunks = list(
        gemini_client.models.generate_content_stream(model="scripted", contents="hi", config=config)
    )
    assert all(chunk.candidates[0].logprobs_result is None for chunk in chunks[:-1])
    last = chunks[-1].candidates[0]
    assert "".join(t.token for t in last.logprobs_result.chosen_candidates) == "".join(c.text for c in chunks)
    assert last.logprobs_result.top_candidates is None


def test_no_log_probabilities_unless_asked(gemini_client: genai.Client) -> None:
    response = gemini_client.models.generate_content(
        model="scripted", contents="hi", config=types.GenerateContentConfig(logprobs=3)
    )
    assert response.candidates[0].logprobs_result is None and response.candidates[0].avg_logprobs is None


def test_a_finish_at_the_token_limit_says_so(live_server: LiveServer) -> None:
    body = {"contents": {"parts": {"text": "tell me more " * 5}}, "generationConfig": {"maxOutputTokens": 3}}
    with live_server.client() as http:
        candidate = http.post(GENERATE, json=body).json()["candidates"][0]
        plain = http.post(GENERATE, json={"contents": {"parts": {"text": "hi"}}}).json()["candidates"][0]
    assert candidate["finishReason"] == "MAX_TOKENS"
    assert (
        candidate["finishMessage"] == "The response reached its limit of 3 output tokens (maxOutputTokens)."
    )
    assert plain["finishReason"] == "STOP" and "finishMessage" not in plain


def test_the_vertex_sdk_reads_the_finish_message(live_server: LiveServer) -> None:
    # The Developer API's converter in google-genai 3.3.0 drops finishMessage; Vertex's keeps it.
    with vertex_client(live_server.url) as client:
        response = client.models.generate_content(
            model="scripted",
            contents="tell me more " * 5,
            config=types.GenerateContentConfig(max_output_tokens=3),
        )
    assert response.candidates[0].finish_message.startswith(
        "The response reached its limit of 3 output tokens"
    )

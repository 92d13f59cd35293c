"""The embedded Qwen2.5-Coder 0.5B behind a live server, through the official SDK: known answers.

Greedy decoding (temperature 0) with a fixed seed keeps the answers reproducible.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from google import genai
from google.genai import types

from codeloop.settings import Settings
from live import LiveServer, serving

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

PRIMES = (
    "What is the sum of the first 50 prime numbers? Generate and run code for the calculation, "
    "and make sure you get all 50."
)
SEED_CHAT = (Path(__file__).parents[1] / "conformance" / "seed" / "chat_body.txt").read_bytes()


def config(**overrides: object) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(
        tools=[types.Tool(code_execution=types.ToolCodeExecution())], temperature=0, seed=0, **overrides
    )


@pytest.fixture(scope="module")
def model_server() -> Iterator[LiveServer]:
    with serving(Settings(model="qwen2.5-coder-0.5b", exec_timeout=20)) as server:
        yield server


@pytest.fixture
def client(model_server: LiveServer) -> Iterator[genai.Client]:
    with genai.Client(api_key="unused", http_options=types.HttpOptions(base_url=model_server.url)) as client:
        yield client


def results(response: types.GenerateContentResponse) -> list[types.CodeExecutionResult]:
    parts = response.candidates[0].content.parts
    return [part.code_execution_result for part in parts if part.code_execution_result]


def test_sum_of_the_first_50_primes(client: genai.Client) -> None:
    response = client.models.generate_content(model="qwen2.5-coder-0.5b", contents=PRIMES, config=config())
    assert response.executable_code
    assert any(r.outcome == types.Outcome.OUTCOME_OK and "5117" in r.output for r in results(response))
    final = response.candidates[0].content.parts[-1].text
    assert "5117" in final
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    usage = response.usage_metadata
    assert usage.prompt_token_count > 100 and usage.candidates_token_count > 20
    assert usage.tool_use_prompt_token_count > 0


def test_the_seed_chat_body(model_server: LiveServer) -> None:
    path = "/v1/projects/p/locations/global/publishers/google/models/gemini-2.0-flash-001:generateContent"
    response = httpx.post(model_server.url + path, content=SEED_CHAT, timeout=300)
    assert response.status_code == 200, response.text
    body = response.json()
    parts = body["candidates"][0]["content"]["parts"]
    assert body["modelVersion"] == "qwen2.5-coder-0.5b"
    assert any("executableCode" in part for part in parts)
    assert any(part.get("codeExecutionResult", {}).get("outcome") == "OUTCOME_OK" for part in parts)
    assert "text" in parts[-1] and parts[-1]["text"].strip()


def test_a_greeting_needs_no_code(client: genai.Client) -> None:
    response = client.models.generate_content(
        model="qwen2.5-coder-0.5b", contents="Hello! How are you?", config=config()
    )
    assert response.executable_code is None
    assert response.text.strip()


def test_a_failing_first_block_is_recovered(client: genai.Client) -> None:
    question = (
        "Compute the sum of [1, 2, 3, 4] with PyTorch, torch.tensor([1, 2, 3, 4]).sum(). "
        "If torch cannot be imported, use Python's built-in sum() on the list instead."
    )
    response = client.models.generate_content(model="qwen2.5-coder-0.5b", contents=question, config=config())
    outcomes = [r.outcome for r in results(response)]
    assert outcomes[0] == types.Outcome.OUTCOME_FAILED  # there is no torch in the sandbox
    assert "ModuleNotFoundError" in results(response)[0].output
    assert any(
        r.outcome == types.Outcome.OUTCOME_OK and r.output.strip() == "10" for r in results(response)[1:]
    )


def test_streaming_with_the_real_model(client: genai.Client) -> None:
    chunks = list(
        client.models.generate_content_stream(model="qwen2.5-coder-0.5b", contents=PRIMES, config=config())
    )
    kinds = [
        next(
            iter(
                chunk.candidates[0].content.parts[0].model_dump(exclude_none=True, exclude={"part_metadata"})
            )
        )
        for chunk in chunks
    ]
    assert kinds.count("executable_code") >= 1 and kinds.count("code_execution_result") >= 1
    assert kinds.count("text") > 3, "text arrives token by token"
    assert "5117" in "".join(chunk.text or "" for chunk in chunks[kinds.index("code_execution_result") :])


def test_max_output_tokens(client: genai.Client) -> None:
    response = client.models.generate_content(
        model="qwen2.5-coder-0.5b",
        contents="Write a long poem about the sea.",
        config=types.GenerateContentConfig(temperature=0, seed=0, max_output_tokens=12),
    )
    assert response.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert response.usage_metadata.candidates_token_count <= 12


def test_stop_sequences(client: genai.Client) -> None:
    response = client.models.generate_content(
        model="qwen2.5-coder-0.5b",
        contents="Count from 1 to 10 in words, separated by spaces.",
        config=types.GenerateContentConfig(temperature=0, seed=0, stop_sequences=["Five"]),
    )
    assert response.text.rstrip().endswith("Four")  # stop sequences match case-sensitively, as Gemini's do
    assert response.candidates[0].finish_reason == types.FinishReason.STOP


def test_count_tokens_uses_the_real_tokenizer(client: genai.Client, model_server: LiveServer) -> None:
    backend = model_server.app.state.runtime.registry.resolve("qwen2.5-coder-0.5b")
    counted = client.models.count_tokens(model="qwen2.5-coder-0.5b", contents="Hello, tokenizer!")
    assert counted.total_tokens == backend.count_tokens("Hello, tokenizer!")
    assert counted.total_tokens == len(backend.llm.tokenize(b"Hello, tokenizer!", add_bos=False))


def test_log_probabilities_of_the_tokens_the_model_chose(client: genai.Client) -> None:
    response = client.models.generate_content(
        model="qwen2.5-coder-0.5b",
        contents="Say hello in five words.",
        config=types.GenerateContentConfig(
            temperature=0, seed=0, max_output_tokens=16, response_logprobs=True, logprobs=3
        ),
    )
    candidate = response.candidates[0]
    result = candidate.logprobs_result
    chosen = result.chosen_candidates
    assert "".join(token.token for token in chosen) == response.text
    assert all(token.log_probability <= 0 and token.token_id is not None for token in chosen)
    assert candidate.avg_logprobs == pytest.approx(sum(t.log_probability for t in chosen) / len(chosen))
    for token, top in zip(chosen, result.top_candidates, strict=True):
        alternatives = [c.log_probability for c in top.candidates]
        assert len(alternatives) == 3 and alternatives == sorted(alternatives, reverse=True)
        # At temperature 0 the chosen token is the likeliest one.
        assert top.candidates[0].token_id == token.token_id

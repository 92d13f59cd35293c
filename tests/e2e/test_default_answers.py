"""The default set-up answers what people ask code execution, however they ask it.

The server runs as `make serve` runs it (Settings() as shipped, the default model); the questions come
through the official SDK the way a newcomer asks them, with code execution on and nothing else set
(the model's default sampling, no seed): the loop, not luck, has to get them right.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from google import genai
from google.genai import types

from codeloop.settings import Settings
from live import LiveServer, serving

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

PRIMES = [
    "What is the sum of the first 50 prime numbers?",
    "Sum the first 50 primes.",
    "What do the first fifty prime numbers add up to?",
    "What is the sum of the first 50 prime numbers? Generate and run code for the calculation, and make "
    "sure you get all 50.",
    "Add up the first 50 prime numbers, please.",
]


@pytest.fixture(scope="module")
def client() -> Iterator[genai.Client]:
    with serving(Settings()) as server, _client(server) as client:
        yield client


def _client(server: LiveServer) -> genai.Client:
    return genai.Client(api_key="unused", http_options=types.HttpOptions(base_url=server.url))


def ask(client: genai.Client, question: str) -> types.GenerateContentResponse:
    tools = [types.Tool(code_execution=types.ToolCodeExecution())]
    return client.models.generate_content(
        model="gemini-2.5-flash", contents=question, config=types.GenerateContentConfig(tools=tools)
    )


@pytest.mark.parametrize("question", PRIMES)
def test_the_first_50_primes_sum_to_5117_however_asked(client: genai.Client, question: str) -> None:
    response = ask(client, question)
    assert response.executable_code, "the answer was not computed"
    assert "5117" in (response.candidates[0].content.parts[-1].text or "")


def test_strawberry_has_three_rs(client: genai.Client) -> None:
    response = ask(client, "How many r's are in strawberry?")
    assert response.executable_code
    final = response.candidates[0].content.parts[-1].text or ""
    assert "3" in final or "three" in final.lower()

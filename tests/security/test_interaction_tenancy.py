"""Stored interactions, kept apart and kept bounded: each is its API key's alone, a key stores a bounded
number (its oldest finished ones make room), runs a bounded number in the background, and what goes
unused expires, its interpreter closed with it.

Real servers on loopback with API keys; key B tries everything it can on what key A made and finds
nothing there: 404 NOT_FOUND, as if it did not exist.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from codeloop.owners import key_owner, owner_tag
from codeloop.settings import Settings
from live import LiveServer, serving, wait_until

A, B = "interactions-key-a", "interactions-key-b"
CODE = [{"type": "code_execution"}]
CREATE = "/v1beta/interactions"


def keyed_server(data_dir: Path, **caps: Any) -> contextlib.AbstractContextManager[LiveServer]:
    settings = Settings(model="scripted", exec_timeout=20, api_keys=f"{A},{B}", data_dir=data_dir, **caps)
    return serving(settings)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with keyed_server(
        tmp_path_factory.mktemp("interactions"), max_interactions_per_key=3, max_concurrent_per_key=1
    ) as server:
        yield server


def http(server: LiveServer, key: str) -> httpx.Client:
    client = server.client()
    client.headers["x-goog-api-key"] = key
    return client


def create(client: httpx.Client, code: str, **fields: Any) -> httpx.Response:
    body = {"model": "scripted", "input": f"```python\n{code}\n```", "tools": CODE, **fields}
    return client.post(CREATE, json=body)


def result_of(interaction: dict) -> str:
    (result,) = [step["result"] for step in interaction["steps"] if step["type"] == "code_execution_result"]
    return str(result)


def assert_not_found(response: httpx.Response) -> None:
    assert response.status_code == 404, response.text
    assert response.json()["error"]["status"] == "NOT_FOUND"


def open_sessions(client: httpx.Client) -> float:
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == "codeloop_sandbox_sessions" and sample.labels == {"state": "open"}:
                return sample.value
    raise AssertionError("no codeloop_sandbox_sessions{state=open}")


def test_another_key_finds_nothing(server: LiveServer) -> None:
    with http(server, A) as a, http(server, B) as b:
        made = create(a, "secret = 'only A'")
        assert made.status_code == 200, made.text
        interaction_id = made.json()["id"]
        path = f"{CREATE}/{interaction_id}"
        assert_not_found(b.get(path))
        assert_not_found(b.get(path, params={"stream": "true"}))
        assert_not_found(b.post(f"{path}/cancel"))
        assert_not_found(b.delete(path))
        assert_not_found(create(b, "print(secret)", previous_interaction_id=interaction_id))
        # A's interaction, and its interpreter, are untouched by all that.
        assert a.get(path).json()["status"] == "completed"
        went_on = create(a, "print(secret)", previous_interaction_id=interaction_id)
        assert result_of(went_on.json()) == "only A\n"


def test_a_key_stores_so_many_and_its_oldest_make_room(server: LiveServer) -> None:
    with http(server, A) as a, http(server, B) as b:
        kept_by_b = create(b, "print('B')").json()["id"]
        made = [create(a, f"print({n})").json()["id"] for n in range(5)]
        found = [a.get(f"{CREATE}/{interaction_id}").status_code for interaction_id in made]
        assert found == [404, 404, 200, 200, 200]  # the key's cap: 3
        assert b.get(f"{CREATE}/{kept_by_b}").status_code == 200, "a key never loses another key's"
        scraped = text_string_to_metric_families(a.get("/metrics").text)
        counts = {
            sample.labels["key"]: sample.value
            for family in scraped
            for sample in family.samples
            if sample.name == "codeloop_key_interactions"
        }
        assert counts[owner_tag(key_owner(A))] == 3


def test_a_key_runs_so_many_in_the_background(server: LiveServer) -> None:
    with http(server, B) as b:
        first = create(b, "import time\ntime.sleep(10)", background=True)
        assert first.status_code == 200 and first.json()["status"] == "in_progress"
        second = create(b, "print(1)", background=True)
        assert second.status_code == 429 and second.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
        assert create(b, "print('in the foreground')").status_code == 200
        cancelled = b.post(f"{CREATE}/{first.json()['id']}/cancel").json()
        assert cancelled["status"] == "cancelled"
        assert create(b, "print(2)", background=True).status_code == 200


def test_when_all_of_a_keys_interactions_run_there_is_no_room(tmp_path: Path) -> None:
    with (
        keyed_server(tmp_path, max_interactions_per_key=2, max_concurrent_per_key=0) as server,
        http(server, A) as a,
    ):
        running = [create(a, "import time\ntime.sleep(10)", background=True).json()["id"] for _ in range(2)]
        refused = create(a, "print(1)")
        assert refused.status_code == 429 and refused.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
        assert create(a, "print(1)", store=False).status_code == 200, "an unstored one needs no room"
        for interaction_id in running:
            a.delete(f"{CREATE}/{interaction_id}")
        assert create(a, "print(1)").status_code == 200


def test_unused_interactions_expire_and_close_their_interpreter(tmp_path: Path) -> None:
    with keyed_server(tmp_path, session_idle_timeout=1.5) as server, http(server, A) as a:
        before = open_sessions(a)
        made = create(a, "x = 1").json()["id"]
        assert open_sessions(a) == before + 1, "the conversation keeps its interpreter"
        time.sleep(2)
        assert_not_found(a.get(f"{CREATE}/{made}"))
        assert open_sessions(a) == before


def test_deleting_closes_the_conversations_interpreter(tmp_path: Path) -> None:
    with keyed_server(tmp_path) as server, http(server, A) as a:
        before = open_sessions(a)
        first = create(a, "x = 1").json()["id"]
        second = create(a, "print(x)", previous_interaction_id=first).json()["id"]
        assert open_sessions(a) == before + 1, "one interpreter per conversation"
        assert a.delete(f"{CREATE}/{first}").status_code == 200
        assert open_sessions(a) == before + 1, "the second turn still holds it"
        assert a.delete(f"{CREATE}/{second}").status_code == 200
        assert wait_until(lambda: open_sessions(a) == before)

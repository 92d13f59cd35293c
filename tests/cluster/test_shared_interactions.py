"""Stored interactions on a cluster: created through one server, read, continued (in the same
interpreter), deleted and expired through another, each its owner's alone through every server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cluster_nodes import RayCluster

from codeloop.settings import Settings
from live import LiveServer, serving, wait_until

pytestmark = [pytest.mark.ray, pytest.mark.timeout(300)]

KEYS = ("key-a", "key-b")
CODE = [{"type": "code_execution"}]
PATH = "/v1beta/interactions"


def settings_for(cluster: RayCluster, data_dir: Path, **overrides: Any) -> Settings:
    return Settings(
        model="scripted",
        ray=cluster.address,
        preload="",
        spare_sessions=0,
        api_keys=",".join(KEYS),
        data_dir=data_dir,
        shared_data_dir=True,
        **overrides,
    )


@pytest.fixture(scope="module")
def servers(
    ray_cluster: RayCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two servers on one cluster and one data directory, as two replicas are."""
    data_dir = tmp_path_factory.mktemp("shared")
    with (
        serving(settings_for(ray_cluster, data_dir)) as first,
        serving(settings_for(ray_cluster, data_dir)) as second,
    ):
        yield first, second


def python(code: str) -> str:
    return f"Run this.\n```python\n{code}\n```\n"


def create(server: LiveServer, code: str, key: str = KEYS[0], **body: Any) -> dict:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        answer = http.post(
            PATH,
            json={"model": "scripted", "input": python(code), "tools": CODE, **body},
            headers={"x-goog-api-key": key},
        )
    assert answer.status_code == 200, answer.text
    found: dict = answer.json()
    return found


def call(server: LiveServer, method: str, interaction_id: str, key: str = KEYS[0]) -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        return http.request(method, f"{PATH}/{interaction_id}", headers={"x-goog-api-key": key})


def result_of(interaction: dict) -> str:
    found: str = next(s["result"] for s in interaction["steps"] if s["type"] == "code_execution_result")
    return found


def test_an_interaction_continues_through_another_server_in_the_same_interpreter(
    servers: tuple[LiveServer, LiveServer],
) -> None:
    first, second = servers
    made = create(first, "x = 41\nopen('notes.txt', 'w').write('kept')")
    assert made["status"] == "completed"
    read = call(second, "GET", made["id"])
    assert read.status_code == 200, read.text
    assert read.json()["steps"] == made["steps"] and read.json()["status"] == "completed"

    continued = create(second, "print(x + 1, open('notes.txt').read())", previous_interaction_id=made["id"])
    assert result_of(continued) == "42 kept\n"
    assert continued["previous_interaction_id"] == made["id"]
    # And back: the third turn, through the first server, continues the second's interpreter.
    third = create(first, "x += 1\nprint(x)", previous_interaction_id=continued["id"])
    assert result_of(third) == "42\n"


def test_another_key_finds_no_interaction_through_any_server(servers: tuple[LiveServer, LiveServer]) -> None:
    first, second = servers
    made = create(first, "secret = 'a-only'\nprint(secret)")
    for server in (first, second):
        for method in ("GET", "DELETE"):
            stolen = call(server, method, made["id"], key=KEYS[1])
            assert stolen.status_code == 404
            assert stolen.json()["error"]["status"] == "NOT_FOUND"
            assert "a-only" not in stolen.text
        with httpx.Client(base_url=server.url, timeout=60) as http:
            branch = http.post(
                PATH,
                json={
                    "model": "scripted",
                    "input": python("print(secret)"),
                    "tools": CODE,
                    "previous_interaction_id": made["id"],
                },
                headers={"x-goog-api-key": KEYS[1]},
            )
        assert branch.status_code == 404
    assert call(second, "GET", made["id"]).status_code == 200


def test_deleted_through_one_server_is_gone_through_the_other(servers: tuple[LiveServer, LiveServer]) -> None:
    first, second = servers
    made = create(first, "print('bye')")
    assert call(second, "DELETE", made["id"]).status_code == 200
    for server in (first, second):
        assert call(server, "GET", made["id"]).status_code == 404
    assert call(first, "DELETE", made["id"]).status_code == 404


def test_a_running_interaction_shows_its_progress_through_another_server(
    servers: tuple[LiveServer, LiveServer],
) -> None:
    first, second = servers
    made = create(first, "import time\ntime.sleep(3)\nprint('late')", background=True)
    assert made["status"] == "in_progress"

    def progress() -> dict:
        answer = call(second, "GET", made["id"])
        assert answer.status_code == 200, answer.text
        found: dict = answer.json()
        return found

    assert wait_until(
        lambda: any(s["type"] == "code_execution_call" for s in progress()["steps"]), timeout=20
    )
    assert progress()["status"] == "in_progress"
    assert wait_until(lambda: progress()["status"] == "completed", timeout=30)
    assert result_of(progress()) == "late\n"


def test_an_unused_interaction_expires_for_every_server(ray_cluster: RayCluster, tmp_path: Path) -> None:
    settings = settings_for(ray_cluster, tmp_path, session_idle_timeout=1)
    with serving(settings) as first, serving(settings) as second:
        made = create(first, "y = 1")
        assert call(second, "GET", made["id"]).status_code == 200
        time.sleep(2)
        assert call(second, "GET", made["id"]).status_code == 404
        assert call(first, "GET", made["id"]).status_code == 404
        assert not list((tmp_path / "interactions").glob("*.json"))

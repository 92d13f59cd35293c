"""codeloop under Ray Serve: two replicas; a kept session continues through either, and through the one
left when the other is killed; a key never reaches another key's session through any replica."""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import pytest
import ray
from cluster_nodes import RayCluster, serve_app

from codeloop.cluster.serve import REPLICA_HEADER

pytestmark = [pytest.mark.ray, pytest.mark.timeout(300)]

GENERATE = "/v1beta/models/scripted:generateContent"
KEYS = ("key-a", "key-b")


def block(code: str) -> dict:
    return {"tools": {"codeExecution": {}}, "contents": {"parts": {"text": f"```python\n{code}\n```"}}}


def output(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    parts = response.json()["candidates"][0]["content"]["parts"]
    found: str = next(p["codeExecutionResult"] for p in parts if "codeExecutionResult" in p)["output"]
    return found


@pytest.fixture(scope="module")
def proxy(ray_cluster: RayCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_app(
        {"model": "scripted", "api_keys": ",".join(KEYS)}, tmp_path_factory.mktemp("shared-data")
    ) as url:
        yield url


def post(url: str, code: str, key: str, session: str) -> httpx.Response:
    with httpx.Client(base_url=url, timeout=60) as http:
        return http.post(
            GENERATE, json=block(code), headers={"x-goog-api-key": key, "x-codeloop-session": session}
        )


def kill_replica(replica_id: str) -> None:
    for actor in ray.util.list_named_actors(all_namespaces=True):
        if actor["name"].startswith("SERVE_REPLICA::") and actor["name"].endswith(replica_id):
            ray.kill(ray.get_actor(actor["name"], namespace=actor["namespace"]), no_restart=True)
            return
    raise AssertionError(f"no replica {replica_id}")


def test_a_key_never_reaches_another_keys_session_through_any_replica(proxy: str) -> None:
    session = post(proxy, "secret = 'a-only'", KEYS[0], "new").headers["x-codeloop-session"]
    for _ in range(6):
        stolen = post(proxy, "print(secret)", KEYS[1], session)
        assert stolen.status_code == 404
        assert "a-only" not in stolen.text
    assert output(post(proxy, "print(secret)", KEYS[0], session)) == "a-only\n"


def test_a_file_uploaded_through_the_proxy_is_served_by_every_replica(proxy: str) -> None:
    from google import genai
    from google.genai import types

    client = genai.Client(api_key=KEYS[0], http_options=types.HttpOptions(base_url=proxy))
    stored = client.files.upload(
        file=io.BytesIO(b"a,b\n1,2\n"), config=types.UploadFileConfig(mime_type="text/csv")
    )
    assert stored.name is not None
    served_by = set()
    with httpx.Client(base_url=proxy, timeout=60) as http:
        for _ in range(20):
            found = http.get(f"/v1beta/{stored.name}", headers={"x-goog-api-key": KEYS[0]})
            assert found.status_code == 200, found.text
            served_by.add(found.headers[REPLICA_HEADER])
            hidden = http.get(f"/v1beta/{stored.name}", headers={"x-goog-api-key": KEYS[1]})
            assert hidden.status_code == 404
            if len(served_by) == 2:
                break
    assert len(served_by) == 2
    client.files.delete(name=stored.name)
    with httpx.Client(base_url=proxy, timeout=60) as http:
        for _ in range(4):
            gone = http.get(f"/v1beta/{stored.name}", headers={"x-goog-api-key": KEYS[0]})
            assert gone.status_code == 404


def test_a_session_continues_through_any_replica_and_outlives_a_killed_one(proxy: str) -> None:
    """Last in the module: the replica it kills is replaced only in the background."""
    opened = post(proxy, "x = 41", KEYS[0], "new")
    assert output(opened) == ""
    session, first = opened.headers["x-codeloop-session"], opened.headers[REPLICA_HEADER]
    served_by = {first}
    for _ in range(20):  # Serve's proxy spreads requests over the replicas
        continued = post(proxy, "print(x + 1)", KEYS[0], session)
        assert output(continued) == "42\n"
        served_by.add(continued.headers[REPLICA_HEADER])
        if len(served_by) == 2:
            break
    assert len(served_by) == 2

    kill_replica(first)
    for _ in range(6):
        after = post(proxy, "x += 1\nprint(x)", KEYS[0], session)
        assert after.headers[REPLICA_HEADER] != first
        assert int(output(after)) > 41

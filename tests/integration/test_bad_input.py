"""Bad input gets Google's error body with the right code, never a 500, a hang or a crash."""

from __future__ import annotations

import pytest

GENERATE = "/v1beta/models/scripted:generateContent"
STREAM = "/v1beta/models/scripted:streamGenerateContent"
OK_CONTENTS = b'"contents": {"parts": {"text": "hi"}}'

CASES = [
    # (name, path, body, code, status, words expected in the message)
    ("malformed json", GENERATE, b'{"contents": [', 400, "INVALID_ARGUMENT", "Invalid JSON payload"),
    ("empty body", GENERATE, b"", 400, "INVALID_ARGUMENT", "Invalid JSON payload"),
    ("not utf-8", GENERATE, b'{"contents": "\xff\xfe"}', 400, "INVALID_ARGUMENT", "UTF-8"),
    ("array body", GENERATE, b"[1, 2]", 400, "INVALID_ARGUMENT", "JSON object"),
    ("contents a number", GENERATE, b'{"contents": 5}', 400, "INVALID_ARGUMENT", "contents[0]"),
    (
        "text a number",
        GENERATE,
        b'{"contents": {"parts": {"text": 5}}}',
        400,
        "INVALID_ARGUMENT",
        "parts[0].text",
    ),
    ("part a string", GENERATE, b'{"contents": {"parts": ["hi"]}}', 400, "INVALID_ARGUMENT", "parts[0]"),
    (
        "unknown field",
        GENERATE,
        b'{"contents": {"parts": {"text": "hi"}}, "tols": []}',
        400,
        "INVALID_ARGUMENT",
        'Unknown name "tols"',
    ),
    ("empty contents", GENERATE, b'{"contents": []}', 400, "INVALID_ARGUMENT", "contents is not specified"),
    ("no contents", GENERATE, b"{}", 400, "INVALID_ARGUMENT", "contents is not specified"),
    (
        "empty parts",
        GENERATE,
        b'{"contents": {"role": "user", "parts": []}}',
        400,
        "INVALID_ARGUMENT",
        "parts must not be empty",
    ),
    ("empty part", GENERATE, b'{"contents": {"parts": {}}}', 400, "INVALID_ARGUMENT", "oneof field 'data'"),
    (
        "bad base64",
        GENERATE,
        b'{"contents": {"parts": {"inlineData": {"mimeType": "text/plain", "data": "%%"}}}}',
        400,
        "INVALID_ARGUMENT",
        "base64",
    ),
    ("deep nesting", GENERATE, b"[" * 200_000, 400, "INVALID_ARGUMENT", "Invalid JSON payload"),
    (
        "unsupported tool",
        GENERATE,
        b"{" + OK_CONTENTS + b', "tools": {"googleSearch": {}}}',
        400,
        "INVALID_ARGUMENT",
        "google_search",
    ),
    (
        "two candidates",
        GENERATE,
        b"{" + OK_CONTENTS + b', "generationConfig": {"candidateCount": 2}}',
        400,
        "INVALID_ARGUMENT",
        "candidate_count",
    ),
    (
        "json schema",
        GENERATE,
        b"{" + OK_CONTENTS + b', "generationConfig": {"responseMimeType": "application/json"}}',
        400,
        "INVALID_ARGUMENT",
        "response_mime_type",
    ),
    (
        "bad temperature",
        GENERATE,
        b"{" + OK_CONTENTS + b', "generationConfig": {"temperature": "hot"}}',
        400,
        "INVALID_ARGUMENT",
        "temperature",
    ),
    (
        "enum a number",
        GENERATE,
        b"{" + OK_CONTENTS + b', "safetySettings": {"category": 5, "threshold": "BLOCK_NONE"}}',
        400,
        "INVALID_ARGUMENT",
        "not a HarmCategory",
    ),
    (
        "unknown enum value",
        GENERATE,
        b"{" + OK_CONTENTS + b', "generationConfig": {"responseModalities": ["SMELL"]}}',
        400,
        "INVALID_ARGUMENT",
        '"SMELL": not a Modality',
    ),
    (
        "unknown model",
        "/v1beta/models/no-such-model:generateContent",
        b"{" + OK_CONTENTS + b"}",
        404,
        "NOT_FOUND",
        "no-such-model",
    ),
    ("unknown method", "/v1beta/models/scripted:fly", b"{" + OK_CONTENTS + b"}", 404, "NOT_FOUND", "fly"),
    (
        "unknown version",
        "/v9/models/scripted:generateContent",
        b"{" + OK_CONTENTS + b"}",
        404,
        "NOT_FOUND",
        "v9",
    ),
    ("unknown path", "/nothing/here", b"{}", 404, "NOT_FOUND", "/nothing/here"),
    ("stream malformed", STREAM, b"{", 400, "INVALID_ARGUMENT", "Invalid JSON payload"),
    (
        "stream unknown model",
        "/v1beta/models/nope:streamGenerateContent?alt=sse",
        b"{" + OK_CONTENTS + b"}",
        404,
        "NOT_FOUND",
        "nope",
    ),
]


def assert_google_error(response, code: int, status: str, words: str) -> None:
    assert response.status_code == code, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "status"}
    assert body["error"]["code"] == code
    assert body["error"]["status"] == status
    assert words in body["error"]["message"]


@pytest.mark.parametrize(
    ("name", "path", "body", "code", "status", "words"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_request(
    live_server, name: str, path: str, body: bytes, code: int, status: str, words: str
) -> None:
    with live_server.client() as http:
        assert_google_error(http.post(path, content=body), code, status, words)
        assert http.get("/healthz").json() == {"status": "ok"}


def test_huge_body_is_refused_by_its_declared_length(live_server) -> None:
    body = b'{"contents": {"parts": {"text": "' + b"x" * (3 << 20) + b'"}}}'
    with live_server.client() as http:
        assert_google_error(http.post(GENERATE, content=body), 413, "INVALID_ARGUMENT", "exceeds the limit")


def test_huge_chunked_body_is_refused_while_it_streams(live_server) -> None:
    def chunks():
        yield b'{"contents": {"parts": {"text": "'
        for _ in range(64):
            yield b"x" * (64 << 10)
        yield b'"}}}'

    with live_server.client() as http:
        assert_google_error(
            http.post(GENERATE, content=chunks()), 413, "INVALID_ARGUMENT", "exceeds the limit"
        )


def test_wrong_method_is_a_google_error(live_server) -> None:
    with live_server.client() as http:
        assert_google_error(http.get(GENERATE), 404, "NOT_FOUND", "scripted:generateContent")
        response = http.post("/healthz")
    assert response.status_code == 405
    assert set(response.json()["error"]) == {"code", "message", "status"}


@pytest.mark.parametrize(
    "path",
    [
        "/v9/models",
        "/v9/models/scripted",
        "/v1beta2/publishers/google/models",
        "/v1beta2/publishers/google/models/scripted",
        "/beta/projects/p/locations/us-central1/publishers/google/models/scripted",
    ],
)
def test_models_list_and_get_refuse_an_unknown_version(live_server, path: str) -> None:
    with live_server.client() as http:
        assert_google_error(http.get(path), 404, "NOT_FOUND", path)
        known = path.replace(path.split("/")[1], "v1", 1)
        assert http.get(known).status_code == 200, known


@pytest.mark.parametrize("version", ["v9", "v1beta1", "v1beta2"])
def test_the_files_api_refuses_a_version_it_does_not_serve(live_server, version: str) -> None:
    with live_server.client() as http:
        assert_google_error(http.get(f"/{version}/files"), 404, "NOT_FOUND", f"/{version}/files")
        assert_google_error(http.get(f"/{version}/files/abc"), 404, "NOT_FOUND", f"/{version}/files/abc")
        for served in ("v1", "v1beta", "v1alpha"):
            assert http.get(f"/{served}/files").status_code == 200, served

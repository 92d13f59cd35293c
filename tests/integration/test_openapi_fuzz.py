"""/openapi.json is valid OpenAPI, and schemathesis fuzzing every operation in it on a live server never
gets a 5xx, gets every error in Google's shape, and gets nothing the document does not describe."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis.core.result import Err

from codeloop.settings import Settings
from live import LiveServer, serving

EXAMPLES = 25  # generated cases per operation, positive and negative
DOCUMENTED_EXAMPLES = 5  # cases built around the examples the document gives (the body reaches the model)
GENERATION_MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
# Most model names are unknown (a quick 404): half the cases name a served model, so their bodies are read.
SERVED_MODEL = "scripted"

FUZZ_SETTINGS = hypothesis.settings(
    deadline=None,
    derandomize=True,
    database=None,
    # The generateContent body's schema is google-genai's, large and recursive: drawing from it is slow.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # Its own server: fuzzed requests may open kept sessions, which must not outlive this module, and
    # upload files, which go to a temporary directory.
    settings = Settings(
        model=SERVED_MODEL,
        exec_timeout=5,
        max_request_bytes=1 << 20,
        max_kept_sessions=2,
        data_dir=tmp_path_factory.mktemp("fuzzed-data"),
    )
    with serving(settings) as server:
        yield server


def test_the_document_is_valid_openapi(fuzzed_server: LiveServer) -> None:
    document = httpx.get(f"{fuzzed_server.url}/openapi.json").json()
    validate(document)
    generate = document["paths"]["/{version}/models/{model}:{method}"]["post"]
    body = generate["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/GenerateContentRequest"}
    request = document["components"]["schemas"]["GenerateContentRequest"]
    assert {"contents", "tools", "generationConfig", "systemInstruction"} <= set(request["properties"])
    parameters = {parameter["name"]: parameter for parameter in generate["parameters"]}
    assert parameters["version"]["schema"]["enum"] == ["v1", "v1beta", "v1beta1"]
    assert parameters["method"]["schema"]["enum"] == [
        "generateContent",
        "streamGenerateContent",
        "countTokens",
    ]
    assert {"model", "key", "alt"} <= set(parameters)
    assert {"400", "401", "403", "404", "409", "413", "429", "500", "503"} <= set(generate["responses"])
    assert set(document["components"]["securitySchemes"]) == {"apiKeyHeader", "apiKeyQuery", "bearer"}
    assert {"/healthz", "/metrics", "/{version}/models", "/{version}/models/{model}"} <= set(
        document["paths"]
    )


def test_the_files_api_is_documented(fuzzed_server: LiveServer) -> None:
    paths = httpx.get(f"{fuzzed_server.url}/openapi.json").json()["paths"]
    upload = paths["/upload/{version}/files"]["post"]
    get, delete = paths["/{version}/files/{file_id}"]["get"], paths["/{version}/files/{file_id}"]["delete"]
    listing = paths["/{version}/files"]["get"]
    download = paths["/{version}/files/{file_id}:download"]["get"]
    for operation in (upload, get, delete, listing, download):
        parameters = {parameter["name"]: parameter for parameter in operation["parameters"]}
        assert parameters["version"]["schema"]["enum"] == ["v1", "v1beta", "v1alpha"]
        assert {"401", "403", "404", "429", "500"} <= set(operation["responses"])
    assert {"400", "409", "413"} <= set(upload["responses"])
    assert {"400"} <= set(listing["responses"]) & set(download["responses"])
    assert get["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/FileResource"
    }
    assert set(upload["responses"]["200"]["content"]) == {"application/json", "text/plain"}
    assert "x-goog-upload-url" in upload["responses"]["200"]["headers"]
    assert set(download["responses"]["200"]["content"]) == {"*/*"}


def google_error_shape(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """Every 4xx and 5xx is {"error": {"code", "message", "status"}}, as google-genai parses it."""
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = None
    assert isinstance(body, dict) and set(body) == {"error"}, (
        f"not Google's error body: {response.text[:200]}"
    )
    error = body["error"]
    assert error.get("code") == response.status_code, f"error.code is not the status: {error}"
    assert isinstance(error.get("message"), str) and error["message"], f"no error.message: {error}"
    assert isinstance(error.get("status"), str) and error["status"].isupper(), f"no error.status: {error}"


CHECKS = [schemathesis.checks.not_a_server_error, google_error_shape]
# The document tells the truth: every status, media type, body and header answered is in it.
CONFORMANCE = [
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.response_headers_conformance,
]


def fuzz(operation: schemathesis.APIOperation, url: str, session: requests.Session) -> None:
    generated = [operation.as_strategy(mode) for mode in GENERATION_MODES]
    if any(parameter.name == "model" for parameter in operation.path_parameters):
        generated += [
            operation.as_strategy(mode, path_parameters={"model": SERVED_MODEL}) for mode in GENERATION_MODES
        ]
    documented = operation.get_strategies_from_examples()
    checks = CHECKS + CONFORMANCE
    for strategies, examples in ((documented, DOCUMENTED_EXAMPLES), (generated, EXAMPLES)):
        if strategies:

            @hypothesis.settings(FUZZ_SETTINGS, max_examples=examples)
            @hypothesis.given(case=st.one_of(strategies))
            def run(case: schemathesis.Case) -> None:
                response = case.call(base_url=url, session=session, timeout=30)
                case.validate_response(response, checks=checks)

            run()


def test_fuzzing_finds_no_server_error_nor_anything_undocumented(
    fuzzed_server: LiveServer, subtests: pytest.Subtests
) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzzed_server.url}/openapi.json")
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # an operation of the document schemathesis cannot read
        operations.append(result.ok())
    assert len(operations) >= 10
    with requests.Session() as session:
        for operation in operations:
            with subtests.test(operation.label):
                fuzz(operation, fuzzed_server.url, session)

"""The document at /openapi.json: what FastAPI infers, plus wire schemas, errors and keys it cannot see."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any

import pydantic
from fastapi import FastAPI, Path, Request
from google.genai import types
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from codeloop.errors import NotFound
from codeloop.server.access import OPEN_PATHS, UNLIMITED_PATHS
from codeloop.wire.interactions.shapes import CreateInteractionRequest, Interaction
from codeloop.wire.request import GenerateContentRequest

REF_PREFIX = "#/components/schemas/"
VERSIONS = ("v1", "v1beta", "v1beta1")

Version = Annotated[
    str,
    Path(
        description="API version: v1 or v1beta (Gemini API), v1 or v1beta1 (Vertex AI).",
        json_schema_extra={"enum": list(VERSIONS)},
    ),
]
FILE_VERSIONS = ("v1", "v1beta", "v1alpha")
FileVersion = Annotated[
    str,
    Path(
        description="API version: v1beta, as the SDKs call the Files API; v1 and v1alpha are accepted too.",
        json_schema_extra={"enum": list(FILE_VERSIONS)},
    ),
]


def check_version(request: Request, version: str, served: tuple[str, ...] = VERSIONS) -> None:
    """A version the route does not serve makes the path unknown, as Google answers it."""
    if version not in served:
        raise NotFound(f"The requested URL {request.url.path} was not found on this server.")


ModelName = Annotated[
    str,
    Path(
        description="A served model (see models.list); gemini-* names are answered by the default model.",
        examples=["gemini-2.0-flash"],
    ),
]


class ErrorStatus(pydantic.BaseModel):
    code: int = pydantic.Field(description="The HTTP status code.")
    message: str
    status: str = pydantic.Field(description="Google's status name, such as INVALID_ARGUMENT or NOT_FOUND.")


class ErrorResponse(pydantic.BaseModel):
    """Google's error body, the shape google-genai raises as errors.APIError."""

    error: ErrorStatus


ERRORS = {
    400: "INVALID_ARGUMENT: a malformed or invalid request, or a feature this server cannot honour.",
    401: "UNAUTHENTICATED: API keys are configured and the request carries none.",
    403: "PERMISSION_DENIED: the API key is not valid.",
    404: "NOT_FOUND: no such model, method, version, kept session, file, upload or interaction.",
    409: "ABORTED: the kept session, upload or conversation is busy with another request; ALREADY_EXISTS: "
    "the file name asked for is taken.",
    413: "INVALID_ARGUMENT: the body, or the file uploaded, is over its size limit.",
    429: "RESOURCE_EXHAUSTED: too many requests in flight for this caller, too many kept sessions or "
    "background interactions, or the Files API's storage is full.",
    500: "INTERNAL: the server failed; its log has the details under the request id.",
    503: "UNAVAILABLE: the model backend cannot be reached.",
}

# Components the routes refer to by name: FastAPI never sees the bodies that the routes read themselves.
WIRE_MODELS: tuple[tuple[type[pydantic.BaseModel], JsonSchemaMode], ...] = (
    (GenerateContentRequest, "validation"),
    (types.GenerateContentResponse, "serialization"),
    (types.CountTokensResponse, "serialization"),
    (ErrorResponse, "serialization"),
    (CreateInteractionRequest, "validation"),
    (Interaction, "serialization"),
)
# Filled in by the google-genai SDK on the client's side; never on the wire.
CLIENT_ONLY_FIELDS = ("sdkHttpResponse", "automaticFunctionCallingHistory", "parsed")

SECURITY_SCHEMES = {
    "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "x-goog-api-key"},
    "apiKeyQuery": {"type": "apiKey", "in": "query", "name": "key"},
    "bearer": {"type": "http", "scheme": "bearer", "description": "Vertex AI's way: any configured key."},
}

# The same key as the apiKeyQuery scheme, listed where clients look for a query parameter.
KEY_PARAMETER = {
    "name": "key",
    "in": "query",
    "description": "An API key, needed when the server has any.",
    "schema": {"type": "string"},
}


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF_PREFIX + name}


def event_stream(data: str) -> dict[str, Any]:
    """A text/event-stream media type: before OpenAPI 3.2 its schema is that of each event (what
    schemathesis checks each event against), not of the stream as a string."""
    return {
        "schema": {
            "type": "object",
            "properties": {"event": {"type": "string"}, "data": {"type": "string", "description": data}},
            "required": ["data"],
        }
    }


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=`: Google's error body, as JSON whatever the route's own media type."""
    return {code: {"description": ERRORS[code], "content": _error_content()} for code in codes}


def path_parameter(name: str, description: str) -> dict[str, Any]:
    """A path segment the handler does not take as an argument (Vertex AI's project and location)."""
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


def vertex_parameters(path: str) -> list[dict[str, Any]]:
    if "{project}" not in path:
        return []
    return [
        path_parameter("project", "Google Cloud project; any value is accepted."),
        path_parameter("location", "Google Cloud region, such as us-central1; any value is accepted."),
    ]


def wire_schemas() -> dict[str, Any]:
    """Components for WIRE_MODELS and everything they refer to, camelCase as on the wire."""
    _, top = models_json_schema(WIRE_MODELS, by_alias=True, ref_template=REF_PREFIX + "{model}")
    schemas: dict[str, Any] = top["$defs"]
    for schema in schemas.values():
        for name in CLIENT_ONLY_FIELDS:
            schema.get("properties", {}).pop(name, None)
    # Dropping those fields can leave schemas that nothing refers to any more.
    reachable: set[str] = set()
    pending = [model.__name__ for model, _ in WIRE_MODELS]
    while pending:
        name = pending.pop()
        if name not in reachable:
            reachable.add(name)
            pending.extend(_refs(schemas[name]))
    return {name: schema for name, schema in schemas.items() if name in reachable}


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(REF_PREFIX):
                yield value.removeprefix(REF_PREFIX)
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def complete(document: dict[str, Any], keys_required: bool) -> None:
    """Add what FastAPI cannot infer to the document it generated."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name, schema in wire_schemas().items():
        if schemas.setdefault(name, schema) != schema:
            raise ValueError(f"two different schemas are both named {name}")
    # FastAPI lists a 422 for every route with parameters; here a request that fails its validation is
    # Google's 400 (handlers.on_validation_error), which routes that validate list with error_responses.
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    components["securitySchemes"] = SECURITY_SCHEMES
    # Keys are needed only when the server has some; /healthz never needs one.
    document["security"] = [{name: []} for name in SECURITY_SCHEMES] + ([] if keys_required else [{}])
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for code, response in error_responses(*_errors_before_routes(path)).items():
                responses.setdefault(str(code), response)
            operation["responses"] = dict(sorted(responses.items()))
            if path in OPEN_PATHS:
                operation["security"] = []


def _errors_before_routes(path: str) -> tuple[int, ...]:
    """What AccessMiddleware and the fallback handler may answer on a path, whatever its route does."""
    if path in OPEN_PATHS:
        return (500,)
    if path in UNLIMITED_PATHS:
        return (401, 403, 500)
    return (401, 403, 429, 500)


def _error_content() -> dict[str, Any]:
    return {"application/json": {"schema": ref("ErrorResponse")}}


def install(app: FastAPI, keys_required: bool) -> None:
    """Serve the completed document at /openapi.json, built once on first request."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            app.openapi_schema = None  # FastAPI cached it; it is served only once completed
            complete(document, keys_required)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

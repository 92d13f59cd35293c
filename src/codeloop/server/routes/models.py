"""models.list and models.get, as the Gemini API and Vertex AI publish them."""

from __future__ import annotations

from typing import Any

import pydantic
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic.alias_generators import to_camel

from codeloop import __version__
from codeloop.backends.base import ModelInfo
from codeloop.server import openapi
from codeloop.server.runtime import runtime_of

router = APIRouter()

METHODS = ["generateContent", "streamGenerateContent", "countTokens"]


class _Wire(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(alias_generator=to_camel, populate_by_name=True)


class ModelResource(_Wire):
    name: str
    version: str
    display_name: str
    description: str
    input_token_limit: int
    output_token_limit: int
    supported_generation_methods: list[str]


class ModelList(_Wire):
    models: list[ModelResource]


class PublisherModelList(_Wire):
    publisher_models: list[ModelResource]


def model_resource(info: ModelInfo, vertex: bool = False) -> dict[str, Any]:
    resource = ModelResource(
        name=f"publishers/google/models/{info.name}" if vertex else f"models/{info.name}",
        version=__version__,
        display_name=info.display_name,
        description=info.description,
        input_token_limit=info.input_token_limit,
        output_token_limit=info.output_token_limit,
        supported_generation_methods=METHODS,
    )
    return resource.model_dump(by_alias=True)


GET_ERRORS = openapi.error_responses(404)  # an unknown version or model
PROJECT_MODEL_PATH = "/{version}/projects/{project}/locations/{location}/publishers/google/models/{model}"


@router.get("/{version}/models", response_model=ModelList, responses=GET_ERRORS)
async def list_models(request: Request, version: openapi.Version) -> JSONResponse:
    openapi.check_version(request, version)
    infos = runtime_of(request).registry.infos()
    return JSONResponse({"models": [model_resource(info) for info in infos]})


@router.get("/{version}/publishers/google/models", response_model=PublisherModelList, responses=GET_ERRORS)
async def list_publisher_models(request: Request, version: openapi.Version) -> JSONResponse:
    openapi.check_version(request, version)
    infos = runtime_of(request).registry.infos()
    return JSONResponse({"publisherModels": [model_resource(info, vertex=True) for info in infos]})


@router.get("/{version}/models/{model}", response_model=ModelResource, responses=GET_ERRORS)
async def get_model(request: Request, version: openapi.Version, model: openapi.ModelName) -> JSONResponse:
    openapi.check_version(request, version)
    registry = runtime_of(request).registry
    return JSONResponse(model_resource(registry.info(model)))


@router.get("/{version}/publishers/google/models/{model}", response_model=ModelResource, responses=GET_ERRORS)
@router.get(
    PROJECT_MODEL_PATH,
    response_model=ModelResource,
    responses=GET_ERRORS,
    openapi_extra={"parameters": openapi.vertex_parameters(PROJECT_MODEL_PATH)},
)
async def get_publisher_model(
    request: Request, version: openapi.Version, model: openapi.ModelName
) -> JSONResponse:
    openapi.check_version(request, version)
    registry = runtime_of(request).registry
    return JSONResponse(model_resource(registry.info(model), vertex=True))

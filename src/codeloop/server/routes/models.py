"""models.list and models.get, as the Gemini API and Vertex AI publish them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from codeloop import __version__
from codeloop.backends.base import ModelInfo
from codeloop.server.runtime import runtime_of

router = APIRouter()

METHODS = ["generateContent", "streamGenerateContent", "countTokens"]


def model_resource(info: ModelInfo, vertex: bool = False) -> dict[str, Any]:
    return {
        "name": f"publishers/google/models/{info.name}" if vertex else f"models/{info.name}",
        "version": __version__,
        "displayName": info.display_name,
        "description": info.description,
        "inputTokenLimit": info.input_token_limit,
        "outputTokenLimit": info.output_token_limit,
        "supportedGenerationMethods": METHODS,
    }


@router.get("/{version}/models")
async def list_models(request: Request, version: str) -> JSONResponse:
    infos = runtime_of(request).registry.infos()
    return JSONResponse({"models": [model_resource(info) for info in infos]})


@router.get("/{version}/publishers/google/models")
async def list_publisher_models(request: Request, version: str) -> JSONResponse:
    infos = runtime_of(request).registry.infos()
    return JSONResponse({"publisherModels": [model_resource(info, vertex=True) for info in infos]})


@router.get("/{version}/models/{model}")
async def get_model(request: Request, version: str, model: str) -> JSONResponse:
    registry = runtime_of(request).registry
    return JSONResponse(model_resource(registry.info(model)))


@router.get("/{version}/publishers/google/models/{model}")
@router.get("/{version}/projects/{project}/locations/{location}/publishers/google/models/{model}")
async def get_publisher_model(request: Request, version: str, model: str) -> JSONResponse:
    registry = runtime_of(request).registry
    return JSONResponse(model_resource(registry.info(model), vertex=True))

from __future__ import annotations

import pytest

from codeloop.backends.registry import BackendOptions, Registry
from codeloop.backends.scripted import ScriptedBackend
from codeloop.errors import InvalidRequest, ModelNotFound


def test_names_aliases_and_paths() -> None:
    registry = Registry("scripted", {"gemini-*": "scripted"})
    assert registry.canonical("scripted") == "scripted"
    assert registry.canonical("models/scripted") == "scripted"
    assert registry.canonical("publishers/google/models/gemini-2.0-flash-001") == "scripted"
    assert registry.canonical("embedded") == "qwen2.5-coder-1.5b"
    with pytest.raises(ModelNotFound):
        registry.canonical("gpt-4")
    assert isinstance(registry.resolve("scripted"), ScriptedBackend)
    assert registry.resolve("scripted") is registry.resolve("models/scripted")


def test_listing_does_not_load_models() -> None:
    registry = Registry("scripted")
    infos = {info.name: info for info in registry.infos()}
    assert {"scripted", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"} <= infos.keys()
    assert infos["qwen2.5-coder-0.5b"].input_token_limit == 8192
    assert registry._backends == {}


def test_openai_models_need_an_upstream() -> None:
    with pytest.raises(InvalidRequest, match="upstream"):
        Registry("openai:qwen")
    registry = Registry("openai:qwen", options=BackendOptions(upstream_url="http://127.0.0.1:9/v1"))
    assert registry.canonical("openai:other") == "openai:other"
    assert registry.info("openai:qwen").name == "openai:qwen"


def test_unknown_default() -> None:
    with pytest.raises(InvalidRequest, match="Unknown model"):
        Registry("nope")

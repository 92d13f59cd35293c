"""Model names to backends: what `--model` and the `/models/{model}` path segment resolve to.

Served: the default model, `scripted`, every embedded model (fetched on first use), and
`openai:NAME` models on the configured upstream server.
"""

from __future__ import annotations

import fnmatch
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from codeloop.backends.base import Backend, ModelInfo
from codeloop.backends.catalog import EMBEDDED_MODELS
from codeloop.backends.chatml import ResultStyle
from codeloop.backends.scripted import INFO as SCRIPTED_INFO
from codeloop.backends.scripted import ScriptedBackend
from codeloop.errors import InvalidRequest, ModelNotFound

OPENAI_PREFIX = "openai:"
ALIASES = {"embedded": "qwen2.5-coder-1.5b"}


@dataclass(frozen=True)
class BackendOptions:
    """What building a backend needs beyond its name."""

    cache_dir: Path = Path.home() / ".cache" / "codeloop"
    auto_pull: bool = True
    threads: int | None = None
    slots: int = 4  # requests the embedded model decodes together
    upstream_url: str | None = None
    upstream_api_key: str | None = None
    results: ResultStyle = "tool"  # how embedded models see code results (see chatml)


class Registry:
    """The models one server serves, each built on first use and then shared.

    Aliases are glob patterns (`gemini-*`) naming a served model, so clients that hard-code a
    Gemini model name work unchanged; the response's modelVersion says which model answered.
    """

    def __init__(
        self, default: str, aliases: Mapping[str, str] | None = None, options: BackendOptions | None = None
    ) -> None:
        self.options = options or BackendOptions()
        self.aliases = {**ALIASES, **(aliases or {})}
        default = self.aliases.get(default, default)
        known = ["scripted", *EMBEDDED_MODELS]
        if default.startswith(OPENAI_PREFIX):
            if not self.options.upstream_url:
                raise InvalidRequest(f"{default} needs an upstream server: set --upstream-url.")
        elif default not in known:
            raise InvalidRequest(f"Unknown model {default!r}; available: {', '.join(known)}, openai:NAME.")
        self.default = default
        self.names = list(dict.fromkeys([default, *known]))
        self._backends: dict[str, Backend] = {}
        self._lock = threading.Lock()

    def canonical(self, model: str) -> str:
        """Accepts `name`, `models/name` and `publishers/google/models/name`; ModelNotFound otherwise."""
        name = model.rsplit("/", 1)[-1]
        if name in self.names or (name.startswith(OPENAI_PREFIX) and self.options.upstream_url):
            return name
        for pattern, target in self.aliases.items():
            if fnmatch.fnmatchcase(name, pattern):
                return self.canonical(target)
        raise ModelNotFound(name)

    def resolve(self, model: str) -> Backend:
        """The backend, built (weights fetched, model loaded) on first use: may take a while."""
        name = self.canonical(model)
        with self._lock:
            if name not in self._backends:
                self._backends[name] = self._build(name)
            return self._backends[name]

    async def aclose(self) -> None:
        """Close every backend built so far."""
        with self._lock:
            backends, self._backends = list(self._backends.values()), {}
        for backend in backends:
            await backend.aclose()

    def infos(self) -> list[ModelInfo]:
        return [self.info(name) for name in self.names]

    def info(self, model: str) -> ModelInfo:
        """What models.get says of a model, without loading it."""
        name = self.canonical(model)
        if name in self._backends:
            return self._backends[name].info
        if name in EMBEDDED_MODELS:
            embedded = EMBEDDED_MODELS[name]
            limit = embedded.context_length
            return ModelInfo(name, embedded.display_name, embedded.description, limit, limit)
        if name == "scripted":
            return SCRIPTED_INFO
        return self.resolve(name).info

    def _build(self, name: str) -> Backend:
        if name == "scripted":
            return ScriptedBackend()
        if name.startswith(OPENAI_PREFIX):
            from codeloop.backends.openai_compat import OpenAICompatBackend

            assert self.options.upstream_url is not None
            return OpenAICompatBackend(
                name.removeprefix(OPENAI_PREFIX), self.options.upstream_url, self.options.upstream_api_key
            )
        from codeloop.backends.embedded import EmbeddedBackend
        from codeloop.backends.weights import ensure_model_file

        model = EMBEDDED_MODELS[name]
        path = ensure_model_file(
            model.weights, self.options.cache_dir / "models", install=self.options.auto_pull
        )
        return EmbeddedBackend(
            model,
            path,
            threads=self.options.threads or _cores(),
            results=self.options.results,
            slots=self.options.slots,
        )


def _cores() -> int:
    return len(os.sched_getaffinity(0))

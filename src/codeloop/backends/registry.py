"""Model names to backends: what `--model` and the `/models/{model}` path segment resolve to."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping

from codeloop.backends.base import Backend, ModelInfo
from codeloop.backends.scripted import ScriptedBackend
from codeloop.errors import InvalidRequest, ModelNotFound

BackendFactory = Callable[[], Backend]

BUILTIN: dict[str, BackendFactory] = {
    "scripted": ScriptedBackend,
}


class Registry:
    """The models one server serves, each built on first use and then shared.

    Aliases are glob patterns (`gemini-*`) naming a served model, so clients that hard-code a
    Gemini model name work unchanged; the response's modelVersion says which model answered.
    """

    def __init__(self, models: list[str], aliases: Mapping[str, str] | None = None) -> None:
        for name in [*models, *(aliases or {}).values()]:
            if name not in BUILTIN:
                raise InvalidRequest(f"Unknown model {name!r}; available: {', '.join(BUILTIN)}.")
        self.names = list(dict.fromkeys(models))
        self.aliases = dict(aliases or {})
        self._backends: dict[str, Backend] = {}

    def canonical(self, model: str) -> str:
        """Accepts `name`, `models/name` and `publishers/google/models/name`; ModelNotFound otherwise."""
        name = model.rsplit("/", 1)[-1]
        if name in self.names:
            return name
        for pattern, target in self.aliases.items():
            if fnmatch.fnmatchcase(name, pattern):
                return target
        raise ModelNotFound(name)

    def resolve(self, model: str) -> Backend:
        name = self.canonical(model)
        if name not in self._backends:
            self._backends[name] = BUILTIN[name]()
        return self._backends[name]

    def infos(self) -> list[ModelInfo]:
        return [self.resolve(name).info for name in self.names]

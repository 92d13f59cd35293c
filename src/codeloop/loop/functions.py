"""Function calling beside code execution: the client's functions offered to the model in the
tool-call format Qwen-style chat models are trained on, and the calls it writes checked."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jsonschema
from google.genai import types

from codeloop.fences import call_block
from codeloop.loop.events import FunctionCall

_PROMPT = """\
# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{signatures}
</tools>

For each function call, return a json object with function name and arguments within \
<tool_call></tool_call> XML tags:
<tool_call>
{{"name": <function-name>, "arguments": <args-json-object>}}
</tool_call>
Call a function when the answer needs what only it can tell (code has no network); the \
function's result comes back to you in the next message. Otherwise answer as usual."""

_MUST_CALL = "You must answer by calling one of these functions."


class BadCall(Exception):
    """A call the model wrote that cannot go to the client: the message tells the model why."""


@dataclass(frozen=True)
class Functions:
    """The functions a request offers, and how (toolConfig's mode: AUTO, ANY or VALIDATED)."""

    declarations: tuple[types.FunctionDeclaration, ...]
    must_call: bool = False

    @classmethod
    def from_request(cls, tools: Iterable[types.Tool], config: types.ToolConfig | None) -> Functions | None:
        """None where no function may be called (none declared, or mode NONE). The request was checked
        at the edge (wire.request): names present and unique, allowed names declared, with mode ANY."""
        declarations = [d for tool in tools for d in tool.function_declarations or ()]
        calling = config.function_calling_config if config else None
        mode = (calling.mode if calling else None) or types.FunctionCallingConfigMode.AUTO
        if mode == types.FunctionCallingConfigMode.NONE or not declarations:
            return None
        allowed = calling.allowed_function_names if calling else None
        if allowed:
            declarations = [d for d in declarations if d.name in allowed]
        return cls(tuple(declarations), must_call=mode == types.FunctionCallingConfigMode.ANY)

    def prompt(self) -> str:
        signatures = "\n".join(json.dumps(_signature(d), ensure_ascii=False) for d in self.declarations)
        text = _PROMPT.format(signatures=signatures)
        return f"{text}\n{_MUST_CALL}" if self.must_call else text

    def check(self, raw: str) -> FunctionCall:
        """The call in a <tool_call> block, or BadCall saying what is wrong with it."""
        try:
            call = json.loads(raw)
        except ValueError as exc:
            raise BadCall(f"The function call is not valid JSON ({exc}). Write it again.") from None
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise BadCall('A function call is a JSON object: {"name": ..., "arguments": {...}}.')
        name, args = call["name"], call.get("arguments", call.get("args", {}))
        declaration = next((d for d in self.declarations if d.name == name), None)
        if declaration is None:
            names = ", ".join(str(d.name) for d in self.declarations)
            raise BadCall(f"There is no function named {name!r}; the functions are: {names}.")
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise BadCall(f"The arguments of {name} must be a JSON object.")
        schema = _parameters(declaration)
        if schema is not None:
            try:
                jsonschema.validate(args, schema)
            except jsonschema.ValidationError as exc:
                raise BadCall(f"The arguments of {name} do not fit its parameters: {exc.message}.") from None
            except jsonschema.SchemaError:
                pass  # the client's schema is broken, not the model's call
        return FunctionCall(name, args)


def call_text(name: str, args: dict[str, Any] | None) -> str:
    """A call as the model writes it, for replaying a conversation."""
    return call_block(json.dumps({"name": name, "arguments": args or {}}, ensure_ascii=False))


def response_text(name: str | None, response: dict[str, Any] | None) -> str:
    """A function's result as the model reads it."""
    return json.dumps({"name": name, "response": response or {}}, ensure_ascii=False, default=str)


def _signature(declaration: types.FunctionDeclaration) -> dict[str, Any]:
    function: dict[str, Any] = {"name": declaration.name}
    if declaration.description:
        function["description"] = declaration.description
    function["parameters"] = _parameters(declaration) or {"type": "object", "properties": {}}
    return {"type": "function", "function": function}


def _parameters(declaration: types.FunctionDeclaration) -> dict[str, Any] | None:
    if declaration.parameters_json_schema is not None:
        schema = declaration.parameters_json_schema
        return schema if isinstance(schema, dict) else None
    if declaration.parameters is not None:
        converted: dict[str, Any] = declaration.parameters.json_schema.model_dump(
            mode="json", exclude_none=True
        )
        return converted
    return None

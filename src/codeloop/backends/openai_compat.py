"""A model served elsewhere behind the OpenAI chat-completions API: llama.cpp server, Ollama, vLLM.

Code results go back as user messages rather than `tool` messages, which these servers accept
only as answers to their own tool calls.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncGenerator
from typing import Any, Literal

import httpx

from codeloop.backends.base import Chat, Chunk, Message, ModelInfo, estimate_tokens
from codeloop.errors import BackendUnavailable, InvalidRequest
from codeloop.logprobs import Candidate, TokenLogprob


class OpenAICompatBackend:
    # Continuing a partial assistant message is not part of the OpenAI API (servers differ).
    prefills = False

    def __init__(
        self,
        model: str,
        base_url: str,
        api_key: str | None = None,
        context_length: int = 32768,
        timeout_s: float = 600,
    ) -> None:
        self.model = model
        self.info = ModelInfo(
            name=f"openai:{model}",
            display_name=f"{model} (OpenAI-compatible server)",
            description=f"{model} served at {base_url}",
            input_token_limit=context_length,
            output_token_limit=context_length,
        )
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/", headers=headers, timeout=httpx.Timeout(timeout_s, connect=10)
        )

    def count_tokens(self, text: str) -> int:
        """An estimate: the upstream tokenizer is not reachable through the OpenAI API."""
        return estimate_tokens(text)

    async def stream(self, chat: Chat) -> AsyncGenerator[Chunk, None]:
        body = self._request(chat)
        try:
            async with self._client.stream("POST", "chat/completions", json=body) as response:
                if response.status_code >= 400:
                    detail = (await response.aread()).decode(errors="replace")[:500]
                    error = InvalidRequest if response.status_code in (400, 422) else BackendUnavailable
                    raise error(f"The upstream model server answered {response.status_code}: {detail}")
                async for line in response.aiter_lines():
                    chunk = _parse_event(line)
                    if chunk is not None:
                        yield chunk
                        if chunk.finish_reason:
                            return
        except httpx.HTTPError as exc:
            raise BackendUnavailable(
                f"The upstream model server at {self._client.base_url} failed: {exc}"
            ) from exc
        yield Chunk("", finish_reason="STOP")

    async def aclose(self) -> None:
        await self._client.aclose()

    def _request(self, chat: Chat) -> dict[str, Any]:
        sampling = chat.sampling
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [_message(m) for m in chat.messages],
            "stream": True,
        }
        optional = {
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
            "seed": sampling.seed,
            "presence_penalty": sampling.presence_penalty,
            "frequency_penalty": sampling.frequency_penalty,
        }
        body.update({key: value for key, value in optional.items() if value is not None})
        if sampling.logprobs is not None:
            body["logprobs"] = True
            if sampling.logprobs:
                body["top_logprobs"] = sampling.logprobs
        if sampling.top_k is not None:
            body["top_k"] = sampling.top_k  # llama.cpp, vLLM and Ollama take it beside the OpenAI fields
        return body


def _message(message: Message) -> dict[str, str]:
    if message.role == "tool":
        return {"role": "user", "content": f"Code execution result:\n{message.content}"}
    return {"role": message.role, "content": message.content}


def _parse_event(line: str) -> Chunk | None:
    if not line.startswith("data:"):
        return None
    data = line.removeprefix("data:").strip()
    if data == "[DONE]":
        return Chunk("", finish_reason="STOP")
    try:
        event = json.loads(data)
        choice = event["choices"][0] if event.get("choices") else {}
    except (ValueError, TypeError, KeyError, IndexError):
        raise BackendUnavailable(
            f"The upstream model server sent an unreadable event: {data[:200]}"
        ) from None
    if not choice:
        return None
    text = (choice.get("delta") or {}).get("content") or ""
    reason = choice.get("finish_reason")
    finish: Literal["STOP", "MAX_TOKENS"] | None = None
    if reason:
        finish = "MAX_TOKENS" if reason == "length" else "STOP"
    return Chunk(text, finish_reason=finish, logprobs=_logprobs(choice.get("logprobs")))


def _logprobs(logprobs: Any) -> tuple[TokenLogprob, ...]:
    """An event's `logprobs.content`, [{token, logprob, top_logprobs: [{token, logprob}]}]; entries
    that do not have that shape are left out, as the upstream server's to get right."""
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    tokens = []
    for entry in content if isinstance(content, list) else ():
        chosen = _candidate(entry)
        if chosen is None:
            continue
        top = entry.get("top_logprobs")
        alternatives = (_candidate(other) for other in (top if isinstance(top, list) else ()))
        tokens.append(TokenLogprob(chosen, tuple(a for a in alternatives if a is not None)))
    return tuple(tokens)


def _candidate(entry: Any) -> Candidate | None:
    if not isinstance(entry, dict):
        return None
    token, logprob = entry.get("token"), entry.get("logprob")
    if not isinstance(token, str) or not isinstance(logprob, int | float) or isinstance(logprob, bool):
        return None
    if not math.isfinite(logprob):  # JSON has no infinities: a token of probability 0 is left out
        return None
    return Candidate(token, float(logprob))

"""The backend seam: a model that streams text for a chat, and counts tokens; some also sample many."""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from codeloop.logprobs import TokenLogprob

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["STOP", "MAX_TOKENS"]

_WORDS_AND_MARKS = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True)
class Message:
    role: Role
    content: str
    # A code result's bare output, for templates that show results as the model's own ```output
    # block rather than as a tool message (`content`, which says how the code ended).
    output: str | None = None


@dataclass(frozen=True)
class Sampling:
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    # None: no log-probabilities wanted; n: each token's, with its n likeliest alternatives.
    logprobs: int | None = None


@dataclass(frozen=True)
class Chat:
    """What a backend is asked to continue: the messages, and whether it may write code to run."""

    messages: tuple[Message, ...]
    code_execution: bool = False
    sampling: Sampling = field(default_factory=Sampling)
    # The start of the reply, already decided: a backend that `prefills` continues it (and does not
    # send it again); others ignore it.
    prefix: str = ""


@dataclass(frozen=True)
class Chunk:
    """A piece of generated text; the last one of a stream may say why it ended."""

    text: str
    finish_reason: FinishReason | None = None
    # The tokens that made `text`, when the chat's sampling asked for log-probabilities.
    logprobs: tuple[TokenLogprob, ...] = ()


@dataclass(frozen=True)
class Sample:
    """One of several continuations of a chat: its whole text, why it ended, and what it cost."""

    text: str
    finish_reason: FinishReason
    tokens: int


@dataclass(frozen=True)
class ModelInfo:
    name: str
    display_name: str
    description: str
    input_token_limit: int
    output_token_limit: int


class Backend(Protocol):
    info: ModelInfo
    prefills: bool  # whether stream() continues a Chat's prefix

    def stream(self, chat: Chat) -> AsyncGenerator[Chunk, None]:
        """Generate the next assistant message. Closing the iterator early stops generation."""
        ...

    def count_tokens(self, text: str) -> int: ...

    async def aclose(self) -> None:
        """Free what the model holds (memory, threads, connections)."""
        ...


@runtime_checkable
class ParallelSampling(Protocol):
    """A backend that writes several continuations of one chat at once, cheaper than one by one."""

    async def sample_many(
        self, chat: Chat, n: int, temperature: float, until: Callable[[str], bool]
    ) -> list[Sample]:
        """`n` continuations of `chat`. The first follows the chat's sampling, so at temperature 0 it
        is what stream() would write; the others sample at `temperature`, each with a seed derived
        from the chat's, so a seeded call is reproducible. Each ends on its own: when `until` holds
        for its text so far (which then ends with the token that made it hold), at the end of the
        turn (STOP), or at the chat's token budget (MAX_TOKENS)."""
        ...


def estimate_tokens(text: str) -> int:
    """A token count for a backend without its model's tokenizer: each word and mark counts one."""
    return len(_WORDS_AND_MARKS.findall(text))

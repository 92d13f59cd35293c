"""What a model says of each token it wrote: its log-probability, and the likeliest alternatives."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Candidate", "TokenLogprob"]


@dataclass(frozen=True)
class Candidate:
    """One token and its log-probability; token_id where the backend knows its vocabulary."""

    token: str
    logprob: float
    token_id: int | None = None


@dataclass(frozen=True)
class TokenLogprob:
    """A generated token (`chosen`) and, most likely first, the `top` tokens the model weighed there."""

    chosen: Candidate
    top: tuple[Candidate, ...] = ()

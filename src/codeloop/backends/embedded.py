"""The embedded backend: a GGUF model run in-process by llama-cpp-python, its KV cache kept across turns.

Each loop iteration re-sends the whole conversation, but the prompt of iteration n+1 starts with
the prompt and output of iteration n; llama-cpp-python's generate() evaluates only the tokens after
the longest prefix it already holds, so an iteration prefills just the new code result.
"""

from __future__ import annotations

import asyncio
import codecs
import math
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import anyio
import numpy as np

from codeloop.backends import chatml
from codeloop.backends.base import Chat, Chunk, ModelInfo, Sampling
from codeloop.backends.catalog import EmbeddedModel
from codeloop.errors import BackendUnavailable, InvalidRequest
from codeloop.logprobs import Candidate, TokenLogprob

if TYPE_CHECKING:
    from llama_cpp import Llama

# What a request that sets nothing gets: greedy decoding, so the same question gets the same
# (measured) answer every time; a request that wants variety sets its own temperature.
DEFAULT_SAMPLING = Sampling(temperature=0.0, top_p=0.95, top_k=40, seed=0)
REPEAT_PENALTY = 1.1


@dataclass
class GenerationStats:
    """One model call, for benchmarks and logs."""

    prompt_tokens: int = 0
    prefill_tokens: int = 0  # prompt tokens actually evaluated: the rest came from the KV cache
    generated_tokens: int = 0
    prefill_s: float = 0.0
    decode_s: float = 0.0


# One generated token: its bytes, and its log-probability where they were asked for.
_Token = tuple[bytes, TokenLogprob | None]


@dataclass(frozen=True)
class _End:
    """The last item of a generation: why it ended."""

    reason: Literal["STOP", "MAX_TOKENS"]
    error: Exception | None = None


class EmbeddedBackend:
    prefills = True

    def __init__(
        self,
        model: EmbeddedModel,
        model_path: Path,
        threads: int | None = None,
        reuse_cache: bool = True,
        results: chatml.ResultStyle = "tool",
    ) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:  # pragma: no cover - a broken install
            raise BackendUnavailable(f"llama-cpp-python is not installed: {exc}") from exc
        self.info = ModelInfo(
            name=model.name,
            display_name=model.display_name,
            description=model.description,
            input_token_limit=model.context_length,
            output_token_limit=model.context_length,
        )
        self.llm: Llama = Llama(
            model_path=str(model_path),
            n_ctx=model.context_length,
            n_threads=threads,
            n_batch=512,
            verbose=False,
        )
        self._stop_tokens = {self.llm.token_eos(), *self._special(chatml.END_OF_TURN)}
        self.reuse_cache = reuse_cache  # off only to measure what the reuse saves
        self.results = results  # how code results are shown to the model (see chatml)
        self._lock = asyncio.Lock()
        # Every call into the model runs on this one thread, never on the event loop.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama")
        # Told of each model call as it starts (its figures fill in as it runs); the benchmark keeps
        # them, a server keeps none.
        self.on_generation: Callable[[GenerationStats], None] | None = None

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode(), add_bos=False, special=False))

    async def aclose(self) -> None:
        async with self._lock:  # after the generation in progress, if any
            self._thread.shutdown()
            self.llm.close()

    async def stream(self, chat: Chat) -> AsyncGenerator[Chunk, None]:
        text = chatml.render(chat.messages, self.results, chat.prefix)
        prompt = self.llm.tokenize(text.encode(), add_bos=False, special=True)
        budget = self.info.input_token_limit - len(prompt)
        if budget <= 0:
            raise InvalidRequest(
                f"The prompt has {len(prompt)} tokens; "
                f"{self.info.name} takes at most {self.info.input_token_limit}."
            )
        if chat.sampling.max_tokens is not None:
            budget = min(budget, chat.sampling.max_tokens)
        async with self._lock:  # one generation at a time: they share the context and its cache
            loop = asyncio.get_running_loop()
            queue: asyncio.Queue[_Token | _End] = asyncio.Queue()
            stop = threading.Event()
            producer = loop.run_in_executor(
                self._thread, self._produce, prompt, chat.sampling, budget, stop, loop, queue.put_nowait
            )
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            try:
                while not isinstance(item := await queue.get(), _End):
                    piece, logprob = item
                    text = decoder.decode(piece)
                    if logprob is not None:
                        yield Chunk(text, logprobs=(logprob,))
                    elif text:
                        yield Chunk(text)
                if item.error is not None:
                    raise BackendUnavailable(f"{self.info.name} failed while generating: {item.error}")
                yield Chunk(decoder.decode(b"", final=True), finish_reason=item.reason)
            finally:
                # Closed early (a code block ended, or the client left): the producer stops after
                # the token in flight, and the next generation waits for it.
                stop.set()
                with anyio.CancelScope(shield=True):
                    await asyncio.wait([producer])

    def _produce(
        self,
        prompt: list[int],
        sampling: Sampling,
        budget: int,
        stop: threading.Event,
        loop: asyncio.AbstractEventLoop,
        put: Callable[[_Token | _End], None],
    ) -> None:
        """On the model's thread: generate and hand each token's bytes over without waiting, with
        its log-probability where the sampling asks for it.

        Decoding never waits for the event loop to take a token, so streaming costs no speed."""
        end = _End("MAX_TOKENS")
        tokens = self._generate(prompt, sampling)
        try:
            for _ in range(budget):
                token = next(tokens, None)
                if token is None or token in self._stop_tokens or stop.is_set():
                    end = _End("STOP")
                    break
                logprob = self._logprob(token, sampling.logprobs) if sampling.logprobs is not None else None
                loop.call_soon_threadsafe(put, (self.llm.detokenize([token]), logprob))
        except Exception as exc:
            end = _End("STOP", error=exc)
        finally:
            tokens.close()
            loop.call_soon_threadsafe(put, end)

    def _generate(self, prompt: list[int], sampling: Sampling) -> Generator[int, None, None]:
        if not self.reuse_cache:
            self.llm.reset()  # type: ignore[no-untyped-call]
        stats = GenerationStats(prompt_tokens=len(prompt))
        stats.prefill_tokens = len(prompt) - self._cached_prefix(prompt)
        if self.on_generation is not None:
            self.on_generation(stats)
        settings: dict[str, Any] = {
            "temp": _pick(sampling.temperature, DEFAULT_SAMPLING.temperature),
            "top_p": _pick(sampling.top_p, DEFAULT_SAMPLING.top_p),
            "top_k": int(_pick(sampling.top_k, DEFAULT_SAMPLING.top_k)),
            # Small models loop on their own output without it.
            "repeat_penalty": REPEAT_PENALTY,
            "presence_penalty": sampling.presence_penalty or 0.0,
            "frequency_penalty": sampling.frequency_penalty or 0.0,
        }
        self.llm.set_seed(int(_pick(sampling.seed, DEFAULT_SAMPLING.seed)))
        started = time.perf_counter()
        first = True
        for token in self.llm.generate(prompt, reset=True, **settings):
            if first:
                stats.prefill_s = time.perf_counter() - started
                started, first = time.perf_counter(), False
            stats.generated_tokens += 1
            yield token
            stats.decode_s = time.perf_counter() - started

    def _logprob(self, token: int, top: int) -> TokenLogprob:
        """The token's log-probability under the logits it was just sampled from, and the `top`
        likeliest tokens there: the model's own distribution, before temperature, top-k, top-p and
        penalties. Called before the next token is evaluated, which overwrites those logits; costs one
        pass over the vocabulary's logits (about a millisecond for Qwen's 152k), on the model's thread."""
        import llama_cpp

        pointer = llama_cpp.llama_get_logits_ith(self.llm.ctx, -1)
        logits = np.ctypeslib.as_array(pointer, shape=(self.llm.n_vocab(),))
        peak = float(logits.max())
        log_total = peak + math.log(float(np.exp(logits - peak).sum(dtype=np.float64)))
        best = np.argpartition(logits, -top)[-top:] if top else np.array([], dtype=np.int64)
        best = best[np.argsort(-logits[best], kind="stable")]
        return TokenLogprob(
            self._candidate(token, float(logits[token]) - log_total),
            tuple(self._candidate(int(other), float(logits[other]) - log_total) for other in best),
        )

    def _candidate(self, token: int, logprob: float) -> Candidate:
        text = self.llm.detokenize([token]).decode("utf-8", errors="replace")
        return Candidate(text, logprob, token)

    def _cached_prefix(self, prompt: list[int]) -> int:
        """How much of the prompt generate() will take from the KV cache, by llama-cpp-python's own rule."""
        held = self.llm.input_ids[: self.llm.n_tokens]
        size = min(len(held), len(prompt))
        differ = np.flatnonzero(held[:size] != np.asarray(prompt[:size], dtype=held.dtype))
        common = int(differ[0]) if len(differ) else size
        # With nothing left to evaluate, the last prompt token is replayed for fresh logits.
        return common - 1 if common == len(prompt) else common

    def _special(self, text: str) -> list[int]:
        return list(self.llm.tokenize(text.encode(), add_bos=False, special=True))


def _pick(value: float | None, default: float | None) -> float:
    chosen = value if value is not None else default
    assert chosen is not None
    return chosen

"""The embedded backend: a GGUF model run in-process by llama-cpp-python, its KV cache kept across turns.

Each loop iteration re-sends the whole conversation, but the prompt of iteration n+1 starts with
the prompt and output of iteration n, so most of it is in the KV cache already. Prompts are
evaluated in chunks that depend on their tokens alone, and the cache is reused only where it holds
those very chunks (see prefix.py): the same request gives the same output whatever ran before it,
and an iteration evaluates again only the previous reply and the new code result.

sample_many() writes several continuations of one chat: sequence 0 exactly as stream() would (it
is stream()'s own generation), then the others together, one llama_decode per step, in sequences
of the same context that share the prompt's cells (see parallel.py).
"""

from __future__ import annotations

import asyncio
import codecs
import itertools
import math
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import numpy as np

from codeloop.backends import chatml, parallel
from codeloop.backends.base import Chat, Chunk, FinishReason, ModelInfo, Sample, Sampling
from codeloop.backends.catalog import EmbeddedModel
from codeloop.backends.continuation import Continuation, sample_seeds
from codeloop.backends.prefix import chunk_starts, held_prefix, reusable_prefix
from codeloop.errors import BackendUnavailable, InvalidRequest
from codeloop.logprobs import Candidate, TokenLogprob

if TYPE_CHECKING:
    from llama_cpp import Llama

# What a request that sets nothing gets: greedy decoding, so the same question gets the same
# (measured) answer every time; a request that wants variety sets its own temperature.
DEFAULT_SAMPLING = Sampling(temperature=0.0, top_p=0.95, top_k=40, seed=0)
REPEAT_PENALTY = 1.1
# Sequences one context holds: the most samples one sample_many() call may ask for.
MAX_SAMPLES = 8


@dataclass
class GenerationStats:
    """One model call, for benchmarks and logs."""

    prompt_tokens: int = 0
    prefill_tokens: int = 0  # prompt tokens actually evaluated: the rest came from the KV cache
    held_tokens: int = 0  # prompt tokens the cache held: those past the last reusable chunk are redone
    generated_tokens: int = 0
    prefill_s: float = 0.0
    decode_s: float = 0.0


# One generated token: its bytes, and its log-probability where they were asked for.
_Token = tuple[bytes, TokenLogprob | None]


@dataclass(frozen=True)
class _End:
    """The last item of a generation: why it ended."""

    reason: FinishReason
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
        max_samples: int = MAX_SAMPLES,
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
        if max_samples > 1:
            parallel.widen_context(self.llm, max_samples)
        self.max_samples = max_samples
        self._stop_tokens = {self.llm.token_eos(), *self._special(chatml.END_OF_TURN)}
        self._openers = (self._special(chatml.ASSISTANT_OPENER), self._special(chatml.USER_OPENER))
        # Leading cached tokens computed in their prompt's own chunks (not one by one, as generated).
        self._chunked = 0
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
        prompt, budget = self._prompt(chat)
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

    async def sample_many(
        self, chat: Chat, n: int, temperature: float, until: Callable[[str], bool]
    ) -> list[Sample]:
        """See ParallelSampling. `until` runs on the model's thread after every token: keep it cheap."""
        if not 1 <= n <= self.max_samples:
            raise InvalidRequest(f"{self.info.name} writes 1 to {self.max_samples} samples at once, not {n}.")
        if not temperature >= 0:
            raise InvalidRequest(f"A sampling temperature is at least 0, not {temperature}.")
        prompt, budget = self._prompt(chat)
        async with self._lock:
            stop = threading.Event()
            loop = asyncio.get_running_loop()
            job = loop.run_in_executor(
                self._thread, self._sample_many, prompt, chat.sampling, budget, n, temperature, until, stop
            )
            try:
                return await asyncio.shield(job)
            except asyncio.CancelledError:
                stop.set()  # the samples are abandoned: stop after the step in flight
                with anyio.CancelScope(shield=True):
                    await asyncio.wait([job])
                raise
            except Exception as exc:
                raise BackendUnavailable(f"{self.info.name} failed while sampling: {exc}") from exc

    def _prompt(self, chat: Chat) -> tuple[list[int], int]:
        """The chat's prompt tokens, and how many tokens may follow them."""
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
        return prompt, budget

    def _sample_many(
        self,
        prompt: list[int],
        sampling: Sampling,
        budget: int,
        n: int,
        temperature: float,
        until: Callable[[str], bool],
        stop: threading.Event,
    ) -> list[Sample]:
        """On the model's thread: sequence 0 by stream()'s own generation, then the others together.

        Sequence 0 is not in the others' batches because a token's logits depend on how many rows
        its llama_decode holds (a 1-row decode and an n-row one differ in their last bits, enough
        to flip a greedy choice), and sequence 0 must be what stream() writes. It ends as stream()
        would leave the cache, so the next call reuses the prompt; the others' cells are freed."""
        first = Continuation(until, budget)
        others = [
            parallel.ParallelSequence(
                index, parallel.SamplerChain(self.llm, settings), Continuation(until, budget), len(prompt)
            )
            for index, settings in enumerate(self._sample_settings(sampling, n, temperature), 1)
        ]
        try:
            self._write_first(prompt, sampling, first, others, stop)
            if any(sequence.continuation.live for sequence in others):
                room = parallel.free_cells(self.llm) // len(others)
                for sequence in others:
                    sequence.continuation.cut(room)
                parallel.share_prefix(self.llm, len(prompt), [s.id for s in others])
                parallel.decode_together(self.llm, others, self._stop_tokens, stop)
        finally:
            parallel.drop_sequences(self.llm, [s.id for s in others])
            for sequence in others:
                sequence.sampler.close()
        continuations = [first, *(sequence.continuation for sequence in others)]
        for continuation in continuations:
            continuation.cut(0)  # stopped midway: what it wrote stands
        return [continuation.sample() for continuation in continuations]

    def _write_first(
        self,
        prompt: list[int],
        sampling: Sampling,
        first: Continuation,
        others: list[parallel.ParallelSequence],
        stop: threading.Event,
    ) -> None:
        """Sequence 0 by stream()'s generation, and the others' first tokens from the same logits."""
        if not first.live:
            return
        tokens = self._generate(prompt, sampling)
        try:
            token = next(tokens)
            # The prompt's logits are still the context's until sequence 0 decodes its next token.
            for sequence in others:
                sampled = sequence.sampler.sample(self.llm.ctx, -1)
                parallel.take(self.llm, sequence, sampled, self._stop_tokens)
            while True:
                if token in self._stop_tokens:
                    first.end_of_turn()
                else:
                    first.add(self.llm.detokenize([token]))
                if not first.live or stop.is_set():
                    return
                token = next(tokens)
        finally:
            tokens.close()

    def _sample_settings(
        self, sampling: Sampling, n: int, temperature: float
    ) -> list[parallel.SamplerSettings]:
        """Samplers for sequences 1..n-1: the chat's nucleus, the given temperature, derived seeds."""
        return [
            parallel.SamplerSettings(
                temperature=temperature,
                top_p=_pick(sampling.top_p, DEFAULT_SAMPLING.top_p),
                top_k=int(_pick(sampling.top_k, DEFAULT_SAMPLING.top_k)),
                repeat_penalty=REPEAT_PENALTY,
                seed=seed,
            )
            for seed in sample_seeds(sampling.seed, n)
        ]

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
        stats = GenerationStats(prompt_tokens=len(prompt))
        held = held_prefix(self.llm.input_ids[: self.llm.n_tokens], prompt)
        stats.held_tokens = min(held, len(prompt) - 1)
        starts = chunk_starts(prompt, self._openers, self.llm.n_batch)
        kept = reusable_prefix(starts, min(held, self._chunked), len(prompt)) if self.reuse_cache else 0
        self._keep_cached(kept)
        stats.prefill_tokens = len(prompt) - kept
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
        # Every chunk but the last, one llama_decode each; generate() evaluates the last one.
        for begin, end in itertools.pairwise([start for start in starts if start >= kept]):
            self.llm.eval(prompt[begin:end])
            self._chunked = end
        first = True
        for token in self.llm.generate(prompt, reset=True, **settings):
            if first:
                self._chunked = len(prompt)
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

    def _keep_cached(self, tokens: int) -> None:
        """Cut the cache back to its first `tokens` tokens, so evaluation resumes there."""
        if tokens < self.llm.n_tokens:
            parallel.drop_tail(self.llm, tokens)
        self._chunked = min(self._chunked, tokens)

    def _special(self, text: str) -> list[int]:
        return list(self.llm.tokenize(text.encode(), add_bos=False, special=True))


def _pick(value: float | None, default: float | None) -> float:
    chosen = value if value is not None else default
    assert chosen is not None
    return chosen

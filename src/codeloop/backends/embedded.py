"""The embedded backend: a GGUF model run in-process by llama-cpp-python, several conversations
decoded together, each keeping its KV cache across its turns.

One thread owns the llama.cpp context and runs the scheduler (see scheduler.py): every stream() and
sample_many() call is a job queued to it, given a slot (a sequence id of the shared KV cache) and
decoded in the same llama_decode as the other jobs' tokens. Each loop iteration re-sends the whole
conversation, but its prompt starts with the prompt and output of the previous iteration, which
the conversation's slot still holds: prompts are evaluated in chunks that depend on their tokens
alone, each alone in its llama_decode, and a slot's cells are reused only where they hold those
very chunks (see prefix.py), so an iteration evaluates again only the previous reply and the new
code result, and its prompt's logits do not depend on what ran before or beside it.

sample_many() writes several continuations of one chat: the first exactly as stream() would, then
the others together, from a copy of the prompt's cells (see parallel.py).
"""

from __future__ import annotations

import asyncio
import codecs
import math
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import numpy as np

from codeloop.backends import chatml, parallel
from codeloop.backends.base import Chat, Chunk, FinishReason, ModelInfo, Sample, Sampling
from codeloop.backends.catalog import EmbeddedModel
from codeloop.backends.continuation import Continuation, sample_seeds
from codeloop.backends.prefix import chunk_starts
from codeloop.backends.scheduler import Job, JobStats, Lane, Scheduler, SchedulerThread
from codeloop.errors import BackendUnavailable, InvalidRequest
from codeloop.logprobs import Candidate, TokenLogprob

if TYPE_CHECKING:
    from llama_cpp import Llama

# What a request that sets nothing gets: greedy decoding, so the same question gets the same
# (measured) answer every time; a request that wants variety sets its own temperature.
DEFAULT_SAMPLING = Sampling(temperature=0.0, top_p=0.95, top_k=40, seed=0)
REPEAT_PENALTY = 1.1
# Sequences one context holds beyond the slots: the most samples one sample_many() call may ask for.
MAX_SAMPLES = 8
# Requests decoded together; more wait for a slot. Each slot keeps one conversation's cache.
SLOTS = 4
# Prompt tokens per llama_decode: the chunk of prefix.py.
N_BATCH = 512

# One model call's figures, for benchmarks and logs.
GenerationStats = JobStats

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
        slots: int = SLOTS,
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
            n_batch=N_BATCH,
            verbose=False,
        )
        # Sequence ids 0..slots-1 are the slots; the ids after them hold sample_many's extra samples.
        parallel.widen_context(self.llm, slots + max_samples - 1)
        self.max_samples = max_samples
        self.slots = slots
        self.sample_sequences = range(slots, slots + max_samples - 1)
        self._stop_tokens = {self.llm.token_eos(), *self._special(chatml.END_OF_TURN)}
        self._openers = (self._special(chatml.ASSISTANT_OPENER), self._special(chatml.USER_OPENER))
        self.reuse_cache = reuse_cache  # off only to measure what the reuse saves
        self.results = results  # how code results are shown to the model (see chatml)
        self._model = parallel.ContextModel(self.llm, max(N_BATCH, slots + max_samples))
        self._scheduler = Scheduler(self._model, slots, self.sample_sequences, N_BATCH)
        # Every call into the model runs on this one thread, never on the event loop.
        self._thread = SchedulerThread(self._scheduler)
        # Told of each model call as it starts (its figures fill in as it runs); the benchmark keeps
        # them, a server keeps none.
        self.on_generation: Callable[[GenerationStats], None] | None = None

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode(), add_bos=False, special=False))

    async def aclose(self) -> None:
        await asyncio.to_thread(self._thread.close)  # after the step in flight
        self._model.close()
        self.llm.close()

    def clear_cache(self) -> None:
        """Forget every idle slot's cells, as a fresh start would (benchmarks); between requests only."""
        for slot in self._scheduler.table.slots:
            if not slot.busy:
                self._model.forget(slot.id, 0)
                slot.clear()

    async def stream(self, chat: Chat) -> AsyncGenerator[Chunk, None]:
        prompt, budget = self._prompt(chat)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[_Token | _End] = asyncio.Queue()
        output = _StreamOutput(
            self, self._settings(chat.sampling), budget, chat.sampling.logprobs, loop, queue.put_nowait
        )
        lane = Lane(output.sample, output, live=budget > 0)
        job = self._job(prompt, [lane], output.finish)
        self._thread.submit(job)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        item: _Token | _End | None = None
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
            if not isinstance(item, _End):
                # Closed early (a code block ended, or the client left): the job stops after the
                # step in flight, and its slot is free (and keeps its cells) once this returns, so
                # the conversation's next turn finds it.
                self._thread.cancel(job)
                with anyio.CancelScope(shield=True):
                    while not isinstance(await queue.get(), _End):
                        pass

    async def sample_many(
        self, chat: Chat, n: int, temperature: float, until: Callable[[str], bool]
    ) -> list[Sample]:
        """See ParallelSampling. `until` runs on the model's thread after every token: keep it cheap."""
        if not 1 <= n <= self.max_samples:
            raise InvalidRequest(f"{self.info.name} writes 1 to {self.max_samples} samples at once, not {n}.")
        if not temperature >= 0:
            raise InvalidRequest(f"A sampling temperature is at least 0, not {temperature}.")
        prompt, budget = self._prompt(chat)
        settings = [self._settings(chat.sampling), *self._sample_settings(chat.sampling, n, temperature)]
        outputs = [_SampleOutput(self, parallel.SamplerChain(self.llm, s), until, budget) for s in settings]
        loop = asyncio.get_running_loop()
        finished: asyncio.Future[Exception | None] = loop.create_future()

        def done(error: Exception | None) -> None:
            for output in outputs:
                output.sampler.close()
            loop.call_soon_threadsafe(finished.set_result, error)

        lanes = [Lane(o.sample, o, live=o.continuation.live) for o in outputs]
        job = self._job(prompt, lanes, done)
        self._thread.submit(job)
        try:
            error = await asyncio.shield(finished)
        except asyncio.CancelledError:
            self._thread.cancel(job)  # the samples are abandoned: stop after the step in flight
            with anyio.CancelScope(shield=True):
                await finished
            raise
        if error is not None:
            raise BackendUnavailable(f"{self.info.name} failed while sampling: {error}") from error
        for output in outputs:
            output.continuation.cut(0)  # stopped midway: what it wrote stands
        return [output.continuation.sample() for output in outputs]

    def _job(self, prompt: list[int], lanes: list[Lane], done: Callable[[Exception | None], None]) -> Job:
        return Job(
            prompt,
            chunk_starts(prompt, self._openers, N_BATCH),
            lanes,
            done,
            reuse=self.reuse_cache,
            on_start=self.on_generation,
        )

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

    def _settings(self, sampling: Sampling) -> parallel.SamplerSettings:
        """The chat's own sampling, as llama-cpp-python's generate() would apply it."""
        return parallel.SamplerSettings(
            temperature=_pick(sampling.temperature, DEFAULT_SAMPLING.temperature),
            top_p=_pick(sampling.top_p, DEFAULT_SAMPLING.top_p),
            top_k=int(_pick(sampling.top_k, DEFAULT_SAMPLING.top_k)),
            # Small models loop on their own output without it.
            repeat_penalty=REPEAT_PENALTY,
            seed=int(_pick(sampling.seed, DEFAULT_SAMPLING.seed)),
            frequency_penalty=sampling.frequency_penalty or 0.0,
            presence_penalty=sampling.presence_penalty or 0.0,
        )

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

    def _logprob(self, token: int, top: int, row: int) -> TokenLogprob:
        """The token's log-probability under the logits it was just sampled from (row `row` of the
        last decode), and the `top` likeliest tokens there: the model's own distribution, before
        temperature, top-k, top-p and penalties. Called before the next decode overwrites those
        logits; costs one pass over the vocabulary's logits (about a millisecond for Qwen's 152k),
        on the model's thread."""
        import llama_cpp

        pointer = llama_cpp.llama_get_logits_ith(self.llm.ctx, row)
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

    def _special(self, text: str) -> list[int]:
        return list(self.llm.tokenize(text.encode(), add_bos=False, special=True))


class _StreamOutput:
    """stream()'s lane, on the model's thread: each token's bytes handed to the event loop without
    waiting, so streaming costs no decoding speed; the end of the turn or the budget ends it."""

    def __init__(
        self,
        backend: EmbeddedBackend,
        settings: parallel.SamplerSettings,
        budget: int,
        logprobs: int | None,
        loop: asyncio.AbstractEventLoop,
        put: Callable[[_Token | _End], None],
    ) -> None:
        self._backend = backend
        self._budget = budget
        self._logprobs = logprobs
        self._loop = loop
        self._put = put
        self._written = 0
        self._end = _End("MAX_TOKENS") if budget <= 0 else None
        self.sampler = parallel.SamplerChain(backend.llm, settings)

    def sample(self, row: int) -> int:
        return self.sampler.sample(self._backend.llm.ctx, row)

    def take(self, token: int, row: int) -> bool:
        backend = self._backend
        if token in backend._stop_tokens:
            self._end = _End("STOP")
            return False
        logprob = backend._logprob(token, self._logprobs, row) if self._logprobs is not None else None
        self._loop.call_soon_threadsafe(self._put, (backend.llm.detokenize([token]), logprob))
        self._written += 1
        return not self._spent()

    def cut(self, budget: int) -> None:
        self._budget = min(self._budget, budget)
        if self._end is None and self._written >= self._budget:
            self._end = _End("MAX_TOKENS")

    def finish(self, error: Exception | None) -> None:
        """The job is over: say why, and free the sampler."""
        self.sampler.close()
        end = _End("STOP", error) if error is not None else self._end or _End("STOP")
        self._loop.call_soon_threadsafe(self._put, end)

    def _spent(self) -> bool:
        if self._written >= self._budget:
            self._end = _End("MAX_TOKENS")
            return True
        return False


class _SampleOutput:
    """One of sample_many()'s lanes, on the model's thread: a Continuation fed token by token."""

    def __init__(
        self,
        backend: EmbeddedBackend,
        sampler: parallel.SamplerChain,
        until: Callable[[str], bool],
        budget: int,
    ) -> None:
        self._backend = backend
        self.sampler = sampler
        self.continuation = Continuation(until, budget)

    def sample(self, row: int) -> int:
        return self.sampler.sample(self._backend.llm.ctx, row)

    def take(self, token: int, row: int) -> bool:
        if token in self._backend._stop_tokens:
            self.continuation.end_of_turn()
        else:
            self.continuation.add(self._backend.llm.detokenize([token]))
        return self.continuation.live

    def cut(self, budget: int) -> None:
        self.continuation.cut(budget)


def _pick(value: float | None, default: float | None) -> float:
    chosen = value if value is not None else default
    assert chosen is not None
    return chosen

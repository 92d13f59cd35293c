"""Several sequences decoded together in one llama.cpp context, sharing a prompt held as sequence 0.

A unified KV cache holds every sequence in one pool of n_ctx cells, each cell tagged with the
sequences that see it, so llama_memory_seq_cp of the prompt copies no tensors: it adds tags, and
the prompt's cells serve every sequence. A step is one llama_decode of a batch holding the next
token of each live sequence, at the same position; each sequence samples from its own row of the
logits with a sampler chain of its own (its seed, its repeat-penalty history).

Nothing here knows about chats or requests: a sequence is an id, a sampler and a Continuation, so a
scheduler that batches the sequences of several requests can drive the same pieces.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from codeloop.backends.continuation import Continuation
from codeloop.backends.scheduler import Row

if TYPE_CHECKING:
    from llama_cpp import Llama

# What llama-cpp-python's own generate() puts in its sampler chain besides the knobs we set.
TYPICAL_P = 1.0
MIN_P = 0.05
# llama_decode's return value when no KV cells are left for the batch.
NO_ROOM = 1


def widen_context(llm: Llama, sequences: int) -> None:
    """Rebuild `llm`'s context with room for `sequences` sequences sharing one unified KV cache.

    llama-cpp-python 0.3.36 creates every context with n_seq_max=1 and takes no argument to change
    it (only its embedding mode sets more), so the context is made again from the same parameters.
    Unified matters: otherwise llama.cpp splits n_ctx into n_seq_max equal streams and a plain
    generation could use only n_ctx / n_seq_max positions."""
    from llama_cpp import _internals
    from llama_cpp import llama_cpp as lib

    params = lib.llama_context_params.from_buffer_copy(llm.context_params)
    params.n_seq_max = sequences
    params.kv_unified = True
    llm._ctx.close()  # type: ignore[no-untyped-call]  # first: two caches are never held at once
    llm._ctx = _internals.LlamaContext(model=llm._model, params=params, verbose=llm.verbose)
    llm.context_params = params
    llm.n_tokens = 0


@dataclass(frozen=True)
class SamplerSettings:
    """One sequence's sampling; the chain mirrors llama-cpp-python's generate() for the same knobs."""

    temperature: float
    top_p: float
    top_k: int
    repeat_penalty: float
    seed: int
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0


class SamplerChain:
    """A llama.cpp sampler chain: penalties, then greedy or top-k/typical/top-p/min-p/temperature/dist.

    Sampling accepts the chosen token into the chain, so each sequence needs its own chain."""

    def __init__(self, llm: Llama, settings: SamplerSettings) -> None:
        from llama_cpp import llama_cpp as lib

        self._lib = lib
        self._chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        links = [
            lib.llama_sampler_init_penalties(
                llm.n_vocab(),
                llm.last_n_tokens_size,
                settings.repeat_penalty,
                settings.frequency_penalty,
                settings.presence_penalty,
            )
        ]
        if settings.temperature == 0:
            links.append(lib.llama_sampler_init_greedy())
        else:
            links += [
                lib.llama_sampler_init_top_k(settings.top_k),
                lib.llama_sampler_init_typical(TYPICAL_P, 1),
                lib.llama_sampler_init_top_p(settings.top_p, 1),
                lib.llama_sampler_init_min_p(MIN_P, 1),
                lib.llama_sampler_init_temp(settings.temperature),
                lib.llama_sampler_init_dist(settings.seed),
            ]
        for link in links:
            lib.llama_sampler_chain_add(self._chain, link)  # the chain owns and frees its links

    def sample(self, ctx: Any, row: int) -> int:
        """The next token from row `row` of the last decode's logits (-1: the last row)."""
        return int(self._lib.llama_sampler_sample(self._chain, ctx, row))

    def close(self) -> None:
        if self._chain is not None:
            self._lib.llama_sampler_free(self._chain)
            self._chain = None


class TokenBatch:
    """A llama_batch of single tokens, each with its own position and sequence, logits for all."""

    def __init__(self, capacity: int) -> None:
        from llama_cpp import llama_cpp as lib

        self._lib = lib
        self.capacity = capacity
        self._batch: Any = lib.llama_batch_init(capacity, 0, 1)

    def fill(self, entries: Sequence[tuple[int, int, int]], logits: Sequence[bool] | None = None) -> None:
        """(token, position, sequence id) per row; logits for every row unless `logits` says which."""
        assert len(entries) <= self.capacity
        batch = self._batch
        batch.n_tokens = len(entries)
        for row, (token, position, sequence) in enumerate(entries):
            batch.token[row] = token
            batch.pos[row] = position
            batch.n_seq_id[row] = 1
            batch.seq_id[row][0] = sequence
            batch.logits[row] = True if logits is None else logits[row]

    def decode(self, ctx: Any) -> int:
        return int(self._lib.llama_decode(ctx, self._batch))

    def close(self) -> None:
        if self._batch is not None:
            self._lib.llama_batch_free(self._batch)
            self._batch = None


@dataclass
class ParallelSequence:
    """A sequence of the cache being decoded: its id, its sampler, its text, and its next token
    with the position that token goes to."""

    id: int
    sampler: SamplerChain
    continuation: Continuation
    position: int
    pending: int = -1  # sampled, not yet decoded


def share_prefix(llm: Llama, tokens: int, sequences: Collection[int]) -> None:
    """Let each sequence see the first `tokens` positions of sequence 0 (tags cells, copies nothing)."""
    from llama_cpp import llama_cpp as lib

    memory = lib.llama_get_memory(llm.ctx)
    for sequence in sequences:
        lib.llama_memory_seq_cp(memory, 0, sequence, 0, tokens)


def drop_sequences(llm: Llama, sequences: Collection[int]) -> None:
    """Free every cell only these sequences held; sequence 0's cells stay as they were."""
    from llama_cpp import llama_cpp as lib

    memory = lib.llama_get_memory(llm.ctx)
    for sequence in sequences:
        lib.llama_memory_seq_rm(memory, sequence, -1, -1)


def take(llm: Llama, sequence: ParallelSequence, token: int, end_tokens: Collection[int]) -> None:
    """Hand a sampled token to its sequence: the end of its turn, or text that may end it."""
    if token in end_tokens:
        sequence.continuation.end_of_turn()
    else:
        sequence.continuation.add(llm.detokenize([token]))
        sequence.pending = token


def decode_together(
    llm: Llama, sequences: list[ParallelSequence], end_tokens: Collection[int], stop: threading.Event
) -> None:
    """Decode the live sequences one step at a time, one llama_decode per step, until each ends.

    Each live sequence arrives with a pending token (its first, sampled from its prompt's logits)."""
    batch = TokenBatch(max(1, len(sequences)))
    try:
        live = [s for s in sequences if s.continuation.live]
        while live and not stop.is_set():
            batch.fill([(s.pending, s.position, s.id) for s in live])
            code = batch.decode(llm.ctx)
            if code == NO_ROOM:
                for sequence in live:
                    sequence.continuation.cut(0)
                break
            if code != 0:
                raise RuntimeError(f"llama_decode returned {code}")
            for row, sequence in enumerate(live):
                sequence.position += 1
                take(llm, sequence, sequence.sampler.sample(llm.ctx, row), end_tokens)
            live = [s for s in live if s.continuation.live]
    finally:
        batch.close()


def free_cells(llm: Llama) -> int:
    """KV cells no sequence holds, when sequence 0 alone holds its n_tokens."""
    return llm.n_ctx() - llm.n_tokens


def drop_tail(llm: Llama, keep: int) -> None:
    """Cut sequence 0 back to its first `keep` tokens, in the cache and in the Llama's own record."""
    from llama_cpp import llama_cpp as lib

    lib.llama_memory_seq_rm(lib.llama_get_memory(llm.ctx), 0, keep, -1)
    llm.n_tokens = keep


class ContextModel:
    """The scheduler's Model (see scheduler.py) over a Llama's context: rows decoded, cells moved."""

    def __init__(self, llm: Llama, capacity: int) -> None:
        from llama_cpp import llama_cpp as lib

        self._lib = lib
        self._llm = llm
        self._batch = TokenBatch(capacity)

    def decode(self, rows: Sequence[Row]) -> bool:
        self._batch.fill([(row.token, row.position, row.sequence) for row in rows], [r.logits for r in rows])
        code = self._batch.decode(self._llm.ctx)
        if code == NO_ROOM:
            return False
        if code != 0:
            raise RuntimeError(f"llama_decode returned {code}")
        return True

    def forget(self, sequence: int, start: int) -> None:
        self._lib.llama_memory_seq_rm(self._memory, sequence, start, -1)

    def share(self, source: int, target: int, tokens: int) -> None:
        self._lib.llama_memory_seq_cp(self._memory, source, target, 0, tokens)

    def free_cells(self) -> int:
        """Cells no sequence holds: n_ctx less each sequence's positions (shared cells count once
        per sequence, so this errs low)."""
        memory, lib = self._memory, self._lib
        held = sum(
            lib.llama_memory_seq_pos_max(memory, sequence) + 1
            for sequence in range(self._llm.context_params.n_seq_max)
        )
        return max(0, self._llm.n_ctx() - held)

    def close(self) -> None:
        self._batch.close()

    @property
    def _memory(self) -> Any:
        return self._lib.llama_get_memory(self._llm.ctx)

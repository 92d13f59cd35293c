"""The llama.cpp pieces the scheduler drives: a context of one KV stream per sequence, a sampler
chain per sequence, and batches of tokens each with its own position and sequence.

One stream per sequence (not llama.cpp's unified cache, where every sequence takes cells from one
pool) keeps each sequence's cells at the indices of their positions, 0 to n, whatever the other
sequences hold: attention sums its terms in the order of the cells, so a sequence whose cells sat
elsewhere (after another conversation's, say) would get logits that differ in their last bits, and
its greedy output could flip (see prefix.py). A sequence's stream is as long as the model's context.

Each sequence samples from its own row of the logits with a sampler chain of its own (its seed, its
repeat-penalty history).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from codeloop.backends.scheduler import Row

if TYPE_CHECKING:
    from llama_cpp import Llama

# What llama-cpp-python's own generate() puts in its sampler chain besides the knobs we set.
TYPICAL_P = 1.0
MIN_P = 0.05
# llama_decode's return value when no KV cells are left for the batch.
NO_ROOM = 1


def widen_context(llm: Llama, sequences: int) -> None:
    """Rebuild `llm`'s context with one KV stream of its full context length for each of
    `sequences` sequences.

    llama-cpp-python 0.3.36 creates every context with n_seq_max=1 and takes no argument to change
    it (only its embedding mode sets more), so the context is made again from the same parameters."""
    from llama_cpp import _internals
    from llama_cpp import llama_cpp as lib

    params = lib.llama_context_params.from_buffer_copy(llm.context_params)
    params.n_seq_max = sequences
    params.kv_unified = False
    params.n_ctx = llm.context_params.n_ctx * sequences  # llama.cpp gives each stream n_ctx / n_seq_max
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
        # Between streams llama.cpp copies a whole stream, then the target drops what follows.
        self._lib.llama_memory_seq_cp(self._memory, source, target, -1, -1)
        self._lib.llama_memory_seq_rm(self._memory, target, tokens, -1)

    def room(self, sequence: int) -> int:
        """Cells left in the sequence's stream."""
        held = int(self._lib.llama_memory_seq_pos_max(self._memory, sequence)) + 1
        return max(0, int(self._lib.llama_n_ctx_seq(self._llm.ctx)) - held)

    def close(self) -> None:
        self._batch.close()

    @property
    def _memory(self) -> Any:
        return self._lib.llama_get_memory(self._llm.ctx)

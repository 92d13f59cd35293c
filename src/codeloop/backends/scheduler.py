"""Continuous batching: the requests of several conversations decoded together in one llama.cpp context.

One thread owns the context. Each request is a Job: a prompt to evaluate in a slot (see slots.py: a
sequence id whose cells a conversation keeps between its loop iterations), then one or more lanes
that generate from it. A step evaluates the next chunk of one prompt, alone in its llama_decode
(prefix.py: a chunk's logits must not depend on what else was decoded with it), then the next token
of every generating lane of every job, together in one llama_decode. Prompts take turns chunk by
chunk, so a long prompt delays the others' next token by one chunk, never by its whole length, and
a new request's first token waits for the prompts ahead of it, not for anyone's generation to end.

Slots bound how many requests run at once; the rest wait, first come first served. A job of several
lanes (several samples of one chat) writes its first lane as a lone request would, then starts the
others from a copy of the prompt's cells.

Nothing here touches llama.cpp: a Model decodes rows and moves cells, a Lane's sampler picks its
token from a row of logits and its Output takes it, so the policy is tested with a fake.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from codeloop.backends.slots import Slot, SlotTable

# The last row of logits a decode wrote: where a prompt's last chunk leaves its next token's.
LAST_ROW = -1


class NoRoom(Exception):
    """The KV cache has no cells left for a prompt, even with every idle slot emptied."""


@dataclass(frozen=True)
class Row:
    """One token of a llama_decode: where it goes, and whether its logits are wanted."""

    token: int
    position: int
    sequence: int
    logits: bool


class Model(Protocol):
    """What the scheduler needs of a llama.cpp context."""

    def decode(self, rows: Sequence[Row]) -> bool:
        """Evaluate the rows in one llama_decode; False when the KV cache has no room for them."""
        ...

    def forget(self, sequence: int, start: int) -> None:
        """Free the sequence's cells at positions `start` and after."""
        ...

    def share(self, source: int, target: int, tokens: int) -> None:
        """Make `target`'s cells the first `tokens` positions of `source`'s, and only those."""
        ...

    def room(self, sequence: int) -> int:
        """Cells the sequence may still fill."""
        ...


class Output(Protocol):
    """Where a lane's tokens go, on the scheduler's thread."""

    def take(self, token: int, row: int) -> bool:
        """A sampled token, its logits still in row `row`; False once the lane has ended."""
        ...

    def cut(self, budget: int) -> None:
        """Lower the lane's budget to `budget` tokens in all; one already spent ends it now."""
        ...


@dataclass
class Lane:
    """A sequence being generated: its sampler (row of logits -> token) and where its tokens go."""

    sample: Callable[[int], int]
    output: Output
    sequence: int = -1
    position: int = 0
    pending: int = -1  # sampled, not yet decoded
    live: bool = True
    written: int = 0  # tokens sampled

    def take(self, row: int) -> None:
        if not self.live:
            return
        token = self.sample(row)
        self.written += 1
        self.live = self.output.take(token, row)
        self.pending = token

    def end(self) -> None:
        if self.live:
            self.live = False
            self.output.cut(0)


@dataclass
class JobStats:
    """One job, for benchmarks and logs; filled in as it runs."""

    prompt_tokens: int = 0
    prefill_tokens: int = 0  # prompt tokens actually evaluated: the rest came from the KV cache
    held_tokens: int = 0  # prompt tokens the cache held: those past the last reusable chunk are redone
    generated_tokens: int = 0
    prefill_s: float = 0.0  # from admission to the first token
    decode_s: float = 0.0  # from the first token to the last
    waited_s: float = 0.0  # queued for a slot


@dataclass
class Job:
    """One request: a prompt, cut at `starts`, and the lanes that continue it."""

    prompt: list[int]
    starts: list[int]
    lanes: list[Lane]  # the first decodes from the start; the others once it has ended
    done: Callable[[Exception | None], None]  # called once, on the scheduler's thread
    reuse: bool = True  # off only to measure what reusing a slot's cells saves
    on_start: Callable[[JobStats], None] | None = None
    stats: JobStats = field(default_factory=JobStats)
    stop: threading.Event = field(default_factory=threading.Event)
    slot: Slot | None = None
    cursor: int = 0  # the next prompt position to evaluate
    forked: bool = False
    error: Exception | None = None
    _created: float = field(default_factory=time.perf_counter)
    _started: float = 0.0
    _first_token: float = 0.0

    @property
    def prefilling(self) -> bool:
        return self.cursor < len(self.prompt)

    @property
    def forks(self) -> list[Lane]:
        return self.lanes[1:]

    def decoding(self) -> list[Lane]:
        """The lanes whose pending token the next step decodes."""
        if self.prefilling:
            return []
        first, forks = self.lanes[0], self.forks
        if first.live:
            return [first]
        return [lane for lane in forks if lane.live] if self.forked else []

    @property
    def ended(self) -> bool:
        return not self.prefilling and not any(lane.live for lane in self.lanes)


class Scheduler:
    """Admits jobs into slots and runs their steps; step() is called by the context's one thread."""

    def __init__(self, model: Model, slots: int, fork_ids: Sequence[int], chunk: int) -> None:
        self.model = model
        self.table = SlotTable(range(slots))
        self.fork_capacity = len(fork_ids)
        self._fork_ids = list(fork_ids)
        self.chunk = chunk
        self.waiting: deque[Job] = deque()
        self.running: list[Job] = []
        self._prefill_turns: deque[Job] = deque()

    def submit(self, job: Job) -> None:
        if len(job.forks) > self.fork_capacity:
            raise ValueError(f"a job has at most {self.fork_capacity + 1} lanes, not {len(job.lanes)}")
        self.waiting.append(job)

    @property
    def idle(self) -> bool:
        return not self.waiting and not self.running

    def step(self) -> None:
        """Admit what fits, evaluate one prompt chunk, decode one token of every generating lane."""
        self._drop_stopped()
        self._admit()
        if self._prefill_turns:
            job = self._prefill_turns.popleft()
            self._prefill(job)
            if job.prefilling:
                self._prefill_turns.append(job)
        self._fork_ready()
        lanes = [(job, lane) for job in self.running for lane in job.decoding()]
        if lanes:
            self._decode(lanes)
        self._finish_ended()

    def fail_all(self, error: Exception) -> None:
        """A decode failed in a way no job caused: end every job with the error, forget every cell."""
        for job in [*self.running, *self.waiting]:
            for lane in job.lanes:
                lane.live = False
            job.done(error)
        self._fork_ids = list(range(len(self.table.slots), len(self.table.slots) + self.fork_capacity))
        for slot in self.table.slots:
            self.model.forget(slot.id, 0)
            slot.clear()
            slot.busy = False
        for sequence in self._fork_ids:
            self.model.forget(sequence, 0)
        self.running.clear()
        self.waiting.clear()
        self._prefill_turns.clear()

    def _admit(self) -> None:
        """First come first served: the head of the queue waits for a slot (and its forks' ids)."""
        while self.waiting:
            job = self.waiting[0]
            if len(job.forks) > len(self._fork_ids) or not self.table.free:
                return
            claim = self.table.claim(job.prompt, job.starts, job.reuse)
            assert claim is not None
            self.waiting.popleft()
            job.slot, job.cursor = claim.slot, claim.kept
            if claim.donor is not None:
                self._seed(claim.slot, claim.donor, claim.kept)
            else:
                self.model.forget(claim.slot.id, claim.kept)
                del claim.slot.tokens[claim.kept :]
                claim.slot.chunked = min(claim.slot.chunked, claim.kept)
            job.lanes[0].sequence = claim.slot.id
            for lane in job.forks:
                lane.sequence = self._fork_ids.pop()
            job._started = time.perf_counter()
            job.stats = JobStats(
                prompt_tokens=len(job.prompt),
                prefill_tokens=len(job.prompt) - claim.kept,
                held_tokens=claim.held,
                waited_s=job._started - job._created,
            )
            if job.on_start is not None:
                job.on_start(job.stats)
            self.running.append(job)
            self._prefill_turns.append(job)

    def _seed(self, slot: Slot, donor: Slot, tokens: int) -> None:
        """Copy the donor's cells for the first `tokens` prompt positions into the slot."""
        self.model.share(donor.id, slot.id, tokens)
        slot.tokens = donor.tokens[:tokens]
        slot.chunked = tokens

    def _prefill(self, job: Job) -> None:
        """The prompt's next chunk, alone in one llama_decode; after its last, the first tokens.

        Where another slot has meanwhile computed more of the prompt's start (a request admitted
        beside this one with the same system prompt), those cells are copied in instead."""
        assert job.slot is not None
        slot = job.slot
        found = self.table.donor(slot, job.prompt, job.starts, job.cursor) if job.reuse else None
        if found is not None:
            donor, kept = found
            self._seed(slot, donor, kept)
            job.stats.prefill_tokens -= kept - job.cursor
            job.cursor = kept
        end = min([start for start in job.starts if start > job.cursor] + [len(job.prompt)])
        end = min(end, job.cursor + self.chunk)
        last = end == len(job.prompt)
        # Logits for the chunk's last token, as llama-cpp-python's eval() asks: the same decode.
        rows = [
            Row(job.prompt[position], position, slot.id, position == end - 1)
            for position in range(job.cursor, end)
        ]
        if not self._decode_with_room(rows):
            job.error = NoRoom(f"The KV cache has no cells left for {len(rows)} prompt tokens.")
            job.cursor = len(job.prompt)
            for lane in job.lanes:
                lane.live = False
            return
        slot.tokens.extend(job.prompt[job.cursor : end])
        slot.chunked = end
        job.cursor = end
        if not last:
            return
        for lane in job.lanes:
            lane.position = len(job.prompt)
            # The prompt's logits stay the context's until the next decode: every lane samples its
            # first token from them.
            if lane.live:
                lane.take(LAST_ROW)
                self._first(job)

    def _fork_ready(self) -> None:
        """A job whose first lane has ended starts its others from the prompt's cells."""
        for job in self.running:
            if job.forked or job.prefilling or job.lanes[0].live or len(job.lanes) == 1:
                continue
            assert job.slot is not None
            job.forked = True
            live = [lane for lane in job.forks if lane.live]
            if not live:
                continue
            for lane in live:
                self.model.share(job.slot.id, lane.sequence, len(job.prompt))
                lane.output.cut(lane.written + self.model.room(lane.sequence))

    def _decode(self, lanes: list[tuple[Job, Lane]]) -> None:
        rows = [Row(lane.pending, lane.position, lane.sequence, True) for _, lane in lanes]
        if not self._decode_with_room(rows):
            for _, lane in lanes:  # out of cells: each ends with what it has written
                lane.end()
            return
        for row, (job, lane) in enumerate(lanes):
            lane.position += 1
            if lane is job.lanes[0]:  # only a job's first lane keeps its cells, in the job's slot
                assert job.slot is not None
                job.slot.tokens.append(lane.pending)
            lane.take(row)
            self._first(job)

    def _decode_with_room(self, rows: Sequence[Row]) -> bool:
        """Decode, emptying idle slots (least recently used first) while the cache is full."""
        while not self.model.decode(rows):
            slot = self.table.evictable()
            if slot is None:
                return False
            self.model.forget(slot.id, 0)
            slot.clear()
        return True

    def _first(self, job: Job) -> None:
        """Count a token the job sampled."""
        now = time.perf_counter()
        if not job._first_token:
            job._first_token = now
            job.stats.prefill_s = now - job._started
        job.stats.generated_tokens += 1
        job.stats.decode_s = now - job._first_token

    def _drop_stopped(self) -> None:
        for job in self.running:
            if job.stop.is_set():
                job.cursor = len(job.prompt) if job.prefilling else job.cursor
                for lane in job.lanes:
                    lane.end()
        for job in list(self.waiting):
            if job.stop.is_set():
                self.waiting.remove(job)
                for lane in job.lanes:
                    lane.end()
                job.done(None)

    def _finish_ended(self) -> None:
        for job in [job for job in self.running if job.ended]:
            self.running.remove(job)
            if job in self._prefill_turns:
                self._prefill_turns.remove(job)
            for lane in job.forks:
                self.model.forget(lane.sequence, 0)
                self._fork_ids.append(lane.sequence)
            assert job.slot is not None
            self.table.release(job.slot)
            job.done(job.error)


class SchedulerThread:
    """The one thread that owns the context: it runs steps while there is work, and sleeps otherwise."""

    def __init__(self, scheduler: Scheduler, name: str = "llama") -> None:
        self.scheduler = scheduler
        self._wake = threading.Condition()
        self._incoming: list[Job] = []
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> None:
        with self._wake:
            if self._closing:
                raise RuntimeError("the model is closed")
            self._incoming.append(job)
            self._wake.notify()

    def cancel(self, job: Job) -> None:
        """Stop the job after the step in flight; its done() follows."""
        job.stop.set()
        with self._wake:
            self._wake.notify()

    def close(self) -> None:
        """Stop taking jobs, end the ones in progress, and wait for the thread."""
        with self._wake:
            self._closing = True
            self._wake.notify()
        self._thread.join()

    def _run(self) -> None:
        scheduler = self.scheduler
        while True:
            with self._wake:
                while not self._incoming and scheduler.idle and not self._closing:
                    self._wake.wait()
                incoming, self._incoming = self._incoming, []
                closing = self._closing
            for job in incoming:
                try:
                    scheduler.submit(job)
                except ValueError as exc:
                    job.done(exc)
            if closing:
                for job in [*scheduler.running, *scheduler.waiting]:
                    job.stop.set()
            try:
                scheduler.step()
            except Exception as exc:  # a failed decode: every job in it is lost
                scheduler.fail_all(exc)
            if closing and scheduler.idle:
                return

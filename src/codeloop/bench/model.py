"""`codeloop bench model`: the embedded path against raw llama-cpp-python, KV-cache reuse, loop overhead.

All three measurements run in one process, on one model file, one after the other:
1. decode tokens/s of codeloop's EmbeddedBackend vs llama-cpp-python's own create_completion,
   same prompt and sampling, alternated over several rounds (median reported);
2. prompt tokens evaluated per loop iteration of the 50-primes request, with and without reuse,
   and what reusing all the cache held would evaluate (not cut back to a chunk it computed whole);
3. that request's wall time split into model time, code execution time and the rest (overhead).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from codeloop.backends.base import Chat, Message, Sampling
from codeloop.backends.catalog import EMBEDDED_MODELS
from codeloop.backends.registry import ALIASES
from codeloop.sandbox.base import Sandbox, SessionCounts, SessionMemory
from codeloop.sandbox.output import Listener

if TYPE_CHECKING:
    from codeloop.backends.embedded import GenerationStats

PRIMES = (
    "What is the sum of the first 50 prime numbers? Generate and run code for the calculation, "
    "and make sure you get all 50."
)
STORY = "Write a long, detailed story about a lighthouse keeper and a storm."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="qwen2.5-coder-0.5b", help="Embedded model to measure.")
    parser.add_argument("--tokens", type=int, default=128, help="Tokens generated per throughput round.")
    parser.add_argument("--rounds", type=int, default=7, help="Throughput rounds per contender.")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores).")
    parser.add_argument("--json", action="store_true", help="Print the results as JSON.")
    parser.add_argument(
        "--concurrency",
        default=None,
        help="Instead: clients at once, e.g. 1,2,4,8; the embedded backend beside llama.cpp's llama-server "
        "(built once from the pinned llama-cpp-python sdist), and the 50-primes conversation by 4 users.",
    )
    parser.add_argument("--no-server", action="store_true", help="With --concurrency: skip llama-server.")
    parser.add_argument(
        "--build-jobs", type=int, default=1, help="With --concurrency: parallel jobs building llama-server."
    )


def run(args: argparse.Namespace) -> int:
    if args.concurrency:
        from codeloop.bench import concurrency

        results = asyncio.run(concurrency.measure(args))
        show = concurrency.print_results
    else:
        results = asyncio.run(_measure(args))
        show = _print
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        show(results)
    return 0


@dataclass
class Throughput:
    codeloop_tps: float
    raw_tps: float
    # The median of per-round ratios: each round pairs the two contenders back to back, so the
    # drift of a shared machine cancels out better than in a ratio of medians.
    ratio: float


async def _measure(args: argparse.Namespace) -> dict[str, Any]:
    from llama_cpp import Llama

    from codeloop.runtime import open_runtime
    from codeloop.settings import Settings

    name = ALIASES.get(args.model, args.model)
    model = EMBEDDED_MODELS[name]
    async with open_runtime(Settings(model=name, threads=args.threads)) as runtime:
        backend: Any = await runtime.backend(name)
        threads = backend.llm.n_threads
        raw = Llama(
            model_path=backend.llm.model_path,
            n_ctx=model.context_length,
            n_threads=threads,
            n_batch=512,
            verbose=False,
        )
        throughput = await _throughput(backend, raw, args.tokens, args.rounds)
        raw.close()
        with_reuse = await _primes_request(backend, runtime.sandbox, reuse=True)
        without_reuse = await _primes_request(backend, runtime.sandbox, reuse=False)
    return {
        "model": name,
        "threads": threads,
        "throughput": asdict(throughput),
        "primes_with_reuse": with_reuse,
        "primes_without_reuse": without_reuse,
    }


async def _throughput(backend: Any, raw: Any, tokens: int, rounds: int) -> Throughput:
    """Decode speed, prefill excluded: time from the first token to the last, both ways."""
    sampling = Sampling(temperature=0, max_tokens=tokens, seed=0)
    messages = (Message("user", STORY),)
    prompt = _chatml_prompt(messages)
    ours, theirs = [], []
    for _ in range(rounds):
        backend.clear_cache()
        count, first, last = 0, 0.0, 0.0
        async for chunk in backend.stream(Chat(messages, sampling=sampling)):
            now = time.perf_counter()
            if chunk.text:
                first = first or now
                last = now
                count += 1
        ours.append((count - 1) / (last - first))
        raw.reset()
        count, first, last = 0, 0.0, 0.0
        stream = raw.create_completion(
            prompt,
            max_tokens=tokens,
            temperature=0,
            top_p=0.95,
            top_k=40,
            repeat_penalty=1.1,
            seed=0,
            stream=True,
        )
        for _event in stream:
            now = time.perf_counter()
            first = first or now
            last = now
            count += 1
        theirs.append((count - 1) / (last - first))
    ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
    return Throughput(statistics.median(ours), statistics.median(theirs), statistics.median(ratios))


def _chatml_prompt(messages: tuple[Message, ...]) -> str:
    from codeloop.backends import chatml

    return chatml.render(messages)


async def _primes_request(backend: Any, sandbox: Sandbox, reuse: bool) -> dict[str, Any]:
    """The 50-primes request through the real loop, in the runtime's sandbox (started, the stack
    loaded, as a running server's is), timed piece by piece."""
    from codeloop.loop.engine import Conversation, Engine
    from codeloop.loop.events import TextDelta

    backend.reuse_cache = reuse
    backend.clear_cache()
    history: list[GenerationStats] = []
    backend.on_generation = history.append
    timed = _TimedSandbox(sandbox)
    question = Conversation.from_question(PRIMES)
    conversation = Conversation(question.messages, True, Sampling(temperature=0, seed=0))
    answer = ""
    try:
        started = time.perf_counter()
        async for event in Engine(backend, timed).run(conversation):
            if isinstance(event, TextDelta):
                answer += event.text
        wall = time.perf_counter() - started
    finally:
        backend.reuse_cache = True
        backend.on_generation = None
    model_s = sum(s.prefill_s + s.decode_s for s in history)
    overhead = wall - model_s - timed.run_s
    return {
        "iterations": [
            {
                "prompt_tokens": s.prompt_tokens,
                "prefill_tokens": s.prefill_tokens,
                "held_tokens": s.held_tokens,
                "prefill_s": s.prefill_s,
            }
            for s in history
        ],
        "correct": "5117" in answer,
        "wall_s": wall,
        "model_s": model_s,
        "exec_s": timed.run_s,
        "overhead_s": overhead,
        "overhead_share": overhead / wall,
    }


class _TimedSandbox:
    """A sandbox whose sessions add up the time they spend running code."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox
        self.run_s = 0.0

    async def open_session(self) -> _TimedSession:
        return _TimedSession(self, await self._sandbox.open_session())

    @property
    def session_counts(self) -> SessionCounts:
        counts: SessionCounts = self._sandbox.session_counts
        return counts

    def session_memory(self) -> tuple[SessionMemory, ...]:
        memory: tuple[SessionMemory, ...] = self._sandbox.session_memory()
        return memory

    async def close(self) -> None:
        """Nothing: the runtime that started the sandbox closes it."""


class _TimedSession:
    def __init__(self, sandbox: _TimedSandbox, session: Any) -> None:
        self._sandbox = sandbox
        self._session = session

    async def run(self, code: str, timeout_s: float | None = None, on_output: Listener | None = None) -> Any:
        started = time.perf_counter()
        try:
            return await self._session.run(code, timeout_s, on_output)
        finally:
            self._sandbox.run_s += time.perf_counter() - started

    async def put_file(self, name: str, data: bytes) -> None:
        await self._session.put_file(name, data)

    async def close(self) -> None:
        await self._session.close()


def _print(results: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    t = results["throughput"]
    table = Table(title=f"Decode throughput, {results['model']}, {results['threads']} threads")
    for column in ("contender", "tokens/s", "ratio"):
        table.add_column(column)
    table.add_row("raw llama-cpp-python (create_completion)", f"{t['raw_tps']:.1f}", "1.00")
    table.add_row(
        "codeloop embedded backend", f"{t['codeloop_tps']:.1f}", f"{t['ratio']:.3f} (median per round)"
    )
    console.print(table)
    table = Table(title="Prompt tokens evaluated per loop iteration, 50-primes request")
    for column in (
        "iteration",
        "prompt tokens",
        "prefilled with reuse",
        "reusing all it held",
        "prefilled without",
        "prefill s (with / without)",
    ):
        table.add_column(column)
    with_reuse = results["primes_with_reuse"]["iterations"]
    without = results["primes_without_reuse"]["iterations"]
    for index, (a, b) in enumerate(zip(with_reuse, without, strict=False), 1):
        table.add_row(
            str(index),
            str(a["prompt_tokens"]),
            str(a["prefill_tokens"]),
            str(a["prompt_tokens"] - a["held_tokens"]),
            str(b["prefill_tokens"]),
            f"{a['prefill_s']:.2f} / {b['prefill_s']:.2f}",
        )
    console.print(table)
    p = results["primes_with_reuse"]
    table = Table(title="50-primes request, where the time goes")
    for column in ("wall s", "model s", "code execution s", "overhead s", "overhead share", "answer 5117"):
        table.add_column(column)
    table.add_row(
        f"{p['wall_s']:.2f}",
        f"{p['model_s']:.2f}",
        f"{p['exec_s']:.3f}",
        f"{p['overhead_s']:.3f}",
        f"{p['overhead_share']:.2%}",
        "yes" if p["correct"] else "no",
    )
    console.print(table)

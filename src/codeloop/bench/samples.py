"""`codeloop bench samples`: N programs for the 50-primes question, written together vs one by one.

For each model and each N: the wall time and tokens of one sample_many() call writing N programs
(sequence 0 greedy, the others sampled at --temperature), against N stream() calls writing N
programs one after another (the first greedy, the others sampled with the same seeds). The prompt
is the loop's real first prompt, and every program ends where the loop would cut it: at the close
of its first ```python block. The stream() calls run first; the time of N of them is the sum of the
first N, since a call's seed does not depend on how many samples are wanted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import time
from dataclasses import asdict, dataclass
from typing import Any

from codeloop.backends import chatml
from codeloop.backends.base import Chat, Sampling
from codeloop.backends.catalog import EMBEDDED_MODELS
from codeloop.backends.continuation import sample_seeds
from codeloop.bench.model import PRIMES
from codeloop.fences import find_code_blocks

SEED = 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--models",
        default=",".join(EMBEDDED_MODELS),
        help="Embedded models to measure, comma-separated (default: all).",
    )
    parser.add_argument("--samples", default="1,3,5", help="Numbers of programs, comma-separated.")
    parser.add_argument("--temperature", type=float, default=0.8, help="Temperature of samples 1..N-1.")
    parser.add_argument("--max-tokens", type=int, default=384, help="Token budget of each program.")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores).")
    parser.add_argument("--json", action="store_true", help="Print the results as JSON.")


def run(args: argparse.Namespace) -> int:
    counts = sorted({int(n) for n in args.samples.split(",")})
    models = [name.strip() for name in args.models.split(",") if name.strip()]
    results = asyncio.run(_measure(models, counts, args.temperature, args.max_tokens, args.threads))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        _print(results)
    return 0


@dataclass
class Row:
    samples: int
    together_s: float
    together_tokens: int
    one_by_one_s: float
    one_by_one_tokens: int
    ratio: float  # together / one by one: what writing them together costs, relative
    vs_one: float  # together / one program: what N programs cost, in programs


def until_block_closes(text: str) -> bool:
    return bool(find_code_blocks(text))


async def _measure(
    models: list[str], counts: list[int], temperature: float, max_tokens: int, threads: int | None
) -> list[dict[str, Any]]:
    from codeloop.backends.registry import BackendOptions, Registry
    from codeloop.loop.engine import Conversation
    from codeloop.settings import Settings

    options = BackendOptions(cache_dir=Settings().cache_dir, threads=threads)
    messages = Conversation.from_question(PRIMES).messages
    chat = Chat(messages, True, Sampling(temperature=0, seed=SEED, max_tokens=max_tokens))
    results = []
    for name in models:
        registry = Registry(name, options=options)
        backend: Any = registry.resolve(name)
        try:
            one_by_one = await _one_by_one(backend, chat, max(counts), temperature)
            rows = []
            for n in counts:
                started = time.perf_counter()
                samples = await backend.sample_many(chat, n, temperature, until_block_closes)
                together_s = time.perf_counter() - started
                spent = one_by_one[:n]
                rows.append(
                    Row(
                        samples=n,
                        together_s=together_s,
                        together_tokens=sum(s.tokens for s in samples),
                        one_by_one_s=sum(seconds for seconds, _ in spent),
                        one_by_one_tokens=sum(tokens for _, tokens in spent),
                        ratio=0.0,
                        vs_one=0.0,
                    )
                )
            single = next((row.together_s for row in rows if row.samples == 1), rows[0].together_s)
            for row in rows:
                row.ratio = row.together_s / row.one_by_one_s
                row.vs_one = row.together_s / single
            results.append(
                {
                    "model": name,
                    "threads": backend.llm.n_threads,
                    "prompt_tokens": len(
                        backend.llm.tokenize(chatml.render(messages).encode(), add_bos=False, special=True)
                    ),
                    "rows": [asdict(row) for row in rows],
                }
            )
        finally:
            await registry.aclose()
    return results


async def _one_by_one(backend: Any, chat: Chat, n: int, temperature: float) -> list[tuple[float, int]]:
    """Seconds and tokens of n stream() calls, each cut where its first block closes."""
    from codeloop.backends.embedded import GenerationStats

    spent = []
    calls: list[GenerationStats] = []
    backend.on_generation = calls.append
    try:
        for seed in [None, *sample_seeds(chat.sampling.seed, n)]:
            sampling = chat.sampling
            if seed is not None:
                sampling = dataclasses.replace(sampling, temperature=temperature, seed=seed)
            text = ""
            started = time.perf_counter()
            async with contextlib.aclosing(
                backend.stream(dataclasses.replace(chat, sampling=sampling))
            ) as chunks:
                async for chunk in chunks:
                    text += chunk.text
                    if until_block_closes(text):
                        break
            spent.append((time.perf_counter() - started, calls[-1].generated_tokens))
    finally:
        backend.on_generation = None
    return spent


def _print(results: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for result in results:
        table = Table(
            title=f"N programs for the 50-primes question, {result['model']}, {result['threads']} threads, "
            f"{result['prompt_tokens']}-token prompt"
        )
        for column in (
            "N",
            "together s (tokens)",
            "one by one s (tokens)",
            "together / one by one",
            "together / 1 program",
        ):
            table.add_column(column)
        for row in result["rows"]:
            table.add_row(
                str(row["samples"]),
                f"{row['together_s']:.1f} ({row['together_tokens']})",
                f"{row['one_by_one_s']:.1f} ({row['one_by_one_tokens']})",
                f"{row['ratio']:.2f}",
                f"{row['vs_one']:.2f}",
            )
        console.print(table)

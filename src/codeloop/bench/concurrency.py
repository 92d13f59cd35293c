"""`codeloop bench model --concurrency 1,2,4,8`: several users at once, codeloop's embedded backend
beside llama.cpp's llama-server (`--parallel C`, continuous batching) on the same GGUF file, driven
through codeloop's `openai:` backend.

At each concurrency C, C clients each ask a question of one family (a story, each about someone
else) at the same moment and read T tokens: aggregate tokens/s (all tokens over the wall time of
the round) and the median time to first token. For the embedded backend, also how many clients got
the very text they get alone (greedy decoding; see scheduler.py for why batching can change it).
Then the 50-primes conversation (the real loop, with code execution) by 4 users at once, end to end.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from codeloop.backends.base import Backend, Chat, Message, Sampling
from codeloop.sandbox.base import Sandbox

SUBJECTS = (
    "a lighthouse keeper and a storm",
    "a baker who finds a map in the flour",
    "a chess player on a night train",
    "a beekeeper and a lost queen",
    "a cartographer charting an island that moves",
    "a violin maker and a stolen varnish",
    "an astronaut fixing a radio",
    "a gardener whose roses bloom at midnight",
)
PRIMES = (
    "What is the sum of the first 50 prime numbers? Generate and run code for the calculation, "
    "and make sure you get all 50."
)
USERS = 4


@dataclass
class Round:
    """C clients at once, each reading `tokens` tokens."""

    contender: str
    concurrency: int
    tokens: int  # all clients together
    wall_s: float
    aggregate_tps: float
    ttft_p50_s: float
    same_as_alone: int | None = None  # clients whose text equals their text alone (embedded only)


def story(index: int, tokens: int) -> Chat:
    subject = SUBJECTS[index % len(SUBJECTS)]
    text = f"Write a long, detailed story about {subject}."
    return Chat((Message("user", text),), sampling=Sampling(temperature=0, seed=0, max_tokens=tokens))


async def client(backend: Backend, chat: Chat, started: float) -> tuple[str, float]:
    """The text, and the time from `started` to its first piece."""
    text, first = "", 0.0
    async for chunk in backend.stream(chat):
        if chunk.text:
            first = first or time.perf_counter() - started
            text += chunk.text
    return text, first


async def measure_round(
    backend: Backend, contender: str, concurrency: int, tokens: int, count: Callable[[str], int]
) -> tuple[Round, list[str]]:
    """`count` gives a text's tokens by the model's own tokenizer, the same for both contenders."""
    chats = [story(index, tokens) for index in range(concurrency)]
    started = time.perf_counter()
    results = await asyncio.gather(*(client(backend, chat, started) for chat in chats))
    wall = time.perf_counter() - started
    counted = sum(count(text) for text, _ in results)
    ttft = statistics.median(first for _, first in results)
    return Round(contender, concurrency, counted, wall, counted / wall, ttft), [t for t, _ in results]


async def primes_by_users(backend: Backend, sandbox: Sandbox, users: int) -> dict[str, Any]:
    """The 50-primes request through the real loop, `users` of them at once: wall time, answers."""
    from codeloop.loop.engine import Conversation, Engine
    from codeloop.loop.events import TextDelta

    async def one() -> tuple[bool, float]:
        question = Conversation.from_question(PRIMES)
        conversation = Conversation(question.messages, True, Sampling(temperature=0, seed=0))
        answer, started = "", time.perf_counter()
        async for event in Engine(backend, sandbox).run(conversation):
            if isinstance(event, TextDelta):
                answer += event.text
        return "5117" in answer, time.perf_counter() - started

    started = time.perf_counter()
    results = await asyncio.gather(*(one() for _ in range(users)))
    return {
        "users": users,
        "wall_s": time.perf_counter() - started,
        "slowest_user_s": max(seconds for _, seconds in results),
        "correct": sum(correct for correct, _ in results),
    }


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    from codeloop.backends.catalog import EMBEDDED_MODELS
    from codeloop.backends.embedded import EmbeddedBackend
    from codeloop.backends.openai_compat import OpenAICompatBackend
    from codeloop.backends.registry import ALIASES
    from codeloop.backends.weights import ensure_model_file
    from codeloop.bench import llama_server
    from codeloop.runtime import open_runtime
    from codeloop.settings import Settings

    levels = sorted({int(level) for level in args.concurrency.split(",")})
    name = ALIASES.get(args.model, args.model)
    model = EMBEDDED_MODELS[name]
    settings = Settings(model="scripted", threads=args.threads)
    path = ensure_model_file(model.weights, settings.cache_dir / "models")
    threads = args.threads or 1
    rounds: list[Round] = []
    primes: dict[str, Any] = {}
    async with open_runtime(settings) as runtime:
        embedded = EmbeddedBackend(model, path, threads=threads, slots=max([*levels, USERS]))
        try:
            alone = {}
            for index in range(max(levels)):  # each question alone, for the comparison
                alone[index], _ = await client(embedded, story(index, args.tokens), time.perf_counter())
                embedded.clear_cache()
            for level in levels:
                embedded.clear_cache()
                measured, texts = await measure_round(
                    embedded, "codeloop embedded", level, args.tokens, embedded.count_tokens
                )
                measured.same_as_alone = sum(text == alone[i] for i, text in enumerate(texts))
                rounds.append(measured)
            embedded.clear_cache()
            primes["codeloop embedded"] = await primes_by_users(embedded, runtime.sandbox, USERS)
        finally:
            await embedded.aclose()
        if not args.no_server:
            count = _tokenizer(path)
            binary = llama_server.server_binary(settings.cache_dir, jobs=args.build_jobs)
            for level in sorted({*levels, USERS}):
                with llama_server.running_server(binary, path, level, threads) as url:
                    upstream = OpenAICompatBackend(name, url, context_length=model.context_length)
                    try:
                        if level in levels:
                            measured, _ = await measure_round(
                                upstream, "llama-server", level, args.tokens, count
                            )
                            rounds.append(measured)
                        if level == USERS:
                            primes["llama-server"] = await primes_by_users(upstream, runtime.sandbox, USERS)
                    finally:
                        await upstream.aclose()
    return {
        "model": name,
        "threads": threads,
        "tokens_per_client": args.tokens,
        "rounds": [asdict(measured) for measured in rounds],
        "primes_by_4_users": primes,
    }


def _tokenizer(path: Path) -> Callable[[str], int]:
    """Counts tokens with the GGUF's own tokenizer (vocabulary only, no weights loaded)."""
    from llama_cpp import Llama

    vocab = Llama(model_path=str(path), vocab_only=True, verbose=False)
    return lambda text: len(vocab.tokenize(text.encode(), add_bos=False, special=False))


def print_results(results: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(
        title=f"{results['model']}, {results['threads']} threads, "
        f"{results['tokens_per_client']} tokens per client"
    )
    for column in (
        "contender",
        "clients",
        "aggregate tokens/s",
        "vs its 1 client",
        "TTFT p50 s",
        "same as alone",
    ):
        table.add_column(column)
    single = {r["contender"]: r["aggregate_tps"] for r in results["rounds"] if r["concurrency"] == 1}
    for r in results["rounds"]:
        base = single.get(r["contender"])
        same = "" if r["same_as_alone"] is None else f"{r['same_as_alone']}/{r['concurrency']}"
        table.add_row(
            r["contender"],
            str(r["concurrency"]),
            f"{r['aggregate_tps']:.2f}",
            f"{r['aggregate_tps'] / base:.2f}x" if base else "",
            f"{r['ttft_p50_s']:.2f}",
            same,
        )
    console.print(table)
    table = Table(title=f"50-primes conversation, {USERS} users at once, end to end")
    for column in ("contender", "wall s", "slowest user s", "answers 5117"):
        table.add_column(column)
    for contender, p in results["primes_by_4_users"].items():
        table.add_row(
            contender, f"{p['wall_s']:.1f}", f"{p['slowest_user_s']:.1f}", f"{p['correct']}/{p['users']}"
        )
    console.print(table)

"""`codeloop bench sandbox`: how fast a ready interpreter is, side by side with the usual ways.

(a) a fresh subprocess per block that imports numpy, pandas and matplotlib;
(b) a warm Jupyter kernel (jupyter_client + ipykernel), one round trip;
(c) codeloop: a fresh isolated session, ready with the same stack loaded, started on demand
    (no spare) and taken from the spare the sandbox keeps started (requests 100 ms apart);
(d) codeloop: one block round trip in a warm session;
plus the memory (PSS) of an idle session, throughput on all cores, and a burst: how long until every one
of many sessions asked for at once has run its first block.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from codeloop.bench.sessions import block_times, throughput

STACK = "import numpy, pandas, matplotlib.pyplot"
BLOCK = "import numpy as np\nx = float((np.arange(1000.0) ** 2).sum())"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rounds", type=int, default=30, help="Samples per codeloop measurement (default 30)."
    )
    parser.add_argument(
        "--subprocess-rounds", type=int, default=5, help="Samples of (a), about a second each (default 5)."
    )
    parser.add_argument(
        "--idle-sessions", type=int, default=10, help="Sessions held open for PSS (default 10)."
    )
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="Duration of each throughput run (default 5)."
    )
    parser.add_argument(
        "--burst", type=int, default=100, help="Sessions asked for at once in the burst (default 100)."
    )
    parser.add_argument("--no-jupyter", action="store_true", help="Skip (b).")
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON, not a table.")


def run(args: argparse.Namespace) -> int:
    results: dict[str, Any] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    results["a_subprocess_ms"] = _subprocess(args.subprocess_rounds)
    results["b_jupyter_ms"] = None if args.no_jupyter else _jupyter(args.rounds)
    results.update(asyncio.run(_codeloop(args)))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(_table(results))
    return 0


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def _p90_ms(samples: list[float]) -> float:
    return round(sorted(samples)[int(len(samples) * 0.9)] * 1000, 3)


def _subprocess(rounds: int) -> float:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"{STACK}\n{BLOCK}"], check=True, env=env)
        samples.append(time.perf_counter() - started)
    return _median_ms(samples)


def _jupyter(rounds: int) -> float | None:
    try:
        from jupyter_client.manager import start_new_kernel
    except ImportError:
        print("bench: jupyter_client is not installed; skipping (b)", file=sys.stderr)
        return None
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        client.execute_interactive(STACK, timeout=60)
        samples = []
        for _ in range(rounds):
            started = time.perf_counter()
            reply = client.execute_interactive(BLOCK, timeout=60)
            samples.append(time.perf_counter() - started)
            assert reply["content"]["status"] == "ok", reply
        return _median_ms(samples)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


async def _codeloop(args: argparse.Namespace) -> dict[str, Any]:
    from codeloop.sandbox import ForkSandbox, Limits, SandboxConfig

    config = SandboxConfig(max_sessions=max(64, 4 * args.idle_sessions, args.burst + 1))
    out: dict[str, Any] = {}
    cold = ForkSandbox(Limits(), dataclasses.replace(config, spare_sessions=0))
    try:
        started = time.perf_counter()
        await cold.start()
        out["zygote_start_ms"] = round((time.perf_counter() - started) * 1000, 1)
        fresh = await _open_times(cold, args.rounds, gap_s=0.0)
        out["c_fresh_session_ms"] = _median_ms(fresh)
        out["c_fresh_session_p90_ms"] = _p90_ms(fresh)
    finally:
        await cold.close()

    sandbox = ForkSandbox(Limits(), config)
    try:
        await sandbox.start()
        spare = await _open_times(sandbox, args.rounds, gap_s=0.1)
        out["c_spare_session_ms"] = _median_ms(spare)
        out["c_spare_session_p90_ms"] = _p90_ms(spare)

        session = await sandbox.open_session()
        check = await session.run(f"{STACK}\n{BLOCK}\nprint(x)")
        assert check.ok and check.output == "332833500.0\n", check
        out["d_warm_round_trip_ms"] = _median_ms(await block_times(session, "pass", args.rounds * 10))
        await session.close()

        out["idle_session_pss_mib"] = await _idle_pss(sandbox, args.idle_sessions)
        cores = os.cpu_count() or 1
        for name, each_fresh in (("warm_blocks_per_s", False), ("fresh_sessions_per_s", True)):
            out[name] = await throughput(sandbox, cores, args.seconds, BLOCK, fresh_sessions=each_fresh)
        out["burst_sessions"] = args.burst
        out["burst_all_running_s"] = await _burst(sandbox, args.burst)
        return out
    finally:
        await sandbox.close()


async def _open_times(sandbox: Any, rounds: int, gap_s: float) -> list[float]:
    samples = []
    for _ in range(rounds):
        await asyncio.sleep(gap_s)
        started = time.perf_counter()
        session = await sandbox.open_session()
        samples.append(time.perf_counter() - started)
        await session.close()
    return samples


async def _idle_pss(sandbox: Any, count: int) -> float:
    """PSS of the processes below the zygotes (keepers, interpreters, the spare too), per session."""
    sessions = [await sandbox.open_session() for _ in range(count)]
    try:
        for session in sessions:
            await session.run("pass")
        await asyncio.sleep(0.2)
        zygotes = sandbox.zygote_pids
        pids = [pid for z in zygotes for pid in _descendants(z)]
        total_kib = sum(_pss_kib(pid) for pid in pids)
        return round(total_kib / 1024 / count, 2)
    finally:
        await asyncio.gather(*(s.close() for s in sessions))


async def _burst(sandbox: Any, count: int) -> float:
    """Seconds from asking for count sessions at once until each has run one block."""

    async def one() -> Any:
        session = await sandbox.open_session()
        await session.run("pass")
        return session

    started = time.perf_counter()
    sessions = await asyncio.gather(*(one() for _ in range(count)))
    seconds = time.perf_counter() - started
    await asyncio.gather(*(s.close() for s in sessions))
    return round(seconds, 3)


def _descendants(pid: int) -> list[int]:
    found, pending = [], [pid]
    while pending:
        parent = pending.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found += children
            pending += children
    return found


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _table(r: dict[str, Any]) -> str:
    a, c, spare = r["a_subprocess_ms"], r["c_fresh_session_ms"], r["c_spare_session_ms"]
    b = "skipped" if r["b_jupyter_ms"] is None else f"{r['b_jupyter_ms']:.2f} ms"
    rows = [
        ("(a) subprocess per block, importing numpy+pandas+matplotlib", f"{a:.0f} ms", "1×"),
        ("(b) warm Jupyter kernel, one block round trip", b, ""),
        ("(c) fresh isolated session, stack loaded: on demand", f"{c:.1f} ms", f"{a / c:.0f}× faster"),
        ("    on demand, 90th percentile", f"{r['c_fresh_session_p90_ms']:.1f} ms", ""),
        ("    taken from the spare, requests 100 ms apart", f"{spare:.2f} ms", f"{a / spare:.0f}× faster"),
        ("    from the spare, 90th percentile", f"{r['c_spare_session_p90_ms']:.2f} ms", ""),
        ("(d) warm block round trip", f"{r['d_warm_round_trip_ms']:.2f} ms", ""),
        ("PSS per idle session (keeper + interpreter)", f"{r['idle_session_pss_mib']:.1f} MiB", ""),
        (f"warm blocks/s, {r['cpus']} sessions in parallel", f"{r['warm_blocks_per_s']:.0f}", ""),
        (
            f"fresh sessions/s (open, 1 block, close), {r['cpus']} at once",
            f"{r['fresh_sessions_per_s']:.0f}",
            "",
        ),
        (
            f"a burst of {r['burst_sessions']} sessions asked for at once: all have run a block",
            f"{r['burst_all_running_s']:.2f} s",
            "",
        ),
        ("zygote start (preload, once)", f"{r['zygote_start_ms']:.0f} ms", ""),
    ]
    width = max(len(name) for name, _, _ in rows)
    lines = [f"| {'measurement':<{width}} | median | vs (a) |", f"|{'-' * (width + 2)}|---|---|"]
    lines += [f"| {name:<{width}} | {value} | {ratio} |" for name, value, ratio in rows]
    return "\n".join(lines)

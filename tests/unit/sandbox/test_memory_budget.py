"""Which idle sessions the memory budget resets: least recently used first, never a busy one, no more
than needed."""

from __future__ import annotations

import os
from dataclasses import dataclass

from codeloop.cli.main import build_parser
from codeloop.cli.options import settings_from
from codeloop.sandbox.memory_budget import machine_share_mib, sessions_to_reset
from codeloop.settings import Settings

MIB = 1 << 20


@dataclass(frozen=True)
class Fake:
    name: str
    last_used: float
    running: bool = False


A, B, C = Fake("a", 1.0), Fake("b", 2.0), Fake("c", 3.0)


def names(chosen: list[Fake]) -> list[str]:
    return [s.name for s in chosen]


def test_nothing_is_reset_while_the_sessions_fit() -> None:
    assert sessions_to_reset({A: 100 * MIB, B: 100 * MIB, C: 100 * MIB}, 300 * MIB) == []
    assert sessions_to_reset({}, 0) == []


def test_the_least_recently_used_go_first_and_only_as_many_as_needed() -> None:
    usage = {C: 150 * MIB, A: 150 * MIB, B: 150 * MIB}  # the order of the mapping does not matter
    assert names(sessions_to_reset(usage, 400 * MIB)) == ["a"]
    assert names(sessions_to_reset(usage, 300 * MIB)) == ["a"]
    assert names(sessions_to_reset(usage, 299 * MIB)) == ["a", "b"]


def test_a_small_old_session_does_not_spare_a_big_newer_one() -> None:
    usage = {A: 1 * MIB, B: 500 * MIB, C: 100 * MIB}
    assert names(sessions_to_reset(usage, 400 * MIB)) == ["a", "b"]


def test_a_busy_session_is_never_reset_even_when_least_recently_used() -> None:
    busy = Fake("busy", 0.0, running=True)
    usage = {busy: 300 * MIB, A: 50 * MIB, B: 50 * MIB, C: 50 * MIB}
    assert names(sessions_to_reset(usage, 400 * MIB)) == ["a"]
    # The busy one alone passes the budget: every idle one goes, the busy one stays.
    assert names(sessions_to_reset(usage, 200 * MIB)) == ["a", "b", "c"]


def test_the_default_budget_is_half_the_machines_memory() -> None:
    total_mib = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") >> 20
    assert abs(machine_share_mib() - total_mib // 2) <= 1
    assert Settings().sandbox_config.sessions_memory_mib is None  # resolved by the sandbox, at start
    assert Settings(sessions_memory_mib=300).sandbox_config.sessions_memory_mib == 300


def test_serve_takes_the_budget_flag() -> None:
    args = build_parser().parse_args(["serve", "--sessions-memory-mib", "300"])
    assert settings_from(args).sandbox_config.sessions_memory_mib == 300

"""Settings become the sandbox's limits and config; the factory picks the sandbox from them."""

from __future__ import annotations

from codeloop.cli.main import build_parser
from codeloop.sandbox import ForkSandbox, ProcessSandbox, create_sandbox
from codeloop.settings import Settings


def test_settings_make_the_sandbox_limits_and_config() -> None:
    settings = Settings(
        exec_timeout=3,
        exec_memory_mib=128,
        exec_pids=16,
        exec_disk_mib=8,
        preload=" numpy, pandas ,,",
        max_sessions=5,
        session_idle_timeout=7,
        zygotes=2,
        spare_sessions=0,
    )
    limits, config = settings.sandbox_limits, settings.sandbox_config
    assert (limits.timeout_s, limits.memory_mib, limits.pids, limits.disk_mib) == (3, 128, 16, 8)
    assert config.preload == ("numpy", "pandas")
    assert (config.max_sessions, config.idle_timeout_s, config.zygotes, config.spare_sessions) == (5, 7, 2, 0)
    assert not config.insecure_no_sandbox


def test_the_factory_isolates_unless_told_not_to() -> None:
    secure = Settings()
    assert isinstance(create_sandbox(secure.sandbox_limits, secure.sandbox_config), ForkSandbox)
    insecure = Settings(insecure_no_sandbox=True)
    assert isinstance(create_sandbox(insecure.sandbox_limits, insecure.sandbox_config), ProcessSandbox)


def test_serve_has_the_sandbox_flags() -> None:
    args = build_parser().parse_args(
        ["serve", "--insecure-no-sandbox", "--exec-memory-mib", "64", "--zygotes", "2"]
    )
    assert (args.insecure_no_sandbox, args.exec_memory_mib, args.zygotes) == (True, 64, 2)

"""The check of the live sessions' memory is skipped while their cgroup limits add up within the budget, and
only then: a third session whose limit takes the sum past it is measured, and an idle one reset."""

from __future__ import annotations

from sandbox_helpers import LoopThread

from codeloop.sandbox import ForkSandbox, Limits, SandboxConfig

MIB = 1 << 20
# Each session's cgroup holds memory_mib + disk_mib = 272 MiB: two fit a budget of 560, three do not.
LIMITS = Limits(timeout_s=20.0, output_bytes=64 * 1024, memory_mib=256, pids=64, disk_mib=16, file_mib=16)
BUDGET_MIB = 560
HOLD = "blob = b'x' * (200 << 20)"  # 200 MiB resident: three of them pass the budget, two do not
CHECK = "print(len(blob) if 'blob' in globals() else 'gone')"


def test_a_session_whose_limit_passes_the_budget_brings_the_check_back(loop_thread: LoopThread) -> None:
    async def scenario() -> tuple[bool, bool, int, list[str]]:
        config = SandboxConfig(preload=(), sessions_memory_mib=BUDGET_MIB, spare_sessions=0)
        sandbox = ForkSandbox(LIMITS, config)
        try:
            one, two = await sandbox.open_session(), await sandbox.open_session()
            await one.run(HOLD)
            await two.run(HOLD)
            skipped_with_two = not sandbox.memory_may_pass_budget()
            three = await sandbox.open_session()
            checked_with_three = sandbox.memory_may_pass_budget()
            await three.run(HOLD)  # 600 MiB in use, over the budget of 560
            used = sum(m.bytes for m in sandbox.session_memory())
            outputs = [(await s.run(CHECK)).output for s in (two, three, one)]
            return skipped_with_two, checked_with_three, used, outputs
        finally:
            await sandbox.close()

    skipped_with_two, checked_with_three, used, outputs = loop_thread.run(scenario())
    assert skipped_with_two and checked_with_three
    assert used <= BUDGET_MIB * MIB
    assert outputs[:2] == [f"{200 * MIB}\n"] * 2
    assert "[session reset for memory" in outputs[2] and outputs[2].endswith("gone\n")

"""The `codeloop` console script, run as a user runs it."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from serve_process import start_serve

CODELOOP = str(Path(sys.executable).with_name("codeloop"))


def codeloop(*args: str, stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CODELOOP, *args], input=stdin, capture_output=True, text=True, timeout=timeout)


def test_exec_json() -> None:
    done = codeloop("exec", "--json", stdin="import sys\nprint('out')\nprint('err', file=sys.stderr)\n")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"outcome": "OUTCOME_OK", "output": "out\nerr\n", "files": []}


def test_exec_failure_and_timeout_exit_codes(tmp_path: Path) -> None:
    script = tmp_path / "fail.py"
    script.write_text("raise ValueError('boom')\n")
    failed = codeloop("exec", str(script))
    assert failed.returncode == 1
    assert "ValueError: boom" in failed.stdout
    slow = codeloop("exec", "--json", "--exec-timeout", "1", stdin="import time\ntime.sleep(30)\n")
    assert slow.returncode == 124
    assert json.loads(slow.stdout)["outcome"] == "OUTCOME_DEADLINE_EXCEEDED"


BOX = set("╭╮╰╯│─")


def test_exec_piped_prints_the_output_as_the_code_wrote_it() -> None:
    done = codeloop(
        "exec", stdin="import sys\nprint('out')\nprint('err', file=sys.stderr)\nprint(' end ', end='')\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "out\nerr\n end "
    assert done.stderr == ""


def test_exec_piped_writes_the_output_as_the_code_runs_and_nothing_twice() -> None:
    code = (
        "import os, time\nprint('first', flush=True)\ntime.sleep(2)\nos.write(1, b'last \\xe2\\x98')\n1 / 0\n"
    )
    with subprocess.Popen(
        [CODELOOP, "exec"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    ) as process:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(code.encode())
        process.stdin.close()
        first = process.stdout.readline()
        first_at = time.monotonic()
        second = process.stdout.readline()  # written two seconds later
        second_at = time.monotonic()
        rest = second + process.stdout.read()
        process.wait(timeout=60)
    assert second_at - first_at > 1.0, "the first line came only when the code ended"
    assert first == b"first\n"
    assert rest.startswith("last \ufffd\nTraceback (most recent call last):\n".encode())
    assert rest.endswith(b"ZeroDivisionError: division by zero\n") and rest.count(b"last \xef") == 1
    assert process.returncode == 1


def test_exec_piped_failure_is_the_exit_status_and_the_traceback_as_is(tmp_path: Path) -> None:
    script = tmp_path / "fail.py"
    script.write_text("print('before')\nraise ValueError('boom')\n")
    failed = codeloop("exec", str(script))
    assert failed.returncode == 1
    assert failed.stdout.startswith("before\nTraceback (most recent call last):\n")
    assert failed.stdout.endswith("ValueError: boom\n")
    assert not BOX & set(failed.stdout + failed.stderr) and "\x1b[" not in failed.stdout


def test_exec_piped_says_where_files_went_on_stderr(tmp_path: Path) -> None:
    code = "open('table.csv', 'w').write('a,b\\n')\nprint('wrote it')\n"
    done = codeloop("exec", "--files-dir", str(tmp_path), stdin=code)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "wrote it\n"
    assert done.stderr == f"saved text/csv to {tmp_path / 'table.csv'}\n"
    assert (tmp_path / "table.csv").read_text() == "a,b\n"


def in_a_terminal(*args: str, stdin: str) -> tuple[int, str]:
    """Run codeloop with its stdout and stderr on a pseudo-terminal, as a person at a shell sees it."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [CODELOOP, *args],
        stdin=subprocess.PIPE,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, "COLUMNS": "80", "TERM": "xterm-256color"},
    )
    os.close(terminal)
    process.stdin.write(stdin.encode())
    process.stdin.close()
    seen = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # EIO: the terminal's other end closed
            break
        if not chunk:
            break
        seen += chunk
    os.close(controller)
    return process.wait(timeout=60), seen.decode()


def test_exec_in_a_terminal_frames_the_output() -> None:
    status, seen = in_a_terminal("exec", stdin="print('framed')\n")
    assert status == 0
    assert "framed" in seen and "result" in seen
    assert set(seen) >= BOX
    failed, seen = in_a_terminal("exec", stdin="raise ValueError('boom')\n")
    assert failed == 1 and "failed" in seen and "ValueError: boom" in seen and set(seen) >= BOX


def test_exec_saves_figures(tmp_path: Path) -> None:
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 2])\n"
    done = codeloop("exec", "--files-dir", str(tmp_path), stdin=code)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "figure_1.png").read_bytes().startswith(b"\x89PNG")


def test_ask_runs_the_loop() -> None:
    done = codeloop("ask", "--model", "scripted", "Compute:\n```python\nprint(6 * 7)\n```")
    assert done.returncode == 0, done.stderr
    assert "print(6 * 7)" in done.stdout
    assert "42" in done.stdout
    assert "STOP" in done.stdout


def test_ask_stages_files_and_saves_the_ones_the_code_writes(tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text("name,age\nada,36\nalan,41\n")
    out = tmp_path / "out"
    out.mkdir()
    code = (
        "```python\nimport pandas as pd\nd = pd.read_csv('people.csv')\n"
        "d.to_csv('older.csv')\nprint(d.age.sum())\n```"
    )
    done = codeloop("ask", "--model", "scripted", "--file", str(people), "--files-dir", str(out), code)
    assert done.returncode == 0, done.stderr
    assert "77" in done.stdout
    assert "ada,36" in (out / "older.csv").read_text()
    missing = codeloop("ask", "--model", "scripted", "--file", str(tmp_path / "nope.csv"), "hi")
    assert missing.returncode == 2 and "nope.csv" in missing.stderr


def test_ask_without_code() -> None:
    done = codeloop("ask", "--model", "scripted", "--no-code", "```python\nprint(6 * 7)\n```")
    assert done.returncode == 0, done.stderr
    assert "not enabled" in done.stdout


def test_unknown_model_is_a_clear_error() -> None:
    done = codeloop("ask", "--model", "nope", "hi")
    assert done.returncode == 2
    assert "nope" in done.stderr and "Traceback" not in done.stderr


def test_serve() -> None:
    environment = {**os.environ, "CODELOOP_LOG_LEVEL": "warning"}
    server = start_serve("--model", "scripted", "--exec-timeout", "5", env=environment, capture=True)
    url = server.url
    try:
        question = "```python\nprint(2 ** 10)\n```"
        body = json.dumps({"tools": {"codeExecution": {}}, "contents": {"parts": {"text": question}}})
        response = httpx.post(f"{url}/v1beta/models/scripted:generateContent", content=body, timeout=30)
        parts = response.json()["candidates"][0]["content"]["parts"]
        result = parts[2]["codeExecutionResult"]
        assert result == {"outcome": "OUTCOME_OK", "output": "1024\n", "id": parts[1]["executableCode"]["id"]}
    finally:
        output = "".join(server.stop())
    # uvicorn shuts down gracefully, then re-raises the signal it caught, as a well-behaved daemon does.
    assert server.process.returncode in (0, -signal.SIGTERM), output
    assert "Traceback" not in output
    assert url in output

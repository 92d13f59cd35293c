"""`codeloop serve` run as its users run it: a subprocess on a free loopback port, ready once /healthz
answers. For tests of the whole program (signals, logs, process trees); live.py runs the app in a thread.
Other HTTP servers the tests talk to (an upstream model server) are run the same way."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from live import wait_until

CODELOOP = str(Path(sys.executable).with_name("codeloop"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServeProcess:
    url: str
    process: subprocess.Popen[str]

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> tuple[str, str]:
        """SIGTERM, as a service manager stops it (SIGKILL after 30 s); what it printed, if captured."""
        self.process.send_signal(signal.SIGTERM)
        try:
            out, err = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
        return out or "", err or ""


def start_serve(
    *flags: str, env: dict[str, str] | None = None, capture: bool = False, timeout_s: float = 60
) -> ServeProcess:
    """`codeloop serve --port <free> FLAGS`; with capture, its stdout and stderr are kept for stop()."""
    port = free_port()
    output = subprocess.PIPE if capture else subprocess.DEVNULL
    process = subprocess.Popen(
        [CODELOOP, "serve", "--port", str(port), *flags], stdout=output, stderr=output, text=True, env=env
    )
    served = ServeProcess(f"http://127.0.0.1:{port}", process)
    if not wait_until(lambda: process.poll() is not None or _up(served.url), timeout_s) or process.poll():
        process.kill()
        out, err = process.communicate()
        raise RuntimeError(f"codeloop serve did not come up: {out or ''}{err or ''}")
    return served


@contextmanager
def http_process(command: list[str], ready_url: str, within_s: float, log: Path) -> Iterator[None]:
    """Run an HTTP server process until the block ends, once GET ready_url answers 200. Its stderr
    goes to a file, `log` (a server may log more than a pipe holds), shown if it exits early."""
    with log.open("wb") as sink:
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=sink)
    try:
        deadline = time.monotonic() + within_s
        while not _answers(ready_url):
            assert server.poll() is None, f"{command[:3]} exited: {log.read_text(errors='replace')[-2000:]}"
            assert time.monotonic() < deadline, f"{command[:3]} did not answer {ready_url} in {within_s} s"
            time.sleep(0.2)
        yield
    finally:
        server.terminate()
        server.wait(timeout=30)


def _up(url: str) -> bool:
    return _answers(f"{url}/healthz")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.TransportError:
        return False

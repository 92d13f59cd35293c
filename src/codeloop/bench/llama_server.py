"""llama.cpp's own `llama-server`, the anchor of `bench model --concurrency`: built once from the
llama.cpp source inside the pinned llama-cpp-python sdist, so both sides run the same kernels on the
same GGUF file, and started with `--parallel N` and continuous batching.

The sdist comes from pip (its cache, or the registry pip is configured with), nothing else is
downloaded; the build is the `llama-server` target alone, cached under the cache dir by version.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

PACKAGE = "llama-cpp-python"
# The build of llama-cpp-python's wheel: llama.cpp's own defaults on Linux (native CPU features).
CMAKE_OPTIONS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_BUILD_TOOLS=ON",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_CURL=OFF",
    "-DBUILD_SHARED_LIBS=OFF",
)


def server_binary(cache_dir: Path, jobs: int = 1) -> Path:
    """The llama-server binary for the installed llama-cpp-python version, built on first use."""
    version = importlib.metadata.version(PACKAGE)
    home = cache_dir / "llama-server" / version
    binary = home / "build" / "bin" / "llama-server"
    if binary.exists():
        return binary
    source = _unpacked_sdist(home, version)
    build = home / "build"
    print(f"Building llama-server {version} (once, several minutes) in {build}", file=sys.stderr)
    generator = ["-G", "Ninja"] if _has("ninja") else []
    subprocess.run(
        ["cmake", "-S", str(source / "vendor" / "llama.cpp"), "-B", str(build), *generator, *CMAKE_OPTIONS],
        check=True,
    )
    subprocess.run(["cmake", "--build", str(build), "--target", "llama-server", f"-j{jobs}"], check=True)
    return binary


def _unpacked_sdist(home: Path, version: str) -> Path:
    source = home / f"llama_cpp_python-{version}"
    if (source / "vendor" / "llama.cpp" / "CMakeLists.txt").exists():
        return source
    home.mkdir(parents=True, exist_ok=True)
    archive = home / f"llama_cpp_python-{version}.tar.gz"
    if not archive.exists():
        subprocess.run(
            [
                sys.executable,
                *("-m", "pip", "download", f"{PACKAGE}=={version}"),
                *("--no-binary", PACKAGE, "--no-deps", "-d", str(home)),
            ],
            check=True,
        )
    with tarfile.open(archive) as tar:
        tar.extractall(home, filter="data")
    return source


@contextlib.contextmanager
def running_server(
    binary: Path, model_path: Path, parallel: int, threads: int, context_per_slot: int = 4096
) -> Iterator[str]:
    """A llama-server on a free loopback port, for the block; yields its OpenAI base URL."""
    port = _free_port()
    command = [
        str(binary),
        *("-m", str(model_path), "--host", "127.0.0.1", "--port", str(port)),
        *("--parallel", str(parallel), "--cont-batching", "-c", str(context_per_slot * parallel)),
        *("-t", str(threads), "-tb", str(threads), "--no-webui"),
    ]
    log = binary.parent.parent.parent / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=sink)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(process, base, log)
        yield f"{base}/v1"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_healthy(process: subprocess.Popen[bytes], base: str, log: Path, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"llama-server exited with {process.returncode}: {error}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    raise RuntimeError(f"llama-server did not become healthy within {timeout_s:.0f} s")


def _free_port() -> int:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port: int = listener.getsockname()[1]
        return port


def _has(program: str) -> bool:
    return any((Path(directory) / program).exists() for directory in os.environ["PATH"].split(os.pathsep))

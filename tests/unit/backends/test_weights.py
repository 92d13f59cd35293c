from __future__ import annotations

import hashlib
import re
import sys
import types
from pathlib import Path

import pytest

from codeloop.backends.weights import Part, Weights, WeightsError, ensure_model_file, installed_parts


@pytest.fixture
def fake_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Weights, bytes]:
    """Two installed 'part packages' whose files join into a small model file."""
    chunks = [b"GGUF" + b"a" * 1000, b"b" * 777]
    parts = []
    for index, chunk in enumerate(chunks, 1):
        path = tmp_path / f"part{index}.bin"
        path.write_bytes(chunk)
        module = types.ModuleType(f"fake_model_part{index}")
        module.get_part_path = lambda path=path: str(path)  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, module.__name__, module)
        parts.append(Part(f"fake-model-part{index}", "1.0", "0" * 64))
    whole = b"".join(chunks)
    weights = Weights("fake.gguf", len(whole), hashlib.sha256(whole).hexdigest(), tuple(parts))
    return weights, whole


def test_parts_are_joined_in_order_and_verified(fake_parts, tmp_path: Path) -> None:
    weights, whole = fake_parts
    seen: list[int] = []
    path = ensure_model_file(
        weights, tmp_path / "cache", install=False, progress=lambda done, _: seen.append(done)
    )
    assert path.read_bytes() == whole
    assert seen[-1] == len(whole)
    assert ensure_model_file(weights, tmp_path / "cache", install=False) == path  # cached, re-verified


def test_a_corrupted_cache_file_is_a_clear_error(fake_parts, tmp_path: Path) -> None:
    weights, whole = fake_parts
    path = ensure_model_file(weights, tmp_path / "cache", install=False)
    path.write_bytes(whole[:-1] + b"x")
    with pytest.raises(WeightsError, match=rf"{re.escape(str(path))}.*SHA-256"):
        ensure_model_file(weights, tmp_path / "cache", install=False)
    path.write_bytes(whole[:10])
    with pytest.raises(WeightsError, match=rf"{re.escape(str(path))} has 10 bytes"):
        ensure_model_file(weights, tmp_path / "cache", install=False)


def test_parts_that_do_not_match_are_never_kept(fake_parts, tmp_path: Path) -> None:
    weights, _ = fake_parts
    wrong = Weights(weights.file_name, weights.size, "f" * 64, weights.parts)
    with pytest.raises(WeightsError, match=r"fake\.gguf"):
        ensure_model_file(wrong, tmp_path / "cache", install=False)
    assert list((tmp_path / "cache").iterdir()) == []


def test_missing_parts(tmp_path: Path) -> None:
    weights = Weights("none.gguf", 1, "0" * 64, (Part("no-such-model-part1", "1.0", "0" * 64),))
    assert installed_parts(weights) is None
    with pytest.raises(WeightsError, match="codeloop models pull"):
        ensure_model_file(weights, tmp_path, install=False)


def test_requirements_pin_version_and_hash() -> None:
    assert Part("a-b", "0.9.0", "ab" * 32).requirement == f"a-b==0.9.0 --hash=sha256:{'ab' * 32}"
    assert Part("a-b", "0.9.0", "").module == "a_b"

"""The CLI saves the files code returns (`codeloop exec`, `codeloop ask`): hostile names land inside its
dir under a safe name or not at all, and no symlink, planted anywhere on the way, is followed.

The names are the code's to choose (with `ask`, the model's), so each test hands the CLI's writer one
such name; the last runs `codeloop exec` against an output dir with symlinks planted before the run."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pytest
from rich.console import Console

from codeloop.cli.render import TrailPrinter
from codeloop.execution import Execution, NamedFile, Outcome
from codeloop.files.saving import COMPONENT_BYTES, MAX_DEPTH, save_file
from serve_process import CODELOOP

DATA = b"written by sandboxed code"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A dir beside the output dir, with a file the code would like to overwrite."""
    path = tmp_path / "outside"
    path.mkdir()
    (path / "target").write_text("original")
    return path


@pytest.fixture
def out(tmp_path: Path) -> Path:
    path = tmp_path / "deep" / "er" / "out"
    path.mkdir(parents=True)
    return path


def show(out: Path, *names: str, mime_type: str = "text/plain") -> str:
    """What the CLI prints for an execution that returned these files."""
    printed = io.StringIO()
    files = tuple(NamedFile(name, mime_type, DATA) for name in names)
    printer = TrailPrinter(Console(file=printed, width=300, highlight=False), out)
    printer.show_execution(Execution(Outcome.OUTCOME_OK, "", files))
    return printed.getvalue()


def written(root: Path) -> dict[str, bytes]:
    """Every file under root, symlinks not followed, by path relative to root."""
    found = {}
    for dirpath, _, filenames in os.walk(root):
        for filename in filenames:
            path = Path(dirpath, filename)
            if not path.is_symlink():
                found[str(path.relative_to(root))] = path.read_bytes()
    return found


def assert_untouched(outside: Path) -> None:
    assert written(outside) == {"target": b"original"}


def test_an_absolute_name_lands_inside_the_dir(out: Path, outside: Path) -> None:
    printed = show(out, str(outside / "target"), str(outside / "new"))
    assert_untouched(outside)
    inside = str(outside.relative_to("/"))
    assert written(out) == {f"{inside}/target": DATA, f"{inside}/new": DATA}
    assert "its name was made safe" in printed


def test_dot_dot_names_never_climb_out(out: Path, outside: Path) -> None:
    show(out, "../../../outside/target", "a/../../../../outside/new", "..", "../..")
    assert_untouched(outside)
    assert written(out) == {"outside/target": DATA, "a/outside/new": DATA}


def test_a_symlinked_file_in_the_dir_is_not_followed(out: Path, outside: Path) -> None:
    (out / "result.txt").symlink_to(outside / "target")
    printed = show(out, "result.txt")
    assert_untouched(outside)
    assert (out / "result.txt").is_symlink()
    assert "not saved: 'result.txt': result.txt is a symlink" in printed


def test_a_symlinked_dir_on_the_way_is_not_followed(out: Path, outside: Path) -> None:
    (out / "sub").symlink_to(outside)
    (out / "real").mkdir()
    (out / "real" / "deeper").symlink_to(outside)
    printed = show(out, "sub/target", "sub/new", "real/deeper/new")
    assert_untouched(outside)
    assert printed.count("is a symlink or not a dir") == 3


def test_control_characters_and_markup_are_neither_written_nor_printed(out: Path) -> None:
    names = ["a\x00b.txt", "evil\r\nsaved text as passwd", "\x1b[31mred", "[bold]x[/bold]"]
    printed = show(out, *names, mime_type="text/plain\x1b]0;title\x07")
    assert sorted(written(out)) == [
        "[bold]x[/bold]",
        "_[31mred",
        "a_b.txt",
        "evil__saved text as passwd",
    ]
    assert "\x1b" not in printed and "\x00" not in printed and "\r" not in printed
    file_lines = printed.splitlines()[3:]  # after the output's panel, one line per file
    assert len(file_lines) == len(names) and all(line.startswith("saved ") for line in file_lines)
    assert "saved a file to" in printed  # the mime type was not fit to print
    assert "[bold]x[/bold]" in printed  # shown as it is, not taken for markup


def test_lone_surrogates_are_replaced(out: Path) -> None:
    show(out, "bad\udc80\ud800name.txt")
    assert sorted(written(out)) == ["bad__name.txt"]


def test_hidden_and_empty_names(out: Path) -> None:
    printed = show(out, ".bashrc", ".ssh/authorized_keys", "", ".", "/")
    assert sorted(written(out)) == ["_.bashrc", "_.ssh/authorized_keys"]
    assert printed.count("no part of the name can be used") == 3


def test_very_long_names_are_shortened_or_refused(out: Path) -> None:
    long_ascii = "y" * 300 + ".csv"
    long_wide = "é" * 200  # 400 bytes of UTF-8
    printed = show(out, long_ascii, long_wide, "z" * 10_000, "/".join(["d"] * (MAX_DEPTH + 1)))
    names = sorted(written(out))
    assert len(names) == 2
    assert all(len(name.encode()) <= COMPONENT_BYTES for name in names)
    assert any(name.endswith(".csv") for name in names)
    assert "over 4096" in printed and f"over {MAX_DEPTH}" in printed


def test_a_file_is_replaced_and_a_dir_is_not(out: Path) -> None:
    show(out, "figure_1.png")
    (out / "figure_1.png").write_bytes(b"older")
    (out / "taken").mkdir()
    printed = show(out, "figure_1.png", "taken")
    assert written(out) == {"figure_1.png": DATA}
    assert "taken is not a regular file" in printed
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staged file left behind


def test_save_file_reports_where_the_file_went(out: Path) -> None:
    assert save_file(out, "plots/a.png", DATA).path == out / "plots" / "a.png"
    refused = save_file(out, "..", DATA)
    assert refused.path is None and refused.note


def test_codeloop_exec_never_writes_through_symlinks_planted_in_its_dir(out: Path, outside: Path) -> None:
    (out / "result.txt").symlink_to(outside / "target")
    (out / "sub").symlink_to(outside)
    code = (
        "import os\n"
        "open('result.txt', 'w').write('pwned')\n"
        "os.makedirs('sub', exist_ok=True)\n"
        "open('sub/target', 'w').write('pwned')\n"
        "open('fine.txt', 'w').write('fine')\n"
    )
    done = subprocess.run(
        [CODELOOP, "exec", "--files-dir", str(out)], input=code, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert_untouched(outside)
    assert (out / "fine.txt").read_text() == "fine"
    # Piped, the code's output goes to stdout as it is and the notes on files to stderr.
    assert "not saved: 'result.txt': result.txt is a symlink" in done.stderr
    assert "not saved: 'sub/target': sub is a symlink or not a dir" in done.stderr

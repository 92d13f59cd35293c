"""Files a conversation carries (inlineData, fileData): named as the sandbox will see them, and described
to the model, which reads text only."""

from __future__ import annotations

import mimetypes
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from google.genai import types

from codeloop.errors import InvalidRequest, PayloadTooLarge
from codeloop.execution import NamedFile


@dataclass(frozen=True)
class FetchedFile:
    data: bytes
    mime_type: str
    display_name: str | None = None


# Resolves a fileData URI (a file uploaded to this server's Files API) to its bytes.
FetchFile = Callable[[str], FetchedFile]

# How much of a text file the model sees: the head, enough to learn its shape.
PREVIEW_LINES = 8
PREVIEW_CHARS = 1200
# Without code execution the model can only read a file: text files reach it whole, up to this.
MAX_INLINE_TEXT_CHARS = 100_000

_EXTENSIONS = {
    "text/plain": ".txt",
    "text/csv": ".csv",
    "text/x-python": ".py",
    "text/markdown": ".md",
    "image/jpeg": ".jpg",
    "application/json": ".json",
    "application/xml": ".xml",
    "text/xml": ".xml",
    "text/javascript": ".js",
    "application/javascript": ".js",
    "text/x-typescript": ".ts",
    "application/typescript": ".ts",
    "text/x-java": ".java",
    "text/x-java-source": ".java",
    "text/x-c++src": ".cpp",
    "text/x-c": ".c",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
}
_TEXT_TYPES = {"application/json", "application/xml", "application/javascript", "application/typescript"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]")
# A display name becomes a file name, which Linux caps at 255 bytes (NAME_MAX); the unsafe characters
# a name loses are one byte each after, so characters count.
MAX_FILE_NAME = 255


class InputFiles:
    """Collects a conversation's files in order: input_file_0.csv, input_file_1.png, ... or their
    display names; the same conversation always gets the same names."""

    def __init__(self, fetch: FetchFile | None = None, max_total_bytes: int | None = None) -> None:
        self.files: list[NamedFile] = []
        self._fetch = fetch
        self._max_total_bytes = max_total_bytes
        self._total = 0

    def add(self, part: types.Part, code_execution: bool) -> str:
        """Take in a file part; what the model is told about it."""
        data, mime_type, display_name = self._resolve(part)
        name = self._name(display_name, mime_type)
        self._total += len(data)
        if self._max_total_bytes is not None and self._total > self._max_total_bytes:
            raise PayloadTooLarge(
                f"The request's files add up to more than the {self._max_total_bytes} bytes "
                "the sandbox's disk holds."
            )
        self.files.append(NamedFile(name, mime_type, data))
        text = _as_text(data, mime_type)
        if code_execution:
            note = f"[File {name} ({mime_type}, {len(data)} bytes) is in the working directory."
            if text is not None:
                head = "".join(text.splitlines(keepends=True)[:PREVIEW_LINES])[:PREVIEW_CHARS]
                note += f" It begins:\n{head.rstrip()}\n"
            return note + "]"
        if text is None:
            raise InvalidRequest(
                f"{name} ({mime_type}) can only be read by running code: enable the codeExecution tool."
            )
        if len(text) > MAX_INLINE_TEXT_CHARS:
            raise InvalidRequest(
                f"{name} has {len(text)} characters, more than the {MAX_INLINE_TEXT_CHARS} a model reads "
                "without code execution: enable the codeExecution tool."
            )
        return f"[File {name}:\n{text.rstrip()}\n]"

    def _resolve(self, part: types.Part) -> tuple[bytes, str, str | None]:
        if part.inline_data is not None:
            blob = part.inline_data
            return blob.data or b"", blob.mime_type or "application/octet-stream", blob.display_name
        assert part.file_data is not None
        ref = part.file_data
        if not ref.file_uri:
            raise InvalidRequest("A file reference names no file.")
        if self._fetch is None:
            raise InvalidRequest("fileData parts need the Files API, which this server does not offer here.")
        fetched = self._fetch(ref.file_uri)
        return fetched.data, ref.mime_type or fetched.mime_type, ref.display_name or fetched.display_name

    def _name(self, display_name: str | None, mime_type: str) -> str:
        if display_name:
            base = _UNSAFE.sub("_", os.path.basename(display_name)).strip(" .") or "file"
        else:
            kind = _essence(mime_type)
            ext = _EXTENSIONS.get(kind) or mimetypes.guess_extension(kind, strict=False) or ".bin"
            base = f"input_file_{len(self.files)}{ext}"
        taken = {f.name for f in self.files}
        stem, ext = os.path.splitext(base)
        if len(ext) > MAX_FILE_NAME // 2:
            stem, ext = base, ""
        name, n = _fit(stem, "", ext), 1
        while name in taken:
            name, n = _fit(stem, f"_{n}", ext), n + 1
        return name


def _fit(stem: str, suffix: str, ext: str) -> str:
    """stem + suffix + ext, the stem shortened to keep the whole within a file name's length: a stored
    file's display name (the Files API allows 512 characters) may be longer."""
    return stem[: MAX_FILE_NAME - len(suffix) - len(ext)] + suffix + ext


def is_text(mime_type: str) -> bool:
    kind = _essence(mime_type)
    return kind.startswith("text/") or kind in _TEXT_TYPES or kind.endswith(("+json", "+xml"))


def _essence(mime_type: str) -> str:
    """`text/CSV; charset=utf-8` -> `text/csv`."""
    return mime_type.split(";", 1)[0].strip().lower()


def _as_text(data: bytes, mime_type: str) -> str | None:
    if not is_text(mime_type):
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")

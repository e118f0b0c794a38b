"""Reading text files the user names, with one-line errors naming the file and where it went wrong.

Every input file of the kit (metrics, predictions, completions) is UTF-8; bytes that are not are an error
that names the line and column, never replaced silently (a replaced byte would score or compare as
something the file does not say).
"""

from __future__ import annotations

import os
from pathlib import Path


class TextFileError(ValueError):
    """A file cannot be read as UTF-8 text; the message names it (and the line)."""


def where_not_utf8(data: bytes, exc: UnicodeDecodeError, first_line: int = 1) -> str:
    """``not UTF-8 text (byte 0xff at line 3, column 7)`` for a decode error of ``data`` (whose first line is
    line ``first_line`` of its file)."""
    line = data.count(b"\n", 0, exc.start) + first_line
    column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
    return f"not UTF-8 text (byte {data[exc.start]:#04x} at line {line}, column {column})"


def decode_utf8(data: bytes, name: str) -> str:
    """``data`` decoded, or a :class:`TextFileError` naming ``name`` and the line of the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TextFileError(f"{name}: {where_not_utf8(data, exc)}") from None


def read_utf8(path: str | os.PathLike, what: str = "file") -> str:
    """The text of ``path``; a folder, a missing or unreadable file, or non-UTF-8 bytes raise
    :class:`TextFileError` (``what`` names the kind of file expected, e.g. "metrics file")."""
    path = Path(path)
    if path.is_dir():
        raise TextFileError(f"{path} is a folder; give a {what}")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise TextFileError(f"{path}: {what} not found") from None
    except OSError as exc:
        raise TextFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return decode_utf8(data, str(path))

"""The code blocks of the project's Markdown documents, for tests that run them.

A tutorial whose code is only read rots: these helpers pull the fenced blocks out of a
document so a test can write them to disk, import them, type-check them and run them.
In a tutorial every Python block is a file: its first line is a comment naming the path
(`# tinyvenue/adapter.py`); a block without one is a mistake, not a snippet.
"""

from __future__ import annotations

import re
from pathlib import Path

_FENCE = re.compile(r"^```(?P<lang>[\w-]*)\n(?P<body>.*?)^```", re.S | re.M)
_PATH = re.compile(r"^# (?P<path>[\w./-]+\.py)\n")


def blocks(text: str, lang: str = "python") -> list[str]:
    """Every fenced block of `lang`, in order."""
    return [m["body"] for m in _FENCE.finditer(text) if m["lang"] == lang]


def named_files(text: str) -> dict[str, str]:
    """path -> source for each Python block; ValueError for one that names no path or a
    path twice."""
    files: dict[str, str] = {}
    for number, body in enumerate(blocks(text), start=1):
        match = _PATH.match(body)
        if match is None:
            first = body.splitlines()[0] if body else ""
            raise ValueError(f"python block {number} names no file (first line {first!r})")
        if match["path"] in files:
            raise ValueError(f"python block {number}: {match['path']} is written twice")
        files[match["path"]] = body
    return files


def write_files(files: dict[str, str], root: Path) -> list[Path]:
    written = []
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
        written.append(path)
    return written

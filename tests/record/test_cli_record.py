"""`run --record` and `replay` mistakes: one line and exit 2, before anything connects."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def venuefeed(*args: str, cwd: Path) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "venuefeed", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
    )
    return done.returncode, done.stderr


def test_an_unusable_record_directory_stops_run_with_one_line(tmp_path: Path):
    (tmp_path / "file").write_text("")
    code, err = venuefeed(
        "run", "--sim", "--duration", "1", "--no-tui", "--record", "file/rec", cwd=tmp_path
    )
    assert code == 2
    assert err.strip().splitlines() == [
        "venuefeed: config error: --record file/rec: cannot create it: Not a directory"
    ]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ((), "no recording"),
        (("--speed", "fast"), "--speed 'fast': a number or max"),
        (("--speed", "0"), "--speed 0.0: must be > 0"),
        (("--from", "yesterday"), "--from 'yesterday': ISO 8601"),
        (("--sink", "nats://127.0.0.1:4222"), "replay writes jsonl:PATH or -"),
    ],
)
def test_replay_mistakes_are_one_line(tmp_path: Path, args: tuple[str, ...], needle: str):
    (tmp_path / "rec").mkdir()
    code, err = venuefeed("replay", "rec", *args, cwd=tmp_path)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and needle in err, err

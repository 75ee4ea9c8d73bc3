"""`make run | jq` works: make prints nothing on stdout, only venuefeed does."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAMP = ".venv/.installed"

pytestmark = [
    pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine"),
    pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "venuefeed").exists(), reason="no .venv"),
]


def make_run_stdout(makefile: Path) -> str:
    done = subprocess.run(
        ["make", "--no-print-directory", "-f", str(makefile), "-o", STAMP, "run", "ARGS=--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_run_writes_only_venuefeeds_own_output_to_stdout():
    out = make_run_stdout(ROOT / "Makefile")
    # the first line is venuefeed's, not make echoing the command it runs
    assert out.startswith("Usage: venuefeed run"), out[:300]


def test_a_recipe_make_echoes_is_caught(tmp_path: Path):
    echoing = tmp_path / "Makefile"
    echoing.write_text(
        (ROOT / "Makefile").read_text().replace("\t@$(BIN)/venuefeed run", "\t$(BIN)/venuefeed run")
    )
    assert not make_run_stdout(echoing).startswith("Usage:")

"""docs/plugins.md builds a plugin end to end; its code must work as written.

Every Python block of the tutorial is a file of the `tinyvenue` plugin (or its tests).
They are written to a temporary folder, linted, and the tutorial's own test file is run
by pytest in a fresh process with no configuration of ours (strict pytest-asyncio, as a
plugin author's project would have it): the parser tests and a few conformance cases
(the whole matrix is what `tests/plugins/test_conformance.py` runs for the built-in
venues; here three cases keep the suite fast). `test_typed_examples.py` type-checks them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

import pytest
from docblocks import named_files, write_files

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "docs" / "plugins.md"
#: conformance cases run here: a clean run, a dropped socket, garbage, a parser bug
CASES = ("none", "disconnect", "malformed", "poison")


def tutorial_files() -> dict[str, str]:
    return named_files(TUTORIAL.read_text())


def test_every_python_block_of_the_tutorial_is_a_file_of_the_plugin():
    files = tutorial_files()
    assert {
        "tinyvenue/__init__.py",
        "tinyvenue/wire.py",
        "tinyvenue/adapter.py",
        "tinyvenue/sim.py",
        "tests/test_tiny.py",
    } <= set(files)


@pytest.mark.parametrize(
    ("doc", "error"),
    [
        ("```python\nprint('no path')\n```\n", "names no file"),
        ("```python\n# a.py\nx = 1\n```\n```python\n# a.py\nx = 2\n```\n", "written twice"),
    ],
)
def test_the_extractor_rejects_a_block_that_is_not_a_file(doc: str, error: str):
    with pytest.raises(ValueError, match=error):
        named_files(doc)


def test_the_tutorial_code_is_lint_clean(tmp_path: Path):
    write_files(tutorial_files(), tmp_path)
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff is None:
        pytest.skip("ruff is not installed beside this Python")
    import subprocess

    done = subprocess.run(
        [ruff, "check", "--isolated", "--line-length", "100", "--select",
         "E,F,W,I,B,UP,ASYNC,SIM,RUF", "."],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


async def test_the_tutorial_tests_pass_as_a_plugin_author_runs_them(tmp_path: Path):
    write_files(tutorial_files(), tmp_path)
    selection = " or ".join(["not conformance", *CASES])  # -k matches the case ids
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VENUEFEED_", "PYTEST_"))}
    env["PYTHONPATH"] = str(tmp_path)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
        "tests/test_tiny.py", "-k", selection,
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    async with asyncio.timeout(50):
        out, _ = await proc.communicate()
    text = out.decode()
    assert proc.returncode == 0, text[-3000:]
    assert f"{6 + len(CASES)} passed" in text, text[-3000:]

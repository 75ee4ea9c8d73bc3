"""The README's Python examples and the plugin tutorial type-check under `mypy --strict`.

A reader copies these first; an example that a type checker rejects (`"Event" has no
attribute "state"`) teaches the wrong thing. One mypy run checks every README block (as
its own module), the tutorial's files, and a deliberately broken consumer that reads
`event.state` without narrowing: mypy must reject that one and nothing else, so the test
cannot pass by checking nothing.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from docblocks import blocks, named_files, write_files

ROOT = Path(__file__).resolve().parents[2]

BROKEN = """from __future__ import annotations

import venuefeed


async def consume(engine: venuefeed.Engine) -> None:
    async for event in engine.events():
        print(event.state)  # not narrowed: only a Status has a state
"""


async def test_readme_and_tutorial_code_type_checks(tmp_path: Path):
    readme = blocks((ROOT / "README.md").read_text())
    assert len(readme) >= 4, "the README's Python examples went missing"
    checked = write_files({f"readme_{n}.py": body for n, body in enumerate(readme)}, tmp_path)
    checked += write_files(named_files((ROOT / "docs" / "plugins.md").read_text()), tmp_path)
    (tmp_path / "broken_consumer.py").write_text(BROKEN)
    env = {**os.environ, "MYPYPATH": str(tmp_path)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mypy", "--strict", "--no-error-summary",
        *(str(p) for p in [*checked, tmp_path / "broken_consumer.py"]),
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    async with asyncio.timeout(120):  # a cold cache type-checks venuefeed too
        out, _ = await proc.communicate()
    errors = [line for line in out.decode().splitlines() if re.search(r": error: ", line)]
    wrong = [line for line in errors if "broken_consumer.py" not in line]
    assert not wrong, "\n".join(wrong)
    assert any('has no attribute "state"' in line for line in errors), out.decode()

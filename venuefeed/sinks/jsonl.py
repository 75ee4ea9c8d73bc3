"""JSON-lines sink: one event per line, written off the event loop.

Writes happen in a worker thread in batches, so a slow pipe or disk never stalls the
engine's reads, heartbeats or watchdogs; the sink's own bounded queue absorbs bursts
(state events conflate, history events wait then count a drop).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from typing import BinaryIO, Protocol

from venuefeed.core.errors import ConfigError, ConsumerClosedError
from venuefeed.core.events import Event, encode_event

_BATCH = 512


class EventSource(Protocol):
    """An engine `Subscription` or a bus subscription (`venuefeed tail`)."""

    def __aiter__(self) -> AsyncIterator[Event]: ...
    async def __anext__(self) -> Event: ...
    def get_nowait(self) -> Event | None: ...
    def close(self) -> None: ...


class JsonlSink:
    def __init__(self, target: str) -> None:
        self.target = target
        self.written = 0

    def check(self) -> None:
        """Open the file for appending once, before the engine starts: a path that
        cannot be written is a start-up error, not a traceback after "running"."""
        if self.target == "-":
            return
        try:
            open(self.target, "ab").close()
        except OSError as exc:
            raise ConfigError(
                f"config error: sink jsonl:{self.target}: cannot write: {exc.strerror or exc}"
            ) from None

    def _open(self) -> tuple[BinaryIO, bool]:
        if self.target == "-":
            return sys.stdout.buffer, False
        return open(self.target, "ab"), True

    async def run(self, events: EventSource) -> None:
        out, owned = self._open()
        try:
            while True:
                first = await anext(events, None)
                if first is None:
                    return
                chunk = [encode_event(first)]
                while len(chunk) < _BATCH and (more := events.get_nowait()) is not None:
                    chunk.append(encode_event(more))
                data = b"\n".join(chunk) + b"\n"
                try:
                    await asyncio.to_thread(_write, out, data)
                except (BrokenPipeError, ValueError, OSError) as exc:
                    events.close()
                    raise ConsumerClosedError(
                        f"sink jsonl:{self.target} can no longer be written ({exc}); stopping"
                    ) from None
                self.written += len(chunk)
        finally:
            if owned:
                out.close()


def _write(out: BinaryIO, data: bytes) -> None:
    out.write(data)
    out.flush()

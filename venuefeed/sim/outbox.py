"""One simulated connection's frames on their way out: late, jittered, never reordered.

A real link delivers a venue's frames a little after they were made, by varying amounts,
but a TCP stream never reorders them, and venues' sequence checks depend on that. So each
frame gets a due time `now + delay()` raised to the previous frame's due time, and one
writer task per connection sends, in order, whatever is due.

Cost matters (five venues x sixty symbols x several sockets on two cores): putting a frame
is a deque append and never awaits, so the market ticker never waits for a socket, and the
writer wakes once per `coalesce_s` window rather than once per frame.

A reader too slow to keep up makes its queue grow; past `max_backlog` frames the venue
gives up on it (`on_overflow`), as a real venue drops a socket whose buffer is full.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import Final

from aiohttp import web

from venuefeed.sim.protocol import Frame

logger = logging.getLogger(__name__)

_FRAME: Final = 0
_PING: Final = 1
_PONG: Final = 2

#: (due loop time, what, payload, trade symbol, trade ids)
_Entry = tuple[float, int, Frame, str, Sequence[int]]


class Outbox:
    def __init__(
        self,
        ws: web.WebSocketResponse,
        *,
        delay: Callable[[], float],
        coalesce_s: float,
        max_backlog: int,
        closing: Callable[[], bool],
        on_trades: Callable[[str, Sequence[int]], None],
        on_overflow: Callable[[], None],
    ) -> None:
        self._ws = ws
        self._delay = delay
        self._coalesce_s = coalesce_s
        self._max_backlog = max_backlog
        self._closing = closing
        self._on_trades = on_trades
        self._on_overflow = on_overflow
        self._queue: deque[_Entry] = deque()
        self._last_due = 0.0
        self._ready = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self.closed = False  # the connection is gone: nothing more is queued or written
        self.sent = 0  # frames written (pings and pongs included)

    @property
    def backlog(self) -> int:
        return len(self._queue)

    def put(self, frame: Frame, symbol: str = "", trades: Sequence[int] = ()) -> None:
        """Queue a frame; `trades` (of `symbol`) count as sent once it is written."""
        self._put(_FRAME, frame, symbol, trades)

    def put_ping(self, payload: bytes = b"") -> None:
        self._put(_PING, bytes(payload), "", ())

    def put_pong(self, payload: bytes | bytearray) -> None:
        self._put(_PONG, bytes(payload), "", ())

    def _put(self, what: int, payload: Frame, symbol: str, trades: Sequence[int]) -> None:
        if self.closed:
            return
        queue = self._queue
        if len(queue) >= self._max_backlog:
            self.close()
            self._on_overflow()
            return
        due = self._loop.time() + self._delay()
        if due < self._last_due:
            due = self._last_due  # never before a frame made earlier
        self._last_due = due
        queue.append((due, what, payload, symbol, trades))
        if len(queue) == 1:
            self._ready.set()

    def close(self) -> None:
        """Discard what waits: the connection is going away."""
        self.closed = True
        self._queue.clear()

    async def run(self) -> None:
        """The connection's writer; ends when the connection does."""
        queue = self._queue
        loop = self._loop
        while not self.closed:
            if not queue:
                self._ready.clear()
                await self._ready.wait()
                continue
            now = loop.time()
            due = queue[0][0]
            if due > now:
                # later frames are due later still: nothing can need an earlier wake-up
                await asyncio.sleep(due - now)
                continue
            horizon = now + self._coalesce_s
            while queue and queue[0][0] <= horizon:
                if self._closing():
                    self.close()
                    return
                await self._write(queue.popleft())

    async def _write(self, entry: _Entry) -> None:
        _, what, payload, symbol, trades = entry
        ws = self._ws
        try:
            if what == _FRAME:
                if isinstance(payload, bytes):
                    await ws.send_bytes(payload)
                else:
                    await ws.send_str(payload)
            elif what == _PING:
                assert isinstance(payload, bytes)
                await ws.ping(payload)
            else:
                assert isinstance(payload, bytes)
                await ws.pong(payload)
        except ConnectionError as exc:  # the client went away mid-write: the connection ends
            logger.debug("sim: write on a closing connection: %s", exc)
            self.close()
            return
        self.sent += 1
        if trades and not self._closing():
            self._on_trades(symbol, trades)

"""The simulator's loopback server: one per simulated venue.

It owns the markets' clock (a ticker task steps every market every `tick_s` and fans the
update out to every open session), speaks HTTP and websocket on one port, and injects
faults on request. Protocol encoding is the plugin's `SimVenue`; everything here is
venue-agnostic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from venuefeed.core.observe.metrics import Metrics
from venuefeed.core.settings import Policy
from venuefeed.core.supervisor import Supervisor
from venuefeed.sim.protocol import DataFrame, Frame, SimRequest, SimSession, SimVenue

logger = logging.getLogger(__name__)


@dataclass
class Faults:
    """Pending one-shot faults; the server consumes them as it meets the moment."""

    refuse: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # next handshakes
    hang_connects: int = 0  # next handshakes that never complete
    rest_failures: int = 0  # next REST requests answered 503
    rest_errors: list[str] = field(default_factory=list)  # next REST answers: "timeout", "bad_body"
    gap: set[str] = field(default_factory=set)  # symbols whose next book frame is dropped
    duplicate: set[str] = field(default_factory=set)  # symbols whose next book frame is sent twice
    stalled: bool = False  # no data frames (the socket stays open, pings answered)
    frozen: bool = False  # markets stop moving: a checkpoint where the truth is fixed
    mute: bool = False  # client messages (subscribes, app pings) are ignored: a total stall
    reorder: set[str] = field(default_factory=set)  # symbols whose next two book frames swap
    delta_first: int = 0  # next connections get market data before their greeting/snapshot


@dataclass
class _Conn:
    ws: web.WebSocketResponse
    session: SimSession
    request: web.Request
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    held: dict[str, Frame] = field(default_factory=dict)  # book frames held back to reorder
    #: greeting/ack/snapshot frames held back until the first market-data frame went out
    held_replies: list[Frame] | None = None


class SimServer:
    def __init__(
        self,
        venue: SimVenue,
        *,
        tick_s: float = 0.05,
        slow_tick_s: float = 1.0,
        ping_s: float = 5.0,
    ) -> None:
        self.venue = venue
        self.tick_s = tick_s
        self.slow_tick_s = slow_tick_s
        self.ping_s = ping_s
        self.faults = Faults()
        self.connections = 0
        self.received: list[str] = []
        #: symbol -> ids of trades whose frames went on the wire (loss detection)
        self.trades_sent: dict[str, set[int]] = {}
        self._conns: list[_Conn] = []
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self.port = 0

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def urls(self) -> tuple[str, str]:
        """(ws_url, rest_url) for the plugin."""
        return self.venue.urls(self.http_url, self.ws_url)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def start(self, port: int = 0) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.port = int(self._runner.addresses[0][1])
        supervisor = Supervisor(f"sim:{self.venue.name}", Policy(backoff_initial_s=0.05), Metrics())
        self._ticker = asyncio.create_task(
            supervisor.keep("ticker", self._tick_loop), name=f"sim:{self.venue.name}"
        )

    async def stop(self) -> None:
        self._closing.set()
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        for conn in list(self._conns):
            with contextlib.suppress(Exception):
                await conn.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- faults ----------------------------------------------------------------------

    def drop_all(self) -> None:
        """Abort every connection without a close frame."""
        for conn in list(self._conns):
            transport = conn.request.transport
            if transport is not None:
                transport.abort()

    async def close_all(self, code: int = 1000) -> None:
        for conn in list(self._conns):
            await conn.ws.close(code=code)

    async def ws_ping_all(self, payload: bytes = b"") -> None:
        """A websocket-level ping on every connection (the client must pong)."""
        for conn in list(self._conns):
            if not conn.ws.closed:
                with contextlib.suppress(ConnectionError):
                    await conn.ws.ping(payload)

    async def send_raw(self, frame: Frame) -> None:
        """Send a frame as is on every connection (garbage, oversized, unknown types)."""
        for conn in list(self._conns):
            await self._send(conn, frame)

    # -- handlers --------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request, path)
        return await self._rest(request, path)

    async def _rest(self, request: web.Request, path: str) -> web.Response:
        if self.faults.rest_failures > 0:
            self.faults.rest_failures -= 1
            return web.Response(status=503, text="simulated outage")
        if self.faults.rest_errors:
            kind = self.faults.rest_errors.pop(0)
            if kind == "timeout":  # answer only when the server stops: the client times out
                await self._closing.wait()
                return web.Response(status=503, text="simulated timeout")
            return web.Response(text='{"truncated": [1, 2', content_type="application/json")
        body: Any = None
        if request.can_read_body:
            with contextlib.suppress(ValueError):
                body = await request.json()
        response = self.venue.rest(SimRequest(request.method, path, dict(request.query), body))
        return web.json_response(response.body, status=response.status)

    async def _websocket(self, request: web.Request, path: str) -> web.StreamResponse:
        self.connections += 1
        if self.faults.refuse:
            status, headers = self.faults.refuse.pop(0)
            return web.Response(status=status, headers=headers, text="simulated refusal")
        if self.faults.hang_connects > 0:
            self.faults.hang_connects -= 1
            await self._closing.wait()  # never answer; released when the server stops
            return web.Response(status=503, text="simulated hang")
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        conn = _Conn(ws, self.venue.session(path, dict(request.query)), request)
        if self.faults.delta_first > 0:
            self.faults.delta_first -= 1
            conn.held_replies = []
        self._conns.append(conn)
        try:
            await self._reply(conn, conn.session.on_open())
            async with asyncio.TaskGroup() as tg:
                pinger = tg.create_task(self._ping_loop(conn))
                try:
                    async for msg in ws:
                        if msg.type is WSMsgType.TEXT and not self.faults.mute:
                            self.received.append(msg.data)
                            await self._reply(conn, conn.session.on_message(msg.data))
                finally:
                    pinger.cancel()
        except ConnectionError:
            logger.debug("sim %s: connection lost", self.venue.name)
        finally:
            self._conns.remove(conn)
        return ws

    async def _ping_loop(self, conn: _Conn) -> None:
        while True:
            await asyncio.sleep(self.ping_s)
            if conn.session.ws_ping and not conn.ws.closed:
                with contextlib.suppress(ConnectionError):
                    await conn.ws.ping()
            frame = conn.session.ping()
            if frame is not None:
                await self._send(conn, frame)

    async def _send(self, conn: _Conn, frame: Frame) -> None:
        await self._send_all(conn, (frame,))

    async def _reply(self, conn: _Conn, frames: Sequence[Frame]) -> None:
        if conn.held_replies is not None:  # the delta_first fault: data goes out first
            conn.held_replies.extend(frames)
            return
        await self._send_all(conn, frames)

    async def _send_all(self, conn: _Conn, frames: Sequence[Frame]) -> None:
        """Send frames back to back: an ack and its snapshot are never split by a delta."""
        if not frames:
            return
        with contextlib.suppress(ConnectionError):
            async with conn.lock:
                for frame in frames:
                    if conn.ws.closed or _closing(conn):
                        return
                    if isinstance(frame, bytes):
                        await conn.ws.send_bytes(frame)
                    else:
                        await conn.ws.send_str(frame)

    async def _send_data(
        self, conn: _Conn, frames: Sequence[DataFrame], trades: Sequence[int] = ()
    ) -> None:
        faults = self.faults
        for data in frames:
            if faults.stalled:
                return
            if data.kind == "book":
                if data.symbol in faults.gap:
                    faults.gap.discard(data.symbol)
                    continue
                if data.symbol in faults.reorder:
                    held = conn.held.get(data.symbol)
                    if held is None:
                        conn.held[data.symbol] = data.frame
                        continue
                    faults.reorder.discard(data.symbol)
                    del conn.held[data.symbol]
                    await self._send(conn, data.frame)
                    await self._send(conn, held)
                    continue
            await self._send(conn, data.frame)
            if conn.held_replies is not None:
                held_replies, conn.held_replies = conn.held_replies, None
                await self._send_all(conn, held_replies)
            if data.kind == "trade" and trades and not conn.ws.closed and not _closing(conn):
                self.trades_sent.setdefault(data.symbol, set()).update(trades)
            if data.kind == "book" and data.symbol in faults.duplicate:
                faults.duplicate.discard(data.symbol)
                await self._send(conn, data.frame)

    async def _tick_loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_slow = loop.time()
        while True:
            now_ms = time.time_ns() // 1_000_000
            for market in self.venue.markets.values():
                if self.faults.frozen:
                    break
                update = market.step(now_ms)
                ids = [t.trade_id for t in update.trades]
                for conn in list(self._conns):
                    await self._send_data(conn, conn.session.on_update(market, update), ids)
            if loop.time() >= next_slow:
                next_slow = loop.time() + self.slow_tick_s
                for conn in list(self._conns):
                    await self._send_data(conn, conn.session.on_tick(self.venue.markets, now_ms))
            await asyncio.sleep(self.tick_s)


def _closing(conn: _Conn) -> bool:
    """The transport was aborted or is closing: nothing more reaches the client."""
    transport = conn.request.transport
    return transport is None or transport.is_closing()

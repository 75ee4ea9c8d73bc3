"""The simulator's loopback server: one per simulated venue.

It owns the markets' clock (a ticker task steps every market every `tick_s` and fans the
update out to every open session), speaks HTTP and websocket on one port, and injects
faults on request. Protocol encoding is the plugin's `SimVenue`; everything here is
venue-agnostic.

It behaves like a venue on the internet unless told otherwise (`Realism`): TLS, REST
bodies in pieces over time (`rest_body.py`), websocket frames late by a jittered few ms
but in order (`outbox.py`), and a venue's checks of its client (`checks.py`): pongs,
idle limits, required headers. Each connection's writer and keep-alive are tasks owned by
that connection's handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from venuefeed.core.observe.metrics import Metrics
from venuefeed.core.settings import Policy
from venuefeed.core.supervisor import Supervisor
from venuefeed.sim.checks import BACKLOG, Keepalive, missing_headers
from venuefeed.sim.outbox import Outbox
from venuefeed.sim.protocol import DataFrame, Frame, SimRequest, SimSession, SimVenue
from venuefeed.sim.realism import Realism
from venuefeed.sim.rest_body import send_body
from venuefeed.sim.tls import SimCertificates

logger = logging.getLogger(__name__)


@dataclass
class Faults:
    """Pending one-shot faults; the server consumes them as it meets the moment."""

    refuse: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # next handshakes
    hang_connects: int = 0  # next handshakes that never complete
    rest_failures: int = 0  # next REST requests answered 503
    rest_errors: list[str] = field(default_factory=list)  # next REST answers: "timeout", "bad_body"
    #: next REST bodies (of answers that succeed) spread over these many seconds each
    slow_rest: list[float] = field(default_factory=list)
    #: extra delay range (seconds) added to every websocket frame while set, order kept
    latency: tuple[float, float] | None = None
    gap: set[str] = field(default_factory=set)  # symbols whose next book frame is dropped
    duplicate: set[str] = field(default_factory=set)  # symbols whose next book frame is sent twice
    stalled: bool = False  # no data frames (the socket stays open, pings answered)
    frozen: bool = False  # markets stop moving: a checkpoint where the truth is fixed
    mute: bool = False  # client messages (subscribes, app pings) are ignored: a total stall
    reorder: set[str] = field(default_factory=set)  # symbols whose next two book frames swap
    delta_first: int = 0  # next connections get market data before their greeting/snapshot
    ws_down: bool = False  # every websocket handshake refused (503) while set; REST serves on


@dataclass
class _Conn:
    ws: web.WebSocketResponse
    session: SimSession
    request: web.Request
    outbox: Outbox
    alive: Keepalive
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
        realism: Realism | None = None,
        certificates: SimCertificates | None = None,
        seed: int = 1,
    ) -> None:
        self.venue = venue
        self.tick_s = tick_s
        self.slow_tick_s = slow_tick_s
        self.ping_s = ping_s
        self.realism = realism if realism is not None else Realism()
        self.faults = Faults()
        self.connections = 0
        self.received: list[str] = []
        #: symbol -> ids of trades whose frames went on the wire (loss detection)
        self.trades_sent: dict[str, set[int]] = {}
        #: symbol -> trade id -> wall ms its frame was first written (in-flight accounting)
        self.trades_written_ms: dict[str, dict[int, int]] = {}
        #: websocket pongs received (answers to the venue's pings); `pong_heard` is set
        #: at each, so a test can wait for one
        self.pongs_received = 0
        self.pong_heard = asyncio.Event()
        #: connections the venue dropped because the client misbehaved, by reason
        self.client_drops: Counter[str] = Counter()
        #: requests refused because a required header was missing, by header
        self.refused: Counter[str] = Counter()
        #: REST answers whose client left before the last byte (its own timeout)
        self.rest_abandoned = 0
        self._warned: set[str] = set()
        self._rng = random.Random(f"{venue.name}:{seed}")
        #: the CA to serve with under TLS; when None at start, the server makes its own
        #: (and removes it on stop)
        self.certificates = certificates
        self._own_certificates = False
        self._conns: list[_Conn] = []
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self.port = 0

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    @property
    def tls(self) -> bool:
        return self.realism.tls

    @property
    def http_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> str | None:
        """The PEM file of the CA that signed this server's certificate (None: no TLS)."""
        if not self.tls or self.certificates is None:
            return None
        return str(self.certificates.ca_file)

    def urls(self) -> tuple[str, str]:
        """(ws_url, rest_url) for the plugin."""
        return self.venue.urls(self.http_url, self.ws_url)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def start(self, port: int = 0) -> None:
        ssl_context = None
        if self.tls:
            if self.certificates is None:
                self.certificates = SimCertificates()
                self._own_certificates = True
            ssl_context = self.certificates.server_context()
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port, ssl_context=ssl_context).start()
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
            conn.outbox.close()
            with contextlib.suppress(Exception):
                await conn.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._own_certificates and self.certificates is not None:
            self.certificates.close()
            self.certificates = None

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- faults ----------------------------------------------------------------------

    def drop_all(self) -> None:
        """Abort every connection without a close frame."""
        for conn in list(self._conns):
            self._abort(conn)

    async def close_all(self, code: int = 1000) -> None:
        for conn in list(self._conns):
            await conn.ws.close(code=code)

    async def ws_ping_all(self, payload: bytes = b"") -> None:
        """A websocket-level ping on every connection (the client must pong)."""
        for conn in list(self._conns):
            conn.outbox.put_ping(payload)

    async def send_raw(self, frame: Frame) -> None:
        """Send a frame as is on every connection (garbage, oversized, unknown types)."""
        for conn in list(self._conns):
            conn.outbox.put(frame)

    # -- handlers --------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        if self.realism.client_checks:
            missing = missing_headers(request.headers, self.venue.required_headers)
            if missing:
                return await self._refuse(request, missing)
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request, path)
        return await self._rest(request, path)

    async def _refuse(self, request: web.Request, missing: Sequence[str]) -> web.Response:
        """The venue's firewall: 403 for a request without a required header."""
        for name in missing:
            self.refused[name] += 1
        self._warn_once(
            f"refused:{','.join(missing)}",
            "sim %s: refused %s %s without %s (403, like the venue's firewall)",
            self.venue.name,
            request.method,
            request.path,
            ", ".join(missing),
        )
        return web.Response(status=403, text="Forbidden: request blocked")

    async def _rest(self, request: web.Request, path: str) -> web.StreamResponse:
        faults = self.faults
        if faults.rest_failures > 0:
            faults.rest_failures -= 1
            return await self._body(request, 503, b"simulated outage", "text/plain")
        if faults.rest_errors:
            kind = faults.rest_errors.pop(0)
            if kind == "timeout":  # answer only when the server stops: the client times out
                await self._closing.wait()
                return web.Response(status=503, text="simulated timeout")
            return await self._body(request, 200, b'{"truncated": [1, 2')
        body: Any = None
        if request.can_read_body:
            with contextlib.suppress(ValueError):
                body = await request.json()
        response = self.venue.rest(SimRequest(request.method, path, dict(request.query), body))
        spread = faults.slow_rest.pop(0) if faults.slow_rest else None
        data = json.dumps(response.body).encode()
        return await self._body(request, response.status, data, spread_s=spread)

    async def _body(
        self,
        request: web.Request,
        status: int,
        data: bytes,
        content_type: str = "application/json",
        *,
        spread_s: float | None = None,
    ) -> web.StreamResponse:
        response, complete = await send_body(
            request,
            status=status,
            body=data,
            content_type=content_type,
            realism=self.realism,
            rng=self._rng,
            spread_s=spread_s,
        )
        if not complete:
            self.rest_abandoned += 1
            self._warn_once(
                "rest_abandoned",
                "sim %s: a REST client left before the body was complete (counted in "
                "rest_abandoned; its own timeout)",
                self.venue.name,
            )
        return response

    async def _websocket(self, request: web.Request, path: str) -> web.StreamResponse:
        self.connections += 1
        if self.faults.ws_down:
            return web.Response(status=503, text="simulated websocket outage")
        if self.faults.refuse:
            status, headers = self.faults.refuse.pop(0)
            return web.Response(status=status, headers=headers, text="simulated refusal")
        if self.faults.hang_connects > 0:
            self.faults.hang_connects -= 1
            await self._closing.wait()  # never answer; released when the server stops
            return web.Response(status=503, text="simulated hang")
        # pings and pongs are handled here, so they travel the connection's outbox in order
        ws = web.WebSocketResponse(autoping=False, max_msg_size=0)
        try:
            await ws.prepare(request)
        except ConnectionError as exc:  # the client left during the handshake (stopping)
            logger.debug("sim: client gone during the websocket handshake: %s", exc)
            return ws
        now = asyncio.get_running_loop().time()
        conn = _Conn(
            ws,
            self.venue.session(path, dict(request.query)),
            request,
            self._outbox(ws, request),
            Keepalive(last_pong=now, last_heard=now),
        )
        if self.faults.delta_first > 0:
            self.faults.delta_first -= 1
            conn.held_replies = []
        self._conns.append(conn)
        try:
            async with asyncio.TaskGroup() as tg:
                writer = tg.create_task(conn.outbox.run())
                keeper = tg.create_task(self._keep_alive(conn))
                try:
                    self._reply(conn, conn.session.on_open())
                    await self._read(conn)
                finally:
                    writer.cancel()
                    keeper.cancel()
        except* ConnectionError:
            logger.debug("sim %s: connection lost", self.venue.name)
        finally:
            conn.outbox.close()
            self._conns.remove(conn)
        return ws

    def _outbox(self, ws: web.WebSocketResponse, request: web.Request) -> Outbox:
        def closing() -> bool:
            transport = request.transport
            return ws.closed or transport is None or transport.is_closing()

        return Outbox(
            ws,
            delay=self._frame_delay,
            coalesce_s=self.realism.ws_coalesce_s,
            max_backlog=self.realism.max_backlog_frames if self.realism.client_checks else 1 << 62,
            closing=closing,
            on_trades=self._trades_written,
            on_overflow=lambda: self._drop_client(request, BACKLOG),
        )

    async def _read(self, conn: _Conn) -> None:
        loop = asyncio.get_running_loop()
        session = conn.session
        alive = conn.alive
        async for msg in conn.ws:
            kind = msg.type
            if kind is WSMsgType.TEXT:
                alive.last_heard = loop.time()
                if not self.faults.mute:
                    self.received.append(msg.data)
                    self._reply(conn, session.on_message(msg.data))
            elif kind is WSMsgType.PING:
                if session.ws_ping_resets_idle:
                    alive.last_heard = loop.time()
                conn.outbox.put_pong(msg.data)
            elif kind is WSMsgType.PONG:
                alive.last_pong = loop.time()
                self.pongs_received += 1
                self.pong_heard.set()
            elif kind is WSMsgType.BINARY:
                alive.last_heard = loop.time()
            elif kind is WSMsgType.ERROR:
                logger.debug("sim %s: websocket error: %s", self.venue.name, msg.data)
                return

    async def _keep_alive(self, conn: _Conn) -> None:
        """The venue's pings, and its checks that the client still answers and talks."""
        loop = asyncio.get_running_loop()
        session = conn.session
        realism = self.realism
        while True:
            await asyncio.sleep(self.ping_s)
            if realism.client_checks:
                reason = conn.alive.verdict(
                    loop.time(),
                    ping_s=self.ping_s,
                    pong_timeout_pings=realism.pong_timeout_pings,
                    ws_ping=session.ws_ping,
                    idle_limit_pings=session.idle_limit_pings,
                )
                if reason is not None:
                    self._drop_client(conn.request, reason)
                    return
            if session.ws_ping:
                conn.outbox.put_ping()
            frame = session.ping()
            if frame is not None:
                conn.outbox.put(frame)

    def _drop_client(self, request: web.Request, reason: str) -> None:
        """Drop a client that failed the venue's checks, as a venue drops it: no close frame."""
        self.client_drops[reason] += 1
        self._warn_once(
            f"drop:{reason}",
            "sim %s: dropped a client connection (%s); counted in client_drops",
            self.venue.name,
            reason,
        )
        for conn in list(self._conns):
            if conn.request is request:
                self._abort(conn)

    def _abort(self, conn: _Conn) -> None:
        conn.outbox.close()
        transport = conn.request.transport
        if transport is not None:
            transport.abort()

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        level = logging.DEBUG if key in self._warned else logging.WARNING
        self._warned.add(key)
        logger.log(level, message, *args)

    def _frame_delay(self) -> float:
        low, high = self.realism.ws_delay_s
        delay = self._rng.uniform(low, high) if high > 0 else 0.0
        latency = self.faults.latency
        if latency is not None:
            delay += self._rng.uniform(*latency)
        return delay

    def _trades_written(self, symbol: str, trades: Sequence[int]) -> None:
        self.trades_sent.setdefault(symbol, set()).update(trades)
        written = self.trades_written_ms.setdefault(symbol, {})
        now_ms = time.time_ns() // 1_000_000
        for trade_id in trades:
            written.setdefault(trade_id, now_ms)

    def _reply(self, conn: _Conn, frames: Sequence[Frame]) -> None:
        if conn.held_replies is not None:  # the delta_first fault: data goes out first
            conn.held_replies.extend(frames)
            return
        for frame in frames:  # queued back to back: an ack and its snapshot stay together
            conn.outbox.put(frame)

    def _send_data(
        self, conn: _Conn, frames: Sequence[DataFrame], trades: Sequence[int] = ()
    ) -> None:
        faults = self.faults
        outbox = conn.outbox
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
                    outbox.put(data.frame)
                    outbox.put(held)
                    continue
            if data.kind == "trade" and trades:
                outbox.put(data.frame, data.symbol, trades)
            else:
                outbox.put(data.frame)
            if conn.held_replies is not None:
                held_replies, conn.held_replies = conn.held_replies, None
                self._reply(conn, held_replies)
            if data.kind == "book" and data.symbol in faults.duplicate:
                faults.duplicate.discard(data.symbol)
                outbox.put(data.frame)

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
                    self._send_data(conn, conn.session.on_update(market, update), ids)
            if loop.time() >= next_slow:
                next_slow = loop.time() + self.slow_tick_s
                for conn in list(self._conns):
                    self._send_data(conn, conn.session.on_tick(self.venue.markets, now_ms))
            await asyncio.sleep(self.tick_s)

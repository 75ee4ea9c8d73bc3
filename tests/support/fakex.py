"""A test-only venue plugin and the loopback server that speaks its protocol.

Protocol (JSON text frames):
  client -> {"op": "sub", "syms": ["BTC-PERP", ...]}      subscribe
  client -> {"op": "resub", "sym": "BTC-PERP"}            ask for a fresh snapshot
  client -> {"op": "ping"}          server -> {"t": "pong"}
  server -> {"t": "ping"}           client -> {"op": "pong"}
  server -> {"t": "snap", "s": sym, "seq": n, "b": [[px, sz]], "a": [[px, sz]]}
  server -> {"t": "delta", "s": sym, "seq": n, "b": [...], "a": [...]}
  server -> {"t": "trade", "s": sym, "px": p, "sz": q, "side": "buy", "id": "7", "ts": ms}
  server -> {"t": "err", "code": 42, "msg": "..."}
  server -> {"t": "ack"}            answers every subscribe (option acks: the adapter
                                    then declares acks_expected)
  server -> {"t": "boom"}           makes the parser raise a bug (not a ParseError)
  client -> {"op": "subtrades", "syms": [...]}   option trades_socket: trades on a socket
                                    of their own, every stream on it quiet
REST: GET /markets -> {"markets": ["BTC", "ETH"]}; GET /funding?sym=S -> {"rate": r, "h": 8};
      GET /book?sym=S -> {"s": sym, "seq": n, "b": [...], "a": [...]} (the fakez variant
      resyncs books from it). Bodies can be sent in pieces (FakeVenue.rest_piece_bytes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from venuefeed import (
    Ack,
    AdapterOptions,
    BookDelta,
    BookSnapshot,
    ConnectionSpec,
    Continuity,
    Heartbeat,
    Instrument,
    Parsed,
    Pong,
    Reply,
    RestRequest,
    Resync,
    StreamSpec,
    UnknownFrame,
    UnknownSymbolError,
    VenueAdapter,
    VenueContext,
    VenueNotice,
    hookimpl,
)
from venuefeed.core.codec import decode_json, num
from venuefeed.core.errors import MalformedFrame
from venuefeed.core.events import Funding, Trade


class FakeOptions(AdapterOptions):
    init: bool = False
    backfill: bool = False  # GET /trades?sym=&from= fills outages
    fallback: bool = False  # GET /book while the socket is down
    quiet_trades: bool = True
    acks: bool = False
    trades_socket: bool = False
    extra_sockets: int = 0


class FakeAdapter(VenueAdapter):
    name = "fakex"
    Options = FakeOptions
    heartbeat = Heartbeat(ping={"op": "ping"})
    continuity = Continuity.SEQ_INCREMENT
    resync = Resync.RESUBSCRIBE

    def __init__(self, ctx: VenueContext) -> None:
        super().__init__(ctx)
        self.markets: list[str] = ["BTC", "ETH"]
        self.poison = "boom"
        self.options = FakeOptions.of(ctx)

    def init_requests(self) -> Sequence[RestRequest]:
        if not self.options.init:
            return ()
        return [RestRequest("markets", "/markets", self._markets)]

    def _markets(self, body: Any, recv_ms: int) -> Sequence[Parsed]:
        self.markets = list(body["markets"])
        return ()

    def resolve(self, symbol: str) -> Instrument:
        base = symbol.removesuffix("-PERP")
        if base not in self.markets:
            raise UnknownSymbolError(self.name, symbol, self.markets)
        return Instrument(base, f"{base}-PERP")

    def connections(self, instruments: Sequence[Instrument]) -> Sequence[ConnectionSpec]:
        options = self.options
        quiet_trades = options.quiet_trades
        acks = 1 if options.acks else 0
        syms = [i.instrument for i in instruments]
        if options.trades_socket:
            return [
                ConnectionSpec(
                    name="main",
                    url=self.ctx.ws_url,
                    streams=tuple(StreamSpec("book", s) for s in syms),
                    subscribe=({"op": "sub", "syms": syms},),
                    acks_expected=acks,
                ),
                ConnectionSpec(
                    name="trades",
                    url=self.ctx.ws_url,
                    streams=tuple(StreamSpec("trade", s, quiet=True) for s in syms),
                    subscribe=({"op": "subtrades", "syms": syms},),
                    acks_expected=acks,
                ),
            ]
        extra = options.extra_sockets
        streams: list[StreamSpec] = []
        for s in syms:
            streams.append(StreamSpec("book", s))
            streams.append(StreamSpec("trade", s, quiet=quiet_trades))
        return [
            ConnectionSpec(
                name="main",
                url=self.ctx.ws_url,
                streams=tuple(streams),
                subscribe=({"op": "sub", "syms": syms},),
                acks_expected=acks,
            ),
            *(
                ConnectionSpec(
                    name=f"extra{n}",
                    url=self.ctx.ws_url,
                    streams=(StreamSpec("book", syms[n % len(syms)]),),
                    subscribe=({"op": "sub", "syms": [syms[n % len(syms)]]},),
                )
                for n in range(extra)
            ),
        ]

    def parse(self, frame: str | bytes, recv_ms: int) -> Sequence[Parsed]:
        if isinstance(frame, bytes):
            raise MalformedFrame("binary frame")
        msg = decode_json(frame)
        if not isinstance(msg, dict):
            raise MalformedFrame("not an object")
        t = msg.get("t")
        try:
            if t in ("snap", "delta"):
                sym = msg["s"]
                bids = [(num(p), num(q)) for p, q in msg["b"]]
                asks = [(num(p), num(q)) for p, q in msg["a"]]
                if t == "snap":
                    return [BookSnapshot(sym, bids, asks, seq=int(msg["seq"]))]
                return [BookDelta(sym, bids, asks, seq=int(msg["seq"]))]
            if t == "trade":
                return [self._trade(msg, recv_ms)]
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedFrame(f"bad {t} frame: {exc!r}") from None
        if t == "ping":
            return [Reply({"op": "pong"})]
        if t == "pong":
            return [Pong()]
        if t == "ack":
            return [Ack("subscribed", subscribed=True)]
        if t == "err":
            return [
                VenueNotice(
                    str(msg.get("code")),
                    str(msg.get("msg")),
                    msg.get("stream"),
                    bool(msg.get("fatal")),
                )
            ]
        if t == self.poison:
            raise RuntimeError("parser bug triggered by a poisoned frame")
        raise UnknownFrame(f"unknown type {t!r}")

    def poll_requests(self, instruments: Sequence[Instrument]) -> Sequence[RestRequest]:
        return [
            RestRequest(
                f"funding:{i.instrument}",
                "/funding",
                self._funding(i),
                params={"sym": i.instrument},
            )
            for i in instruments
        ]

    def _funding(self, inst: Instrument) -> Any:
        def parse(body: Any, recv_ms: int) -> Sequence[Parsed]:
            if body.get("bug"):
                raise RuntimeError("poller bug")
            rate = num(body["rate"])
            hours = num(body["h"])
            return [
                Funding(
                    venue=self.ctx.name,
                    symbol=inst.symbol,
                    instrument=inst.instrument,
                    ts_recv=recv_ms,
                    rate=rate,
                    interval_h=hours,
                    rate_per_hour=rate / hours,
                )
            ]

        return parse

    def resubscribe_messages(self, instrument: str) -> Sequence[Any]:
        return [{"op": "resub", "sym": instrument}]

    def _trade(self, msg: Any, recv_ms: int, source: str = "ws") -> Trade:
        sym = msg["s"]
        return Trade(
            venue=self.ctx.name,
            symbol=sym.removesuffix("-PERP"),
            instrument=sym,
            ts_venue=msg.get("ts"),
            ts_recv=recv_ms,
            price=num(msg["px"]),
            size=num(msg["sz"]),
            side=msg["side"],
            trade_id=str(msg["id"]),
            source=source,  # type: ignore[arg-type]
        )

    def recent_trades_request(self, instrument: str, after: Trade | None) -> RestRequest | None:
        if not self.options.backfill:
            return None

        def parse(body: Any, recv_ms: int) -> Sequence[Parsed]:
            return [self._trade(t, recv_ms, "rest") for t in body["trades"]]

        start = "0" if after is None else after.trade_id  # from the last one: an overlap
        return RestRequest("trades", "/trades", parse, params={"sym": instrument, "from": start})

    def fallback_requests(self, instrument: str) -> Sequence[RestRequest]:
        if not self.options.fallback:
            return ()

        def parse(body: Any, recv_ms: int) -> Sequence[Parsed]:
            bids = [(num(p), num(q)) for p, q in body["b"]]
            asks = [(num(p), num(q)) for p, q in body["a"]]
            return [BookSnapshot(body["s"], bids, asks, seq=int(body["seq"]), from_rest=True)]

        return [RestRequest("book", "/book", parse, params={"sym": instrument})]

    fallback_min_interval_s = 0.05


class FakeAdapterY(FakeAdapter):
    name = "fakey"


class FakeRestBooks(FakeAdapter):
    """fakex whose broken books are resynced from the REST `/book` endpoint."""

    name = "fakez"
    resync = Resync.REST_SNAPSHOT

    def book_snapshot_request(self, instrument: str) -> RestRequest | None:
        def parse(body: Any, recv_ms: int) -> Sequence[Parsed]:
            bids = [(num(p), num(q)) for p, q in body["b"]]
            asks = [(num(p), num(q)) for p, q in body["a"]]
            return [BookSnapshot(body["s"], bids, asks, seq=int(body["seq"]), from_rest=True)]

        return RestRequest(f"book:{instrument}", "/book", parse, params={"sym": instrument})


@hookimpl
def venuefeed_register_venues() -> list[type[VenueAdapter]]:
    return [FakeAdapter, FakeAdapterY, FakeRestBooks]


@dataclass
class FakeVenue:
    """A loopback server for the fakex protocol, scriptable from a test.

    `pump` streams a book delta per instrument every `interval_s` while `pumping` is set.
    `drop_after_accept` closes that many upcoming connections right after the handshake.
    """

    interval_s: float = 0.01
    markets_failures: int = 0
    pumping: asyncio.Event = field(default_factory=asyncio.Event)
    drop_after_accept: int = 0
    answer_pings: bool = True
    refuse: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    funding: dict[str, Any] = field(default_factory=lambda: {"rate": 0.0008, "h": 8})
    connections: int = 0
    received: list[Any] = field(default_factory=list)
    markets_calls: int = 0
    funding_calls: int = 0
    connected: asyncio.Condition = field(default_factory=asyncio.Condition)
    current: web.WebSocketResponse | None = None
    seqs: dict[str, int] = field(default_factory=dict)
    trade_id: int = 0
    #: answer every subscribe with {"t": "ack"}
    ack_subs: bool = True
    #: the next this-many connections ignore every client message (a total stall)
    mute_connections: int = 0
    #: REST bodies are written in pieces of this size, with `rest_piece_pause_s` between
    rest_piece_bytes: int | None = None
    rest_piece_pause_s: float = 0.01
    #: scripted answers for the next REST calls per path: (status, headers)
    rest_refuse: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    #: each /book answer waits this long (a slow snapshot)
    book_delay_s: float = 0.0
    book_calls: list[float] = field(default_factory=list)
    book_in_flight: int = 0
    book_max_in_flight: int = 0
    #: open sockets by role ("main", "trades")
    sockets: dict[str, web.WebSocketResponse] = field(default_factory=dict)
    #: every trade made, sent or not (served by /trades)
    trade_log: list[dict[str, Any]] = field(default_factory=list)
    request_times: dict[str, list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.pumping.set()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/markets", self._markets)
        app.router.add_get("/funding", self._funding)
        app.router.add_get("/book", self._book)
        app.router.add_get("/trades", self._trades)
        return app

    async def _trades(self, request: web.Request) -> web.StreamResponse:
        """Trades of a symbol from id `from` on (inclusive), oldest first, at most 100."""
        if (refused := self._refused(request)) is not None:
            return refused
        sym, start = request.query["sym"], int(request.query["from"])
        trades = [t for t in self.trade_log if t["s"] == sym and int(t["id"]) >= start]
        return await self._json(request, {"trades": trades[:100]})

    def _refused(self, request: web.Request) -> web.Response | None:
        loop = asyncio.get_running_loop()
        self.request_times.setdefault(request.path, []).append(loop.time())
        scripted = self.rest_refuse.get(request.path)
        if scripted:
            status, headers = scripted.pop(0)
            return web.Response(status=status, headers=headers, text="refused")
        return None

    async def _json(self, request: web.Request, body: Any) -> web.StreamResponse:
        """The body as JSON, in pieces over time when `rest_piece_bytes` is set (as a
        real link delivers it); chunked, without a Content-Length."""
        if self.rest_piece_bytes is None:
            return web.json_response(body)
        data = json.dumps(body).encode()
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(data), self.rest_piece_bytes):
            await response.write(data[start : start + self.rest_piece_bytes])
            await asyncio.sleep(self.rest_piece_pause_s)
        await response.write_eof()
        return response

    async def _markets(self, request: web.Request) -> web.StreamResponse:
        self.markets_calls += 1
        if (refused := self._refused(request)) is not None:
            return refused
        if self.markets_calls <= self.markets_failures:
            return web.Response(status=503, text="down for maintenance")
        # padded like a real listing: several KB, so a reader that stops at the first
        # piece gets truncated JSON
        return await self._json(
            request, {"markets": ["BTC", "ETH"], "info": [{"pad": "x" * 60}] * 60}
        )

    async def _funding(self, request: web.Request) -> web.StreamResponse:
        self.funding_calls += 1
        if (refused := self._refused(request)) is not None:
            return refused
        return await self._json(request, self.funding)

    async def _book(self, request: web.Request) -> web.StreamResponse:
        self.book_calls.append(asyncio.get_running_loop().time())
        if (refused := self._refused(request)) is not None:
            return refused
        sym = request.query["sym"]
        seq = self.seqs.get(sym, 0)  # the book as of now; it arrives after the delay
        self.book_in_flight += 1
        self.book_max_in_flight = max(self.book_max_in_flight, self.book_in_flight)
        try:
            await asyncio.sleep(self.book_delay_s)
        finally:
            self.book_in_flight -= 1
        body = {"s": sym, "seq": seq, "b": [[100.0, 1.0]], "a": [[101.0, 1.5]]}
        return await self._json(request, body)

    async def wait_connections(self, n: int, within: float = 5.0) -> None:
        async with asyncio.timeout(within), self.connected:
            await self.connected.wait_for(lambda: self.connections >= n)

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        if self.refuse:
            status, headers = self.refuse.pop(0)
            async with self.connected:
                self.connections += 1
                self.connected.notify_all()
            return web.Response(status=status, headers=headers, text="refused")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        async with self.connected:
            self.connections += 1
            self.connected.notify_all()
        if self.drop_after_accept > 0:
            self.drop_after_accept -= 1
            await ws.close()
            return ws
        self.current = ws
        muted = self.mute_connections > 0
        if muted:
            self.mute_connections -= 1
        syms: list[str] = []
        async with asyncio.TaskGroup() as tg:
            pump = tg.create_task(self._pump(ws, syms))
            try:
                async for msg in ws:
                    if msg.type is not WSMsgType.TEXT:
                        continue
                    data = msg.json()
                    self.received.append(data)
                    if muted:
                        continue
                    op = data.get("op")
                    if op == "sub":
                        self.sockets.setdefault("main", ws)
                        if self.sockets["main"].closed:
                            self.sockets["main"] = ws
                        if self.ack_subs:
                            await ws.send_json({"t": "ack"})
                        syms.extend(data["syms"])
                        for s in data["syms"]:
                            await self.send_snapshot(ws, s)
                    elif op == "subtrades":
                        self.sockets["trades"] = ws
                        if self.ack_subs:
                            await ws.send_json({"t": "ack"})
                    elif op == "resub":
                        await self.send_snapshot(ws, data["sym"])
                    elif op == "ping" and self.answer_pings:
                        await ws.send_json({"t": "pong"})
            finally:
                pump.cancel()
        return ws

    def next_seq(self, sym: str, step: int = 1) -> int:
        self.seqs[sym] = self.seqs.get(sym, 0) + step
        return self.seqs[sym]

    def skip(self, sym: str, n: int = 5) -> None:
        """Make the next delta for `sym` jump: a sequence gap."""
        self.next_seq(sym, n)

    async def send_snapshot(self, ws: web.WebSocketResponse, sym: str) -> None:
        await ws.send_json(
            {
                "t": "snap",
                "s": sym,
                "seq": self.next_seq(sym),
                "b": [[100.0, 1.0], [99.0, 2.0]],
                "a": [[101.0, 1.5], [102.0, 3.0]],
            }
        )

    async def _pump(self, ws: web.WebSocketResponse, syms: list[str]) -> None:
        with contextlib.suppress(ConnectionResetError):
            while not ws.closed:
                await self.pumping.wait()
                for s in list(syms):
                    seq = self.next_seq(s)
                    size = 1.0 + (seq % 7)
                    await ws.send_json(
                        {"t": "delta", "s": s, "seq": seq, "b": [[100.0, size]], "a": []}
                    )
                await asyncio.sleep(self.interval_s)

    async def send(self, obj: Any) -> None:
        assert self.current is not None
        if isinstance(obj, bytes):
            await self.current.send_bytes(obj)
        elif isinstance(obj, str):
            await self.current.send_str(obj)
        else:
            await self.current.send_json(obj)

    def make_trade(self, sym: str = "BTC-PERP") -> dict[str, Any]:
        """A trade happens on the venue (logged for /trades), whoever hears of it."""
        self.trade_id += 1
        trade = {
            "t": "trade",
            "s": sym,
            "px": 100.5,
            "sz": 0.25,
            "side": "buy",
            "id": self.trade_id,
            "ts": 1_700_000_000_000 + self.trade_id,
        }
        self.trade_log.append(trade)
        return trade

    async def trade(self, sym: str = "BTC-PERP", *, resend: dict[str, Any] | None = None) -> str:
        """A new trade sent on the trades socket (or `resend` an earlier one, as a venue
        that replays recent trades does)."""
        trade = resend if resend is not None else self.make_trade(sym)
        trades = self.sockets.get("trades")
        target = trades if trades is not None and not trades.closed else self.current
        assert target is not None
        await target.send_json(trade)
        return str(trade["id"])

    async def drop(self) -> None:
        """Abort the current connection without a close frame."""
        ws = self.current
        assert ws is not None
        self.current = None
        transport = ws._req.transport if ws._req is not None else None
        if transport is not None:
            transport.abort()

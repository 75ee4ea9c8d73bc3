"""Extended (formerly X10, Starknet perpetuals): the v1 public streams.

Protocol facts this adapter relies on, each with its source. "SDK" is the official
x10xchange/python_sdk (files named below); "docs" is https://api.docs.extended.exchange;
"ccxt" is ccxt 4.5.x `python/ccxt/pro/extended.py` / `python/ccxt/extended.py`.

Endpoints and connections
- Mainnet stream base `wss://api.starknet.extended.exchange/stream.extended.exchange/v1`,
  REST base `https://api.starknet.extended.exchange/api/v1` (SDK `x10/config.py`,
  MAINNET_CONFIG `stream_url` / `api_base_url`).
- v1 has no subscribe message: the URL is the subscription, one socket per stream and
  market: `/orderbooks/{m}`, `/publicTrades/{m}`, `/funding/{m}` (SDK
  `x10/clients/stream/stream_client.py`, docs #order-book-stream, #trades-stream,
  #funding-rates-stream) and `/prices/mark/{m}` (ccxt `watch_mark_price`, docs
  #mark-price-stream). The v2 JSON-RPC socket (SDK `x10/clients/streamrpc/`) is not used:
  it is SDK-only so far, with no public documentation.
- Every connection needs a `User-Agent` header; the WAF blocks requests without one (SDK
  `x10/clients/stream/stream_connection.py` always sends one; ccxt sets a browser UA in
  `options.ws.options.headers`). REST requests carry the HTTP client's default one.
- Heartbeat: the server sends websocket-protocol pings, answered by the websocket layer;
  v1 has no application-level ping, so `Heartbeat.ping` is None. The "every 15 s, pong
  within 10 s" timing is UNCONFIRMED (third-party notes and hummingbot's connector only;
  no official text found); nothing here depends on it.

Order book
- Frames are `{ts, type: "SNAPSHOT"|"DELTA", data: {m, b: [{p, q}], a: [...]}, seq}` (SDK
  `x10/models/orderbook.py` aliases m/b/a/p/q, `x10/models/http.py` StreamDataType; ccxt
  `handle_order_book` sample). A SNAPSHOT replaces the book (SDK `x10/tools/orderbook.py`
  `init_orderbook` clears both sides first).
- `seq` grows by exactly 1 per message on a connection, so a DELTA must carry the previous
  seq + 1 (ccxt `handle_order_book` treats anything else as a gap). Each book has its own
  connection, so the per-connection seq is the book's seq: Continuity.SEQ_INCREMENT. v1
  has no way to ask for a fresh snapshot on an open socket and the REST book
  (`/info/markets/{m}/orderbook`) has no sequence number to bridge from, so a gap is
  repaired by reopening the socket, which starts with a SNAPSHOT: Resync.RECONNECT.
  Third-party notes say a SNAPSHOT also arrives every minute and restarts `seq`
  (UNCONFIRMED); a SNAPSHOT resets the chain in the core either way.
- DELTA level sizes, UNCONFIRMED in documentation we could read: the official SDK
  (`x10/tools/orderbook.py` `update_orderbook`) adds each DELTA `q` to the stored size and
  drops the level when the sum is 0, i.e. `q` is a change. ccxt (`handle_delta`) and
  third-party clients citing docs #order-book-stream read a level's `c` as its new
  absolute size and prefer it over `q`. Both readings agree if `q` is the change and `c`
  the resulting size, so a DELTA whose every level has `c` is applied as absolute sizes
  from `c`; otherwise the whole message is applied as changes from `q`
  (`sizes_are_changes=True`). No captured DELTA payload was available to test against.
- BBO: `/orderbooks/{m}?depth=1` sends the same envelope with one level per side, which
  no field tells apart from the full book, so the BBO is derived from the full book
  (`bbo_from_book`) instead of opening a second, indistinguishable stream.

Trades, funding, mark
- Trades: `{ts, data: [{m, S: "BUY"|"SELL", tT: "TRADE"|"LIQUIDATION"|"DELEVERAGE", T, p, q,
  i}], seq}` (SDK `x10/models/trade.py` PublicTradeModel). `S` is the taker's side: the
  API docs describe the same rows of the REST trades endpoint as "Side of taker trades"
  (api.docs.extended.exchange, "Get market last trades"). DELEVERAGE prints are position
  transfers at the bankruptcy price, not market trades, and are skipped unless
  `options.include_deleverage` is true (on the stream and in the backfill alike).
- Funding: `{ts, data: {m, T, f}, seq}` (SDK `x10/models/funding_rate.py`). Funding is
  charged every hour and `f` / REST `fundingRate` is the hourly rate as a fraction
  (docs.extended.exchange/extended-resources/trading/funding-payments: "funding payments
  are charged every hour"; ccxt `fetch_markets` sample `"fundingRate": "0.000012"`), so
  `rate_per_hour == rate`, `interval_h == 1`. The WS frame has no next funding time; it is
  taken as the next full hour after `T`, matching REST `nextFundingRate`, which despite
  its name is a millisecond timestamp on the hour (SDK `x10/perpetual/markets.py`
  `next_funding_rate: int`; ccxt samples).
- Funding basis: the premium index is computed every minute and the rate from its average
  (docs.extended.exchange/extended-resources/trading/funding-payments), and the stream's `T`
  is not on the hour (ccxt's sample: 1701563440000, 00:30:40 UTC), nor is the REST rate
  paired with a past time but with the coming payment (`nextFundingRate`): both are the
  rate the coming hourly payment is expected to apply, `basis="predicted"` (UNCONFIRMED in
  so many words; settled rates are `GET /info/{m}/funding` history, not read here). Feeds:
  `feed="funding"` (websocket) and `feed="markets/stats"` (REST poll).
- Mark: `{type: "MP", data: {m, p, ts}, ts, seq}`; `data.ts` has been seen as 0, then the
  envelope `ts` is the stamp (ccxt `handle_mark_price`). The index price stream
  (`/prices/index/{m}`) is not opened: its frame type is undocumented, and the REST poll
  already brings `indexPrice`.
- Errors: `{"status": "ERROR", "error": {"code": 1001, "message": "Market not found."}}`;
  1000 asset / 1001 market not found, 1002 market disabled, 1003 market group not found,
  1005 unsupported interval mean the stream will never deliver (fatal); 1006 application
  error and 1010 maintenance mode are transient (ccxt `handle_error_message` and the
  `exceptions` table in `ccxt/extended.py`). An error frame does not name its stream, but
  every connection carries exactly one, so the core can attribute it to the connection.

REST
- `GET /info/markets` -> `{status: "OK", data: [{name: "BTC-USD", assetName: "BTC", status:
  "ACTIVE", ...}]}` validates the configured markets (SDK
  `x10/perpetual/trading_client/markets_information_module.py` `get_markets`; ccxt
  `fetch_markets`).
- `GET /info/markets/{m}/stats` -> `{status, data: {markPrice, indexPrice, fundingRate,
  nextFundingRate, ...}}` is polled for funding and mark (same SDK module,
  `get_market_statistics`). The body does not name its market, so each request is bound
  to its instrument.

Gap-free trades (the core deduplicates by `trade_identity`, orders by `trade_order`)
- Identity: the trade id `i` (a number; "Trade ID." in the API docs' trades table).
  Order: trade time `T`, then `i`: the docs say of all ids "As IDs increase over time,
  the most recent items are always returned first" (API docs, pagination), and the trades
  example has increasing ids at increasing times.
- Backfill: `GET /api/v1/info/markets/{market}/trades` -> `{status, data: [{i, m, S, tT, T,
  p, q}]}`, "the latest trade[s] for an individual market", with `market` its only
  parameter (API docs, "Get market last trades"; ccxt `extended.py` `fetch_trades` uses
  it the same way): no count, no time, no paging, so it covers only a short outage (how
  many trades it returns is not documented). The rows are the stream's: they go through
  the same builder; their order is not promised (the example is oldest first), so they
  are sorted; those before `after` are dropped, `after` itself is kept when it is there:
  the proof that the answer reaches back to it (the core drops it as already published).

REST fallback while the socket is down
- `GET /api/v1/info/markets/{market}/orderbook` -> `{status, data: {market, bid: [{qty,
  price}], ask: [...]}}` (API docs, "Get market order book"; ccxt sample), the whole book
  without a sequence number or time: a BookSnapshot from REST, and the core's BBO. No mark
  request: the mark has its own socket (`prices/mark`), which the book's outage does not
  touch, and the funding poll's `stats` carries it too.
- Interval, from the documented rate limits: "All REST API endpoints are throttled by IP
  address. Currently, the rate limit is set at 1,000 requests per minute, shared across
  all endpoints" (API docs, "Rate Limits"; this settles PROTOCOLS.md's 1000 vs 1200).
  Half is left to the funding poll (1 `stats` per market a minute at the default 60 s),
  backfills and retries; the other 500 a minute are one book every 0.12 s. With N markets
  whose book sockets are down, polled in turn, each book is refreshed every N x 0.12 s.

Options (`[venues.extended.options]`): `user_agent` (str), `streams` (subset of "book",
"trade", "funding", "mark"; default all), `include_deleverage` (bool, default false).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from functools import partial
from typing import Annotated, Any, ClassVar
from urllib.parse import quote

from msgspec.structs import replace
from pydantic import Field, StringConstraints, field_validator

from venuefeed import __version__
from venuefeed.core.adapter import (
    AdapterOptions,
    BookDelta,
    BookSnapshot,
    ConnectionSpec,
    Continuity,
    Heartbeat,
    Instrument,
    Parsed,
    RestRequest,
    Resync,
    StreamKind,
    StreamSpec,
    VenueAdapter,
    VenueContext,
    VenueNotice,
)
from venuefeed.core.errors import MalformedFrame, UnknownFrame, UnknownSymbolError
from venuefeed.core.events import Funding, Mark, Side, Trade
from venuefeed.core.wire import next_hour_ms
from venuefeed.plugins.extended import wire

#: stream kind -> (v1 path segment, quiet). Trades can pause for minutes on a calm
#: market; funding and mark cadences are not documented, and both are also polled over
#: REST, so a silent socket there is no reason to recycle it.
_STREAMS: dict[StreamKind, tuple[str, bool]] = {
    "book": ("orderbooks", False),
    "trade": ("publicTrades", True),
    "funding": ("funding", True),
    "mark": ("prices/mark", True),
}
#: Extended charges funding every hour and quotes the hourly rate.
FUNDING_INTERVAL_H = 1.0
#: funding feed names: the stream path and the REST endpoint
FEED_WS = "funding"
FEED_REST = "markets/stats"
#: error codes meaning "this stream will never deliver" (bad market or parameter), as
#: opposed to transient ones such as 1006 application error or 1010 maintenance mode.
FATAL_CODES = frozenset({"1000", "1001", "1002", "1003", "1005"})
_SIDES: dict[str, Side] = {"BUY": "buy", "SELL": "sell"}


class ExtendedOptions(AdapterOptions):
    """`[venues.extended.options]`."""

    #: the venue's WAF refuses requests without a User-Agent
    user_agent: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = (
        f"venuefeed/{__version__}"
    )
    #: which of the four v1 streams to open per market (one socket each)
    streams: Annotated[list[StreamKind], Field(min_length=1)] = Field(
        default_factory=lambda: list(_STREAMS)
    )
    #: publish DELEVERAGE fills as trades too
    include_deleverage: bool = False

    @field_validator("streams", mode="before")
    @classmethod
    def _one_stream(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value  # streams = "mark" is one

    @field_validator("streams")
    @classmethod
    def _v1_streams(cls, value: list[StreamKind]) -> list[StreamKind]:
        unknown = [k for k in value if k not in _STREAMS]
        if unknown:
            raise ValueError(f"expected a list drawn from {', '.join(_STREAMS)}")
        return list(dict.fromkeys(value))


class ExtendedAdapter(VenueAdapter):
    """Extended's v1 public streams: one websocket per stream and market."""

    name: ClassVar[str] = "extended"
    default_ws_url: ClassVar[str] = (
        "wss://api.starknet.extended.exchange/stream.extended.exchange/v1"
    )
    default_rest_url: ClassVar[str] = "https://api.starknet.extended.exchange/api/v1"
    heartbeat: ClassVar[Heartbeat] = Heartbeat(ping=None)
    continuity = Continuity.SEQ_INCREMENT
    resync = Resync.RECONNECT
    bbo_from_book: ClassVar[bool] = True
    simulator: ClassVar[str | None] = "venuefeed.plugins.extended.sim:ExtendedSim"
    Options: ClassVar[type[AdapterOptions]] = ExtendedOptions
    #: 1000 requests a minute per IP shared by every endpoint, half for the fallback: one
    #: book request every 0.12 s (see the docstring)
    fallback_min_interval_s: ClassVar[float] = 0.12

    def __init__(self, ctx: VenueContext) -> None:
        super().__init__(ctx)
        options = ExtendedOptions.of(ctx)
        self._headers: Mapping[str, str] = {"User-Agent": options.user_agent}
        self._kinds: tuple[StreamKind, ...] = tuple(options.streams)
        self._include_deleverage = options.include_deleverage
        self._venue = ctx.name
        #: market name -> base asset, for every market the venue lists.
        self._bases: dict[str, str] = {}
        #: base asset -> market name, preferring active USD markets.
        self._by_base: dict[str, str] = {}
        #: market -> symbol of the markets the core asked for (`resolve`, `connections`);
        #: a frame about any other market is an UnknownFrame, never a new instrument.
        self._streamed: dict[str, str] = {}

    # ------------------------------------------------------------------ start-up

    def init_requests(self) -> Sequence[RestRequest]:
        return (RestRequest(name="markets", path="/info/markets", parse=self._parse_markets),)

    def _parse_markets(self, body: Any, recv_ms: int) -> Sequence[Parsed]:
        markets = wire.decode_markets(body)
        self._bases.clear()
        self._by_base.clear()
        ranked: dict[str, tuple[bool, bool]] = {}
        for market, base, active in markets:
            self._bases[market] = base
            rank = (active, market == f"{base}-USD")
            if base not in ranked or rank > ranked[base]:
                ranked[base] = rank
                self._by_base[base] = market
        return ()

    def resolve(self, symbol: str) -> Instrument:
        for candidate in (symbol, symbol.upper()):
            if candidate in self._bases:
                found = Instrument(symbol=self._bases[candidate], instrument=candidate)
                break
            market = self._by_base.get(candidate)
            if market is not None:
                found = Instrument(symbol=candidate, instrument=market)
                break
        else:
            raise UnknownSymbolError(self.ctx.name, symbol, sorted(self._by_base))
        self._streamed[found.instrument] = found.symbol
        return found

    def connections(self, instruments: Sequence[Instrument]) -> Sequence[ConnectionSpec]:
        base = self.ctx.ws_url.rstrip("/")
        specs: list[ConnectionSpec] = []
        for inst in instruments:
            market = inst.instrument
            self._streamed[market] = inst.symbol
            for kind in self._kinds:
                path, quiet = _STREAMS[kind]
                name = f"{path}/{market}"
                specs.append(
                    ConnectionSpec(
                        name=name,
                        url=f"{base}/{path}/{quote(market, safe='')}",
                        streams=(StreamSpec(kind, market, quiet=quiet),),
                        headers=self._headers,
                    )
                )
        return specs

    # ------------------------------------------------------------------ hot path

    def parse(self, frame: str | bytes, recv_ms: int) -> Sequence[Parsed]:
        msg = wire.decode_frame(frame)
        if msg.error is not None or msg.status == "ERROR":
            return (self._notice(msg),)
        kind = msg.type
        data = msg.data
        if kind == "DELTA":
            return (self._delta(msg),)
        if kind == "SNAPSHOT":
            return (self._snapshot(msg),)
        if kind == "MP":
            return (self._mark(msg, recv_ms),)
        if isinstance(data, list):
            return self._trades(data, recv_ms)
        if data is not None and data.f is not None:
            return (self._funding(data, data.f, msg.ts, recv_ms),)
        raise UnknownFrame(f"unknown Extended frame type {kind!r}")

    def _symbol(self, market: str) -> str:
        """The symbol of a market the core asked for; any other is an UnknownFrame."""
        symbol = self._streamed.get(market)
        if symbol is None:
            raise UnknownFrame(f"data for a market not subscribed: {market!r}")
        return symbol

    def _book_data(
        self, msg: wire.Frame
    ) -> tuple[str, list[wire.BookLevel], list[wire.BookLevel], int]:
        data = msg.data
        if not isinstance(data, wire.Data) or data.m is None:
            raise MalformedFrame(f"{msg.type} frame without a market object")
        if msg.seq is None:
            raise MalformedFrame(f"{msg.type} frame without seq")
        return data.m, data.b or [], data.a or [], msg.seq

    def _snapshot(self, msg: wire.Frame) -> BookSnapshot:
        market, b, a, seq = self._book_data(msg)
        bids = wire.sizes(b, absolute=True)
        asks = wire.sizes(a, absolute=True)
        self._symbol(market)
        return BookSnapshot(instrument=market, bids=bids, asks=asks, seq=seq, ts_venue=msg.ts)

    def _delta(self, msg: wire.Frame) -> BookDelta:
        market, b, a, seq = self._book_data(msg)
        # `c` is the level's new absolute size where the venue sends it; `q` alone is a
        # change to add to the stored size (official SDK). One flag covers a message, so
        # a message that lacks `c` anywhere is applied entirely as changes from `q`.
        bids = wire.current(b)
        asks = wire.current(a) if bids is not None else None
        changes = bids is None or asks is None
        if bids is None or asks is None:
            bids = wire.sizes(b, absolute=False)
            asks = wire.sizes(a, absolute=False)
        if market not in self._streamed:  # per delta: the lookup, not a call
            self._symbol(market)  # raises UnknownFrame
        return BookDelta(
            instrument=market,
            bids=bids,
            asks=asks,
            seq=seq,
            ts_venue=msg.ts,
            sizes_are_changes=changes,
        )

    def _trades(self, rows: list[wire.TradeRow], recv_ms: int) -> list[Trade]:
        venue = self._venue
        out: list[Trade] = []
        for row in rows:
            if row.tT == "DELEVERAGE" and not self._include_deleverage:
                continue
            side = _SIDES.get(row.S)
            if side is None:
                raise MalformedFrame(f"trade side {row.S!r} is neither BUY nor SELL")
            out.append(
                Trade(
                    venue=venue,
                    symbol=self._symbol(row.m),
                    instrument=row.m,
                    ts_venue=row.T,
                    ts_recv=recv_ms,
                    price=row.p,
                    size=row.q,
                    side=side,
                    trade_id=str(row.i),
                )
            )
        return out

    def _funding(self, data: wire.Data, rate: float, ts: int | None, recv_ms: int) -> Funding:
        market = data.m
        if market is None:
            raise MalformedFrame("funding frame without a market")
        stamp = data.T if data.T is not None else ts
        return Funding(
            venue=self._venue,
            symbol=self._symbol(market),
            instrument=market,
            ts_venue=stamp,
            ts_recv=recv_ms,
            rate=rate,
            interval_h=FUNDING_INTERVAL_H,
            rate_per_hour=rate,
            # the frame has none: funding settles on the hour (see the module docstring)
            next_funding_ms=None if stamp is None else next_hour_ms(stamp),
            basis="predicted",
            source="ws",
            feed=FEED_WS,
        )

    def _mark(self, msg: wire.Frame, recv_ms: int) -> Mark:
        data = msg.data
        if not isinstance(data, wire.Data) or data.m is None or data.p is None:
            raise MalformedFrame("mark price frame without market or price")
        # the venue has sent `data.ts` as 0; the envelope `ts` is the real stamp then.
        stamp = data.ts or msg.ts
        return Mark(
            venue=self._venue,
            symbol=self._symbol(data.m),
            instrument=data.m,
            ts_venue=stamp,
            ts_recv=recv_ms,
            mark_px=data.p,
        )

    def _notice(self, msg: wire.Frame) -> VenueNotice:
        err = msg.error
        if isinstance(err, wire.Error):
            code = "" if err.code is None else str(err.code)
            text = err.message or ""
        else:
            code, text = "", err or ""
        return VenueNotice(
            code=code or (msg.status or "ERROR"),
            message=text,
            stream=None,
            fatal=code in FATAL_CODES,
        )

    # ------------------------------------------------------------------ gap-free trades

    def trade_identity(self, trade: Trade) -> Hashable:
        """The trade id `i` (see the docstring)."""
        return trade.trade_id

    def recent_trades_request(self, instrument: str, after: Trade | None) -> RestRequest:
        """`/info/markets/{market}/trades`: the market's latest trades, no parameter."""
        return RestRequest(
            name=f"trades:{instrument}",
            path=f"/info/markets/{quote(instrument, safe='')}/trades",
            parse=partial(self._parse_trades, instrument, after),
        )

    def _parse_trades(
        self, market: str, after: Trade | None, body: Any, recv_ms: int
    ) -> Sequence[Parsed]:
        rows = wire.decode_trades(body)
        for row in rows:
            if row.m != market:
                raise MalformedFrame(f"trades of {market}: a trade of {row.m!r}")
        # the stream's builder: the same rows, the same DELEVERAGE rule
        trades = [replace(t, source="rest") for t in self._trades(rows, recv_ms)]
        return self.trades_from(trades, after)

    # ------------------------------------------------------------------ REST fallback

    def fallback_requests(self, instrument: str) -> Sequence[RestRequest]:
        """The REST book; the BBO comes from it, and the mark has its own socket."""
        return (
            RestRequest(
                name=f"orderbook:{instrument}",
                path=f"/info/markets/{quote(instrument, safe='')}/orderbook",
                parse=partial(self._parse_orderbook, instrument),
            ),
        )

    def _parse_orderbook(self, market: str, body: Any, recv_ms: int) -> Sequence[Parsed]:
        book = wire.decode_orderbook(body)
        if book.market != market:
            raise MalformedFrame(f"order book of {market}: the book of {book.market!r}")
        bids = sorted(((lv.price, lv.qty) for lv in book.bid if lv.qty > 0), reverse=True)
        asks = sorted((lv.price, lv.qty) for lv in book.ask if lv.qty > 0)
        return (BookSnapshot(instrument=market, bids=bids, asks=asks, from_rest=True),)

    # ------------------------------------------------------------------ polling

    def poll_requests(self, instruments: Sequence[Instrument]) -> Sequence[RestRequest]:
        return tuple(
            RestRequest(
                name=f"stats:{inst.instrument}",
                path=f"/info/markets/{quote(inst.instrument, safe='')}/stats",
                parse=partial(self._parse_stats, inst),
            )
            for inst in instruments
        )

    def _parse_stats(self, inst: Instrument, body: Any, recv_ms: int) -> Sequence[Parsed]:
        """The hourly funding rate and the mark price; the body does not name its market,
        so each request is bound to its instrument."""
        stats = wire.decode_stats(body)
        venue, symbol, instrument = self._venue, inst.symbol, inst.instrument
        out: list[Parsed] = []
        if stats.funding_rate is not None:
            out.append(
                Funding(
                    venue=venue,
                    symbol=symbol,
                    instrument=instrument,
                    ts_recv=recv_ms,
                    rate=stats.funding_rate,
                    interval_h=FUNDING_INTERVAL_H,
                    rate_per_hour=stats.funding_rate,
                    next_funding_ms=stats.next_funding_rate,
                    basis="predicted",
                    source="rest",
                    feed=FEED_REST,
                )
            )
        if stats.mark_price is not None:
            out.append(
                Mark(
                    venue=venue,
                    symbol=symbol,
                    instrument=instrument,
                    ts_recv=recv_ms,
                    mark_px=stats.mark_price,
                    index_px=stats.index_price,
                )
            )
        return out

"""Aster (asterdex) USDT-margined perpetuals: a Binance-futures-style public feed.

Protocol facts this adapter relies on, and where they come from. AST-DOCS is the official
`asterdex/api-docs` repository, file `V3(Recommended)/EN/aster-finance-futures-api-v3.md`
at commit 265e024 (2026-06-30), https://github.com/asterdex/api-docs ; line numbers refer to
that file.

Endpoints and connection
- REST base `https://fapi.asterdex.com` (AST-DOCS L143); WS base `wss://fstream.asterdex.com`,
  raw streams at `/ws/<name>`, combined streams at `/stream?streams=a/b` wrapped as
  `{"stream": <name>, "data": <payload>}`; stream names are lower-case (AST-DOCS L1640-1645).
- Live `{"method": "SUBSCRIBE", "params": [...], "id": <unsigned int>}` answered by
  `{"result": null, "id": <id>}`; errors are `{"code": <n>, "msg": <text>}` (AST-DOCS
  L1653-1783). Binance's nested `{"error": {"code", "msg"}, "id"}` form is read too, in
  case the doc table abbreviates the wire form. The plugin connects to `{ws_url}/stream`
  and sends one SUBSCRIBE per connection. Subscribing on a bare `/stream` is not spelled
  out in AST-DOCS (it says only that `/stream` sets `combined` to true, L1726); it is what
  ccxt-pro does for Aster swaps (ccxt/ccxt `python/ccxt/pro/aster.py`,
  `urls.api.ws.public.swap` = `wss://fstream.asterdex.com/stream` + SUBSCRIBE).
  `options.subscribe_via = "url"` switches to the documented `/stream?streams=...` form
  (no SUBSCRIBE, no ack).
  Why one message rather than the URL by default: acks and rejections come back with our
  `id`, so a refused subscription becomes a fatal VenueNotice per stream instead of a silent
  stream, and long symbol lists do not produce multi-kilobyte URLs.
- Limits: 10 incoming messages per second per connection, at most 200 streams per
  connection, a connection lives at most 24 h (AST-DOCS L1646-1650). One SUBSCRIBE per
  connection stays far below the message limit; four venue streams per instrument means at
  most 50 instruments per connection (more open further connections); `max_lifetime_s`
  (default 23 h) makes the core rotate a connection before the venue drops it.
- Testnet: the testnet doc names both `wss://fstream.asterdex-testnet.com` and
  `fstream5.asterdex-testnet.com` (UNCONFIRMED which is right); the plugin has no testnet
  default, point `ws_url`/`rest_url` at it explicitly.
- Heartbeat: the server sends a websocket ping frame every 5 minutes and wants a pong within
  15 minutes (AST-DOCS L1647). Websocket-level, so the core (aiohttp autoping) answers it:
  no application ping (`Heartbeat(ping=None)`).

Streams (payload field meanings from AST-DOCS)
- `<sym>@depth@100ms` diff depth `{e:"depthUpdate", E, T, s, U, u, pu, b, a}` (L2221-2254):
  `U` first and `u` last update id of the event, `pu` the previous event's `u`; quantities
  are absolute and 0 removes the level. Local book procedure (L2256-2266): buffer, GET
  `/fapi/v3/depth?symbol=&limit=1000`, drop `u < lastUpdateId`, first event must have
  `U <= lastUpdateId <= u`, then every `pu` must equal the previous `u`. Hence
  BookDelta(first_seq=U, seq=u, prev_seq=pu), Continuity.PREV_LINK and Resync.REST_SNAPSHOT
  (the core buffers and applies exactly that bridge rule). REST depth response
  `{lastUpdateId, E, T, bids, asks}`, weight 20 at limit 1000 (L979-1021).
- `<sym>@bookTicker` `{e:"bookTicker", u, E, T, s, b, B, a, A}`, pushed in real time on every
  change of the best levels (L2043-2065). It is the BBO source (`bbo_from_book = False`):
  it is faster than the 100 ms depth stream and keeps flowing while a book resyncs; a
  book-derived BBO alongside it would publish two interleaved BBOs of different ages.
- `<sym>@aggTrade` `{e:"aggTrade", E, s, a, p, q, f, l, T, m}`, `m` = buyer is the maker
  (L1785-1811), so the taker sold when `m` is true. No raw `@trade` stream is documented.
- `<sym>@markPrice@1s` `{e:"markPriceUpdate", E, s, p, i, P, r, T}`: mark, index, funding
  rate, next funding time, every 1 s (L1813-1835). It feeds both Mark and Funding.
- Timestamps are epoch milliseconds. `ts_venue` is the transaction time `T` where a payload
  has one (depth, bookTicker, aggTrade) and the event time `E` otherwise.

REST
- `GET /fapi/v3/exchangeInfo` `symbols[]` with `symbol`, `contractType` ("PERPETUAL"),
  `status` ("TRADING"), `baseAsset`, `quoteAsset` (L847-977): validates configured symbols.
- `GET /fapi/v3/premiumIndex?symbol=` `{symbol, markPrice, indexPrice, lastFundingRate,
  nextFundingTime, time}` (L1281-1326): the funding/mark poll.
- `GET /fapi/v3/fundingInfo` `[{symbol, fundingIntervalHours, ...}]`, examples 8 and 4 h
  (L1366-1404): the per-symbol funding interval.

Gap-free trades (the core deduplicates by `trade_identity`, orders by `trade_order`)
- Identity: the aggregate trade id `a` of `@aggTrade` and `aggTrades`, per symbol
  (AST-DOCS L1785-1811, L1090-1128). Order: that id, which grows with every aggregate
  trade (it is what `fromId` pages by). Both sources build the trade with one function:
  `m` true means the buyer made the market, so the taker sold; the time is `T`.
- Backfill: `GET /fapi/v3/aggTrades?symbol=&fromId=&limit=1000`, weight 20; `fromId` is
  inclusive and is `after`'s own id, so `after` comes back first: the proof that the page
  reaches it (the core drops it as already published). Rows come oldest first ("Data is
  returned in ascending order", AST-DOCS L145), at most 1000 (default 500). Without
  `after` the latest 1000. A full page may not reach the present: the next page starts
  at its last trade. Only market trades are aggregated (insurance fund and ADL trades are
  in neither source, L1127, L1811).

REST fallback while the socket is down
- `GET /fapi/v3/depth?symbol=&limit=20` (weight 2; 20 levels a side, what a published book
  holds) -> a BookSnapshot from REST, from which the core also takes the BBO; a separate
  `ticker/bookTicker` (weight 1) would only be a second, differently timed BBO. The depth
  answer carries `lastUpdateId`, but a 20-level book is no base for the diff stream: when
  the socket is back, the book resyncs from the 1000-level snapshot as usual.
- `GET /fapi/v3/premiumIndex?symbol=` (weight 1) -> Mark (mark and index); its funding
  fields are left to the funding poll.
- Interval, from the documented rate limits: `REQUEST_WEIGHT` is 2400 a minute per IP
  (exchangeInfo `rateLimits`, AST-DOCS L853-866; limits are per IP, L198-220; 429 then
  418 bans of 2 minutes to 3 days). Half is left to the funding poll (1 + 1 per instrument
  a minute at the default 60 s), backfills (20 per page) and resync snapshots (20 each);
  the other 1200 a minute are 20 a second, and one instrument's poll weighs 2 + 1 = 3, so
  one poll every 0.15 s. With N instruments polled in turn, each one's book is refreshed
  every N x 0.15 s.

Funding normalisation
- `r` / `lastFundingRate` is a fraction per funding interval, not a percent (the doc and
  ccxt samples show the Binance baseline 0.0001 per 8 h; PROTOCOLS.md sections 5.6 and 6),
  so rate_per_hour = rate / fundingIntervalHours.
- Basis: `r` ("Funding rate", pushed every second next to `T` "Next funding time") and
  `lastFundingRate` (commented "the lasted funding rate", next to `nextFundingTime`) are the
  real-time rate for the coming settlement, as on Binance whose API Aster copies: a settled
  rate would change only at settlements, and the doc's own examples differ between two
  reads minutes apart (0.00038246, 0.00038167). So `basis="predicted"`; settled rates are
  `GET /fapi/v3/fundingRate` history, not read here. UNCONFIRMED in so many words (the
  wording "lasted" is ambiguous). Feeds: `feed="markPrice"` (websocket) and
  `feed="premiumIndex"` (REST poll).
- UNCONFIRMED: the interval of a symbol absent from `fundingInfo`. Neither AST-DOCS (EN and
  CN, V1 and V3; the CN text calls the endpoint "query funding rate config"), the api-docs
  CHANGELOG nor the official `asterdex/aster-skills-hub` market-data skill say whether the
  list covers every symbol; Binance's namesake lists only symbols whose interval or caps were
  adjusted. Evidence that Aster lists all symbols: api-docs issue #1 (2025-04-15) asked how
  to get "all symbols funding rate cycles", the endpoint was documented afterwards (commit
  eba9259 "add funding rate config", 2025-08-26), and its example lists an ordinary 8 h
  symbol. What the plugin does: a listed interval always wins; an absent symbol uses
  `options.default_funding_interval_h` (default 8, the Binance convention), and the list is
  re-read on every funding poll so an interval changed while running is picked up.

Options (`[venues.aster.options]`): `quote` ("USDT"), `depth_speed_ms` (100 | 250 | 500),
`default_funding_interval_h` (8), `max_lifetime_s` (82800), `subscribe_via`
("message" | "url").
"""

from __future__ import annotations

import functools
import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal, TypeVar

import msgspec
from pydantic import Field, StringConstraints

from venuefeed.core.adapter import (
    Ack,
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
    StreamSpec,
    VenueAdapter,
    VenueContext,
    VenueNotice,
)
from venuefeed.core.codec import decode_json
from venuefeed.core.errors import (
    MalformedFrame,
    ParseError,
    UnknownFrame,
    UnknownSymbolError,
)
from venuefeed.core.events import Bbo, Funding, Mark, Source, Trade
from venuefeed.core.wire import quotient
from venuefeed.plugins.aster.wire import (
    ENVELOPE,
    KNOWN_EVENTS,
    PAYLOAD,
    AggTrade,
    AggTradeRow,
    BookTicker,
    DepthSnapshot,
    DepthUpdate,
    Envelope,
    ExchangeInfo,
    FundingInfo,
    MarketInfo,
    Payload,
    PremiumIndex,
)

T = TypeVar("T")

#: venue streams per instrument (depth, bookTicker, aggTrade, markPrice).
_WS_STREAMS_PER_INSTRUMENT = 4
#: Aster's cap on streams per connection (AST-DOCS L1650).
_MAX_STREAMS_PER_CONNECTION = 200
INSTRUMENTS_PER_CONNECTION = _MAX_STREAMS_PER_CONNECTION // _WS_STREAMS_PER_INSTRUMENT

#: diff-depth stream suffix per update speed (AST-DOCS L2249-2253).
_DEPTH_SUFFIX = {100: "@depth@100ms", 250: "@depth", 500: "@depth@500ms"}
#: deepest REST snapshot: the bridge rule needs the snapshot to cover the buffered deltas.
SNAPSHOT_LIMIT = "1000"
#: the fallback's book: the 20 levels a side a published book has, at the lowest weight (2)
FALLBACK_DEPTH_LIMIT = "20"
#: the most `aggTrades` returns at once (AST-DOCS L1118-1124)
AGG_TRADES_LIMIT = "1000"

#: funding feed names: the websocket stream and the REST endpoint
FEED_WS = "markPrice"
FEED_REST = "premiumIndex"


class AsterOptions(AdapterOptions):
    """`[venues.aster.options]`."""

    #: quote asset of the perpetuals to stream (`BTC` -> `BTCUSDT`)
    quote: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, min_length=1)] = (
        "USDT"
    )
    #: diff-depth push speed in ms
    depth_speed_ms: Literal[100, 250, 500] = 100
    #: funding interval of symbols `fundingInfo` does not list (UNCONFIRMED, see above)
    default_funding_interval_h: float = Field(8.0, gt=0)
    #: rotate connections before the venue's 24 h cutoff
    max_lifetime_s: float = Field(23 * 3600.0, gt=0)
    #: subscribe with SUBSCRIBE messages, or name the streams in the URL
    subscribe_via: Literal["message", "url"] = "message"


class AsterAdapter(VenueAdapter):
    """Aster perpetuals: diff book + REST snapshot, native BBO, aggTrades, mark and funding."""

    name: ClassVar[str] = "aster"
    default_ws_url: ClassVar[str] = "wss://fstream.asterdex.com"
    default_rest_url: ClassVar[str] = "https://fapi.asterdex.com"
    heartbeat: ClassVar[Heartbeat] = Heartbeat(ping=None)
    continuity = Continuity.PREV_LINK
    resync = Resync.REST_SNAPSHOT
    bbo_from_book: ClassVar[bool] = False
    simulator: ClassVar[str | None] = "venuefeed.plugins.aster.sim:AsterSim"
    Options: ClassVar[type[AdapterOptions]] = AsterOptions
    #: 2400 request weight a minute per IP, half for the fallback: 20 a second, and one
    #: instrument's poll (depth at limit 20 + premiumIndex) weighs 3 (see the docstring)
    fallback_min_interval_s: ClassVar[float] = 0.15

    def __init__(self, ctx: VenueContext) -> None:
        super().__init__(ctx)
        opts = AsterOptions.of(ctx)
        self._quote: str = opts.quote
        self._depth_suffix: str = _DEPTH_SUFFIX[opts.depth_speed_ms]
        self._default_interval_h: float = opts.default_funding_interval_h
        self._max_lifetime_s: float = opts.max_lifetime_s
        self._subscribe_via: str = opts.subscribe_via
        #: trading perpetuals by native id, from exchangeInfo (None until init ran).
        self._markets: dict[str, MarketInfo] | None = None
        #: funding interval in hours by native id, from fundingInfo.
        self._intervals: dict[str, float] = {}
        #: native id -> base asset for every instrument we stream; parse() looks it up.
        self._base: dict[str, str] = {}
        #: SUBSCRIBE id -> keys of the streams that message asked for.
        self._subscriptions: dict[int, tuple[str, ...]] = {}

    # --- start-up -----------------------------------------------------------------------

    def init_requests(self) -> Sequence[RestRequest]:
        return (
            RestRequest("exchangeInfo", "/fapi/v3/exchangeInfo", self._parse_exchange_info),
            RestRequest("fundingInfo", "/fapi/v3/fundingInfo", self._parse_funding_info),
        )

    def _parse_exchange_info(self, body: Any, recv_ms: int) -> Sequence[Parsed]:
        info = _convert(body, ExchangeInfo, "exchangeInfo")
        markets = {
            m.symbol.upper(): m
            for m in info.symbols
            if m.contractType == "PERPETUAL" and m.status == "TRADING"
        }
        if not markets:
            # An empty list is a broken answer, not a venue without markets: fail so the
            # core retries instead of rejecting every configured symbol.
            raise MalformedFrame("exchangeInfo: no trading perpetual market listed")
        self._markets = markets
        return ()

    def _parse_funding_info(self, body: Any, recv_ms: int) -> Sequence[Parsed]:
        rows = _convert(body, list[FundingInfo], "fundingInfo")
        self._intervals = {
            r.symbol.upper(): r.fundingIntervalHours
            for r in rows
            if r.fundingIntervalHours is not None
        }
        return ()

    def resolve(self, symbol: str) -> Instrument:
        wanted = symbol.strip().upper()
        quote = self._quote
        markets = self._markets
        if markets is None:
            # init has not run (a test or a tool driving the adapter by hand): follow the
            # naming convention without validation.
            has_quote = wanted.endswith(quote) and len(wanted) > len(quote)
            native = wanted if has_quote else wanted + quote
        elif wanted in markets:
            native = wanted
        elif wanted + quote in markets:
            native = wanted + quote
        else:
            known = [m[: -len(quote)] for m in markets if m.endswith(quote)]
            raise UnknownSymbolError(self.ctx.name, symbol, known)
        base = _base_of(native, quote, markets)
        self._base[native] = base
        return Instrument(symbol=base, instrument=native)

    def connections(self, instruments: Sequence[Instrument]) -> Sequence[ConnectionSpec]:
        unique = list({i.instrument: i for i in instruments}.values())
        for inst in unique:
            self._base[inst.instrument] = inst.symbol
        per = INSTRUMENTS_PER_CONNECTION
        chunks = [unique[k : k + per] for k in range(0, len(unique), per)]
        self._subscriptions = {}
        return tuple(self._connection(n, chunk) for n, chunk in enumerate(chunks))

    def _connection(self, n: int, chunk: Sequence[Instrument]) -> ConnectionSpec:
        names: list[str] = []
        streams: list[StreamSpec] = []
        for inst in chunk:
            native = inst.instrument
            low = native.lower()
            names += [
                low + self._depth_suffix,
                f"{low}@bookTicker",
                f"{low}@aggTrade",
                f"{low}@markPrice@1s",
            ]
            streams += [
                StreamSpec("book", native),
                StreamSpec("bbo", native),
                # an illiquid market can go minutes without a trade
                StreamSpec("trade", native, quiet=True),
                StreamSpec("mark", native),
                StreamSpec("funding", native),
            ]
        base = self.ctx.ws_url.rstrip("/")
        if not base.endswith(("/stream", "/ws")):
            base += "/stream"
        url = base
        subscribe: tuple[Any, ...] = ()
        if self._subscribe_via == "url":
            url = f"{base}?streams={'/'.join(names)}"
        else:
            sub_id = n + 1
            subscribe = ({"method": "SUBSCRIBE", "params": names, "id": sub_id},)
            self._subscriptions[sub_id] = tuple(s.key for s in streams)
        return ConnectionSpec(
            name="main" if n == 0 else f"main-{n + 1}",
            url=url,
            streams=tuple(streams),
            subscribe=subscribe,
            max_lifetime_s=self._max_lifetime_s,
            # a SUBSCRIBE request is answered {"result": null, "id": N} [AST-docs websocket]
            acks_expected=len(subscribe),
        )

    # --- REST: poll and book snapshot ---------------------------------------------------

    def poll_requests(self, instruments: Sequence[Instrument]) -> Sequence[RestRequest]:
        # fundingInfo first: weight 1, and a changed interval reaches the events below.
        requests = [RestRequest("fundingInfo", "/fapi/v3/fundingInfo", self._parse_funding_info)]
        for inst in {i.instrument: i for i in instruments}.values():
            requests.append(
                RestRequest(
                    f"premiumIndex:{inst.instrument}",
                    "/fapi/v3/premiumIndex",
                    functools.partial(self._parse_premium_index, inst),
                    params={"symbol": inst.instrument},
                )
            )
        return requests

    def _parse_premium_index(self, inst: Instrument, body: Any, recv_ms: int) -> Sequence[Parsed]:
        what = f"premiumIndex {inst.instrument}"
        if isinstance(body, list):
            rows = _convert(body, list[PremiumIndex], what)
            row = next((r for r in rows if r.symbol.upper() == inst.instrument), None)
            if row is None:
                raise MalformedFrame(f"{what}: the answer does not list the symbol")
        else:
            row = _convert(body, PremiumIndex, what)
            if row.symbol.upper() != inst.instrument:
                raise MalformedFrame(f"{what}: the answer is for {row.symbol!r}")
        venue, symbol, native = self.ctx.name, inst.symbol, inst.instrument
        out: list[Parsed] = [
            Mark(
                venue=venue,
                symbol=symbol,
                instrument=native,
                ts_venue=row.time,
                ts_recv=recv_ms,
                mark_px=row.markPrice,
                index_px=row.indexPrice or None,  # 0: no index
            )
        ]
        if row.lastFundingRate is not None:
            out.append(
                self._funding(
                    native,
                    symbol,
                    row.lastFundingRate,
                    row.nextFundingTime,
                    row.time,
                    recv_ms,
                    FEED_REST,
                )
            )
        return out

    def book_snapshot_request(self, instrument: str) -> RestRequest:
        return RestRequest(
            f"depth:{instrument}",
            "/fapi/v3/depth",
            functools.partial(self._parse_snapshot, instrument),
            params={"symbol": instrument, "limit": SNAPSHOT_LIMIT},
        )

    def _parse_snapshot(self, instrument: str, body: Any, recv_ms: int) -> Sequence[Parsed]:
        snap = _convert(body, DepthSnapshot, f"depth {instrument}")
        return (
            BookSnapshot(
                instrument=instrument,
                bids=snap.bids,
                asks=snap.asks,
                seq=snap.lastUpdateId,
                ts_venue=snap.T if snap.T is not None else snap.E,
                from_rest=True,
            ),
        )

    # --- gap-free trades and REST fallback ----------------------------------------------

    def trade_identity(self, trade: Trade) -> Hashable:
        """The aggregate trade id `a`, unique per symbol (AST-DOCS L1785-1811, L1090-1128)."""
        return trade.trade_id

    def trade_order(self, trade: Trade) -> Any:
        """Aggregate ids grow with every aggregate trade of a symbol: `aggTrades?fromId=`
        pages by them (AST-DOCS L1108-1126)."""
        tid = trade.trade_id
        return (int(tid) if tid.isdigit() else -1, tid)

    def recent_trades_request(self, instrument: str, after: Trade | None) -> RestRequest:
        """`aggTrades` from `after`'s own id (`fromId` is inclusive: `after` comes back as
        the proof the page reaches it), oldest first, at most `AGG_TRADES_LIMIT`; without
        `after`, the latest `AGG_TRADES_LIMIT`."""
        params = {"symbol": instrument, "limit": AGG_TRADES_LIMIT}
        if after is not None and after.trade_id.isdigit():
            params["fromId"] = after.trade_id
        return RestRequest(
            f"aggTrades:{instrument}",
            "/fapi/v3/aggTrades",
            functools.partial(self._parse_agg_trades, instrument, after),
            params=params,
        )

    def _parse_agg_trades(
        self, native: str, after: Trade | None, body: Any, recv_ms: int
    ) -> Sequence[Parsed]:
        rows = _convert(body, list[AggTradeRow], f"aggTrades {native}")
        symbol = self._base.get(native, native)
        return self.trades_from(
            (self._trade(native, symbol, r, r.trade_ms, recv_ms, "rest") for r in rows), after
        )

    def fallback_requests(self, instrument: str) -> Sequence[RestRequest]:
        """The top of the book (`depth`, limit 20: weight 2) and the mark (`premiumIndex`,
        weight 1); the core takes the BBO from the book."""
        return (
            RestRequest(
                f"depth:{instrument}:fallback",
                "/fapi/v3/depth",
                functools.partial(self._parse_snapshot, instrument),
                params={"symbol": instrument, "limit": FALLBACK_DEPTH_LIMIT},
            ),
            RestRequest(
                f"premiumIndex:{instrument}:fallback",
                "/fapi/v3/premiumIndex",
                functools.partial(self._parse_mark, instrument),
                params={"symbol": instrument},
            ),
        )

    def _parse_mark(self, native: str, body: Any, recv_ms: int) -> Sequence[Parsed]:
        """The mark and index of `premiumIndex`, nothing else: the funding poll reads the
        funding fields of the same body."""
        row = _convert(body, PremiumIndex, f"premiumIndex {native}")
        if row.symbol.upper() != native:
            raise MalformedFrame(f"premiumIndex {native}: the answer is for {row.symbol!r}")
        return (
            Mark(
                venue=self.ctx.name,
                symbol=self._base.get(native, native),
                instrument=native,
                ts_venue=row.time,
                ts_recv=recv_ms,
                mark_px=row.markPrice,
                index_px=row.indexPrice or None,  # 0: no index
                source="rest",
            ),
        )

    # --- websocket frames (hot path) ----------------------------------------------------

    def parse(self, frame: str | bytes, recv_ms: int) -> Sequence[Parsed]:
        if not isinstance(frame, str):
            raise MalformedFrame("binary frame; the venue sends JSON text")
        try:
            env = ENVELOPE.decode(frame)
        except msgspec.DecodeError as exc:  # ValidationError is a subclass
            raise _undecodable(frame, exc) from None
        except RecursionError:  # msgspec's answer to a frame nested thousands deep
            raise MalformedFrame("JSON nested too deeply") from None
        data = env.data
        if data is None:
            if env.e is None:
                return self._control(env)
            try:  # a raw-stream frame (ws_url ending in /ws): the payload is the frame
                data = PAYLOAD.decode(frame)
            except msgspec.DecodeError as exc:
                raise _undecodable(frame, exc) from None
            except RecursionError:
                raise MalformedFrame("JSON nested too deeply") from None
        return self._payload(data, recv_ms)

    def _payload(self, data: Payload, recv_ms: int) -> Sequence[Parsed]:
        native = data.symbol
        symbol = self._base.get(native)
        if symbol is None:
            raise UnknownFrame(f"data for an instrument not subscribed: {native!r}")
        if isinstance(data, DepthUpdate):
            return (
                BookDelta(
                    instrument=native,
                    bids=data.bids,
                    asks=data.asks,
                    seq=data.last_id,
                    prev_seq=data.prev_last_id,
                    first_seq=data.first_id,
                    ts_venue=data.tx_ms if data.tx_ms is not None else data.event_ms,
                ),
            )
        if isinstance(data, BookTicker):
            bid = data.bid_sz > 0.0
            ask = data.ask_sz > 0.0
            if (bid and data.bid_px <= 0.0) or (ask and data.ask_px <= 0.0):
                raise MalformedFrame(f"bookTicker {native}: a quantity quoted at price 0")
            return (
                Bbo(
                    venue=self.ctx.name,
                    symbol=symbol,
                    instrument=native,
                    ts_venue=data.tx_ms if data.tx_ms is not None else data.event_ms,
                    ts_recv=recv_ms,
                    bid_px=data.bid_px if bid else None,
                    bid_sz=data.bid_sz if bid else None,
                    ask_px=data.ask_px if ask else None,
                    ask_sz=data.ask_sz if ask else None,
                ),
            )
        if isinstance(data, AggTrade):
            ts = data.trade_ms if data.trade_ms is not None else data.event_ms
            return (self._trade(native, symbol, data, ts, recv_ms, "ws"),)
        mark = Mark(
            venue=self.ctx.name,
            symbol=symbol,
            instrument=native,
            ts_venue=data.event_ms,
            ts_recv=recv_ms,
            mark_px=data.mark_px,
            index_px=data.index_px or None,  # 0: no index
        )
        if data.rate is None:
            return (mark,)
        funding = self._funding(
            native, symbol, data.rate, data.next_funding_ms, data.event_ms, recv_ms, FEED_WS
        )
        return (mark, funding)

    def _trade(
        self,
        native: str,
        symbol: str,
        data: AggTrade | AggTradeRow,
        ts: int | None,
        recv_ms: int,
        source: Source,
    ) -> Trade:
        """An aggregate trade, from the stream or from `aggTrades`: one builder for both, so
        a backfilled trade cannot differ from the live one."""
        return Trade(
            venue=self.ctx.name,
            symbol=symbol,
            instrument=native,
            ts_venue=ts,
            ts_recv=recv_ms,
            price=data.price,
            size=data.size,
            # the buyer made the market, so the taker was the seller
            side="sell" if data.buyer_is_maker else "buy",
            trade_id=str(data.agg_id),
            source=source,
        )

    def _funding(
        self,
        native: str,
        symbol: str,
        rate: float,
        next_ms: int | None,
        ts_venue: int | None,
        recv_ms: int,
        feed: str,
    ) -> Funding:
        """The rate for the coming settlement at `next_ms` (`basis="predicted"`, see the
        module docstring), for one interval of the symbol's `fundingIntervalHours`."""
        interval_h = self._intervals.get(native, self._default_interval_h)
        rate_per_hour = quotient(rate, interval_h)
        if not math.isfinite(rate_per_hour):  # a huge rate over a tiny (fuzzed) interval
            raise MalformedFrame(f"funding {rate!r} per {interval_h!r} h for {native}")
        return Funding(
            venue=self.ctx.name,
            symbol=symbol,
            instrument=native,
            ts_venue=ts_venue,
            ts_recv=recv_ms,
            rate=rate,
            interval_h=interval_h,
            rate_per_hour=rate_per_hour,
            next_funding_ms=next_ms or None,  # 0 means "none scheduled"
            basis="predicted",
            source="rest" if feed == FEED_REST else "ws",
            feed=feed,
        )

    def _control(self, env: Envelope) -> Sequence[Parsed]:
        if env.result is not msgspec.UNSET:
            subscribed = isinstance(env.id, int) and env.id in self._subscriptions
            detail = f"request {env.id!r} answered, result {env.result!r}"
            return (Ack(detail, subscribed=subscribed),)
        code, msg = env.code, env.msg
        if isinstance(env.error, dict):  # Binance-style {"error": {"code", "msg"}, "id"}
            code, msg = env.error.get("code"), env.error.get("msg")
        if code is None and msg is None:
            raise UnknownFrame("a JSON object of no known kind")
        code_s = "unknown" if code is None else str(code)
        msg_s = "" if msg is None else str(msg)
        keys = None
        if isinstance(env.id, int) and not isinstance(env.id, bool):
            keys = self._subscriptions.get(env.id)
        if keys:
            # our SUBSCRIBE was refused: none of its streams will ever deliver
            return tuple(VenueNotice(code_s, msg_s, stream=k, fatal=True) for k in keys)
        return (VenueNotice(code_s, msg_s),)


def _undecodable(frame: str, exc: msgspec.DecodeError) -> ParseError:
    """Tell a broken frame from a well-formed one of a kind the adapter does not read."""
    if not isinstance(exc, msgspec.ValidationError):
        return MalformedFrame(f"invalid JSON: {exc}")
    obj = decode_json(frame)
    payload = obj.get("data", obj) if isinstance(obj, dict) else obj
    if isinstance(payload, list):
        return UnknownFrame("array payload (an all-market stream?)")
    if isinstance(payload, dict):
        kind = payload.get("e")
        if isinstance(kind, str) and kind not in KNOWN_EVENTS:
            return UnknownFrame(f"unknown event type {kind!r}")
    return MalformedFrame(str(exc))


def _convert(body: Any, typ: type[T], what: str) -> T:
    """A REST body as a typed struct; a venue error body names its code and message."""
    try:
        return msgspec.convert(body, typ, strict=False)
    except msgspec.ValidationError as exc:
        if isinstance(body, dict) and "code" in body and "msg" in body:
            raise MalformedFrame(f"{what}: venue error {body['code']}: {body['msg']}") from None
        raise MalformedFrame(f"{what}: {exc}") from None


def _base_of(native: str, quote: str, markets: Mapping[str, MarketInfo] | None) -> str:
    """`BTCUSDT` -> `BTC`; a market in another quote falls back to its `baseAsset`."""
    if native.endswith(quote) and len(native) > len(quote):
        return native[: -len(quote)]
    market = markets.get(native) if markets is not None else None
    if market is not None and market.baseAsset:
        return market.baseAsset.upper()
    return native

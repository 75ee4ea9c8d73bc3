"""Paradex perpetuals: book, BBO, trades, funding and mark over one JSON-RPC websocket.

Protocol facts this adapter relies on, each with its source. Tags:
PDX-docs = github.com/tradeparadex/paradex-docs @9b82a75 (2026-08-20);
PDX-SDK = github.com/tradeparadex/paradex-py (commit given per fact);
docs.paradex.trade = the live documentation site as indexed in late 2026.

Transport
- Public channel payloads are SBE binary frames: "As of 21 September 2026, Paradex requires
  SBE for public channel payloads", negotiated by `?sbeSchemaId=1&sbeSchemaVersion=N` on the
  websocket URL; an unsupported schema or version is refused with HTTP 400 at connect ("There
  is no silent fallback to JSON"); subscribe/unsubscribe requests, their acks and error
  responses stay JSON-RPC text frames (docs.paradex.trade/ws/general-information/
  binary-encoding-sbe, and the banner on .../introduction). This answers PROTOCOLS.md 2.1's
  UNCONFIRMED JSON-vs-SBE question: `options.encoding` defaults to "sbe" and `connections()`
  appends those two parameters to `ctx.ws_url` (unless the URL already has them); "json"
  leaves the URL alone for a venue or fake server that still speaks JSON. `parse()` decodes
  both encodings whatever the option says.
- Schema version (details and quotes in sbe.py): `options.sbe_schema_version` defaults to 2,
  the version whose TradeEvent carries the full trade id as trailing var-data `tradeIdStr`
  (PDX-SDK `paradex_py/api/sbe/paradex_1_0.xml` @b8108ae, schema 1:2, "Negotiable on nightly,
  testnet and prod"; changelog v1.165.0, 2026-09-28). The docs page still says "0 or 1. Use
  1", and ccxt asks for a version 3 no official source describes; the SDK schema is the
  newest official word, so 2 it is. Which versions production accepts is not confirmed by a
  live connect: if Paradex refuses 2, the connection's status shows "handshake refused: HTTP
  400" and `sbe_schema_version = 1` is the explicit fallback (the core gives an adapter no
  hook to renegotiate on its own).
- Trade ids: the decoder reads `tradeIdStr` whatever the frame's header version says (1:2 was
  widened in place, so the version cannot tell) and, when a frame has none (versions 0 and 1,
  or a 1:2 frame from before the field), falls back on the deprecated int64 `tradeId`, which
  holds only the low 64 bits of the 28-digit id: such trade ids are published as
  `low64:<unsigned low 64 bits>` so they are never mistaken for Paradex's own ids. They do not
  equal the JSON/REST `id` of the same trade (`sbe.low64_trade_id(id)` maps one to the other).
- SBE layouts: schema 1 in the SDK xml (see sbe.py): fixed-point int64 mantissas with
  exponent -8, microsecond timestamps, var-data (`market`, `tradeIdStr`) after the fixed
  fields. Fields appended by later versions sit at the end of the root block, so one decoder
  reads every version by jumping `blockLength`.
- Hosts: the docs name `wss://ws.api.prod.paradex.trade/v1` (PDX-docs
  fern/pages/websockets/introduction.mdx); the SDK sends public data to
  `wss://ws-public.api.prod.paradex.trade/v1` by default and keeps ws.api for its "direct"
  client (PDX-SDK paradex_py/api/ws_client.py @334a7f8, ParadexWebsocketClient.__init__). The
  default here is the SDK's public host; which host Paradex prefers for public data remains
  UNCONFIRMED (the docs never mention ws-public); set `ws_url` to the ws.api host to switch.
- JSON-RPC 2.0 `subscribe`/`unsubscribe` with `params.channel`; ack
  `{"result":{"channel":...},"id":N}`; subscribing to a channel twice is an error (PDX-docs
  fern/pages/websockets/subscription-channels.mdx). Errors `{"error":{code,message,data?},"id":N}`
  with JSON-RPC codes -32700..-32603 and Paradex codes 100, 40110-40112 (PDX-docs
  fern/pages/websockets/error-handling.mdx). Requests carry ids mapped back to their stream, so
  a rejected subscribe becomes a fatal VenueNotice for that stream.
- Keep-alive: the server sends a websocket ping every 55 s and drops the socket without a pong
  within 5 s (PDX-docs introduction.mdx); the core's websocket autoping answers, so no app-level
  ping. SBE HeartbeatEvent (template 40) arrives on idle connections (schema xml) -> Ack.
  No connection lifetime limit is documented -> no max_lifetime_s.

Channels (PDX-docs fern/apis/prod_ws/asyncapi-2.6.0.yaml unless noted)
- book `order_book.{m}.snapshot@15@{50ms|100ms}`: every message a self-contained top-15
  snapshot (update_type "s" / SBE PkgType SNAPSHOT); the SDK's default refresh is 100ms
  (PDX-SDK ws_client.subscribe @334a7f8) -> Continuity.SNAPSHOTS, the class default.
- `options.book_feed = "deltas"`: the bare `order_book.{m}.deltas` (PDX-SDK
  ParadexWebsocketChannel.ORDER_BOOK_DELTAS, e.g. @3e6cf33). The asyncapi spells it
  `...deltas@15@{rate}`, which a third-party live probe saw rejected ("no parameters expected for
  deltas topic"): the bare name stays UNCONFIRMED in the docs. First message a full snapshot,
  then deltas to apply in order, size 0 removing a level (schema xml BookEvent: "DELTA must be
  applied in order", "qty=0 means remove level"). That seq_no grows by exactly 1 per delta is
  not written in the docs (UNCONFIRMED; PROTOCOLS.md 2.2 and third-party code assume it): the
  deltas feed declares Continuity.SEQ_INCREMENT for that instance, so a skipped number triggers a
  resync rather than a silently wrong book. Recovery by unsubscribe + subscribe (a new
  subscription starts with a snapshot) is not written in the docs either (UNCONFIRMED);
  `resubscribe_messages` does exactly that.
- `bbo.{m}`: "event-driven updates only when price/size changes", no throttling (PDX-docs
  fern/pages/developer-portal/general-information/api-best-practices.mdx) -> its own BBO
  stream and `bbo_from_book` off (a book-derived BBO, throttled to 100ms, would interleave
  older values with it).
- `trades.{m}`: `side` is the taker side (TradeResult.side "Taker side"; xml "Aggressor side").
- `funding_data.{m}`: `funding_rate` is the raw rate for `funding_period_hours`
  (FundingDataResult). `markets_summary.{m}`: `mark_price` and `underlying_price` (spot index;
  the xml maps indexPrice = underlying_price) -> Mark.

REST (PDX-docs fern/apis/prod_rest/openapi/openapi.json, base https://api.prod.paradex.trade/v1)
- GET /markets -> `results[]` with symbol, base_currency, asset_kind (PERP, PERP_OPTION, ...),
  funding_period_hours: the PERP list and each market's funding period.
- GET /markets/summary?market=X -> `results[]` with mark_price, underlying_price, funding_rate,
  created_at: the funding and mark poll.

Funding (PDX-docs fern/pages/risk-system/funding-mechanism.mdx and the field descriptions above)
- Funding accrues continuously; there is no settlement countdown -> next_funding_ms is None.
- Basis: continuous funding has no settlement to predict or to have settled; every rate is
  the one accruing now (the published rate is an EWMA "quoted per period and represents the
  funding paid on 1 unit of long position over the 8h funding period", funding-mechanism.mdx)
  -> `basis="predicted"`, the core's word for "accruing now" on a continuous venue.
- Interval and unit: `funding_rate` is a fraction, "Raw funding rate for the actual funding
  period" (FundingDataResult) and, on GET /markets/summary, "the actual funding period of
  the instrument itself. It is not a normalized 8h funding rate" (MarketSummaryResp) ->
  `rate` as quoted, `interval_h` = that period. `funding_rate_8h` is not used.
- Feeds: `feed="funding_data"` (websocket, JSON or SBE) and `feed="markets/summary"` (the
  REST poll, `source="rest"`); the same quantity observed two ways.
- rate_per_hour = funding_rate / funding_period_hours. Where the frame's period is missing or 0
  (old rows, REST summaries), the market's period from GET /markets is used, else 8 h ("per funding
  period (8h by default)", funding-mechanism.mdx).
- SBE carries the funding_data rate as Rate8 (8 decimals; the xml notes the truncation), so
  websocket funding rates are rounded to 1e-8; the REST poll keeps full precision.

Gap-free trades (the core deduplicates by `trade_identity`, orders by `trade_order`)
- Identity: the trade id. TradeResult.id is "Unique Trade ID per TradeType" (openapi
  `responses.TradeResult`); the full id is a decimal string that begins with the trade's
  millisecond time (`1718154353750201703989430001`, ccxt `paradex.py` `fetch_trades`
  sample; `1718179273230201709233240002` in the websocket sample). The trade type is not
  in the event, so a FILL and a LIQUIDATION sharing an id would collide; no sample shows
  one. SBE trades must carry the same full id (changelog v1.165.0: "SBE trade events now
  carry the full trade id"; the schema's int64 `tradeId` is a truncated one): until the SBE
  decoder reads it, an SBE trade and its REST copy have different ids and are not
  recognised as one. Order: `created_at`, then the id as a number.
- Backfill: `GET /trades?market=&page_size=1000&start_at=` (openapi `trades`: page size 100
  by default and at most 1000, `start_at`/`end_at` in ms, cursor paging with `next`;
  `side` is the taker side). Rows are TradeResult, the websocket's trade fields, so they go
  through the JSON trade builder. `start_at` (inclusive) is `after`'s time, so `after`
  comes back too when the page reaches it: the proof the core needs (it drops it as
  already published); trades of that millisecond before it are dropped here. Pages come
  newest first: a page of 1000 may not reach back to `after`, and the rest is behind the
  `next` cursor, which the backfill contract cannot follow.

REST fallback while the socket is down
- `GET /orderbook/{market}?depth=20` -> `{market, seq_no, last_updated_at, bids, asks}`,
  levels `[price, size]` strings (openapi `get-orderbook`, `responses.AskBidArray`, default
  depth 20; ccxt sample). Whether `seq_no` counts like the websocket's is UNCONFIRMED
  (PROTOCOLS.md 2.2): the snapshot is a fallback, not a base for the deltas feed. The core
  takes the BBO from it (`GET /bbo/{market}` would be a second, differently timed BBO).
- `GET /markets/summary?market=` -> Mark (`mark_price`, `underlying_price`); the funding
  fields of the same body are the funding poll's.
- Interval, from the documented rate limits (docs.paradex.trade/api/general-information/
  rate-limits/api): public endpoints allow 1500 requests a minute per IP (200 a second).
  Half is left to the funding poll (1 request per market a minute at the default 60 s),
  backfills and retries; the other 750 a minute are 12.5 a second, and one poll is 2
  requests: one every 0.16 s. With N markets polled in turn, each is refreshed every
  N x 0.16 s.

Options (`[venues.paradex.options]`): `encoding` ("sbe" | "json"), `book_feed` ("snapshot" |
"deltas"), `book_refresh` ("100ms" | "50ms", the snapshot feed's cadence),
`sbe_schema_version` (2 | 1 | 0; 2 by default, see Transport).
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal
from urllib.parse import quote

import msgspec
from pydantic import field_validator

from venuefeed.core.adapter import (
    Ack,
    AdapterOptions,
    BookDelta,
    BookSnapshot,
    ConnectionSpec,
    Continuity,
    FrameKey,
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
from venuefeed.core.codec import decode_json, integer, num
from venuefeed.core.errors import (
    MalformedFrame,
    ParseError,
    UnknownFrame,
    UnknownSymbolError,
)
from venuefeed.core.events import Bbo, Funding, Level, Mark, Side, Trade
from venuefeed.core.wire import price, rate, size, trade_size
from venuefeed.plugins.paradex import sbe, wire

#: funding period assumed when neither the frame nor GET /markets gives one.
DEFAULT_FUNDING_PERIOD_H = 8.0
#: funding feed names: the websocket channel and the REST endpoint
FEED_WS = "funding_data"
FEED_REST = "markets/summary"
#: the largest page `GET /trades` serves (openapi `page_size` maximum)
TRADES_PAGE_SIZE = 1000
#: levels a side of the fallback's book: what a published book holds
FALLBACK_DEPTH = 20
#: the snapshot feed's SBE book frame (sbe.py): header with templateId 3 (BookEvent) and
#: schemaId 1, root block ts, seq (int64 LE), pkgType 0 (SNAPSHOT); the market is the
#: var-data string that ends the frame, after its length byte (never a name character)
SBE_BOOK_KEY = FrameKey(rb"..\x03\x00\x01\x00..(?:.{8})(?P<seq>.{8})\x00.*[^\w-](?P<key>[\w-]+)\Z")
#: the snapshot feed's JSON book push: the market is in the channel name, and `seq_no`
#: leads `data` (PDX-docs asyncapi example; the ccxt capture in tests/plugins/paradex)
JSON_BOOK_KEY = FrameKey(
    r'\{\s*"jsonrpc"\s*:\s*"2\.0"\s*,\s*"method"\s*:\s*"subscription"\s*,\s*"params"\s*:'
    r'\s*\{\s*"channel"\s*:\s*"order_book\.(?P<key>[^".\\]+)\.snapshot@[^"\\]*"\s*,'
    r'\s*"data"\s*:\s*\{\s*"seq_no"\s*:\s*(?P<seq>\d+)\s*[,}]'
)


class ParadexOptions(AdapterOptions):
    """`[venues.paradex.options]`."""

    #: public data is SBE binary since 2026-09-21; "json" for the legacy socket
    encoding: Literal["sbe", "json"] = "sbe"
    #: "snapshot": full top-15 every push; "deltas": snapshot + seq_no deltas
    book_feed: Literal["snapshot", "deltas"] = "snapshot"
    #: snapshot cadence
    book_refresh: Literal["100ms", "50ms"] = "100ms"
    #: 2 carries the full trade id (`tradeIdStr`); 1 and 0 for a server that refuses 2
    sbe_schema_version: Literal[2, 1, 0] = 2

    @field_validator("sbe_schema_version", mode="before")
    @classmethod
    def _not_a_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):  # `true` is not a schema version
            raise ValueError("expected 2, 1 or 0")
        return value


_JSON_SIDES: dict[str, Side] = {"BUY": "buy", "SELL": "sell"}
#: first bytes of a JSON text frame that arrived as bytes.
_JSON_START = (b"{", b" ", b"\n", b"\r", b"\t")
#: what malformed data raises inside the parsers; translated to MalformedFrame once.
_DATA_ERRORS = (
    KeyError,
    TypeError,
    IndexError,
    ValueError,
    AttributeError,
    OverflowError,
    ZeroDivisionError,
    struct.error,
)

_Handler = Callable[[Any, int], Sequence[Parsed]]
_SbeHandler = Callable[[bytes, int, int], Sequence[Parsed]]


@dataclass(frozen=True, slots=True)
class _Market:
    base: str
    funding_period_h: float | None


class ParadexAdapter(VenueAdapter):
    """Paradex perpetuals (Starknet appchain), public market data only."""

    name: ClassVar[str] = "paradex"
    default_ws_url: ClassVar[str] = "wss://ws-public.api.prod.paradex.trade/v1"
    default_rest_url: ClassVar[str] = "https://api.prod.paradex.trade/v1"
    heartbeat: ClassVar[Heartbeat] = Heartbeat(ping=None)
    continuity = Continuity.SNAPSHOTS
    resync = Resync.RESUBSCRIBE
    bbo_from_book: ClassVar[bool] = False
    simulator: ClassVar[str | None] = "venuefeed.plugins.paradex.sim:ParadexSim"
    Options: ClassVar[type[AdapterOptions]] = ParadexOptions
    #: 1500 public requests a minute per IP, half for the fallback, two requests (book and
    #: summary) an instrument: one poll every 0.16 s (see the docstring)
    fallback_min_interval_s: ClassVar[float] = 0.16

    def __init__(self, ctx: VenueContext) -> None:
        super().__init__(ctx)
        options = ParadexOptions.of(ctx)
        self.encoding: str = options.encoding
        self.book_feed: str = options.book_feed
        self.book_refresh: str = options.book_refresh
        self.sbe_version: int = options.sbe_schema_version
        if self.book_feed == "deltas":
            # the deltas feed chains seq_no; the default snapshot feed has nothing to chain
            self.continuity = Continuity.SEQ_INCREMENT
        self._venue = ctx.name
        self._markets: dict[str, _Market] = {}
        self._lookup: dict[str, str] = {}  # upper-case base or market id -> market id
        #: market id -> base of the markets the core asked for (`resolve`, `connections`,
        #: `poll_requests`). A frame about any other market is an UnknownFrame: nothing is
        #: remembered for it, so junk frames cannot grow this map.
        self._streamed: dict[str, str] = {}
        self._requests: dict[int, tuple[str, bool]] = {}  # request id -> (stream key, subscribe)
        self._resubscribe_ids: dict[str, tuple[int, int]] = {}
        self._next_id = 1
        self._polled: frozenset[str] = frozenset()
        self._json_handlers: dict[str, _Handler] = {
            "order_book": self._json_book,
            "bbo": self._json_bbo,
            "trades": self._json_trade,
            "funding_data": self._json_funding,
            "markets_summary": self._json_mark,
        }
        self._sbe_handlers: dict[int, _SbeHandler] = {
            sbe.TRADE: self._sbe_trade,
            sbe.BBO: self._sbe_bbo,
            sbe.BOOK: self._sbe_book,
            sbe.SUMMARY: self._sbe_mark,
            sbe.FUNDING: self._sbe_funding,
            sbe.HEARTBEAT: _sbe_heartbeat,
            sbe.SUBSCRIBED: _sbe_subscribed,
        }

    # -- start-up --------------------------------------------------------------------------

    def init_requests(self) -> Sequence[RestRequest]:
        return (RestRequest(name="markets", path="/markets", parse=self._parse_markets),)

    def _parse_markets(self, body: Any, recv_ms: int) -> Sequence[Parsed]:
        """Keep the PERP markets and their funding periods (options and spot are ignored)."""
        markets: dict[str, _Market] = {}
        try:
            for row in body["results"]:
                if row.get("asset_kind") != "PERP":
                    continue
                symbol = _text(row["symbol"], "symbol")
                base = row.get("base_currency") or symbol.split("-", 1)[0]
                period = row.get("funding_period_hours")
                hours = num(period, "funding_period_hours") if period not in (None, "") else 0.0
                markets[symbol] = _Market(
                    _text(base, "base_currency"), hours if hours > 0 else None
                )
        except _DATA_ERRORS as exc:
            raise MalformedFrame(f"GET /markets: {_describe(exc)}") from None
        if not markets:
            raise MalformedFrame("GET /markets: no PERP market listed")
        lookup: dict[str, str] = {}
        for symbol, market in markets.items():
            lookup[symbol.upper()] = symbol
            key = market.base.upper()
            # Several PERPs may share a base; the USD-quoted one is what "BTC" means.
            if key not in lookup or symbol == f"{market.base}-USD-PERP":
                lookup[key] = symbol
        self._markets = markets
        self._lookup = lookup
        return ()

    def resolve(self, symbol: str) -> Instrument:
        found = self._find(symbol)
        self._streamed[found.instrument] = found.symbol
        return found

    def _find(self, symbol: str) -> Instrument:
        wanted = symbol.strip()
        market_id = self._lookup.get(wanted.upper())
        if market_id is not None:
            return Instrument(symbol=self._markets[market_id].base, instrument=market_id)
        if not self._markets and wanted:
            # Before GET /markets has run, fall back on Paradex's naming: BASE-USD-PERP.
            if wanted.upper().endswith("-PERP"):
                return Instrument(symbol=wanted.split("-", 1)[0], instrument=wanted)
            return Instrument(symbol=wanted, instrument=f"{wanted}-USD-PERP")
        known = sorted({m.base for m in self._markets.values()})
        raise UnknownSymbolError(self._venue, symbol, known)

    def connections(self, instruments: Sequence[Instrument]) -> Sequence[ConnectionSpec]:
        streams: list[StreamSpec] = []
        subscribe: list[dict[str, Any]] = []
        self._streamed.update((i.instrument, i.symbol) for i in instruments)
        for inst in instruments:
            market = inst.instrument
            channels: tuple[tuple[StreamKind, str, bool], ...] = (
                ("book", self.book_channel(market), False),
                # Quiet: BBO is sent only on change, trades only on fills, funding and mark
                # at an undocumented cadence (both also arrive by the REST poll).
                ("bbo", f"bbo.{market}", True),
                ("trade", f"trades.{market}", True),
                ("funding", f"funding_data.{market}", True),
                ("mark", f"markets_summary.{market}", True),
            )
            for kind, channel, quiet in channels:
                spec = StreamSpec(kind=kind, instrument=market, quiet=quiet)
                streams.append(spec)
                subscribe.append(self._rpc("subscribe", channel, self._new_id(spec.key, True)))
        return (
            ConnectionSpec(
                name="main",
                url=self.ws_url(),
                streams=tuple(streams),
                subscribe=tuple(subscribe),
                # JSON-RPC: every subscribe gets a result or an error [PDX-docs asyncapi]
                acks_expected=len(subscribe),
                snapshot_key=self.snapshot_key(),
            ),
        )

    def snapshot_key(self) -> FrameKey | None:
        """The snapshot feed's book frames, keyed by market, with their `seq_no` (see
        `SBE_BOOK_KEY`, `JSON_BOOK_KEY`); the deltas feed has none: no frame of it may be
        skipped."""
        if self.book_feed != "snapshot":
            return None
        return SBE_BOOK_KEY if self.encoding == "sbe" else JSON_BOOK_KEY

    def ws_url(self) -> str:
        """`ctx.ws_url`, with the SBE negotiation parameters when SBE is on."""
        url = self.ctx.ws_url
        if self.encoding != "sbe" or "sbeSchemaId=" in url:
            return url
        sep = "&" if "?" in url else "?"
        return f"{url}{sep}sbeSchemaId={sbe.SCHEMA_ID}&sbeSchemaVersion={self.sbe_version}"

    def book_channel(self, market: str) -> str:
        if self.book_feed == "deltas":
            return f"order_book.{market}.deltas"
        return f"order_book.{market}.snapshot@15@{self.book_refresh}"

    def resubscribe_messages(self, instrument: str) -> Sequence[Any]:
        """Unsubscribe then subscribe the book: a new subscription starts with a snapshot."""
        ids = self._resubscribe_ids.get(instrument)
        if ids is None:
            key = StreamSpec(kind="book", instrument=instrument).key
            ids = (self._new_id(key, False), self._new_id(key, True))
            self._resubscribe_ids[instrument] = ids
        channel = self.book_channel(instrument)
        return (self._rpc("unsubscribe", channel, ids[0]), self._rpc("subscribe", channel, ids[1]))

    def _new_id(self, stream_key: str, subscribe: bool) -> int:
        request_id = self._next_id
        self._next_id += 1
        self._requests[request_id] = (stream_key, subscribe)
        return request_id

    @staticmethod
    def _rpc(method: str, channel: str, request_id: int) -> dict[str, Any]:
        return {
            "jsonrpc": "2.0",
            "method": method,
            "params": {"channel": channel},
            "id": request_id,
        }

    # -- REST poll -------------------------------------------------------------------------

    def poll_requests(self, instruments: Sequence[Instrument]) -> Sequence[RestRequest]:
        self._polled = frozenset(inst.instrument for inst in instruments)
        self._streamed.update((i.instrument, i.symbol) for i in instruments)
        return tuple(
            RestRequest(
                name=f"summary:{inst.instrument}",
                path="/markets/summary",
                params={"market": inst.instrument},
                parse=self._parse_summary,
            )
            for inst in instruments
        )

    def _parse_summary(self, body: Any, recv_ms: int) -> Sequence[Parsed]:
        out: list[Parsed] = []
        try:
            for row in body["results"]:
                market = _text(row["symbol"], "symbol")
                if market not in self._polled:
                    continue  # the body may list other markets: they are not ours
                base = self._streamed[market]
                ts = integer(row["created_at"], "created_at")
                value = rate(row["funding_rate"], "funding_rate")
                period = self._funding_period(market, None)
                hourly = wire.rate_per_hour(value, period, market)
                out.append(
                    Funding(
                        venue=self._venue,
                        symbol=base,
                        instrument=market,
                        ts_venue=ts,
                        ts_recv=recv_ms,
                        rate=value,
                        interval_h=period,
                        rate_per_hour=hourly,
                        basis="predicted",
                        source="rest",
                        feed=FEED_REST,
                    )
                )
                out.append(
                    Mark(
                        venue=self._venue,
                        symbol=base,
                        instrument=market,
                        ts_venue=ts,
                        ts_recv=recv_ms,
                        mark_px=price(row["mark_price"], "mark_price"),
                        index_px=wire.index_price(
                            wire.json_number(row.get("underlying_price"), "underlying_price")
                        ),
                    )
                )
        except _DATA_ERRORS as exc:
            raise MalformedFrame(f"GET /markets/summary: {_describe(exc)}") from None
        return out

    # -- gap-free trades and REST fallback -------------------------------------------------

    def trade_identity(self, trade: Trade) -> Hashable:
        """The full trade id (see the docstring)."""
        return trade.trade_id

    def recent_trades_request(self, instrument: str, after: Trade | None) -> RestRequest:
        """`GET /trades` of one market from `after`'s time on (inclusive), one page of
        `TRADES_PAGE_SIZE`, newest first; without `after`, the latest page."""
        params = {"market": instrument, "page_size": str(TRADES_PAGE_SIZE)}
        if after is not None and after.ts_venue is not None:
            params["start_at"] = str(after.ts_venue)
        return RestRequest(
            name=f"trades:{instrument}",
            path="/trades",
            params=params,
            parse=functools.partial(self._parse_trades, instrument, after),
        )

    def _parse_trades(
        self, market: str, after: Trade | None, body: Any, recv_ms: int
    ) -> Sequence[Parsed]:
        trades: list[Trade] = []
        try:
            for row in body["results"]:
                if row["market"] != market:
                    raise MalformedFrame(f"GET /trades {market}: a trade of {row['market']!r}")
                # the websocket's JSON trade builder: TradeResult has its fields
                for item in self._json_trade(row, recv_ms):
                    if isinstance(item, Trade):
                        trades.append(msgspec.structs.replace(item, source="rest"))
        except _DATA_ERRORS as exc:
            raise MalformedFrame(f"GET /trades {market}: {_describe(exc)}") from None
        return self.trades_from(trades, after)  # newest first on the wire

    def fallback_requests(self, instrument: str) -> Sequence[RestRequest]:
        """The book (`GET /orderbook/{market}`, top 20) and the mark (`GET /markets/summary`)."""
        return (
            RestRequest(
                name=f"orderbook:{instrument}",
                path=f"/orderbook/{quote(instrument, safe='')}",
                params={"depth": str(FALLBACK_DEPTH)},
                parse=functools.partial(self._parse_orderbook, instrument),
            ),
            RestRequest(
                name=f"summary:{instrument}:mark",
                path="/markets/summary",
                params={"market": instrument},
                parse=functools.partial(self._parse_summary_mark, instrument),
            ),
        )

    def _parse_orderbook(self, market: str, body: Any, recv_ms: int) -> Sequence[Parsed]:
        what = f"GET /orderbook/{market}"
        try:
            if body["market"] != market:
                raise MalformedFrame(f"{what}: the book of {body['market']!r}")
            bids = [_rest_level(row, what) for row in body["bids"]]
            asks = [_rest_level(row, what) for row in body["asks"]]
            seq = body.get("seq_no")
            ts = body.get("last_updated_at")
            return (
                BookSnapshot(
                    instrument=market,
                    bids=bids,
                    asks=asks,
                    seq=None if seq is None else integer(seq, "seq_no"),
                    ts_venue=None if ts is None else integer(ts, "last_updated_at"),
                    from_rest=True,
                ),
            )
        except _DATA_ERRORS as exc:
            raise MalformedFrame(f"{what}: {_describe(exc)}") from None

    def _parse_summary_mark(self, market: str, body: Any, recv_ms: int) -> Sequence[Parsed]:
        """The mark and underlying price of one summary; its funding fields are left to
        the funding poll, which reads the same endpoint."""
        what = f"GET /markets/summary {market}"
        try:
            rows = [row for row in body["results"] if row["symbol"] == market]
            if len(rows) != 1:
                raise MalformedFrame(f"{what}: {len(rows)} summaries of the market")
            (row,) = rows
            return (
                Mark(
                    venue=self._venue,
                    symbol=self._symbol(market),
                    instrument=market,
                    ts_venue=integer(row["created_at"], "created_at"),
                    ts_recv=recv_ms,
                    mark_px=price(row["mark_price"], "mark_price"),
                    index_px=wire.index_price(
                        wire.json_number(row.get("underlying_price"), "underlying_price")
                    ),
                    source="rest",
                ),
            )
        except _DATA_ERRORS as exc:
            raise MalformedFrame(f"{what}: {_describe(exc)}") from None

    # -- websocket frames ------------------------------------------------------------------

    def parse(self, frame: str | bytes, recv_ms: int) -> Sequence[Parsed]:
        try:
            if isinstance(frame, str):
                return self._parse_json(decode_json(frame), recv_ms)
            if sbe.is_sbe(frame) or frame[:1] not in _JSON_START:
                return self._parse_sbe(frame, recv_ms)
            return self._parse_json(decode_json(frame), recv_ms)
        except ParseError:
            raise
        except _DATA_ERRORS as exc:
            raise MalformedFrame(_describe(exc)) from None

    def _parse_json(self, msg: Any, recv_ms: int) -> Sequence[Parsed]:
        if not isinstance(msg, dict):
            raise MalformedFrame(f"expected a JSON object, got {type(msg).__name__}")
        method = msg.get("method")
        if method == "subscription":
            params = msg["params"]
            channel = _text(params["channel"], "channel")
            handler = self._json_handlers.get(channel.split(".", 1)[0])
            if handler is None:
                raise UnknownFrame(f"channel {channel!r}")
            return handler(params["data"], recv_ms)
        if "error" in msg:
            return (self._notice(msg),)
        if "result" in msg:
            result = msg["result"]
            acked = result.get("channel") if isinstance(result, dict) else None
            request = self._request(msg.get("id"))
            subscribed = request is not None and request[1]
            verb = "unsubscribed" if request is not None and not request[1] else "subscribed"
            detail = f"{verb} {acked}" if acked else f"result id={msg.get('id')}"
            return (Ack(detail, subscribed=subscribed),)
        raise UnknownFrame(f"JSON frame with method {method!r}")

    def _notice(self, msg: dict[str, Any]) -> VenueNotice:
        error = msg["error"]
        code = error["code"]
        if isinstance(code, bool) or not isinstance(code, int | str):
            raise MalformedFrame(f"error code {code!r}")
        message = str(error.get("message", ""))
        detail = error.get("data")
        if detail:
            message = f"{message}: {detail}"
        request = self._request(msg.get("id"))
        if request is None:
            return VenueNotice(code=str(code), message=message)
        stream, subscribe = request
        return VenueNotice(code=str(code), message=message, stream=stream, fatal=subscribe)

    def _request(self, request_id: Any) -> tuple[str, bool] | None:
        if isinstance(request_id, int) and not isinstance(request_id, bool):
            return self._requests.get(request_id)
        return None

    def _json_book(self, data: Any, recv_ms: int) -> Sequence[Parsed]:
        market = _text(data["market"], "market")
        bids: list[Level] = []
        asks: list[Level] = []
        for key in ("inserts", "updates", "deletes"):
            removes = key == "deletes"
            for row in data[key]:
                px = price(row["price"], "level price")
                level = (px, 0.0 if removes else size(row["size"], "size"))
                side = row["side"]
                if side == "BUY":
                    bids.append(level)
                elif side == "SELL":
                    asks.append(level)
                else:
                    raise MalformedFrame(f"book level side {side!r}")
        seq = integer(data["seq_no"], "seq_no")
        ts = integer(data["last_updated_at"], "last_updated_at")
        update_type = data["update_type"]
        if update_type not in ("s", "d"):
            raise MalformedFrame(f"book update_type {update_type!r}")
        self._symbol(market)
        if update_type == "s":
            return (BookSnapshot(instrument=market, bids=bids, asks=asks, seq=seq, ts_venue=ts),)
        return (BookDelta(instrument=market, bids=bids, asks=asks, seq=seq, ts_venue=ts),)

    def _json_bbo(self, data: Any, recv_ms: int) -> Sequence[Parsed]:
        market = _text(data["market"], "market")
        bid_px, bid_sz = wire.bbo_side(
            wire.json_number(data.get("bid"), "bid"),
            wire.json_number(data.get("bid_size"), "bid_size"),
            "bid",
        )
        ask_px, ask_sz = wire.bbo_side(
            wire.json_number(data.get("ask"), "ask"),
            wire.json_number(data.get("ask_size"), "ask_size"),
            "ask",
        )
        return (
            Bbo(
                venue=self._venue,
                instrument=market,
                ts_venue=integer(data["last_updated_at"], "last_updated_at"),
                ts_recv=recv_ms,
                bid_px=bid_px,
                bid_sz=bid_sz,
                ask_px=ask_px,
                ask_sz=ask_sz,
                symbol=self._symbol(market),
            ),
        )

    def _json_trade(self, data: Any, recv_ms: int) -> Sequence[Parsed]:
        market = _text(data["market"], "market")
        side = _JSON_SIDES.get(data["side"])
        if side is None:
            raise MalformedFrame(f"trade side {data['side']!r}")
        trade_id = data["id"]
        if isinstance(trade_id, bool) or not isinstance(trade_id, str | int) or trade_id == "":
            raise MalformedFrame(f"trade id {trade_id!r}")
        return (
            Trade(
                venue=self._venue,
                instrument=market,
                ts_venue=integer(data["created_at"], "created_at"),
                ts_recv=recv_ms,
                price=price(data["price"], "trade price"),
                size=trade_size(data["size"], "trade size"),
                side=side,
                trade_id=str(trade_id),
                symbol=self._symbol(market),
            ),
        )

    def _json_funding(self, data: Any, recv_ms: int) -> Sequence[Parsed]:
        market = _text(data["market"], "market")
        value = rate(data["funding_rate"], "funding_rate")
        period = data.get("funding_period_hours")
        hours = None if period in (None, "") else num(period, "funding_period_hours")
        interval = self._funding_period(market, hours)
        return (
            Funding(
                venue=self._venue,
                instrument=market,
                ts_venue=integer(data["created_at"], "created_at"),
                ts_recv=recv_ms,
                rate=value,
                interval_h=interval,
                rate_per_hour=wire.rate_per_hour(value, interval, market),
                basis="predicted",
                feed=FEED_WS,
                symbol=self._symbol(market),
            ),
        )

    def _json_mark(self, data: Any, recv_ms: int) -> Sequence[Parsed]:
        market = _text(data["symbol"], "symbol")
        return (
            Mark(
                venue=self._venue,
                instrument=market,
                ts_venue=integer(data["created_at"], "created_at"),
                ts_recv=recv_ms,
                mark_px=price(data["mark_price"], "mark_price"),
                index_px=wire.index_price(
                    wire.json_number(data.get("underlying_price"), "underlying_price")
                ),
                symbol=self._symbol(market),
            ),
        )

    def _parse_sbe(self, buf: bytes, recv_ms: int) -> Sequence[Parsed]:
        block, template, schema, _version = sbe.HEADER.unpack_from(buf, 0)
        if schema != sbe.SCHEMA_ID:
            raise MalformedFrame(f"SBE schema id {schema}, expected {sbe.SCHEMA_ID}")
        handler = self._sbe_handlers.get(template)
        if handler is None:
            # Other public templates (funding_rate_comparison) and private ones are never
            # subscribed here; the schema says unknown templates are to be skipped.
            raise UnknownFrame(f"SBE template {template}")
        if block < sbe.MIN_BLOCK[template]:
            raise MalformedFrame(f"SBE template {template} with a {block}-byte block")
        if len(buf) < sbe.HEADER_SIZE + block:
            raise MalformedFrame(f"SBE template {template} truncated at {len(buf)} bytes")
        return handler(buf, block, recv_ms)

    def _sbe_trade(self, buf: bytes, block: int, recv_ms: int) -> Sequence[Parsed]:
        _ts, _seq, low64, side_code, price_m, size_m, created, _kind = sbe.TRADE_BLOCK.unpack_from(
            buf, sbe.HEADER_SIZE
        )
        name, pos = sbe.read_string(buf, sbe.HEADER_SIZE + block)
        market = wire.market(name)
        # 1:2 appends the full id after `market`; a frame without it (an older version, or
        # a 1:2 frame from before the field) only has the deprecated int64's low 64 bits.
        full_id, _ = sbe.read_optional_string(buf, pos)
        trade_id = full_id or sbe.truncated_trade_id(low64)
        side = sbe.SIDES.get(side_code)
        if side is None:
            raise MalformedFrame(f"SBE trade side {side_code}")
        return (
            Trade(
                venue=self._venue,
                instrument=market,
                ts_venue=created // 1000,
                ts_recv=recv_ms,
                price=price(price_m / sbe.SCALE, "trade price"),
                size=trade_size(size_m / sbe.SCALE, "trade size"),
                side=side,
                trade_id=trade_id,
                symbol=self._symbol(market),
            ),
        )

    def _sbe_bbo(self, buf: bytes, block: int, recv_ms: int) -> Sequence[Parsed]:
        ts, _seq, bid_px, bid_sz, ask_px, ask_sz = sbe.BBO_BLOCK.unpack_from(buf, sbe.HEADER_SIZE)
        market = wire.market(sbe.read_string(buf, sbe.HEADER_SIZE + block)[0])
        bid = wire.bbo_side(sbe.opt(bid_px), sbe.opt(bid_sz), "bid")
        ask = wire.bbo_side(sbe.opt(ask_px), sbe.opt(ask_sz), "ask")
        return (
            Bbo(
                venue=self._venue,
                instrument=market,
                ts_venue=ts // 1000,
                ts_recv=recv_ms,
                bid_px=bid[0],
                bid_sz=bid[1],
                ask_px=ask[0],
                ask_sz=ask[1],
                symbol=self._symbol(market),
            ),
        )

    def _sbe_book(self, buf: bytes, block: int, recv_ms: int) -> Sequence[Parsed]:
        ts, seq, pkg_type = sbe.BOOK_BLOCK.unpack_from(buf, sbe.HEADER_SIZE)
        bids, pos = sbe.read_levels(buf, sbe.HEADER_SIZE + block)
        asks, pos = sbe.read_levels(buf, pos)
        market = wire.market(sbe.read_string(buf, pos)[0])
        wire.levels(bids, "bid")
        wire.levels(asks, "ask")
        if pkg_type not in (sbe.PKG_SNAPSHOT, sbe.PKG_DELTA):
            raise MalformedFrame(f"SBE book package type {pkg_type}")
        self._symbol(market)
        if pkg_type == sbe.PKG_SNAPSHOT:
            return (
                BookSnapshot(instrument=market, bids=bids, asks=asks, seq=seq, ts_venue=ts // 1000),
            )
        return (BookDelta(instrument=market, bids=bids, asks=asks, seq=seq, ts_venue=ts // 1000),)

    def _sbe_mark(self, buf: bytes, block: int, recv_ms: int) -> Sequence[Parsed]:
        ts, _seq, mark_px, index_px = sbe.SUMMARY_BLOCK.unpack_from(buf, sbe.HEADER_SIZE)
        market = wire.market(sbe.read_string(buf, sbe.HEADER_SIZE + block)[0])
        if mark_px == sbe.NULL:
            raise MalformedFrame("SBE market summary without a mark price")
        return (
            Mark(
                venue=self._venue,
                instrument=market,
                ts_venue=ts // 1000,
                ts_recv=recv_ms,
                mark_px=price(mark_px / sbe.SCALE, "mark price"),
                index_px=wire.index_price(sbe.opt(index_px)),
                symbol=self._symbol(market),
            ),
        )

    def _sbe_funding(self, buf: bytes, block: int, recv_ms: int) -> Sequence[Parsed]:
        _ts, _seq, rate_m, _index, created, _premium, _rate8h, hours = (
            sbe.FUNDING_BLOCK.unpack_from(buf, sbe.HEADER_SIZE)
        )
        market = wire.market(sbe.read_string(buf, sbe.HEADER_SIZE + block)[0])
        if rate_m == sbe.NULL:
            raise MalformedFrame("SBE funding data without a rate")
        value = rate_m / sbe.SCALE
        interval = self._funding_period(market, float(hours))
        return (
            Funding(
                venue=self._venue,
                instrument=market,
                ts_venue=created // 1000,
                ts_recv=recv_ms,
                rate=value,
                interval_h=interval,
                rate_per_hour=wire.rate_per_hour(value, interval, market),
                basis="predicted",
                feed=FEED_WS,
                symbol=self._symbol(market),
            ),
        )

    # -- helpers ---------------------------------------------------------------------------

    def _symbol(self, market: str) -> str:
        """The base of a market the core asked for; any other is an UnknownFrame.

        Handlers call it after reading the frame's values (last among an event's fields),
        so a malformed frame is a MalformedFrame whatever market it names."""
        symbol = self._streamed.get(market)
        if symbol is None:
            raise UnknownFrame(f"data for a market not subscribed: {market!r}")
        return symbol

    def _funding_period(self, market: str, hours: float | None) -> float:
        """The frame's period if it has a usable one, else the market's, else the default."""
        if hours is not None and hours > 0:
            return hours
        known = self._markets.get(market)
        if known is not None and known.funding_period_h is not None:
            return known.funding_period_h
        return DEFAULT_FUNDING_PERIOD_H


def _sbe_heartbeat(buf: bytes, block: int, recv_ms: int) -> Sequence[Parsed]:
    """Sent every 20 s on an idle connection: proof of life, not market data."""
    return (Ack("sbe heartbeat"),)


def _sbe_subscribed(buf: bytes, block: int, recv_ms: int) -> Sequence[Parsed]:
    """Reserved binary ack (acks are JSON today); harmless if it ever arrives."""
    return (Ack("sbe subscribed"),)


def _rest_level(row: Any, what: str) -> Level:
    """`[price, size]` of a REST book side, both decimal strings."""
    px, sz = row
    return price(px, f"{what} price"), size(sz, f"{what} size")


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise MalformedFrame(f"{what}: expected a non-empty string, got {value!r}")
    return value


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"

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
  i}], seq}` (SDK `x10/models/trade.py` PublicTradeModel). `S` is taken as the taker's
  side, as on other public trade tapes; the SDK only types it as an OrderSide, so this is
  UNCONFIRMED. DELEVERAGE prints are position transfers at the bankruptcy price, not
  market trades, and are skipped unless `options.include_deleverage` is true.
- Funding: `{ts, data: {m, T, f}, seq}` (SDK `x10/models/funding_rate.py`). Funding is
  charged every hour and `f` / REST `fundingRate` is the hourly rate as a fraction
  (docs.extended.exchange/extended-resources/trading/funding-payments: "funding payments
  are charged every hour"; ccxt `fetch_markets` sample `"fundingRate": "0.000012"`), so
  `rate_per_hour == rate`, `interval_h == 1`. The WS frame has no next funding time; it is
  taken as the next full hour after `T`, matching REST `nextFundingRate`, which despite
  its name is a millisecond timestamp on the hour (SDK `x10/perpetual/markets.py`
  `next_funding_rate: int`; ccxt samples).
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

Options (`[venues.extended.options]`): `user_agent` (str), `streams` (subset of "book",
"trade", "funding", "mark"; default all), `include_deleverage` (bool, default false).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Annotated, Any, ClassVar
from urllib.parse import quote

from pydantic import Field, StringConstraints, field_validator

from venuefeed import __version__
from venuefeed.core.adapter import (
    AdapterOptions,
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
)
from venuefeed.core.errors import UnknownSymbolError
from venuefeed.plugins.extended.parse import FrameParser, parse_markets, parse_stats

#: stream kind -> (v1 path segment, quiet). Trades can pause for minutes on a calm
#: market; funding and mark cadences are not documented, and both are also polled over
#: REST, so a silent socket there is no reason to recycle it.
_STREAMS: dict[StreamKind, tuple[str, bool]] = {
    "book": ("orderbooks", False),
    "trade": ("publicTrades", True),
    "funding": ("funding", True),
    "mark": ("prices/mark", True),
}


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

    def __init__(self, ctx: VenueContext) -> None:
        super().__init__(ctx)
        options = ExtendedOptions.of(ctx)
        self._headers: Mapping[str, str] = {"User-Agent": options.user_agent}
        self._kinds: tuple[StreamKind, ...] = tuple(options.streams)
        include_deleverage = options.include_deleverage
        #: market name -> base asset, for every market the venue lists.
        self._bases: dict[str, str] = {}
        #: base asset -> market name, preferring active USD markets.
        self._by_base: dict[str, str] = {}
        self._parser = FrameParser(ctx.name, self._bases, include_deleverage=include_deleverage)

    # ------------------------------------------------------------------ start-up

    def init_requests(self) -> Sequence[RestRequest]:
        return (RestRequest(name="markets", path="/info/markets", parse=self._parse_markets),)

    def _parse_markets(self, body: Any, recv_ms: int) -> Sequence[Parsed]:
        markets = parse_markets(body)
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
                return Instrument(symbol=self._bases[candidate], instrument=candidate)
            market = self._by_base.get(candidate)
            if market is not None:
                return Instrument(symbol=candidate, instrument=market)
        raise UnknownSymbolError(self.ctx.name, symbol, sorted(self._by_base))

    def connections(self, instruments: Sequence[Instrument]) -> Sequence[ConnectionSpec]:
        base = self.ctx.ws_url.rstrip("/")
        specs: list[ConnectionSpec] = []
        for inst in instruments:
            market = inst.instrument
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
        return self._parser.parse(frame, recv_ms)

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
        return parse_stats(
            body,
            venue=self.ctx.name,
            symbol=inst.symbol,
            instrument=inst.instrument,
            recv_ms=recv_ms,
        )

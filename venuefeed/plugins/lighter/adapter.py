"""Lighter (zkLighter) perpetuals: order book, BBO, trades, funding and mark price.

Protocol facts this adapter relies on, each with its source. "asyncapi" is
elliottech/lighter-python `asyncapi.json` @b0f62b0, which says it mirrors
https://apidocs.lighter.xyz/docs/websocket-reference; "SDK" is elliottech/lighter-python;
"TS client" is elliottech/lighter-ts (Lighter's own front-end library).

Connection
- Mainnet `wss://mainnet.zklighter.elliot.ai/stream`; `?readonly=true` gives read-only
  access from restricted regions (apidocs.lighter.xyz/docs/websocket-reference; asyncapi
  `servers.mainnet`). The query string belongs in venues.toml, not here: the URL always
  comes from `ctx.ws_url`.
- The server greets with `{"type":"connected","session_id":...}` (asyncapi `Connected`;
  TS client `src/lighter-ws/types/WsMessage.ts`). Subscribing straight after the handshake
  is fine: the official market-data guide subscribes in `onopen`
  (apidocs.lighter.xyz/docs/market-data).
- Subscribe `{"type":"subscribe","channel":"order_book/0"}` with `/`; unsubscribe likewise
  (asyncapi `SubscribeRequest`, `UnsubscribeRequest`; SDK `lighter/ws_client.py`).
  Frames name the channel with `:` (`"order_book:0"`): the SDK splits on `:`
  (`ws_client.handle_subscribed_order_book`). This parser accepts either separator.
- Keep-alive: the venue drops a socket idle for 2 minutes; an application
  `{"type":"ping"}` (answered `{"type":"pong"}`) or a websocket ping resets it (asyncapi
  `Ping`; the market-data guide pings every 60 s; the SDK every 30 s,
  `ws_client.ping_interval`). The server also pings; the SDK answers `{"type":"pong"}`
  (`ws_client.on_message`).
- `{"type":"shutdown","close_in_ms":N}` announces a server-side close (SDK 1.1.8
  `ws_client.handle_shutdown`, per PROTOCOLS.md 3.3); it is acknowledged and the core
  reconnects when the socket closes.
- Errors arrive as `{"error":{"code":30005,"message":"Invalid Channel: ..."}}` with no
  `type` (TS client `WsErrorMessage`) or as `{"type":"error","code","message"}` (asyncapi
  `ServerError`). Codes 30002 "Not Subscribed", 30003 "Already Subscribed" (harmless) and
  30005 "Invalid Channel" come from ccxt `pro/lighter.py handle_error_message` samples;
  only 30005 is treated as a rejected subscription. Errors carry no request id, so the
  stream is recovered from the channel named in the message when there is one.

Streams (one subscription per market and channel; ids from GET /api/v1/orderBooks)
- `order_book/{id}`: `subscribed/order_book` is a full snapshot, `update/order_book`
  changed levels (asyncapi `OrderBookSubscribed`/`OrderBookUpdate`; market-data guide).
  Sizes are absolute; size 0 removes the level (SDK `ws_client.update_orders`).
  `order_book.nonce` and `order_book.begin_nonce` are fields of the official schema
  (SDK `lighter/models/order_book_depth_with_begin_nonce.py`); that an update's
  `begin_nonce` equals the previous message's `nonce` comes from NautilusTrader
  (`crates/adapters/lighter/src/websocket/handler.rs`) and independent third-party
  recorders. UNCONFIRMED: no official sentence states the rule. The adapter declares
  PREV_LINK with `seq=nonce, prev_seq=begin_nonce`, so a broken chain triggers a
  resubscribe rather than a silently wrong book. Older frames without those fields (old
  doc example, ccxt's 2025-11 sample) still parse: `seq`/`prev_seq` are then None and
  the core cannot check continuity for them. The meaning of `offset` is undocumented and
  it is not used.
- Resync is RESUBSCRIBE: unsubscribe + subscribe yields a fresh `subscribed/order_book`
  (the SDK and ccxt rebuild the book from that snapshot; there is no REST depth endpoint
  with a nonce to bridge from).
- `ticker/{id}`: `update/ticker` (and `subscribed/ticker`, asyncapi) with
  `ticker.a`/`ticker.b` = `{price,size}` best ask/bid -> `Bbo`. Because Lighter has its
  own BBO stream, `bbo_from_book` is off so consumers see one BBO source.
- `trade/{id}`: `update/trade` with `trades[]` (asyncapi `Trade`: `is_maker_ask` boolean,
  `timestamp` ms, decimal-string `price`/`size`). `is_maker_ask` true means the resting
  order was the ask, so the taker bought. `liquidation_trades[]` are emitted too (deduped
  by `trade_id` within the frame). `subscribed/trade`, the subscription's answer, replays
  the market's recent trades (shape: ccxt `pro/lighter.py` sample; third-party clients
  say the last ~50 trades and liquidations, UNCONFIRMED): they are published like live
  ones, because after a reconnect they include trades made while the socket was down; the
  core drops the ones it already published (`trade_identity`). The
  `replay_trade_snapshot` option, which threw the replay away, is gone for that reason.
- `market_stats/{id}` (or `/all`, a dict keyed by market id; TS client
  `WsUpdatePerpsMarketStatsMessage`): `mark_price`, `index_price` -> `Mark`;
  `current_funding_rate`, `funding_rate`, `funding_timestamp` -> `Funding` (fields: SDK
  `lighter/models/perps_market_stats.py`), see Funding.

Funding (what each number means; the README's "Funding: what the fields mean" has the table)
- Funding is paid every hour on the hour: "Funding payments occur at each hour mark"; the
  premium is sampled each minute and its hourly TWAP gives the rate, clamped and divided by 8
  (docs.lighter.xyz/trading/funding). So every Lighter `Funding` has `interval_h = 1` and
  `rate` is the fraction one hourly payment applies (`rate_per_hour == rate`).
- Unit of the websocket fields: percent per hour, UNCONFIRMED (no official sentence).
  Evidence: the same frame writes `funding_clamp_small`/`funding_clamp_big` as "0.0500" and
  "4.0000", which the funding page states as 0.05 % and 4 %; ccxt 4.5.90's samples show the
  baseline "0.0012" (= 0.01 % / 8 truncated to 4 decimals, the page's interest-rate term);
  third-party reproductions of settled payments agree. Both fields are divided by 100:
  "0.0012" -> `rate` 0.000012.
- `current_funding_rate` is the rate the coming payment is expected to apply ->
  `basis="predicted"`, `feed="market_stats"`, `next_funding_ms` = the next whole hour after
  the frame's timestamp (or the receive time when the frame has none), `ts_venue` = the
  frame's timestamp.
- `funding_rate` + `funding_timestamp` are the last completed payment (NautilusTrader
  `crates/adapters/lighter/src/websocket/parse.rs` `parse_ws_funding_rate_update`; ccxt's
  captured sample stamps it 06:00:00.004, a payment just made) -> `basis="settled"`,
  `feed="market_stats"`, `ts_venue = funding_timestamp`, no next funding time. UNCONFIRMED
  officially, and NautilusTrader's own fixture shows a `funding_timestamp` one hour ahead of
  its frame: a stamp later than the frame's time (or the receive time) cannot be a
  completed payment, so no settled event is published for it rather than a wrong one.
  Every frame repeats the last payment; it is published once per new `funding_timestamp`
  and market (settled funding is history, not state), before the predicted one so a board
  keeping the latest rate ends on the predicted rate.
- REST poll `GET /api/v1/funding-rates` ("funding rates across venues"; SDK
  `docs/FundingApi.md`, `lighter/models/funding_rate.py`: market_id, exchange, symbol, rate)
  filtered to `exchange == "lighter"` -> `feed="funding-rates"`, `source="rest"`,
  `basis="predicted"` (ccxt `fetch_funding_rates`: "the current funding rate"). Its `rate` is
  an 8-hour-equivalent fraction, UNCONFIRMED: ccxt's sample `0.000096` for the baseline is
  0.0012 % x 8 / 100, and a third-party Lighter SDK (df-lighter-core `markets/funding.rs`)
  reads it as each venue's current rate as a fraction over eight hours. It is divided by 8
  to the one-hour payment Lighter makes, so `rate` and `interval_h` mean the same as on the
  websocket; it stays its own series (`feed`): Lighter computes it without the websocket's
  4-decimal truncation, so the two differ slightly (1.25e-05 vs 1.2e-05 at the baseline).
  `options.poll_funding = false` relies on the websocket only.

Gap-free trades (the core deduplicates by `trade_identity`, orders by `trade_order`)
- Identity: `trade_id`, the trade's number on the exchange, the same field in the `trade`
  channel and in REST (SDK `lighter/models/trade.py`; the real `recentTrades` capture in
  NautilusTrader `crates/adapters/lighter/test_data` shows `trade_id` and `trade_id_str`
  alike). Order: `timestamp`, then `trade_id`, which grows with time (ids of the 2025
  ccxt sample are far below those of the 2026 capture; not documented as monotonic).
- Backfill: `GET /api/v1/recentTrades?market_id=&limit=` -> `{code, trades: [Trade]}`,
  `limit` required, 1 to 100, no paging and no "since" parameter (SDK `openapi.json`
  `/api/v1/recentTrades`; `docs/OrderApi.md`): only the last 100 trades can come back, so
  a longer outage leaves a gap. Rows go through the websocket's trade decoder and builder;
  their order is not documented, so they are sorted; those before `after` are dropped,
  `after` itself is kept when it is there: the proof that the answer reaches back to it
  (the core drops it as already published).

REST fallback while the socket is down
- `GET /api/v1/orderBookOrders?market_id=&limit=250` -> `{code, total_asks, asks: [order],
  total_bids, bids: [order]}` with `price` and `remaining_base_amount` per resting order
  (`limit` 1 to 250, SDK `openapi.json`; real capture in NautilusTrader's test data). It is
  the only REST book: orders are summed per price (as exact decimals) into levels, best
  first; 250 orders a side may cover fewer than 20 levels of a crowded book. No nonce, so
  it is no base for the order_book channel's deltas. The core takes the BBO from it; there
  is no REST mark for one market (mark comes from `market_stats` only).
- Interval, from the documented rate limits (apidocs.lighter.xyz/docs/rate-limits): REST
  requests from one IP (without an account's authentication: the standard tier) are
  limited to 60 a rolling minute; `recentTrades` weighs 600 of a premium account's 24000,
  which caps it at 40 a minute for everyone. Half the 60 is left to the funding poll (1 a
  minute at the default 60 s), backfills (1 per market and reconnect) and retries; the
  other 30 a minute are one `orderBookOrders` every 2 s. With N markets polled in turn,
  each book is refreshed every N x 2 s: a slow fallback, but the venue allows no faster.

Limits: the same rate-limits page gives, per IP, 100 websocket connections, 100
subscriptions per connection and 1000 in all, 50 unanswered (inflight) messages; 200 client
messages a minute is third-party (NautilusTrader `common/rate_limit.rs`). Connections carry
at most `options.max_channels_per_connection` (default 40) subscriptions each.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar, Literal, TypeVar

import msgspec
from pydantic import Field

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
    Pong,
    Reply,
    RestRequest,
    Resync,
    StreamKind,
    StreamSpec,
    VenueAdapter,
    VenueContext,
    VenueNotice,
)
from venuefeed.core.codec import decode_typed, integer
from venuefeed.core.errors import MalformedFrame, UnknownFrame
from venuefeed.core.events import Bbo, Funding, Level, Mark, Source, Trade
from venuefeed.core.wire import SymbolTable, next_hour_ms, price, quotient, rate, size
from venuefeed.plugins.lighter import wire

T = TypeVar("T")

#: venue channel prefix -> (stream kinds it feeds); market_stats feeds two.
_CHANNELS: tuple[tuple[str, tuple[StreamKind, ...]], ...] = (
    ("order_book", ("book",)),
    ("ticker", ("bbo",)),
    ("trade", ("trade",)),
    ("market_stats", ("funding", "mark")),
)
#: the stream an error naming a channel concerns (market_stats: its funding stream)
_KIND_OF_CHANNEL: dict[str, str] = {channel: kinds[0] for channel, kinds in _CHANNELS}
#: streams that may be silent longer than a stale threshold on a healthy market: trades on
#: an illiquid market, and market_stats whose push rate Lighter does not document.
_QUIET: frozenset[str] = frozenset({"trade", "funding", "mark"})
#: error codes meaning a subscription was refused and will never deliver.
_FATAL_CODES = frozenset({"30005"})
#: channels remembered by `_market` (a venue naming endless channels cannot grow it)
_CHANNEL_CACHE_MAX = 4096
#: the frame type of every delta: answered before the handler table
_BOOK_UPDATE = "update/order_book"
_CHANNEL_IN_MESSAGE = re.compile(r"\b(order_book|ticker|trade|market_stats)[:/](\w+)")

_PONG: dict[str, str] = {"type": "pong"}
#: Lighter pays funding every hour (docs.lighter.xyz/trading/funding)
FUNDING_INTERVAL_H = 1.0
#: the websocket's funding fields are percent (see the module docstring)
PERCENT = 100.0
#: `/funding-rates` quotes an 8-hour-equivalent fraction (see the module docstring)
FUNDING_RATES_HOURS = 8.0
#: feed names: the venue's own, one series each
FEED_WS = "market_stats"
FEED_REST = "funding-rates"
#: the most `recentTrades` returns, and `orderBookOrders` orders a side (SDK `openapi.json`)
RECENT_TRADES_LIMIT = 100
BOOK_ORDERS_LIMIT = 250

Handler = Callable[[wire.Frame, int], Sequence[Parsed]]


class LighterOptions(AdapterOptions):
    """`[venues.lighter.options]`."""

    #: poll `/api/v1/funding-rates` besides the websocket's market_stats
    poll_funding: bool = True
    #: subscriptions per connection (one market takes one per channel)
    max_channels_per_connection: int = Field(40, ge=len(_CHANNELS))


class LighterAdapter(VenueAdapter):
    """Declarative Lighter adapter; `parse` is the hot path and keeps no I/O."""

    name: ClassVar[str] = "lighter"
    default_ws_url: ClassVar[str] = "wss://mainnet.zklighter.elliot.ai/stream"
    default_rest_url: ClassVar[str] = "https://mainnet.zklighter.elliot.ai"
    heartbeat: ClassVar[Heartbeat] = Heartbeat(ping={"type": "ping"})
    continuity = Continuity.PREV_LINK
    resync = Resync.RESUBSCRIBE
    bbo_from_book: ClassVar[bool] = False
    simulator: ClassVar[str | None] = "venuefeed.plugins.lighter.sim:LighterSim"
    Options: ClassVar[type[AdapterOptions]] = LighterOptions
    #: 60 requests a minute per IP (standard accounts), half for the fallback: one
    #: `orderBookOrders` every 2 s (see the docstring)
    fallback_min_interval_s: ClassVar[float] = 2.0

    def __init__(self, ctx: VenueContext) -> None:
        super().__init__(ctx)
        self._venue = ctx.name
        options = LighterOptions.of(ctx)
        self._poll_funding = options.poll_funding
        self._max_channels = options.max_channels_per_connection
        #: the active perps by symbol and market id, from GET /api/v1/orderBooks
        self._markets = SymbolTable(ctx.name)
        #: market id -> symbol of the markets the core asked for (`resolve`,
        #: `connections`); a frame about any other market is an UnknownFrame, and
        #: `market_stats/all` keeps only these.
        self._streamed: dict[str, str] = {}
        #: market id -> `funding_timestamp` of the last settled payment published (only
        #: markets in `_streamed`, so bounded by the configuration)
        self._settled: dict[str, int] = {}
        #: channel name -> (market id, symbol), for channels already resolved (every
        #: frame names one: a lookup instead of a split per frame)
        self._channels: dict[str, tuple[str, str]] = {}
        self._handlers: dict[str, Handler] = {
            "update/order_book": self._on_book_update,
            "subscribed/order_book": self._on_book_snapshot,
            "update/ticker": self._on_ticker,
            "subscribed/ticker": self._on_ticker,
            "update/trade": self._on_trades,
            # the subscription's replay of recent trades: published like any trade (the
            # core drops those it already published)
            "subscribed/trade": self._on_trades,
            "update/market_stats": self._on_market_stats,
            "subscribed/market_stats": self._on_market_stats,
            "ping": self._on_ping,
            "pong": self._on_pong,
            "connected": self._on_connected,
            "unsubscribed": self._on_unsubscribed,
            "shutdown": self._on_shutdown,
            "error": self._on_error,
        }

    # ------------------------------------------------------------------ start-up

    def init_requests(self) -> Sequence[RestRequest]:
        return (
            RestRequest(name="orderBooks", path="/api/v1/orderBooks", parse=self._parse_markets),
        )

    def _parse_markets(self, body: Any, recv_ms: int) -> Sequence[Parsed]:
        books = _rest_list(body, "order_books")
        listed: list[tuple[str, str]] = []
        for book in books:
            if not isinstance(book, dict):
                raise MalformedFrame(f"orderBooks: expected objects, got {book!r}")
            # Older listings predate spot markets and have no market_type: those are perps.
            if book.get("market_type", "perp") != "perp":
                continue
            status = book.get("status")
            if isinstance(status, str) and status.lower() != "active":
                continue
            symbol = book.get("symbol")
            if not isinstance(symbol, str) or not symbol:
                raise MalformedFrame(f"orderBooks: bad symbol {symbol!r}")
            market_id = str(integer(book.get("market_id"), "orderBooks market_id"))
            listed.append((symbol, market_id))
        self._markets.replace(listed)
        return ()

    def resolve(self, symbol: str) -> Instrument:
        """A symbol in any case (`eth`) or a market id (`0`)."""
        found = self._markets.resolve(symbol.strip())
        self._streamed[found.instrument] = found.symbol
        return found

    def connections(self, instruments: Sequence[Instrument]) -> Sequence[ConnectionSpec]:
        self._streamed.update((i.instrument, i.symbol) for i in instruments)
        per_conn = max(1, self._max_channels // len(_CHANNELS))
        groups = [instruments[i : i + per_conn] for i in range(0, len(instruments), per_conn)]
        specs: list[ConnectionSpec] = []
        for n, group in enumerate(groups):
            streams: list[StreamSpec] = []
            subscribe: list[dict[str, str]] = []
            for inst in group:
                for channel, kinds in _CHANNELS:
                    subscribe.append(_message("subscribe", channel, inst.instrument))
                    streams.extend(StreamSpec(k, inst.instrument, k in _QUIET) for k in kinds)
            specs.append(
                ConnectionSpec(
                    name="main" if len(groups) == 1 else f"main{n + 1}",
                    url=self.ctx.ws_url,
                    streams=tuple(streams),
                    subscribe=tuple(subscribe),
                    # each subscribe is answered by a `subscribed/<channel>` frame
                    acks_expected=len(subscribe),
                )
            )
        return specs

    def resubscribe_messages(self, instrument: str) -> Sequence[Any]:
        return (
            _message("unsubscribe", "order_book", instrument),
            _message("subscribe", "order_book", instrument),
        )

    # ------------------------------------------------------------------ REST poll

    def poll_requests(self, instruments: Sequence[Instrument]) -> Sequence[RestRequest]:
        if not self._poll_funding or not instruments:
            return ()
        wanted = {i.instrument: i.symbol for i in instruments}

        def parse(body: Any, recv_ms: int) -> Sequence[Parsed]:
            return self._parse_funding_rates(body, recv_ms, wanted)

        return (RestRequest(name="funding-rates", path="/api/v1/funding-rates", parse=parse),)

    def _parse_funding_rates(
        self, body: Any, recv_ms: int, wanted: Mapping[str, str]
    ) -> Sequence[Parsed]:
        out: list[Parsed] = []
        next_ms = next_hour_ms(recv_ms)
        for row in _rest_list(body, "funding_rates"):
            if not isinstance(row, dict):
                raise MalformedFrame(f"funding-rates: expected objects, got {row!r}")
            if row.get("exchange") != "lighter":
                continue
            market_id = str(integer(row.get("market_id"), "funding-rates market_id"))
            symbol = wanted.get(market_id)
            if symbol is None:
                continue
            # an 8-hour-equivalent fraction -> the fraction of Lighter's hourly payment
            hourly = quotient(rate(row.get("rate"), "funding-rates rate"), FUNDING_RATES_HOURS)
            out.append(
                Funding(
                    venue=self._venue,
                    symbol=symbol,
                    instrument=market_id,
                    ts_recv=recv_ms,
                    rate=hourly,
                    interval_h=FUNDING_INTERVAL_H,
                    rate_per_hour=hourly,
                    next_funding_ms=next_ms,
                    basis="predicted",
                    source="rest",
                    feed=FEED_REST,
                )
            )
        return out

    # ------------------------------------------------------------------ websocket

    def parse(self, frame: str | bytes, recv_ms: int) -> Sequence[Parsed]:
        if not isinstance(frame, str):
            raise MalformedFrame("lighter sends JSON text frames; got a binary frame")
        msg = decode_typed(wire.FRAME_DECODER, frame)
        kind = msg.type
        if kind == _BOOK_UPDATE:  # nearly every frame of a busy socket
            return self._on_book_update(msg, recv_ms)
        if kind is None:
            if msg.error is not None:
                return self._on_error(msg, recv_ms)
            raise UnknownFrame("frame without a type")
        handler = self._handlers.get(kind)
        if handler is None:
            raise UnknownFrame(f"unknown frame type {kind!r}")
        results = handler(msg, recv_ms)
        if kind.startswith("subscribed/"):  # the subscription's answer, whatever it carries
            return (*results, Ack(kind, subscribed=True))
        return results

    def _market(self, msg: wire.Frame) -> tuple[str, str]:
        """(market id, symbol) named by the frame's channel: a market the core asked for."""
        channel = msg.channel
        if channel is None:
            raise MalformedFrame(f"{msg.type} frame without a channel")
        known = self._channels.get(channel)
        if known is not None:
            return known
        sep = channel.find(":")
        if sep < 0:
            sep = channel.find("/")
        market_id = channel[sep + 1 :] if sep >= 0 else ""
        symbol = self._streamed.get(market_id)
        if symbol is None:
            raise UnknownFrame(f"channel {channel!r} names no market subscribed")
        if len(self._channels) < _CHANNEL_CACHE_MAX:
            self._channels[channel] = (market_id, symbol)
        return market_id, symbol

    def _on_book_snapshot(self, msg: wire.Frame, recv_ms: int) -> Sequence[Parsed]:
        market_id, _ = self._market(msg)
        book = msg.order_book
        if book is None:
            raise MalformedFrame("subscribed/order_book without order_book")
        return (
            BookSnapshot(
                instrument=market_id,
                bids=[(lv.price, lv.size) for lv in book.bids if lv.size > 0.0],
                asks=[(lv.price, lv.size) for lv in book.asks if lv.size > 0.0],
                seq=book.nonce,
                ts_venue=msg.timestamp,
            ),
        )

    def _on_book_update(self, msg: wire.Frame, recv_ms: int) -> Sequence[Parsed]:
        market_id, _ = self._market(msg)
        book = msg.order_book
        if book is None:
            raise MalformedFrame("update/order_book without order_book")
        return (
            BookDelta(
                instrument=market_id,
                bids=[(lv.price, lv.size) for lv in book.bids],
                asks=[(lv.price, lv.size) for lv in book.asks],
                seq=book.nonce,
                prev_seq=book.begin_nonce,
                ts_venue=msg.timestamp,
            ),
        )

    def _on_ticker(self, msg: wire.Frame, recv_ms: int) -> Sequence[Parsed]:
        market_id, symbol = self._market(msg)
        ticker = msg.ticker
        if ticker is None:
            raise MalformedFrame(f"{msg.type} without ticker")
        bid_px = bid_sz = ask_px = ask_sz = None
        bid, ask = ticker.b, ticker.a
        # An empty side may come as a missing or zero quote: either way, no quote.
        if bid is not None and bid.size > 0.0 and bid.price > 0.0:
            bid_px, bid_sz = bid.price, bid.size
        if ask is not None and ask.size > 0.0 and ask.price > 0.0:
            ask_px, ask_sz = ask.price, ask.size
        return (
            Bbo(
                venue=self._venue,
                symbol=symbol,
                instrument=market_id,
                ts_venue=msg.timestamp,
                ts_recv=recv_ms,
                bid_px=bid_px,
                bid_sz=bid_sz,
                ask_px=ask_px,
                ask_sz=ask_sz,
            ),
        )

    def _on_trades(self, msg: wire.Frame, recv_ms: int) -> Sequence[Parsed]:
        market_id, symbol = self._market(msg)
        trades = msg.trades or []
        liquidations = msg.liquidation_trades
        if liquidations:
            seen = {str(t.trade_id) for t in trades}
            trades = trades + [t for t in liquidations if str(t.trade_id) not in seen]
        return [self._trade(market_id, symbol, t, recv_ms, "ws") for t in trades]

    def _trade(
        self, market_id: str, symbol: str, t: wire.TradeMsg, recv_ms: int, source: Source
    ) -> Trade:
        """One trade of the `trade` channel or of `recentTrades` (the same `Trade` schema):
        one builder for both, so a backfilled trade cannot differ from the live one."""
        return Trade(
            venue=self._venue,
            symbol=symbol,
            instrument=market_id,
            ts_venue=t.timestamp,
            ts_recv=recv_ms,
            price=t.price,
            size=t.size,
            # the resting order was the ask: the taker bought
            side="buy" if t.is_maker_ask else "sell",
            trade_id=str(t.trade_id),
            source=source,
        )

    # ------------------------------------------------------------------ gap-free trades

    def trade_identity(self, trade: Trade) -> Hashable:
        """`trade_id`, the trade's number on the exchange (see the docstring)."""
        return trade.trade_id

    def recent_trades_request(self, instrument: str, after: Trade | None) -> RestRequest:
        """`recentTrades`: the market's last `RECENT_TRADES_LIMIT` trades, no paging."""
        return RestRequest(
            name=f"recentTrades:{instrument}",
            path="/api/v1/recentTrades",
            params={"market_id": instrument, "limit": str(RECENT_TRADES_LIMIT)},
            parse=functools.partial(self._parse_recent_trades, instrument, after),
        )

    def _parse_recent_trades(
        self, market_id: str, after: Trade | None, body: Any, recv_ms: int
    ) -> Sequence[Parsed]:
        symbol = self._streamed.get(market_id)
        if symbol is None:
            raise MalformedFrame(f"recentTrades: market {market_id!r} was not started")
        trades: list[Trade] = []
        for row in _rest_list(body, "trades"):
            if isinstance(row, dict) and "market_id" in row:
                named = str(integer(row["market_id"], "recentTrades market_id"))
                if named != market_id:
                    raise MalformedFrame(f"recentTrades {market_id}: a trade of market {named}")
            t = _convert(row, wire.TradeMsg, f"recentTrades {market_id}")
            trades.append(self._trade(market_id, symbol, t, recv_ms, "rest"))
        return self.trades_from(trades, after)  # the order of the rows is not documented

    # ------------------------------------------------------------------ REST fallback

    def fallback_requests(self, instrument: str) -> Sequence[RestRequest]:
        """`orderBookOrders`, summed into levels (see the docstring)."""
        return (
            RestRequest(
                name=f"orderBookOrders:{instrument}",
                path="/api/v1/orderBookOrders",
                params={"market_id": instrument, "limit": str(BOOK_ORDERS_LIMIT)},
                parse=functools.partial(self._parse_book_orders, instrument),
            ),
        )

    def _parse_book_orders(self, market_id: str, body: Any, recv_ms: int) -> Sequence[Parsed]:
        what = f"orderBookOrders {market_id}"
        bids = _levels(_rest_list(body, "bids"), what, best_first_descending=True)
        asks = _levels(_rest_list(body, "asks"), what, best_first_descending=False)
        return (BookSnapshot(instrument=market_id, bids=bids, asks=asks, from_rest=True),)

    def _on_market_stats(self, msg: wire.Frame, recv_ms: int) -> Sequence[Parsed]:
        stats = msg.market_stats
        if stats is None:
            raise MalformedFrame(f"{msg.type} without market_stats")
        ts = msg.timestamp
        next_ms = next_hour_ms(ts if ts is not None else recv_ms)
        channel = msg.channel or ""
        if not channel.endswith("all"):  # one market: `market_stats/{id}`
            market_id, symbol = self._market(msg)
            return self._stats_events(stats, market_id, symbol, ts, recv_ms, next_ms)
        out: list[Parsed] = []  # `market_stats/all`: keyed by market id
        for key, entry in stats.items():
            if not isinstance(entry, dict):
                raise MalformedFrame(f"market_stats[{key!r}]: expected an object")
            streamed = self._streamed.get(key)
            if streamed is not None:
                out.extend(self._stats_events(entry, key, streamed, ts, recv_ms, next_ms))
        return out

    def _stats_events(
        self,
        stats: Mapping[str, Any],
        market_id: str,
        symbol: str,
        ts: int | None,
        recv_ms: int,
        next_ms: int,
    ) -> list[Parsed]:
        out: list[Parsed] = []
        settled = self._settled_funding(stats, market_id, symbol, ts, recv_ms)
        if settled is not None:
            out.append(settled)
        raw_rate = stats.get("current_funding_rate")
        if raw_rate is not None:
            value = quotient(rate(raw_rate, "current_funding_rate"), PERCENT)
            out.append(
                self._ws_funding(symbol, market_id, value, ts, recv_ms, "predicted", next_ms)
            )
        raw_mark = stats.get("mark_price")
        if raw_mark is not None:
            out.append(
                Mark(
                    venue=self._venue,
                    symbol=symbol,
                    instrument=market_id,
                    ts_venue=ts,
                    ts_recv=recv_ms,
                    mark_px=price(raw_mark, "mark_price"),
                    index_px=wire.index_price(stats.get("index_price")),
                )
            )
        return out

    def _settled_funding(
        self,
        stats: Mapping[str, Any],
        market_id: str,
        symbol: str,
        ts: int | None,
        recv_ms: int,
    ) -> Funding | None:
        """The last completed payment (`funding_rate` at `funding_timestamp`), once per
        payment; None when the frame has none, repeats the one already published, or
        stamps it after the frame itself (then it is no completed payment)."""
        raw_rate = stats.get("funding_rate")
        raw_stamp = stats.get("funding_timestamp")
        if raw_rate is None or raw_stamp is None:
            return None
        value = quotient(rate(raw_rate, "funding_rate"), PERCENT)
        stamp = integer(raw_stamp, "funding_timestamp")
        if stamp <= 0 or stamp > (ts if ts is not None else recv_ms):
            return None
        if self._settled.get(market_id, -1) >= stamp:
            return None
        self._settled[market_id] = stamp
        return self._ws_funding(symbol, market_id, value, stamp, recv_ms, "settled", None)

    def _ws_funding(
        self,
        symbol: str,
        market_id: str,
        hourly: float,
        ts: int | None,
        recv_ms: int,
        basis: Literal["predicted", "settled"],
        next_ms: int | None,
    ) -> Funding:
        """A `market_stats` rate: already a fraction of one hourly payment."""
        return Funding(
            venue=self._venue,
            symbol=symbol,
            instrument=market_id,
            ts_venue=ts,
            ts_recv=recv_ms,
            rate=hourly,
            interval_h=FUNDING_INTERVAL_H,
            rate_per_hour=hourly,
            next_funding_ms=next_ms,
            basis=basis,
            feed=FEED_WS,
        )

    def _on_ping(self, msg: wire.Frame, recv_ms: int) -> Sequence[Parsed]:
        return (Reply(_PONG),)

    def _on_pong(self, msg: wire.Frame, recv_ms: int) -> Sequence[Parsed]:
        return (Pong(),)

    def _on_connected(self, msg: wire.Frame, recv_ms: int) -> Sequence[Parsed]:
        return (Ack(f"connected session {msg.session_id}"),)

    def _on_unsubscribed(self, msg: wire.Frame, recv_ms: int) -> Sequence[Parsed]:
        return (Ack(f"unsubscribed {msg.channel}"),)

    def _on_shutdown(self, msg: wire.Frame, recv_ms: int) -> Sequence[Parsed]:
        return (Ack(f"server shutdown, closing in {msg.close_in_ms} ms"),)

    def _on_error(self, msg: wire.Frame, recv_ms: int) -> Sequence[Parsed]:
        err = msg.error
        code: Any
        message: Any
        if isinstance(err, dict):
            code, message = err.get("code"), err.get("message")
        elif err is not None:
            code, message = None, err
        else:
            code, message = msg.code, msg.message
        code_s = "unknown" if code is None else str(code)
        text = "" if message is None else str(message)
        return (
            VenueNotice(
                code=code_s,
                message=text,
                stream=_stream_in(text),
                fatal=code_s in _FATAL_CODES,
            ),
        )


def _convert(row: Any, typ: type[T], what: str) -> T:
    """A REST row as the typed shape the websocket decoder uses (same bounds)."""
    try:
        return msgspec.convert(row, typ, strict=False)
    except msgspec.ValidationError as exc:
        raise MalformedFrame(f"{what}: {exc}") from None


def _levels(orders: Iterable[Any], what: str, *, best_first_descending: bool) -> list[Level]:
    """Resting orders summed per price, best first. Sizes are added as decimals, so a level
    of several orders is exactly the sum the venue's own book shows."""
    sizes: dict[Decimal, Decimal] = {}
    for order in orders:
        row = _convert(order, wire.RestingOrder, what)
        amount = sizes.get(row.price, Decimal(0)) + row.remaining_base_amount
        sizes[row.price] = amount
    out: list[Level] = []
    for px in sorted(sizes, reverse=best_first_descending):
        if sizes[px] > 0:
            out.append((price(float(px), f"{what} price"), size(float(sizes[px]), f"{what} size")))
    return out


def _message(action: str, channel: str, market_id: str) -> dict[str, str]:
    return {"type": action, "channel": f"{channel}/{market_id}"}


def _stream_in(message: str) -> str | None:
    """The StreamSpec key of the channel an error message names, e.g. "book:0"."""
    match = _CHANNEL_IN_MESSAGE.search(message)
    if match is None or match.group(2) == "all":
        return None
    return f"{_KIND_OF_CHANNEL[match.group(1)]}:{match.group(2)}"


def _rest_list(body: Any, key: str) -> Iterable[Any]:
    """The list under `key` of a Lighter REST body, after checking its result code."""
    if not isinstance(body, dict):
        raise MalformedFrame(f"{key}: expected a JSON object, got {type(body).__name__}")
    code = body.get("code", 200)
    if code != 200:
        raise MalformedFrame(f"{key}: venue answered code {code!r}: {body.get('message', '')}")
    items = body.get(key)
    if not isinstance(items, list):
        raise MalformedFrame(f"{key}: missing or not a list")
    return items

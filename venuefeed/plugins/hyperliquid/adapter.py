"""Hyperliquid perpetuals: book, BBO, trades, funding and mark over one websocket.

Protocol facts this adapter relies on, and where each comes from. Abbreviations:
HL-docs = https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/... ;
HL-SDK = github.com/hyperliquid-dex/hyperliquid-python-sdk @7ee976d (2026-04-14).

Endpoints
  - WS `wss://api.hyperliquid.xyz/ws`; REST `POST https://api.hyperliquid.xyz/info` with a
    JSON body. Sources: HL-docs `websocket`, `info-endpoint`; HL-SDK `utils/constants.py`
    (base URL) and `websocket_manager.py` (ws URL = base + "/ws").
  - Right after the handshake the server sends the plain-text frame
    `Websocket connection established.`, which is not JSON. Source: HL-SDK
    `websocket_manager.py` `on_message` skips exactly that string. -> `Ack`.

Subscriptions (HL-docs `websocket/subscriptions`; HL-SDK `utils/types.py`)
  - `{"method": "subscribe", "subscription": {"type": T, "coin": C}}` with T in `l2Book`,
    `bbo`, `trades`, `activeAssetCtx`; acknowledged by
    `{"channel": "subscriptionResponse", "data": {...}}` -> `Ack`. Data frames are
    `{"channel": T, "data": ...}`.
  - `l2Book` -> `WsBook {coin, levels: [bids, asks], time}`, level `{px, sz, n}` with px/sz
    decimal strings. Every frame is a whole top-of-book snapshot (20 levels a side), with
    no sequence number and no deltas, hence `Continuity.SNAPSHOTS`. levels[0] are the bids,
    best first: the real capture in HL-SDK `tests/cassettes/info_test/test_get_l2_snapshot.yaml`
    shows 2.111, 2.1105, ... under levels[0] and 2.1124, 2.1125, ... under levels[1].
  - HL-docs say a book is pushed on each block at least 0.5 s after the previous push. A
    third-party live probe (2026-09) measured the default feed every ~5.4 s (max 5.6 s),
    resent even when unchanged; it is never silent, so the book stream is not quiet, but
    the venue's `stale_after_s` needs headroom over that cadence (15 s recommended).
  - `bbo` -> `WsBbo {coin, time, bbo: [bid | null, ask | null]}`, "sent only if the bbo
    changes on a block" (HL-docs; HL-SDK `BboData`). As it follows every block while
    `l2Book` is throttled, the BBO comes from this channel and `bbo_from_book` is off: two
    BBO sources on different clocks would interleave out of order.
  - `trades` -> `WsTrade[] {coin, side, px, sz, hash, time, tid, users}`; side "B" = the
    aggressor bought, "A" = sold (ccxt 4.5.90 `ccxt/hyperliquid.py` `parse_trade`).
    HL-docs note `tid` is a hash of the two order ids and is unique together with the
    block time and coin; `Trade` carries all three.
  - `activeAssetCtx` -> `{coin, ctx: {funding, markPx, oraclePx, ...}}` with no timestamp
    (HL-SDK `PerpAssetCtx`, values are strings). `oraclePx` is published as the index.
  - Error frames are `{"channel": "error", "data": "<text>"}` with no numeric code. A
    duplicate subscribe answers `Already subscribed: {...}`: the existing subscription keeps
    delivering, so it becomes an `Ack` (ccxt 4.5.90 `ccxt/pro/hyperliquid.py`
    `handle_error_message` treats it as harmless; the text is also reported in
    gemwalletcom/wallet issue #462). Other texts become `VenueNotice` with a code derived
    from the text's prefix; when the text quotes one of our subscriptions the notice names
    that stream and is fatal.
  - An unknown or misspelt coin gets no error at all: the server drops the socket and
    every other stream on it (3rd-party probe, not documented). Hence `resolve` only
    accepts names from the live `meta` universe, and matches case-insensitively but
    always subscribes the venue's exact spelling (`kPEPE`).

Heartbeat and lifetime
  - The server closes a connection it has sent nothing to for 60 s; the client keeps it
    open with `{"method": "ping"}`, answered by `{"channel": "pong"}` -> `Pong`
    (HL-docs `websocket/timeouts-and-heartbeats`). The SDK pings every 50 s, ccxt every
    20 s; the core sends our ping every `heartbeat_interval_s` (20 s recommended).
  - No maximum connection lifetime is documented (PROTOCOLS.md: UNCONFIRMED). Second
    source: the SDK maintainer answered "There is no max time limit on subscriptions"
    (hyperliquid-dex/hyperliquid-python-sdk issue #145). So `max_lifetime_s` is None;
    any server-side drop is an ordinary reconnect.

REST (HL-docs `info-endpoint/perpetuals`)
  - `{"type": "meta"}` -> `{universe: [{name, szDecimals, maxLeverage, isDelisted?}]}`;
    init request, fills the coin list. Delisted coins are refused by `resolve`: their book
    is empty forever.
  - `{"type": "metaAndAssetCtxs"}` -> `[meta, [ctx...]]`, index-aligned (ctx i belongs to
    universe i); polled for funding and mark.

Funding (HL-docs `trading/funding`)
  - Funding is paid every hour at one eighth of the 8-hour formula rate, and the interval
    does not depend on the asset. The API's `funding` is that hourly fraction: baseline
    0.0000125 = 0.01 % / 8 h, seen in the real `fundingHistory` capture in HL-SDK
    `tests/cassettes/info_test/test_get_funding_history[None].yaml`. So `interval_h` = 1 and
    `rate_per_hour` = `funding` as quoted; no per-market interval is needed.
  - Next funding = the next top of the hour after the frame's receive time (the ctx has no
    timestamp). Justified by the hourly interval and by the HL-docs `predictedFundings`
    example, whose `HlPerp` `nextFundingTime` 1733958000000 is a whole hour; ccxt 4.5.90
    `parse_funding_rate` also takes the next whole hour of the local clock. Within the
    local clock's skew of the hour boundary it can be one hour off.
  - Basis: `funding` is "current funding" (HL-docs `info-endpoint/perpetuals`, "Retrieve
    perpetuals asset contexts (includes mark price, current funding, open interest, etc.)"),
    the rate building up for the coming hourly payment from the premium "sampled every 5
    seconds and averaged over the hour" (HL-docs `trading/funding`): `basis="predicted"`.
    Settled rates exist only in `fundingHistory`, which this plugin does not read.
  - Feeds: `feed="activeAssetCtx"` (`source="ws"`) and `feed="metaAndAssetCtxs"`
    (`source="rest"`, the poll); the same quantity, two observations.
  - `activeAssetCtx` is pushed about once a second (3rd-party probe) while the rate moves
    slowly and often sits exactly on the baseline for hours. A `Funding` event is therefore
    published only when the rate (or the next funding time) changes, and the funding
    stream is quiet; `Mark` is published on every frame. The REST poll publishes both on
    every poll regardless.

Rate limits (HL-docs `rate-limits-and-user-limits`): per IP 10 websocket connections (older
copies said 100; PROTOCOLS.md UNCONFIRMED, this plugin opens one either way), 1000
subscriptions (4 per coin here), 2000 messages sent per minute.

Gap-free trades (the core deduplicates by `trade_identity` and orders by `trade_order`)
  - Identity is `(coin, tid, time)`: `tid` is a 50-bit hash of the two order ids, unique
    only together with the block time and the coin (HL-docs `websocket/subscriptions`,
    WsTrade). Being a hash, it carries no order: trades are ordered by `time` alone and
    trades of one block keep their arrival order.
  - Every `trades` subscribe replays recent trades: a third-party live capture
    (2026-09-27, PROTOCOLS.md addenda) saw the first frame after subscribing hold the ~30
    trades of the previous ~33 s. They are published like any trade; the core drops those
    it already published. The official page documents snapshots only for user feeds
    (`isSnapshot`), so this is UNCONFIRMED beyond that capture.
  - Backfill: `POST /info {"type": "recentTrades", "coin": C}`, listed by HL-docs
    `rate-limits-and-user-limits` among the info requests ("recentTrades ... additional
    rate limit weight per 20 items returned") but not described on the info-endpoint
    pages. Its rows have the WsTrade shape including `users` (the community TypeScript SDK
    nktkas/hyperliquid `src/api/info/_methods/recentTrades.ts` and the Rust crate
    df-hyperliquid-core `markets/trades.rs`, which parses both with one type), so they go
    through the websocket's decoder and builder. It takes no count, time or id parameter
    and returns only the last ten or so trades (a third-party client,
    `MAX_TRADE_COUNT = 10`, UNCONFIRMED): it covers short outages only, and the row order
    is undocumented, so the parse accepts newest-first or oldest-first. Rows older than
    `after` are dropped; `after` itself is kept when it is there, the proof that the
    answer reaches back to it (the core drops it as already published).

REST fallback while the socket is down
  - `POST /info {"type": "l2Book", "coin": C}` -> the same `{coin, time, levels}` as the
    websocket book, at most 20 levels a side (HL-docs `info-endpoint`; real capture in
    HL-SDK `tests/cassettes/info_test/test_get_l2_snapshot.yaml`). The core derives the BBO
    from it: Hyperliquid has no REST BBO (`allMids` is mid prices only). No mark request:
    marks come only from `metaAndAssetCtxs` (weight 20, every coin in one answer), which
    the funding poll already brings every `funding_poll_s`.
  - Interval: REST weight is 1200 per minute per IP; `l2Book` weighs 2, `metaAndAssetCtxs`
    and `recentTrades` 20 (+1 per 20 trades returned) (HL-docs `rate-limits-and-user-limits`).
    Half the budget is left to the funding poll (20 a minute at the default 60 s),
    backfills (about 21 per coin and reconnect) and retries; the other 600 a minute buy 300
    `l2Book` polls, one every 0.2 s. With N coins polled in turn, each coin's book is
    refreshed every N x 0.2 s.

Option `[venues.hyperliquid.options] l2book_fast = true` adds `"fast": true` to the
`l2Book` subscription: 5 levels per side pushed about every 0.5 s instead of 20 levels.
The newer HL-docs subscriptions page is quoted by third parties as "5 levels if fast, 20
levels if slow"; the copy in PROTOCOLS.md lacks it, so it is off by default.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Final, TypeVar

import msgspec

from venuefeed.core.adapter import (
    Ack,
    AdapterOptions,
    BookSnapshot,
    ConnectionSpec,
    Continuity,
    FrameKey,
    Heartbeat,
    Instrument,
    Parsed,
    Pong,
    RestRequest,
    Resync,
    StreamKind,
    StreamSpec,
    VenueAdapter,
    VenueContext,
    VenueNotice,
)
from venuefeed.core.codec import decode_json, encode_message
from venuefeed.core.errors import MalformedFrame, UnknownFrame, UnknownSymbolError
from venuefeed.core.events import Bbo, Funding, Mark, Source, Trade
from venuefeed.core.wire import next_hour_ms
from venuefeed.plugins.hyperliquid.wire import (
    FRAME_DECODER,
    KNOWN_CHANNELS,
    AssetCtxMsg,
    BboMsg,
    BookData,
    BookMsg,
    PerpCtx,
    PongMsg,
    SubscriptionResponseMsg,
    TradeData,
    TradesMsg,
)

T = TypeVar("T")

GREETING: Final = "Websocket connection established."
#: funding is settled hourly for every asset (HL-docs trading/funding).
FUNDING_INTERVAL_H: Final = 1.0
#: funding feed names: the websocket subscription and the REST info request
FEED_WS: Final = "activeAssetCtx"
FEED_REST: Final = "metaAndAssetCtxs"
INFO_PATH: Final = "/info"

#: which of our streams a subscription `type` feeds (for error frames quoting one).
_STREAMS_OF_TYPE: Final[Mapping[str, tuple[StreamKind, ...]]] = {
    "l2Book": ("book",),
    "bbo": ("bbo",),
    "trades": ("trade",),
    "activeAssetCtx": ("funding", "mark"),
}
#: error text prefixes -> stable notice codes (the venue sends text only).
_ERROR_CODES: Final = (
    ("Error parsing JSON", "invalid_request"),
    ("Invalid subscription", "invalid_subscription"),
)
_HARMLESS_ERRORS: Final = ("Already subscribed", "Already unsubscribed")
#: an `l2Book` frame is one coin's whole book, and the coin comes first in `data`
#: (`{"channel":"l2Book","data":{"coin":C,...}}`, as the venue and ccxt's capture send
#: it): the core reads the key from the frame's head and decodes only the newest book of
#: a coin when several wait. A frame spelt otherwise does not match and is decoded.
BOOK_KEY: Final = FrameKey(
    r'\{\s*"channel"\s*:\s*"l2Book"\s*,\s*"data"\s*:\s*\{\s*"coin"\s*:\s*"(?P<key>[^"\\]+)"'
)


class HyperliquidOptions(AdapterOptions):
    """`[venues.hyperliquid.options]`."""

    #: the fast book: 5 levels about every 0.5 s instead of 20 levels (see the docstring)
    l2book_fast: bool = False


class HyperliquidAdapter(VenueAdapter):
    """Hyperliquid perps on the first perp dex; one connection carries every coin."""

    name: ClassVar[str] = "hyperliquid"
    default_ws_url: ClassVar[str] = "wss://api.hyperliquid.xyz/ws"
    default_rest_url: ClassVar[str] = "https://api.hyperliquid.xyz"
    heartbeat: ClassVar[Heartbeat] = Heartbeat(ping={"method": "ping"})
    continuity = Continuity.SNAPSHOTS
    # Nothing chains between snapshots, so the core never finds a gap to resync; should it
    # ask anyway, a reconnect re-subscribes and the next snapshot heals the book.
    resync = Resync.RECONNECT
    bbo_from_book: ClassVar[bool] = False
    simulator: ClassVar[str | None] = "venuefeed.plugins.hyperliquid.sim:HyperliquidSim"
    Options: ClassVar[type[AdapterOptions]] = HyperliquidOptions
    #: 1200 weight a minute per IP, `l2Book` weighs 2; half for fallback polls -> 600 / 2
    #: = 300 polls a minute, one every 0.2 s (the arithmetic is in the module docstring)
    fallback_min_interval_s: ClassVar[float] = 0.2

    def __init__(self, ctx: VenueContext) -> None:
        super().__init__(ctx)
        self._fast_book = HyperliquidOptions.of(ctx).l2book_fast
        self._venue = ctx.name
        #: exact names of the listed (not delisted) perps of the first dex.
        self._coins: frozenset[str] = frozenset()
        #: lower-cased name -> exact name, only where the lower-cased form is unambiguous.
        self._coins_folded: dict[str, str] = {}
        #: coins the core asked for (`resolve`, `connections`): a frame about any other
        #: coin is an UnknownFrame, so junk never becomes an instrument or a cache entry.
        self._streamed: set[str] = set()
        #: coin -> (rate, next funding ms) last published from the websocket.
        self._last_funding: dict[str, tuple[float, int]] = {}

    # -- start-up ------------------------------------------------------------------

    def init_requests(self) -> Sequence[RestRequest]:
        return (
            RestRequest(
                name="meta",
                path=INFO_PATH,
                method="POST",
                json={"type": "meta"},
                parse=self._parse_meta,
            ),
        )

    def _parse_meta(self, body: Any, recv_ms: int) -> Sequence[Parsed]:
        coins = frozenset(
            asset["name"]
            for asset in _universe(body, "meta")
            if asset.get("isDelisted") is not True
        )
        if not coins:
            raise MalformedFrame("meta: the universe lists no tradable perp")
        folded: dict[str, str] = {}
        ambiguous: set[str] = set()
        for name in coins:
            key = name.lower()
            if key in folded:
                ambiguous.add(key)
            folded[key] = name
        for key in ambiguous:
            del folded[key]
        self._coins = coins
        self._coins_folded = folded
        return ()

    def resolve(self, symbol: str) -> Instrument:
        coin = symbol if symbol in self._coins else self._coins_folded.get(symbol.lower())
        if coin is None:
            raise UnknownSymbolError(self._venue, symbol, list(self._coins))
        self._streamed.add(coin)
        return Instrument(symbol=coin, instrument=coin)

    def connections(self, instruments: Sequence[Instrument]) -> Sequence[ConnectionSpec]:
        subscribe: list[dict[str, Any]] = []
        streams: list[StreamSpec] = []
        coins = _unique(i.instrument for i in instruments)
        self._streamed.update(coins)
        for coin in coins:
            book: dict[str, Any] = {"type": "l2Book", "coin": coin}
            if self._fast_book:
                book["fast"] = True
            for sub in (
                book,
                {"type": "bbo", "coin": coin},
                {"type": "trades", "coin": coin},
                {"type": "activeAssetCtx", "coin": coin},
            ):
                subscribe.append({"method": "subscribe", "subscription": sub})
            streams += (
                # pushed on a fixed clock even when unchanged: a silence means trouble.
                StreamSpec("book", coin),
                # sent only when the touch changes; an illiquid coin can idle for a minute.
                StreamSpec("bbo", coin, quiet=True),
                # no trade for minutes is normal on a quiet market.
                StreamSpec("trade", coin, quiet=True),
                # published on change only; the rate can sit on its baseline for hours.
                StreamSpec("funding", coin, quiet=True),
                # activeAssetCtx arrives about once a second and carries the mark.
                StreamSpec("mark", coin),
            )
        return (
            ConnectionSpec(
                name="main",
                url=self.ctx.ws_url,
                streams=tuple(streams),
                subscribe=tuple(subscribe),
                # every subscribe is answered by a subscriptionResponse [HL-docs websocket]
                acks_expected=len(subscribe),
                snapshot_key=BOOK_KEY,
            ),
        )

    def poll_requests(self, instruments: Sequence[Instrument]) -> Sequence[RestRequest]:
        wanted = frozenset(i.instrument for i in instruments)
        if not wanted:
            return ()

        def parse(body: Any, recv_ms: int) -> Sequence[Parsed]:
            return self._parse_asset_ctxs(wanted, body, recv_ms)

        return (
            RestRequest(
                name="metaAndAssetCtxs",
                path=INFO_PATH,
                method="POST",
                json={"type": "metaAndAssetCtxs"},
                parse=parse,
            ),
        )

    def _parse_asset_ctxs(
        self, wanted: frozenset[str], body: Any, recv_ms: int
    ) -> Sequence[Parsed]:
        if not (isinstance(body, list) and len(body) == 2):
            raise MalformedFrame("metaAndAssetCtxs: expected [meta, assetCtxs]")
        universe = _universe(body[0], "metaAndAssetCtxs")
        ctxs = body[1]
        if not isinstance(ctxs, list) or len(ctxs) != len(universe):
            raise MalformedFrame(
                "metaAndAssetCtxs: universe and assetCtxs are not index-aligned "
                f"({len(universe)} assets)"
            )
        next_ms = next_hour_ms(recv_ms)
        out: list[Parsed] = []
        for asset, raw in zip(universe, ctxs, strict=True):
            coin = asset["name"]
            if coin not in wanted:
                continue
            try:
                ctx = msgspec.convert(raw, PerpCtx, strict=False)
            except msgspec.ValidationError as exc:
                raise MalformedFrame(f"metaAndAssetCtxs: {coin}: {exc}") from None
            out.append(self._funding(coin, ctx.funding, next_ms, recv_ms, FEED_REST))
            out.append(self._mark(coin, ctx, recv_ms))
        return out

    # -- hot path ------------------------------------------------------------------

    def parse(self, frame: str | bytes, recv_ms: int) -> Sequence[Parsed]:
        if not isinstance(frame, str):
            raise MalformedFrame("hyperliquid sends text frames only, got a binary frame")
        try:
            msg = FRAME_DECODER.decode(frame)
        except msgspec.ValidationError as exc:
            raise _invalid(frame, exc) from None
        except msgspec.DecodeError as exc:
            if frame == GREETING:
                return (Ack(GREETING),)
            raise MalformedFrame(f"invalid JSON: {exc}") from None
        except RecursionError:  # msgspec's answer to a frame nested thousands deep
            raise MalformedFrame("invalid JSON: nested too deeply") from None
        # Most frequent first: bbo follows every block, trades and books less often.
        if isinstance(msg, BboMsg):
            b = msg.data
            self._check_streamed(b.coin)
            bid, ask = b.bbo
            return (
                Bbo(
                    venue=self._venue,
                    symbol=b.coin,
                    instrument=b.coin,
                    ts_venue=b.time,
                    ts_recv=recv_ms,
                    bid_px=None if bid is None else bid.px,
                    bid_sz=None if bid is None else bid.sz,
                    ask_px=None if ask is None else ask.px,
                    ask_sz=None if ask is None else ask.sz,
                ),
            )
        if isinstance(msg, TradesMsg):
            for t in msg.data:
                self._check_streamed(t.coin)
            return [self._trade(t, recv_ms, "ws") for t in msg.data]
        if isinstance(msg, BookMsg):
            d = msg.data
            self._check_streamed(d.coin)
            bids, asks = d.levels
            return (
                BookSnapshot(
                    instrument=d.coin,
                    bids=[(lv.px, lv.sz) for lv in bids],
                    asks=[(lv.px, lv.sz) for lv in asks],
                    ts_venue=d.time or None,  # 0 is no time: null, never the epoch
                ),
            )
        if isinstance(msg, AssetCtxMsg):
            return self._asset_ctx(msg, recv_ms)
        if isinstance(msg, PongMsg):
            return (Pong(),)
        if isinstance(msg, SubscriptionResponseMsg):
            subscribed = isinstance(msg.data, dict) and msg.data.get("method") == "subscribe"
            return (Ack(_describe_subscription(msg.data), subscribed=subscribed),)
        return self._error(msg.data)

    def _check_streamed(self, coin: str) -> None:
        """Refuse data about a coin nobody asked for: the plugin never invents one."""
        if coin not in self._streamed:
            raise UnknownFrame(f"data for a coin not subscribed: {coin!r}")

    def _trade(self, t: TradeData, recv_ms: int, source: Source) -> Trade:
        """One `WsTrade` (or `recentTrades` row, the same shape) as a Trade; the websocket
        and the backfill share it so a backfilled trade can never differ from the live one."""
        return Trade(
            venue=self._venue,
            symbol=t.coin,
            instrument=t.coin,
            ts_venue=t.time,
            ts_recv=recv_ms,
            price=t.px,
            size=t.sz,
            side="buy" if t.side == "B" else "sell",
            trade_id=str(t.tid),
            source=source,
        )

    # -- gap-free trades and REST fallback -----------------------------------------------

    def trade_identity(self, trade: Trade) -> Hashable:
        """`tid` is a hash of the two order ids, unique only together with the block time
        and the coin (HL-docs `websocket/subscriptions`, WsTrade)."""
        return (trade.instrument, trade.trade_id, trade.ts_venue)

    def trade_order(self, trade: Trade) -> Any:
        """Block time only: `tid` is a hash, so it says nothing about order. Trades of one
        block keep the order they arrived in (the core's sort must be stable)."""
        return (trade.ts_venue or 0,)

    def recent_trades_request(self, instrument: str, after: Trade | None) -> RestRequest:
        """`recentTrades` (see the docstring): the coin's last few trades, no paging."""
        return RestRequest(
            name=f"recentTrades:{instrument}",
            path=INFO_PATH,
            method="POST",
            json={"type": "recentTrades", "coin": instrument},
            parse=functools.partial(self._parse_recent_trades, instrument, after),
        )

    def _parse_recent_trades(
        self, coin: str, after: Trade | None, body: Any, recv_ms: int
    ) -> Sequence[Parsed]:
        rows = _convert(body, list[TradeData], f"recentTrades {coin}")
        for t in rows:
            if t.coin != coin:
                raise MalformedFrame(f"recentTrades {coin}: a trade of {t.coin!r}")
        if len(rows) > 1 and rows[0].time > rows[-1].time:
            rows.reverse()  # newest first: the order is not documented, read either
        # `after`'s block stays: it may hold trades not yet seen
        return self.trades_from((self._trade(t, recv_ms, "rest") for t in rows), after)

    def fallback_requests(self, instrument: str) -> Sequence[RestRequest]:
        """The `l2Book` snapshot only (see the docstring for why no mark request)."""
        return (
            RestRequest(
                name=f"l2Book:{instrument}",
                path=INFO_PATH,
                method="POST",
                json={"type": "l2Book", "coin": instrument},
                parse=functools.partial(self._parse_l2book, instrument),
            ),
        )

    def _parse_l2book(self, coin: str, body: Any, recv_ms: int) -> Sequence[Parsed]:
        book = _convert(body, BookData, f"l2Book {coin}")
        if book.coin != coin:
            raise MalformedFrame(f"l2Book {coin}: the book of {book.coin!r}")
        bids, asks = book.levels
        return (
            BookSnapshot(
                instrument=coin,
                bids=[(lv.px, lv.sz) for lv in bids],
                asks=[(lv.px, lv.sz) for lv in asks],
                ts_venue=book.time,
                from_rest=True,
            ),
        )

    def _asset_ctx(self, msg: AssetCtxMsg, recv_ms: int) -> Sequence[Parsed]:
        coin = msg.data.coin
        self._check_streamed(coin)
        ctx = msg.data.ctx
        mark = self._mark(coin, ctx, recv_ms)
        next_ms = next_hour_ms(recv_ms)
        key = (ctx.funding, next_ms)
        if self._last_funding.get(coin) == key:
            return (mark,)
        self._last_funding[coin] = key
        return (mark, self._funding(coin, ctx.funding, next_ms, recv_ms, FEED_WS))

    def _funding(self, coin: str, rate: float, next_ms: int, recv_ms: int, feed: str) -> Funding:
        """The ctx's "current funding": the hourly rate the coming payment is expected to
        apply (see the module docstring), from the websocket or the REST poll."""
        return Funding(
            venue=self._venue,
            symbol=coin,
            instrument=coin,
            ts_recv=recv_ms,
            rate=rate,
            interval_h=FUNDING_INTERVAL_H,
            rate_per_hour=rate,
            next_funding_ms=next_ms,
            basis="predicted",
            source="rest" if feed == FEED_REST else "ws",
            feed=feed,
        )

    def _mark(self, coin: str, ctx: PerpCtx, recv_ms: int) -> Mark:
        return Mark(
            venue=self._venue,
            symbol=coin,
            instrument=coin,
            ts_recv=recv_ms,
            mark_px=ctx.markPx,
            index_px=ctx.oraclePx,
        )

    def _error(self, data: Any) -> Sequence[Parsed]:
        text = data if isinstance(data, str) else encode_message(data)
        if any(harmless in text for harmless in _HARMLESS_ERRORS):
            return (Ack(text),)
        code = next((c for prefix, c in _ERROR_CODES if text.startswith(prefix)), "error")
        keys = _stream_keys_quoted_in(text)
        if not keys:
            return (VenueNotice(code=code, message=text),)
        return [VenueNotice(code=code, message=text, stream=k, fatal=True) for k in keys]


# -- helpers (cold paths) ------------------------------------------------------------


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _convert(body: Any, typ: type[T], what: str) -> T:
    """A REST body as the typed shape the websocket decoder also uses (same bounds)."""
    try:
        return msgspec.convert(body, typ, strict=False)
    except msgspec.ValidationError as exc:
        raise MalformedFrame(f"{what}: {exc}") from None


def _universe(meta: Any, what: str) -> list[dict[str, Any]]:
    """`meta.universe`, checked: a list of objects with a non-empty string `name`."""
    universe = meta.get("universe") if isinstance(meta, dict) else None
    if not isinstance(universe, list):
        raise MalformedFrame(f"{what}: expected an object with a 'universe' list")
    for i, asset in enumerate(universe):
        if not isinstance(asset, dict):
            raise MalformedFrame(f"{what}: universe[{i}] is not an object")
        name = asset.get("name")
        if not isinstance(name, str) or not name:
            raise MalformedFrame(f"{what}: universe[{i}].name is not a coin name: {name!r}")
    return universe


def _invalid(frame: str, exc: msgspec.ValidationError) -> MalformedFrame | UnknownFrame:
    """Tell a channel we do not read from a frame that is broken."""
    try:
        doc = decode_json(frame)
    except MalformedFrame as bad:
        return bad
    if isinstance(doc, dict):
        channel = doc.get("channel")
        if channel is None or (isinstance(channel, str) and channel not in KNOWN_CHANNELS):
            return UnknownFrame(f"unknown channel {channel!r}")
    return MalformedFrame(str(exc))


def _describe_subscription(data: Any) -> str:
    if isinstance(data, dict):
        sub = data.get("subscription")
        if isinstance(sub, dict):
            return f"{data.get('method', 'subscribe')} {sub.get('type')} {sub.get('coin', '')}"
    return f"subscriptionResponse {encode_message(data)}"


def _stream_keys_quoted_in(text: str) -> list[str]:
    """Stream keys of a subscribe request or subscription quoted in an error text.

    The venue echoes the offending JSON after a colon, e.g.
    `Error parsing JSON into valid websocket request: {"method":"subscribe",...}`.
    """
    start = text.find("{")
    if start < 0:
        return []
    try:
        doc = decode_json(text[start:])
    except MalformedFrame:
        return []
    if not isinstance(doc, dict):
        return []
    sub: Any = doc
    if "subscription" in doc:
        if doc.get("method", "subscribe") != "subscribe":
            return []
        sub = doc["subscription"]
    if not isinstance(sub, dict):
        return []
    kind_of = sub.get("type")
    coin = sub.get("coin")
    if not isinstance(kind_of, str) or not isinstance(coin, str):
        return []
    kinds = _STREAMS_OF_TYPE.get(kind_of)
    if kinds is None:
        return []
    return [StreamSpec(kind, coin).key for kind in kinds]

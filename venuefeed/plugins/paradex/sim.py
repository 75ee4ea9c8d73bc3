"""Paradex, simulated: the frames and REST answers the adapter in this folder expects.

Used by `venuefeed run --sim` and the engine tests. Mirrors the protocol described in
`adapter.py`, in both encodings, chosen per connection the way Paradex chooses it: a URL
with `?sbeSchemaId=1&sbeSchemaVersion=0|1|2` gets SBE binary data frames laid out as in
`sbe.py` (schema 1:0, 1:1 or 1:2), a URL without them gets JSON-RPC `subscription` pushes.
Either way requests, acks and errors are JSON-RPC text frames:

- `subscribe` / `unsubscribe` with `params.channel`, acked `{"result":{"channel":...},"id":N}`;
  a second subscribe to a channel, an unsubscribe of a channel not subscribed, an unknown
  channel or market, and a parameterised deltas channel are JSON-RPC errors (-32600).
- `order_book.{m}.snapshot@15@{50ms|100ms}`: a top-15 snapshot (update_type "s" / PkgType
  SNAPSHOT) on every market step, `seq_no` = the market's update id.
- `order_book.{m}.deltas`: the whole book as a snapshot first, then one delta per market step
  with `seq_no` + 1 (inserts / updates / deletes in JSON, qty 0 removing a level in SBE).
  The snapshot goes out with the first step after the subscribe, on the same path as the
  deltas, so it can never overtake or trail them.
- `bbo.{m}` when the top of book changes, `trades.{m}` one frame per trade (SBE: the
  deprecated int64 `tradeId` holds the id's low 64 bits, signed; from 1:2 the full id
  follows `market` as `tradeIdStr`, as the schema 1:2 lays it out),
  `funding_data.{m}` (8 h period) and `markets_summary.{m}` (mark, index) on the slow tick.
- SBE HeartbeatEvent (template 40) as the venue's periodic app-level frame on SBE
  connections. Paradex's own keep-alive is a websocket ping every 55 s that must be ponged
  (`ws_ping`: every `SimServer.ping_s`, a client that stops answering is dropped after the
  server's pong timeout, more generous than the venue's 5 s); the client's websocket pings
  are answered by the server.
- REST `GET /v1/markets` (the PERPs plus one option, which the adapter must skip),
  `GET /v1/markets/summary?market=X|ALL`, `GET /v1/orderbook/{m}?depth=` (the true book,
  `seq_no` = the market's update id, as on the book channel) and
  `GET /v1/trades?market=&page_size=&start_at=&end_at=&cursor=` (the market's trades as
  the `trades` channel sent them, newest first, `page_size` 100 by default and at most
  1000, times inclusive, and an opaque `next` cursor to the older ones).

Simplifications: snapshots are sent on every step rather than every 50/100 ms, heartbeats on
every ping tick rather than only on idle connections, and an unsupported SBE version is
served as version 2 instead of refused with HTTP 400.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import msgspec

from venuefeed.core.clock import wall_ms
from venuefeed.plugins.paradex import sbe
from venuefeed.sim import (
    DataFrame,
    Frame,
    MarketUpdate,
    SimRequest,
    SimResponse,
    SimSession,
    SimTrade,
    SimVenue,
    SyntheticMarket,
)

#: levels per side in a snapshot-feed message ("snapshot@15").
DEPTH = 15
#: funding period the simulated markets report (Paradex's default).
FUNDING_PERIOD_H = 8
REFRESH_RATES = ("50ms", "100ms")
#: the largest `GET /trades` page (openapi `page_size` maximum)
TRADES_PAGE_MAX = 1000
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
PARSE_ERROR = -32700

_encode = msgspec.json.encode
_NULL = sbe.NULL
_NULLS_9 = (_NULL,) * 9


def market_id(base: str) -> str:
    return f"{base}-USD-PERP"


def _dec(value: float) -> str:
    """A plain decimal string as Paradex sends it, parsing back to exactly `value`."""
    return format(Decimal(repr(value)), "f")


def _e8(value: float) -> int:
    """A fixed-point mantissa with exponent -8 (Price8 / Qty8)."""
    return round(value * 100_000_000)


def _rate8(value: float) -> int:
    """Rate8: truncated to 8 decimals, as the schema notes for funding rates."""
    return int(value * 100_000_000)


def _low64_signed(trade_id: int) -> int:
    """The low 64 bits of a trade id read as a signed int64, as the deprecated `tradeId`
    field carries it (schema 1:2: "negative when those exceed 2^63")."""
    low = trade_id % 2**64
    return low - 2**64 if low >= 2**63 else low


def _string(value: str) -> bytes:
    raw = value.encode()
    return bytes((len(raw),)) + raw


def _levels(levels: Sequence[tuple[float, float]]) -> bytes:
    out = [sbe.GROUP.pack(sbe.LEVEL.size, len(levels))]
    out.extend(sbe.LEVEL.pack(_e8(p), _e8(s)) for p, s in levels)
    return b"".join(out)


def _response(request_id: Any, result: Any) -> str:
    return _encode({"jsonrpc": "2.0", "result": result, "id": request_id}).decode()


def _invalid(message: str) -> SimResponse:
    return SimResponse({"error": "VALIDATION_ERROR", "message": message}, 400)


def _error(request_id: Any, code: int, message: str, data: str | None = None) -> str:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return _encode({"jsonrpc": "2.0", "error": error, "id": request_id}).decode()


class ParadexSession(SimSession):
    """One connection: its subscriptions, the encoding it negotiated, its book feeds."""

    #: Paradex pings at the websocket level and drops a socket that does not pong
    ws_ping = True

    def __init__(self, markets: Mapping[str, SyntheticMarket], sbe_version: int | None) -> None:
        self.markets = markets
        self.by_id = {market_id(base): base for base in markets}
        #: None: JSON pushes; 0, 1 or 2: SBE schema 1 at that version.
        self.sbe_version = sbe_version
        self.channels: set[str] = set()
        self.book: dict[str, str] = {}  # base -> its order_book channel
        self.subs: dict[str, set[str]] = {}  # "bbo" | "trades" | ... -> bases
        self.heartbeats = 0
        self._pending: set[str] = set()  # deltas subscriptions owing their first snapshot
        self._shadow: dict[str, tuple[set[float], set[float]]] = {}  # levels as published
        self._last_bbo: dict[str, tuple[float, float, float, float]] = {}
        self._seq = 0

    # -- control ---------------------------------------------------------------------------

    def on_message(self, text: str) -> Sequence[Frame]:
        try:
            msg = msgspec.json.decode(text)
        except msgspec.DecodeError:
            return (_error(None, PARSE_ERROR, "Parse error"),)
        if not isinstance(msg, dict):
            return (_error(None, INVALID_REQUEST, "Invalid Request"),)
        request_id = msg.get("id")
        method = msg.get("method")
        params = msg.get("params")
        channel = params.get("channel") if isinstance(params, dict) else None
        if method not in ("subscribe", "unsubscribe"):
            return (_error(request_id, METHOD_NOT_FOUND, "Method not found"),)
        if not isinstance(channel, str):
            return (_error(request_id, INVALID_REQUEST, f"invalid {method} request"),)
        target = self._route(channel)
        if isinstance(target, str):
            return (_error(request_id, INVALID_REQUEST, f"invalid {method} request", target),)
        kind, base = target
        if method == "subscribe":
            if channel in self.channels:
                data = "already subscribed"
                return (_error(request_id, INVALID_REQUEST, "invalid subscribe request", data),)
            self.channels.add(channel)
            if kind in ("snapshot", "deltas"):
                self.book[base] = channel
                if kind == "deltas":
                    self._pending.add(base)
            else:
                self.subs.setdefault(kind, set()).add(base)
        else:
            if channel not in self.channels:
                data = "not subscribed"
                return (_error(request_id, INVALID_REQUEST, "invalid unsubscribe request", data),)
            self.channels.discard(channel)
            if kind in ("snapshot", "deltas"):
                self.book.pop(base, None)
                self._pending.discard(base)
                self._shadow.pop(base, None)
            else:
                self.subs.get(kind, set()).discard(base)
        return (_response(request_id, {"channel": channel}),)

    def _route(self, channel: str) -> tuple[str, str] | str:
        """(kind, base) for a channel this venue serves, else the error's `data` text."""
        prefix, _, rest = channel.partition(".")
        if prefix == "order_book":
            market, _, feed = rest.partition(".")
            base = self.by_id.get(market)
            name, _, params = feed.partition("@")
            if base is None:
                return "invalid channel"
            if name == "deltas":
                return "no parameters expected for deltas topic." if params else ("deltas", base)
            depth, _, refresh = params.partition("@")
            if name == "snapshot" and depth == str(DEPTH) and refresh in REFRESH_RATES:
                return "snapshot", base
            return "invalid channel"
        kinds = {
            "bbo": "bbo",
            "trades": "trades",
            "funding_data": "funding",
            "markets_summary": "summary",
        }
        kind = kinds.get(prefix)
        base = self.by_id.get(rest)
        if kind is None or base is None:
            return "invalid channel"
        return kind, base

    def ping(self) -> Frame | None:
        if self.sbe_version is None:
            return None
        self.heartbeats += 1
        self._seq += 1
        now_us = time.time_ns() // 1000
        return self._sbe(sbe.HEARTBEAT, struct.pack("<qq", now_us, self._seq), b"")

    # -- market data -----------------------------------------------------------------------

    def on_update(self, market: SyntheticMarket, update: MarketUpdate) -> Sequence[DataFrame]:
        base = market.symbol
        out: list[DataFrame] = []
        channel = self.book.get(base)
        if channel is not None and not channel.endswith(".deltas"):
            bids, asks = market.book_top(DEPTH)
            out.append(DataFrame("book", base, self._book(market, update, True, bids, asks)))
        elif channel is not None:
            if base in self._pending:
                self._pending.discard(base)
                self._shadow[base] = (set(market.bids), set(market.asks))
                bids, asks = market.book_top(len(market.bids) + len(market.asks))
                frame = self._book(market, update, True, bids, asks)
            else:
                frame = self._book(market, update, False, update.bids, update.asks)
            out.append(DataFrame("book", base, frame))
        if base in self.subs.get("bbo", ()):
            (bp, bs), (ap, as_) = market.book_top(1)[0][0], market.book_top(1)[1][0]
            if self._last_bbo.get(base) != (bp, bs, ap, as_):
                self._last_bbo[base] = (bp, bs, ap, as_)
                out.append(DataFrame("bbo", base, self._bbo(market, update, bp, bs, ap, as_)))
        if base in self.subs.get("trades", ()):
            out.extend(DataFrame("trade", base, self._trade(market, t)) for t in update.trades)
        return out

    def on_tick(self, markets: Mapping[str, SyntheticMarket], now_ms: int) -> Sequence[DataFrame]:
        out: list[DataFrame] = []
        for base in sorted(self.subs.get("funding", ())):
            out.append(DataFrame("funding", base, self._funding(markets[base], now_ms)))
        for base in sorted(self.subs.get("summary", ())):
            out.append(DataFrame("mark", base, self._summary(markets[base], now_ms)))
        return out

    # -- encoders --------------------------------------------------------------------------

    def _push(self, channel: str, data: dict[str, Any]) -> str:
        params = {"channel": channel, "data": data}
        return _encode({"jsonrpc": "2.0", "method": "subscription", "params": params}).decode()

    def _sbe(self, template: int, block: bytes, tail: bytes) -> bytes:
        version = self.sbe_version or 0
        header = sbe.HEADER.pack(len(block), template, sbe.SCHEMA_ID, version)
        return header + block + tail

    def _book(
        self,
        market: SyntheticMarket,
        update: MarketUpdate,
        snapshot: bool,
        bids: Sequence[tuple[float, float]],
        asks: Sequence[tuple[float, float]],
    ) -> Frame:
        mid = market_id(market.symbol)
        if self.sbe_version is not None:
            pkg = sbe.PKG_SNAPSHOT if snapshot else sbe.PKG_DELTA
            block = struct.pack("<qqB9q", update.ts_ms * 1000, update.update_id, pkg, *_NULLS_9)
            return self._sbe(sbe.BOOK, block, _levels(bids) + _levels(asks) + _string(mid))
        rows: dict[str, list[dict[str, str]]] = {"inserts": [], "updates": [], "deletes": []}
        if snapshot:
            rows["inserts"] = [_row("BUY", p, s) for p, s in bids]
            rows["inserts"] += [_row("SELL", p, s) for p, s in asks]
        else:
            known_bids, known_asks = self._shadow[market.symbol]
            for side, levels, known in (("BUY", bids, known_bids), ("SELL", asks, known_asks)):
                for p, s in levels:
                    if s <= 0:
                        known.discard(p)
                        rows["deletes"].append(_row(side, p, 0.0))
                    elif p in known:
                        rows["updates"].append(_row(side, p, s))
                    else:
                        known.add(p)
                        rows["inserts"].append(_row(side, p, s))
        data: dict[str, Any] = {
            "seq_no": update.update_id,
            "market": mid,
            "last_updated_at": update.ts_ms,
            "update_type": "s" if snapshot else "d",
            **rows,
        }
        return self._push(self.book[market.symbol], data)

    def _bbo(
        self,
        market: SyntheticMarket,
        update: MarketUpdate,
        bp: float,
        bs: float,
        ap: float,
        as_: float,
    ) -> Frame:
        mid = market_id(market.symbol)
        if self.sbe_version is not None:
            block = sbe.BBO_BLOCK.pack(
                update.ts_ms * 1000, update.update_id, _e8(bp), _e8(bs), _e8(ap), _e8(as_)
            )
            return self._sbe(sbe.BBO, block, _string(mid))
        data = {
            "market": mid,
            "seq_no": update.update_id,
            "bid": _dec(bp),
            "bid_size": _dec(bs),
            "ask": _dec(ap),
            "ask_size": _dec(as_),
            "last_updated_at": update.ts_ms,
        }
        return self._push(f"bbo.{mid}", data)

    def _trade(self, market: SyntheticMarket, trade: SimTrade) -> Frame:
        mid = market_id(market.symbol)
        if self.sbe_version is not None:
            side = 1 if trade.side == "buy" else 2
            full_id = str(trade.trade_id)
            block = sbe.TRADE_BLOCK.pack(
                trade.ts_ms * 1000,
                trade.trade_id,
                _low64_signed(trade.trade_id),  # tradeId: deprecated, the low 64 bits
                side,
                _e8(trade.price),
                _e8(trade.size),
                trade.ts_ms * 1000,
                1,  # FillType FILL
            )
            tail = _string(mid)
            if (self.sbe_version or 0) >= sbe.TRADE_ID_STR_SINCE:
                tail += _string(full_id)  # tradeIdStr (1:2), after market
            return self._sbe(sbe.TRADE, block, tail)
        return self._push(f"trades.{mid}", trade_row(market, trade))

    def _funding(self, market: SyntheticMarket, now_ms: int) -> Frame:
        mid = market_id(market.symbol)
        rate = funding_rate(market)
        if self.sbe_version is not None:
            block = sbe.FUNDING_BLOCK.pack(
                now_ms * 1000,
                market.update_id,
                _rate8(rate),
                _e8(market.index),  # fundingIndex: any cumulative figure will do
                now_ms * 1000,
                0,  # fundingPremium
                _rate8(rate * 8 / FUNDING_PERIOD_H),
                FUNDING_PERIOD_H,
            )
            if self.sbe_version >= 1:
                block += struct.pack("<q", _NULL)  # impactPremiumRate (1:1)
            return self._sbe(sbe.FUNDING, block, _string(mid))
        data = {
            "market": mid,
            "funding_index": _dec(market.index),
            "funding_premium": "0",
            "funding_rate": _dec(rate),
            "funding_rate_8h": _dec(rate * 8 / FUNDING_PERIOD_H),
            "funding_period_hours": FUNDING_PERIOD_H,
            "created_at": now_ms,
        }
        return self._push(f"funding_data.{mid}", data)

    def _summary(self, market: SyntheticMarket, now_ms: int) -> Frame:
        mid = market_id(market.symbol)
        if self.sbe_version is not None:
            bid, bid_sz = market.book_top(1)[0][0]
            ask, ask_sz = market.book_top(1)[1][0]
            fields = [now_ms * 1000, market.update_id, _e8(market.mark), _e8(market.index)]
            fields += [_e8(market.mark), _e8(1_000_000.0), _e8(1_000.0)]  # last, vol 24h, OI
            fields += [_rate8(funding_rate(market)), _e8(bid), _e8(ask), _e8(5e7), 0]
            fields += [_NULL] * 13  # option IVs, greeks, future funding, external fair price
            fields += [_e8(bid_sz), _e8(ask_sz)]
            if self.sbe_version >= 1:
                # forwardRate, riskFreeRate, fundingRatePrecise (Rate12)
                fields += [_NULL, _NULL, round(funding_rate(market) * 1e12)]
            block = struct.pack(f"<{len(fields)}q", *fields)
            return self._sbe(sbe.SUMMARY, block, _string(mid))
        return self._push(f"markets_summary.{mid}", summary_row(market, now_ms))


def trade_row(market: SyntheticMarket, trade: SimTrade) -> dict[str, Any]:
    """One TradeResult: the `trades` channel's JSON data and a `GET /trades` row."""
    return {
        "id": str(trade.trade_id),
        "market": market_id(market.symbol),
        "side": "BUY" if trade.side == "buy" else "SELL",
        "size": _dec(trade.size),
        "price": _dec(trade.price),
        "created_at": trade.ts_ms,
        "trade_type": "FILL",
    }


def _row(side: str, price: float, size: float) -> dict[str, str]:
    return {"side": side, "price": _dec(price), "size": _dec(size)}


def funding_rate(market: SyntheticMarket) -> float:
    """The raw rate for the funding period, as `funding_rate` reports it."""
    return round(market.funding_rate_1h * FUNDING_PERIOD_H, 12)


def summary_row(market: SyntheticMarket, now_ms: int) -> dict[str, Any]:
    """One MarketSummaryResp, shared by `markets_summary` pushes and GET /markets/summary."""
    (bid, _), (ask, _) = market.book_top(1)[0][0], market.book_top(1)[1][0]
    return {
        "symbol": market_id(market.symbol),
        "oracle_price": _dec(market.mark),
        "mark_price": _dec(market.mark),
        "last_traded_price": _dec(market.mark),
        "bid": _dec(bid),
        "ask": _dec(ask),
        "volume_24h": "1000000",
        "total_volume": "50000000",
        "created_at": now_ms,
        "underlying_price": _dec(market.index),
        "open_interest": "1000",
        "funding_rate": _dec(funding_rate(market)),
        "price_change_rate_24h": "0",
    }


class ParadexSim(SimVenue):
    name = "paradex"

    def __init__(self, markets: Mapping[str, SyntheticMarket]) -> None:
        super().__init__(markets)
        #: every REST request answered, in order (tests check init and polls)
        self.requests: list[SimRequest] = []
        #: every websocket session opened, in order
        self.sessions: list[ParadexSession] = []

    def urls(self, base_http: str, base_ws: str) -> tuple[str, str]:
        return f"{base_ws}/v1", f"{base_http}/v1"

    def session(self, path: str, query: Mapping[str, str]) -> SimSession:
        version: int | None = None
        if "sbeSchemaId" in query:
            asked = query.get("sbeSchemaVersion")
            version = int(asked) if asked in ("0", "1", "2") else sbe.SCHEMA_VERSION
        session = ParadexSession(self.markets, version)
        self.sessions.append(session)
        return session

    def rest(self, request: SimRequest) -> SimResponse:
        self.requests.append(request)
        path = request.path.removeprefix("/v1")
        if request.method != "GET":
            return super().rest(request)
        if path == "/markets":
            return SimResponse({"results": self._markets()})
        if path == "/markets/summary":
            now_ms = wall_ms()
            wanted = request.query.get("market", "")
            rows = [
                summary_row(m, now_ms)
                for base, m in self.markets.items()
                if wanted in ("ALL", market_id(base))
            ]
            if not rows:
                body = {"error": "VALIDATION_ERROR", "message": f"market {wanted!r} not found"}
                return SimResponse(body, 400)
            return SimResponse({"results": rows})
        if path.startswith("/orderbook/"):
            return self._orderbook(path.removeprefix("/orderbook/"), request.query)
        if path == "/trades":
            return self._trades(request.query)
        return super().rest(request)

    def _market(self, name: str) -> SyntheticMarket | None:
        base = next((b for b in self.markets if market_id(b) == name), None)
        return None if base is None else self.markets[base]

    def _orderbook(self, name: str, query: Mapping[str, str]) -> SimResponse:
        market = self._market(name)
        if market is None:
            return _invalid(f"market {name!r} not found")
        try:
            depth = int(query.get("depth", "20"))
        except ValueError:
            return _invalid("depth must be an integer")
        bids, asks = market.book_top(depth)
        return SimResponse(
            {
                "market": name,
                "seq_no": market.update_id,
                "last_updated_at": wall_ms(),
                "bids": [[_dec(p), _dec(s)] for p, s in bids],
                "asks": [[_dec(p), _dec(s)] for p, s in asks],
            }
        )

    def _trades(self, query: Mapping[str, str]) -> SimResponse:
        market = self._market(query.get("market", ""))
        if market is None:
            return _invalid(f"market {query.get('market')!r} not found")
        try:
            size = int(query.get("page_size", "100"))
            start = int(query["start_at"]) if "start_at" in query else None
            end = int(query["end_at"]) if "end_at" in query else None
            before = int(query["cursor"].removeprefix("before:")) if "cursor" in query else None
        except ValueError:
            return _invalid("page_size, start_at, end_at and cursor are numbers")
        if not 1 <= size <= TRADES_PAGE_MAX:
            return _invalid(f"page_size must be 1 to {TRADES_PAGE_MAX}")
        newest_first = [market.trades[i] for i in sorted(market.trades, reverse=True)]
        matching = [
            t
            for t in newest_first
            if (start is None or t.ts_ms >= start)
            and (end is None or t.ts_ms <= end)
            and (before is None or t.trade_id < before)
        ]
        page = matching[:size]
        more = len(matching) > size
        return SimResponse(
            {
                "next": f"before:{page[-1].trade_id}" if more else None,
                "prev": None,
                "results": [trade_row(market, t) for t in page],
            }
        )

    def _markets(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = [
            {
                "symbol": market_id(base),
                "base_currency": base,
                "quote_currency": "USD",
                "settlement_currency": "USDC",
                "asset_kind": "PERP",
                "funding_period_hours": FUNDING_PERIOD_H,
                "price_tick_size": _dec(m.tick),
                "order_size_increment": "0.0001",
                "max_funding_rate": "0.05",
                "open_at": 1_700_000_000_000,
                "expiry_at": 0,
            }
            for base, m in self.markets.items()
        ]
        if rows:  # an option on the first base: listed by Paradex, skipped by the adapter
            base = rows[0]["base_currency"]
            rows.append(
                {
                    "symbol": f"{base}-USD-100000-C",
                    "base_currency": base,
                    "quote_currency": "USD",
                    "settlement_currency": "USDC",
                    "asset_kind": "PERP_OPTION",
                    "funding_period_hours": 24,
                }
            )
        return rows

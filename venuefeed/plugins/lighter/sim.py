"""Lighter, simulated: the frames and REST answers the adapter in this folder expects.

Used by `venuefeed run --sim` and the engine tests. Mirrors the protocol described in
`adapter.py` (and PROTOCOLS.md section 3), with the frame shapes of the recorded samples in
`tests/plugins/lighter/data`:

- websocket at `<base>/stream`; `{"session_id":..,"type":"connected"}` on open;
- `{"type":"subscribe"|"unsubscribe","channel":"<name>/<market_id>"}` with `/`, frames
  naming the channel with `:`; `unsubscribed` acks; error frames
  `{"error":{"code","message"}}` for 30002 "Not Subscribed", 30003 "Already Subscribed" and
  30005 "Invalid Channel" (other client messages get the asyncapi `{"type":"error"}`; its
  code is the sim's choice, the real one is undocumented);
- `order_book`: `subscribed/order_book` is the full book (and the subscription's only ack)
  with `begin_nonce: 0`, then `update/order_book` changed levels (size "0.0000" removes a
  level) where `begin_nonce` is the previous message's `nonce`. Nonces are per market and
  grow by 2 to 4 per update, like the real ones (never +1), so only the chain is usable;
- `ticker`: `subscribed/ticker`, then `update/ticker` when the best bid or ask (price or
  size) changes;
- `trade`: `subscribed/trade` replaying the market's last `RECENT_TRADES` trades (also on a
  resubscribe after an outage, so trades made meanwhile come back), then `update/trade`
  with `is_maker_ask` (true = taker bought) and an empty `liquidation_trades`;
- `market_stats/{id}` or `/all`: `subscribed/` then `update/market_stats` about once a
  second, `current_funding_rate` in percent per hour truncated to 4 decimals like the
  venue's, `mark_price`, `index_price`;
- server `{"type":"ping"}` (`ping()`), client `{"type":"ping"}` answered `{"type":"pong"}`;
  a connection idle for 2 minutes is closed, and the client pings every 30 s (the SDK's
  period and venues.toml's `heartbeat_interval_s`): 4 ping periods here (`idle_limit_pings`);
  any client message or websocket ping counts;
- `GET /api/v1/orderBooks` (market-id map; real ids ETH=0, BTC=1, SOL=2, plus a spot market
  the adapter must skip) and `GET /api/v1/funding-rates` (8-hour fraction per market, with a
  non-lighter row the adapter must filter out);
- `GET /api/v1/recentTrades?market_id=&limit=` (`limit` required, 1 to 100): the market's
  last trades, newest first (the venue's order is not documented; the adapter sorts), in
  the `trade` channel's schema; and `GET /api/v1/orderBookOrders?market_id=&limit=`
  (`limit` required, 1 to 250): the true book as resting orders, best first, every other
  level split into two orders whose amounts add up exactly, so the adapter's summing is
  exercised. Bad parameters get `400 {"code": 20001, "message": ...}` (the code is the
  sim's choice). All of it comes from `SyntheticMarket`, like the websocket.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import msgspec

from venuefeed.core.clock import wall_ms
from venuefeed.core.wire import HOUR_MS
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

#: Lighter's own market ids for the symbols it lists; others get ids after these.
MARKET_IDS: dict[str, int] = {"ETH": 0, "BTC": 1, "SOL": 2}
SPOT_MARKET_ID = 2048  # "ETH/USDC": listed by orderBooks, never subscribed
CHANNELS = ("order_book", "ticker", "trade", "market_stats")
NONCE_BASE = 9_182_389_998
#: trades `subscribed/trade` replays (third-party clients report the last ~50)
RECENT_TRADES = 50
#: `limit` bounds of `recentTrades` and `orderBookOrders` (SDK `openapi.json`)
REST_TRADES_MAX = 100
BOOK_ORDERS_MAX = 250
PING = '{"type":"ping"}'
PONG = '{"type":"pong"}'
_encode = msgspec.json.encode


def nonce(update_id: int) -> int:
    """The book nonce after market update `update_id`: strictly increasing, steps of 2-4."""
    return NONCE_BASE + 3 * update_id + update_id % 2


def _json(obj: Any) -> str:
    return _encode(obj).decode()


def _error(code: int, message: str) -> str:
    return _json({"error": {"code": code, "message": message}})


def _decimals(step: float) -> int:
    text = f"{step:.8f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


class LighterSim(SimVenue):
    name = "lighter"

    def __init__(self, markets: Mapping[str, SyntheticMarket]) -> None:
        super().__init__(markets)
        self.market_id: dict[str, int] = {}
        spare = itertools.count(max(MARKET_IDS.values()) + 1)
        for symbol in markets:
            self.market_id[symbol] = MARKET_IDS.get(symbol, -1)
            if self.market_id[symbol] < 0:
                self.market_id[symbol] = next(spare)
        self.symbol_of: dict[int, str] = {mid: s for s, mid in self.market_id.items()}
        self.price_decimals = {s: _decimals(m.tick) for s, m in markets.items()}
        self._sessions = itertools.count(1)

    def urls(self, base_http: str, base_ws: str) -> tuple[str, str]:
        return f"{base_ws}/stream", base_http

    def session(self, path: str, query: Mapping[str, str]) -> SimSession:
        return LighterSession(self, f"sim-{next(self._sessions):08d}")

    def rest(self, request: SimRequest) -> SimResponse:
        if request.method == "GET" and request.path == "/api/v1/orderBooks":
            books = [self._order_book_row(s) for s in self.markets]
            books.append(
                {
                    "symbol": "ETH/USDC",
                    "market_id": SPOT_MARKET_ID,
                    "market_type": "spot",
                    "status": "active",
                    "supported_size_decimals": 4,
                    "supported_price_decimals": 2,
                }
            )
            return SimResponse({"code": 200, "order_books": books})
        if request.method == "GET" and request.path == "/api/v1/funding-rates":
            rows: list[dict[str, Any]] = []
            for symbol, market in self.markets.items():
                mid = self.market_id[symbol]
                rate = market.funding_rate_1h * 8  # an 8-hour fraction, as the adapter reads it
                rows.append(
                    {"market_id": mid, "exchange": "lighter", "symbol": symbol, "rate": rate}
                )
                rows.append(
                    {"market_id": mid, "exchange": "binance", "symbol": symbol, "rate": 1.0}
                )
            return SimResponse({"code": 200, "funding_rates": rows})
        if request.method == "GET" and request.path in (
            "/api/v1/recentTrades",
            "/api/v1/orderBookOrders",
        ):
            trades = request.path.endswith("recentTrades")
            found = self._market_and_limit(request, REST_TRADES_MAX if trades else BOOK_ORDERS_MAX)
            if isinstance(found, SimResponse):
                return found
            market, limit = found
            if trades:
                rows = [self.trade(market, t) for t in reversed(recent(market, limit))]
                return SimResponse({"code": 200, "trades": rows})
            return SimResponse({"code": 200, **self.book_orders(market, limit)})
        return super().rest(request)

    def _market_and_limit(
        self, request: SimRequest, most: int
    ) -> tuple[SyntheticMarket, int] | SimResponse:
        try:
            market_id, limit = int(request.query["market_id"]), int(request.query["limit"])
        except (KeyError, ValueError):
            return _bad_request("market_id and limit are required integers")
        symbol = self.symbol_of.get(market_id)
        if symbol is None:
            return _bad_request(f"market {market_id} not found")
        if not 1 <= limit <= most:
            return _bad_request(f"limit must be 1 to {most}")
        return self.markets[symbol], limit

    def book_orders(self, market: SyntheticMarket, limit: int) -> dict[str, Any]:
        """The true book as resting orders, best first, at most `limit` a side."""
        symbol = market.symbol
        bids, asks = market.book_top(len(market.bids) + len(market.asks))
        sides: dict[str, list[dict[str, Any]]] = {}
        for side, levels, base in (("bids", bids, 562_949_953_421_312), ("asks", asks, 0)):
            orders: list[dict[str, Any]] = []
            for n, (px, sz) in enumerate(levels):
                amount = Decimal(f"{sz:.4f}")
                half = (amount / 2).quantize(Decimal("0.0001"))
                parts = [half, amount - half] if n % 2 and half > 0 else [amount]
                for part in parts:
                    index = base + 281_474_976_710_656 + len(orders)
                    orders.append(
                        {
                            "order_index": index,
                            "order_id": str(index),
                            "owner_account_index": 1001,
                            "initial_base_amount": f"{part:.4f}",
                            "remaining_base_amount": f"{part:.4f}",
                            "price": self.px(symbol, px),
                            "order_expiry": 0,
                            "transaction_time": 0,
                        }
                    )
            sides[side] = orders[:limit]
        return {
            "total_asks": len(sides["asks"]),
            "asks": sides["asks"],
            "total_bids": len(sides["bids"]),
            "bids": sides["bids"],
        }

    def _order_book_row(self, symbol: str) -> dict[str, Any]:
        return {
            "symbol": symbol,
            "market_id": self.market_id[symbol],
            "market_type": "perp",
            "status": "active",
            "taker_fee": "0.0000",
            "maker_fee": "0.0000",
            "min_base_amount": "0.0010",
            "min_quote_amount": "10.000000",
            "supported_size_decimals": 4,
            "supported_price_decimals": self.price_decimals[symbol],
            "supported_quote_decimals": 6,
        }

    # -- encoders shared by sessions --------------------------------------------------

    def px(self, symbol: str, price: float) -> str:
        return f"{price:.{self.price_decimals[symbol]}f}"

    def levels(self, symbol: str, levels: Sequence[tuple[float, float]]) -> list[dict[str, str]]:
        return [{"price": self.px(symbol, p), "size": f"{s:.4f}"} for p, s in levels]

    def book_frame(
        self,
        kind: str,
        market: SyntheticMarket,
        bids: Sequence[tuple[float, float]],
        asks: Sequence[tuple[float, float]],
        update_id: int,
        ts_ms: int,
    ) -> str:
        symbol = market.symbol
        snapshot = kind.startswith("subscribed")
        book = {
            "code": 0,
            "asks": self.levels(symbol, asks),
            "bids": self.levels(symbol, bids),
            "offset": update_id,
            "nonce": nonce(update_id),
            "last_updated_at": ts_ms * 1000,
            "begin_nonce": 0 if snapshot else nonce(update_id - 1),
        }
        return _json(
            {
                "channel": f"order_book:{self.market_id[symbol]}",
                "last_updated_at": ts_ms * 1000,
                "offset": update_id,
                "order_book": book,
                "timestamp": ts_ms,
                "type": kind,
            }
        )

    def ticker(self, market: SyntheticMarket, ts_ms: int) -> dict[str, Any]:
        symbol = market.symbol
        (bp, bs), (ap, as_) = market.book_top(1)[0][0], market.book_top(1)[1][0]
        return {
            "s": symbol,
            "a": {"price": self.px(symbol, ap), "size": f"{as_:.4f}"},
            "b": {"price": self.px(symbol, bp), "size": f"{bs:.4f}"},
            "last_updated_at": ts_ms * 1000,
        }

    def trade(self, market: SyntheticMarket, t: SimTrade) -> dict[str, Any]:
        symbol = market.symbol
        buy = t.side == "buy"
        return {
            "trade_id": t.trade_id,
            "trade_id_str": str(t.trade_id),
            "tx_hash": f"{t.trade_id:064x}",
            "type": "trade",
            "market_id": self.market_id[symbol],
            "size": f"{t.size:.4f}",
            "price": self.px(symbol, t.price),
            "usd_amount": f"{t.size * t.price:.6f}",
            "ask_id": 281_474_976_710_656 + 2 * t.trade_id,
            "bid_id": 562_949_953_421_312 + 2 * t.trade_id + 1,
            "ask_account_id": 1001,
            "bid_account_id": 1002,
            "is_maker_ask": buy,  # the resting order was the ask: the taker bought
            "block_height": 100_000_000 + t.trade_id,
            "timestamp": t.ts_ms,
        }

    def stats(self, market: SyntheticMarket, ts_ms: int) -> dict[str, Any]:
        symbol = market.symbol
        percent = math.trunc(market.funding_rate_1h * 100 * 10_000) / 10_000
        mid = (market.best_bid() + market.best_ask()) / 2
        last_trade = market.trades.get(market.trade_id)
        last = last_trade.price if last_trade is not None else mid
        return {
            "symbol": symbol,
            "market_id": self.market_id[symbol],
            "index_price": self.px(symbol, market.index),
            "mark_price": self.px(symbol, market.mark),
            "mid_price": self.px(symbol, mid),
            "open_interest": "1000.0000",
            "open_interest_limit": "50000000.000000",
            "funding_clamp_small": "0.0500",
            "funding_clamp_big": "4.0000",
            "last_trade_price": self.px(symbol, last),
            "current_funding_rate": f"{percent:.4f}",
            "funding_rate": f"{percent:.4f}",
            "funding_timestamp": (ts_ms // HOUR_MS) * HOUR_MS,
            "daily_base_token_volume": 1000.0,
            "daily_quote_token_volume": 1000.0 * mid,
            "daily_price_low": market.best_bid(),
            "daily_price_high": market.best_ask(),
            "daily_price_change": 0.0,
        }


class LighterSession(SimSession):
    #: 2 minutes idle over the 30 s client ping period
    idle_limit_pings = 4.0

    def __init__(self, venue: LighterSim, session_id: str) -> None:
        self.venue = venue
        self.session_id = session_id
        #: channel name -> subscribed market ids ("all" for market_stats/all)
        self.subs: dict[str, set[str]] = {c: set() for c in CHANNELS}
        self._last_ticker: dict[str, tuple[float, float, float, float]] = {}
        self.pongs = 0  # client answers to our pings

    def on_open(self) -> Sequence[Frame]:
        return (_json({"session_id": self.session_id, "type": "connected"}),)

    def ping(self) -> Frame | None:
        return PING

    def on_message(self, text: str) -> Sequence[Frame]:
        try:
            msg = msgspec.json.decode(text)
        except msgspec.DecodeError:
            return (_json({"type": "error", "code": 30000, "message": "Invalid JSON"}),)
        kind = msg.get("type") if isinstance(msg, dict) else None
        if kind == "ping":
            return (PONG,)
        if kind == "pong":
            self.pongs += 1
            return ()
        if kind not in ("subscribe", "unsubscribe"):
            return (_json({"type": "error", "code": 30000, "message": f"Invalid Type: {kind}"}),)
        channel = msg.get("channel")
        name, sep, market = channel.partition("/") if isinstance(channel, str) else ("", "", "")
        known = self._symbol(market) is not None or (name, market) == ("market_stats", "all")
        if not sep or name not in self.subs or not known:
            return (_error(30005, f"Invalid Channel:  ({channel})"),)
        venue_channel = f"{name}:{market}"
        subs = self.subs[name]
        if kind == "unsubscribe":
            if market not in subs:
                return (_error(30002, f"Not Subscribed to : {venue_channel}"),)
            subs.discard(market)
            return (_json({"type": "unsubscribed", "channel": venue_channel}),)
        if market in subs:
            return (_error(30003, f"Already Subscribed to : {venue_channel}"),)
        subs.add(market)
        return (self._subscribed(name, market),)

    def _symbol(self, market: str) -> str | None:
        if not market.isdigit():
            return None
        return self.venue.symbol_of.get(int(market))

    def _subscribed(self, name: str, market: str) -> str:
        """The one frame answering a subscription: the channel's snapshot."""
        venue = self.venue
        now = wall_ms()
        if name == "market_stats" and market == "all":
            return self._stats_all("subscribed/market_stats", venue.markets, now)
        symbol = self._symbol(market)
        assert symbol is not None
        m = venue.markets[symbol]
        channel = f"{name}:{market}"
        if name == "order_book":
            bids, asks = m.book_top(len(m.bids) + len(m.asks))
            return venue.book_frame("subscribed/order_book", m, bids, asks, m.update_id, now)
        if name == "ticker":
            ticker = venue.ticker(m, now)
            self._last_ticker[symbol] = _quote(m)
            return _json(
                {
                    "channel": channel,
                    "nonce": nonce(m.update_id),
                    "ticker": ticker,
                    "timestamp": now,
                    "type": "subscribed/ticker",
                }
            )
        if name == "trade":
            trades = [venue.trade(m, t) for t in recent(m, RECENT_TRADES)]
            return _json(
                {
                    "channel": channel,
                    "liquidation_trades": [],
                    "nonce": nonce(m.update_id),
                    "trades": trades,
                    "type": "subscribed/trade",
                }
            )
        stats = venue.stats(m, now)
        return _json(
            {
                "channel": channel,
                "market_stats": stats,
                "timestamp": now,
                "type": "subscribed/market_stats",
            }
        )

    def on_update(self, market: SyntheticMarket, update: MarketUpdate) -> Sequence[DataFrame]:
        venue = self.venue
        symbol = market.symbol
        market_id = str(venue.market_id[symbol])
        out: list[DataFrame] = []
        if market_id in self.subs["order_book"]:
            frame = venue.book_frame(
                "update/order_book",
                market,
                update.bids,
                update.asks,
                update.update_id,
                update.ts_ms,
            )
            out.append(DataFrame("book", symbol, frame))
        if market_id in self.subs["ticker"]:
            quote = _quote(market)
            if self._last_ticker.get(symbol) != quote:
                self._last_ticker[symbol] = quote
                frame = _json(
                    {
                        "channel": f"ticker:{market_id}",
                        "last_updated_at": update.ts_ms * 1000,
                        "nonce": nonce(update.update_id),
                        "ticker": venue.ticker(market, update.ts_ms),
                        "timestamp": update.ts_ms,
                        "type": "update/ticker",
                    }
                )
                out.append(DataFrame("bbo", symbol, frame))
        if update.trades and market_id in self.subs["trade"]:
            frame = _json(
                {
                    "channel": f"trade:{market_id}",
                    "liquidation_trades": [],
                    "nonce": nonce(update.update_id),
                    "trades": [venue.trade(market, t) for t in update.trades],
                    "type": "update/trade",
                }
            )
            out.append(DataFrame("trade", symbol, frame))
        return out

    def on_tick(self, markets: Mapping[str, SyntheticMarket], now_ms: int) -> Sequence[DataFrame]:
        venue = self.venue
        subs = self.subs["market_stats"]
        out: list[DataFrame] = []
        if "all" in subs:
            frame = self._stats_all("update/market_stats", markets, now_ms)
            out.append(DataFrame("mark", "*", frame))
        for market_id in sorted(subs - {"all"}, key=int):
            symbol = venue.symbol_of[int(market_id)]
            frame = _json(
                {
                    "channel": f"market_stats:{market_id}",
                    "market_stats": venue.stats(markets[symbol], now_ms),
                    "timestamp": now_ms,
                    "type": "update/market_stats",
                }
            )
            out.append(DataFrame("mark", symbol, frame))
        return out

    def _stats_all(self, kind: str, markets: Mapping[str, SyntheticMarket], now_ms: int) -> str:
        venue = self.venue
        stats = {str(venue.market_id[s]): venue.stats(m, now_ms) for s, m in markets.items()}
        return _json(
            {
                "channel": "market_stats:all",
                "market_stats": stats,
                "timestamp": now_ms,
                "type": kind,
            }
        )


def recent(market: SyntheticMarket, count: int) -> list[SimTrade]:
    """The market's last `count` trades, oldest first."""
    ids = range(max(1, market.trade_id - count + 1), market.trade_id + 1)
    return [market.trades[i] for i in ids if i in market.trades]


def _bad_request(message: str) -> SimResponse:
    return SimResponse({"code": 20001, "message": f"invalid param: {message}"}, 400)


def _quote(market: SyntheticMarket) -> tuple[float, float, float, float]:
    (bp, bs), (ap, as_) = market.book_top(1)[0][0], market.book_top(1)[1][0]
    return bp, bs, ap, as_

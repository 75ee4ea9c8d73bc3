"""Hyperliquid, simulated: the frames and REST answers the adapter in this folder expects.

Used by `venuefeed run --sim` and the engine tests. Mirrors the protocol described in
`adapter.py`: a plain-text greeting, `{"method": "subscribe", ...}` acknowledged with a
`subscriptionResponse`, full `l2Book` snapshots, `bbo` on change, `trades`, `activeAssetCtx`
about once a second, `{"method": "ping"}` answered with `{"channel": "pong"}`, and
`POST /info` for `meta`, `metaAndAssetCtxs`, `l2Book` (the REST fallback's book) and
`recentTrades` (the backfill).

Trades as the venue serves them, all from `SyntheticMarket.trades` so the websocket and REST
agree: every `trades` subscribe is answered by the subscription ack, then one `trades`
frame replaying the coin's last `REPLAY_TRADES` trades (the live capture in the adapter's
docstring saw ~30), then live trades. `recentTrades` answers the last `REST_TRADES` trades,
newest first (the real order is undocumented; the adapter reads either). `tid` is the
market's sequential trade id, not a hash as on the venue, so the conformance kit can count
losses; the adapter must not, and does not, order trades by it.

Idle limit: the venue closes a connection that has sent it no message for 60 s, and the
client pings every 20 s (the recommended `heartbeat_interval_s`): 3 ping periods here
(`idle_limit_pings`). Only messages count; a websocket-level ping does not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from venuefeed.core.clock import wall_ms
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

DEPTH = 20
GREETING = "Websocket connection established."
#: trades replayed by every `trades` subscribe
REPLAY_TRADES = 30
#: trades `recentTrades` returns
REST_TRADES = 10
_encode = msgspec.json.encode


def _level(px: float, sz: float) -> dict[str, Any]:
    return {"px": f"{px:.8g}", "sz": f"{sz:.8g}", "n": 1}


def _trade(coin: str, t: SimTrade) -> dict[str, Any]:
    """One WsTrade; `recentTrades` rows have the same shape."""
    return {
        "coin": coin,
        "side": "B" if t.side == "buy" else "A",
        "px": f"{t.price:.8g}",
        "sz": f"{t.size:.8g}",
        "hash": f"0x{t.trade_id:064x}",
        "time": t.ts_ms,
        "tid": t.trade_id,
        "users": ["0xbuyer", "0xseller"],
    }


def recent(market: SyntheticMarket, count: int) -> list[SimTrade]:
    """The market's last `count` trades, oldest first."""
    ids = range(max(1, market.trade_id - count + 1), market.trade_id + 1)
    return [market.trades[i] for i in ids if i in market.trades]


def book(market: SyntheticMarket, ts_ms: int) -> dict[str, Any]:
    """`WsBook`, also the `l2Book` REST answer."""
    bids, asks = market.book_top(DEPTH)
    return {
        "coin": market.symbol,
        "time": ts_ms,
        "levels": [[_level(p, s) for p, s in bids], [_level(p, s) for p, s in asks]],
    }


class HyperliquidSession(SimSession):
    #: 60 s without a client message over the recommended 20 s client ping period
    idle_limit_pings = 3.0
    ws_ping_resets_idle = False

    def __init__(self, markets: Mapping[str, SyntheticMarket]) -> None:
        self.markets = markets
        self.subs: dict[str, set[str]] = {}  # channel type -> coins
        self._last_bbo: dict[str, tuple[float, float]] = {}

    def on_open(self) -> Sequence[Frame]:
        return (GREETING,)

    def on_message(self, text: str) -> Sequence[Frame]:
        msg = msgspec.json.decode(text)
        method = msg.get("method")
        if method == "ping":
            return ('{"channel":"pong"}',)
        if method != "subscribe":
            return (_encode({"channel": "error", "data": f"Unknown method: {text}"}).decode(),)
        sub = msg["subscription"]
        coin = sub.get("coin")
        if coin not in self.markets:
            return ()  # the real venue silently drops the socket; keep the sim simple
        self.subs.setdefault(sub["type"], set()).add(coin)
        ack = _encode({"channel": "subscriptionResponse", "data": msg}).decode()
        out: list[Frame] = [ack]
        if sub["type"] == "l2Book":
            out.append(self._book(self.markets[coin], wall_ms()))
        if sub["type"] == "trades":
            replay = [_trade(coin, t) for t in recent(self.markets[coin], REPLAY_TRADES)]
            if replay:
                out.append(_encode({"channel": "trades", "data": replay}).decode())
        return out

    def _book(self, market: SyntheticMarket, ts_ms: int) -> str:
        return _encode({"channel": "l2Book", "data": book(market, ts_ms)}).decode()

    def on_update(self, market: SyntheticMarket, update: MarketUpdate) -> Sequence[DataFrame]:
        coin = market.symbol
        out: list[DataFrame] = []
        if coin in self.subs.get("l2Book", ()):
            out.append(DataFrame("book", coin, self._book(market, update.ts_ms)))
        if coin in self.subs.get("bbo", ()):
            (bp, bs), (ap, as_) = market.book_top(1)[0][0], market.book_top(1)[1][0]
            if self._last_bbo.get(coin) != (bp, ap):
                self._last_bbo[coin] = (bp, ap)
                data = {
                    "coin": coin,
                    "time": update.ts_ms,
                    "bbo": [_level(bp, bs), _level(ap, as_)],
                }
                out.append(
                    DataFrame("bbo", coin, _encode({"channel": "bbo", "data": data}).decode())
                )
        if update.trades and coin in self.subs.get("trades", ()):
            trades = [_trade(coin, t) for t in update.trades]
            frame = _encode({"channel": "trades", "data": trades}).decode()
            out.append(DataFrame("trade", coin, frame))
        return out

    def on_tick(self, markets: Mapping[str, SyntheticMarket], now_ms: int) -> Sequence[DataFrame]:
        out: list[DataFrame] = []
        for coin in sorted(self.subs.get("activeAssetCtx", ())):
            m = markets[coin]
            data = {"coin": coin, "ctx": _ctx(m)}
            frame = _encode({"channel": "activeAssetCtx", "data": data}).decode()
            out.append(DataFrame("mark", coin, frame))
        return out


def _ctx(m: SyntheticMarket) -> dict[str, str]:
    return {
        "funding": f"{m.funding_rate_1h:.10f}",
        "markPx": f"{m.mark:.8g}",
        "oraclePx": f"{m.index:.8g}",
        "midPx": f"{(m.best_bid() + m.best_ask()) / 2:.8g}",
        "openInterest": "1000.0",
        "dayNtlVlm": "1000000.0",
        "prevDayPx": f"{m.mark:.8g}",
        "premium": "0.0",
    }


class HyperliquidSim(SimVenue):
    name = "hyperliquid"

    def urls(self, base_http: str, base_ws: str) -> tuple[str, str]:
        return f"{base_ws}/ws", base_http

    def session(self, path: str, query: Mapping[str, str]) -> SimSession:
        return HyperliquidSession(self.markets)

    def rest(self, request: SimRequest) -> SimResponse:
        body = request.json if isinstance(request.json, dict) else {}
        universe = [{"name": s, "szDecimals": 4, "maxLeverage": 50} for s in self.markets]
        if request.path == "/info" and body.get("type") == "meta":
            return SimResponse({"universe": universe})
        if request.path == "/info" and body.get("type") == "metaAndAssetCtxs":
            ctxs = [_ctx(m) for m in self.markets.values()]
            return SimResponse([{"universe": universe}, ctxs])
        if request.path == "/info" and body.get("type") in ("l2Book", "recentTrades"):
            market = self.markets.get(body.get("coin", ""))
            if market is None:  # the venue's answer to an unknown coin is undocumented
                return SimResponse({"error": f"unknown coin {body.get('coin')!r}"}, 422)
            if body["type"] == "l2Book":
                return SimResponse(book(market, wall_ms()))
            rows = [_trade(market.symbol, t) for t in recent(market, REST_TRADES)]
            return SimResponse(rows[::-1])
        return super().rest(request)

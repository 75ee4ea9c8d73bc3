"""Aster, simulated: the frames and REST answers the adapter in this folder expects.

Used by `venuefeed run --sim` and the engine tests. Mirrors the Binance-futures-style
protocol described in `adapter.py` (AST-DOCS = asterdex/api-docs, futures V3):

- Websocket: combined streams at `/stream` (frames wrapped as `{"stream": name, "data":
  payload}`), subscribed either by `{"method": "SUBSCRIBE", "params": [...], "id": n}`
  (answered `{"result": null, "id": n}`) or in the URL (`/stream?streams=a/b`, no ack);
  raw streams at `/ws[/<name>]` (payload unwrapped). `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`,
  `SET_PROPERTY`/`GET_PROPERTY ["combined"]` work; a malformed request or an unknown stream
  is answered `{"code": <n>, "msg": <text>, "id": <id>}` (AST-DOCS error table). Stream
  symbols must be lower-case.
- `<sym>@depth[@100ms|@500ms]`: one `depthUpdate` per market step with the venue's real
  sequence fields: `U` = `u` = the step's update id, `pu` = the previous event's `u`
  (ids move by exactly 1 per step, so `pu = u - 1`; a dropped frame breaks the link).
  No snapshot on the socket: the client GETs `/fapi/v3/depth` (`lastUpdateId` = the
  market's update id at request time) and bridges its buffered deltas.
- `<sym>@bookTicker` on every change of the best bid or ask (price or size), `<sym>@aggTrade`
  per trade (`m` = buyer is maker, i.e. the taker sold), `<sym>@markPrice[@1s]` about once a
  second with mark, index, the per-interval funding rate `r` and the next funding time.
- Heartbeat: the real venue pings at the websocket level (every 5 min; here `ws_ping`, every
  `SimServer.ping_s`); there is no application ping either way, so `ping()` is None and
  `on_message` answers none.
- REST: `GET /fapi/v3/exchangeInfo`, `/fapi/v3/fundingInfo[?symbol=]` (every market is
  listed; `FUNDING_INTERVAL_H` gives ETH 4 h, the others 8 h, so per-symbol intervals are
  visible), `/fapi/v3/premiumIndex[?symbol=]`, `/fapi/v3/depth?symbol=&limit=` and
  `/fapi/v3/aggTrades?symbol=[&fromId=][&startTime=][&endTime=][&limit=]` (AST-DOCS
  L1090-1128: oldest first, `fromId` and the times inclusive, `limit` 500 by default and
  at most 1000, a time range of less than an hour, the latest trades when no id or time is
  given), served from `SyntheticMarket.trades`, the trades the stream sent. An unknown
  symbol is `400 {"code": -1121, "msg": "Invalid symbol."}`. Every request is kept in
  `AsterSim.requests` so a test can see a resync hit the depth endpoint.

Funding: the market's rate is per hour; `r`/`lastFundingRate` are per funding interval,
so the sim sends `rate_1h * interval_h` and the adapter divides it back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
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

QUOTE = "USDT"
#: funding interval per base symbol where it is not the usual 8 h (the doc's example has 4 h).
FUNDING_INTERVAL_H: Mapping[str, float] = {"ETH": 4.0}
DEFAULT_FUNDING_INTERVAL_H = 8.0
#: `limit` values `/fapi/v3/depth` accepts (AST-DOCS L979-1021); 500 when absent.
DEPTH_LIMITS = frozenset({5, 10, 20, 50, 100, 500, 1000})
#: `aggTrades` rows by default and at most (AST-DOCS L1118-1124)
AGG_TRADES_DEFAULT = 500
AGG_TRADES_MAX = 1000
HOUR_MS_RANGE = 3_600_000
_DEPTH_STREAMS = ("depth", "depth@100ms", "depth@500ms")
_MARK_STREAMS = ("markPrice", "markPrice@1s")
_encode = msgspec.json.encode


def _num(x: float) -> str:
    """A price or size as Aster quotes it: a decimal string."""
    return f"{x:.8f}"


def _rate(x: float) -> str:
    return f"{x:.10f}"


def interval_h(symbol: str) -> float:
    return FUNDING_INTERVAL_H.get(symbol, DEFAULT_FUNDING_INTERVAL_H)


def _next_funding_ms(symbol: str, now_ms: int) -> int:
    step = int(interval_h(symbol) * HOUR_MS)
    return (now_ms // step + 1) * step


def _levels(levels: Sequence[tuple[float, float]]) -> list[list[str]]:
    return [[_num(p), _num(s)] for p, s in levels]


def agg_trade(t: SimTrade) -> dict[str, Any]:
    """An aggregate trade's fields, shared by the `aggTrade` stream and `aggTrades` rows.
    One sim trade is one aggregate trade of one fill (`f` = `l`)."""
    return {
        "a": t.trade_id,
        "p": _num(t.price),
        "q": _num(t.size),
        "f": t.trade_id,
        "l": t.trade_id,
        "T": t.ts_ms,
        "m": t.side == "sell",  # the buyer made the market: the taker sold
    }


def _error(code: int, msg: str, req_id: Any = None) -> str:
    body: dict[str, Any] = {"code": code, "msg": msg}
    if req_id is not None:
        body["id"] = req_id
    return _encode(body).decode()


class AsterSession(SimSession):
    """One connection: its subscriptions (base symbol -> channel -> stream name)."""

    #: Aster's keep-alive is a websocket ping frame from the server (every `ping_s`); a
    #: client that stops answering is dropped (the venue allows 15 min for 5 min pings)
    ws_ping = True

    def __init__(self, markets: Mapping[str, SyntheticMarket], *, combined: bool) -> None:
        self.markets = markets
        self.combined = combined
        self.subs: dict[str, dict[str, str]] = {}
        self._last_bbo: dict[str, tuple[float, float, float, float]] = {}

    # --- subscriptions ----------------------------------------------------------------

    def _stream(self, name: str) -> tuple[str, str] | None:
        """`btcusdt@depth@100ms` -> ("BTC", "depth"); None for a stream the sim lacks."""
        low, sep, channel = name.partition("@")
        if not sep or low != low.lower() or not low.endswith(QUOTE.lower()):
            return None
        base = low[: -len(QUOTE)].upper()
        if base not in self.markets:
            return None
        if channel in _DEPTH_STREAMS:
            return base, "depth"
        if channel in _MARK_STREAMS:
            return base, "markPrice"
        if channel in ("bookTicker", "aggTrade"):
            return base, channel
        return None

    def subscribe(self, names: Sequence[str]) -> str | None:
        """Add streams; the first unknown name, if any, and nothing is added then."""
        parsed: list[tuple[str, str, str]] = []
        for name in names:
            found = self._stream(name)
            if found is None:
                return name
            parsed.append((*found, name))
        for base, channel, name in parsed:
            self.subs.setdefault(base, {})[channel] = name
        return None

    def _names(self) -> list[str]:
        return [name for chans in self.subs.values() for name in chans.values()]

    def on_message(self, text: str) -> Sequence[Frame]:
        try:
            msg = json.loads(text)
        except ValueError as exc:
            return (_error(3, f"Invalid JSON: {exc}"),)
        if not isinstance(msg, dict):
            return (_error(2, "Invalid request: expected an object"),)
        req_id = msg.get("id")
        if not isinstance(req_id, int) or isinstance(req_id, bool) or req_id < 0:
            return (_error(2, "Invalid request: request ID must be an unsigned integer"),)
        method = msg.get("method")
        params = msg.get("params", [])
        if not isinstance(params, list):
            return (_error(2, "Invalid request: params must be an array", req_id),)
        result: Any = None
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not all(isinstance(p, str) for p in params):
                return (_error(2, "Invalid request: stream names must be strings", req_id),)
            if method == "SUBSCRIBE":
                bad = self.subscribe(params)
                if bad is not None:
                    return (_error(2, f"Invalid request: unknown stream {bad!r}", req_id),)
            else:
                for name in params:
                    found = self._stream(name)
                    if found is not None:
                        self.subs.get(found[0], {}).pop(found[1], None)
        elif method == "LIST_SUBSCRIPTIONS":
            result = self._names()
        elif method in ("SET_PROPERTY", "GET_PROPERTY"):
            if not params or params[0] != "combined":
                return (_error(0, "Unknown property", req_id),)
            if method == "GET_PROPERTY":
                result = self.combined
            elif len(params) != 2 or not isinstance(params[1], bool):
                return (_error(1, "Invalid value type: expected Boolean", req_id),)
            else:
                self.combined = params[1]
        else:
            return (
                _error(
                    2,
                    f"Invalid request: unknown variant {method!r}, expected one of "
                    "`SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, "
                    "`GET_PROPERTY`",
                    req_id,
                ),
            )
        return (_encode({"result": result, "id": req_id}).decode(),)

    # --- market data ------------------------------------------------------------------

    def _wrap(self, stream: str, payload: dict[str, Any]) -> str:
        body = {"stream": stream, "data": payload} if self.combined else payload
        return _encode(body).decode()

    def on_update(self, market: SyntheticMarket, update: MarketUpdate) -> Sequence[DataFrame]:
        base = market.symbol
        subs = self.subs.get(base)
        if not subs:
            return ()
        native = base + QUOTE
        ts = update.ts_ms
        out: list[DataFrame] = []
        stream = subs.get("bookTicker")
        if stream is not None:
            (bp, bs), (ap, as_) = market.book_top(1)[0][0], market.book_top(1)[1][0]
            if self._last_bbo.get(base) != (bp, bs, ap, as_):
                self._last_bbo[base] = (bp, bs, ap, as_)
                payload: dict[str, Any] = {
                    "e": "bookTicker",
                    "u": update.update_id,
                    "E": ts,
                    "T": ts,
                    "s": native,
                    "b": _num(bp),
                    "B": _num(bs),
                    "a": _num(ap),
                    "A": _num(as_),
                }
                out.append(DataFrame("bbo", base, self._wrap(stream, payload)))
        stream = subs.get("depth")
        if stream is not None:
            payload = {
                "e": "depthUpdate",
                "E": ts,
                "T": ts,
                "s": native,
                "U": update.update_id,
                "u": update.update_id,
                "pu": update.update_id - 1,
                "b": _levels(update.bids),
                "a": _levels(update.asks),
            }
            out.append(DataFrame("book", base, self._wrap(stream, payload)))
        stream = subs.get("aggTrade")
        if stream is not None:
            for t in update.trades:
                payload = {"e": "aggTrade", "E": ts, "s": native, **agg_trade(t)}
                out.append(DataFrame("trade", base, self._wrap(stream, payload)))
        return out

    def on_tick(self, markets: Mapping[str, SyntheticMarket], now_ms: int) -> Sequence[DataFrame]:
        out: list[DataFrame] = []
        for base, subs in self.subs.items():
            stream = subs.get("markPrice")
            if stream is None:
                continue
            m = markets[base]
            payload = {
                "e": "markPriceUpdate",
                "E": now_ms,
                "s": base + QUOTE,
                "p": _num(m.mark),
                "i": _num(m.index),
                "P": _num(m.index),
                "r": _rate(m.funding_rate_1h * interval_h(base)),
                "T": _next_funding_ms(base, now_ms),
            }
            out.append(DataFrame("mark", base, self._wrap(stream, payload)))
        return out


class AsterSim(SimVenue):
    name = "aster"

    def __init__(self, markets: Mapping[str, SyntheticMarket]) -> None:
        super().__init__(markets)
        #: every REST request answered, in order (tests count depth snapshots with it).
        self.requests: list[SimRequest] = []

    def requested(self, path: str, symbol: str | None = None) -> int:
        """How many requests hit `path` (for `symbol`, when given)."""
        return sum(
            1
            for r in self.requests
            if r.path == path and (symbol is None or r.query.get("symbol") == symbol)
        )

    def urls(self, base_http: str, base_ws: str) -> tuple[str, str]:
        return base_ws, base_http  # the adapter appends `/stream`

    def session(self, path: str, query: Mapping[str, str]) -> SimSession:
        if path == "/ws" or path.startswith("/ws/"):
            session = AsterSession(self.markets, combined=False)
            name = path.removeprefix("/ws").strip("/")
            if name:
                session.subscribe([name])
            return session
        session = AsterSession(self.markets, combined=True)
        streams = query.get("streams", "")
        if streams:
            session.subscribe([s for s in streams.split("/") if s])
        return session

    # --- REST -------------------------------------------------------------------------

    def rest(self, request: SimRequest) -> SimResponse:
        self.requests.append(request)
        if request.method != "GET":
            return super().rest(request)
        symbol = request.query.get("symbol")
        base: str | None = None
        if symbol is not None:
            base = symbol.removesuffix(QUOTE) if symbol.endswith(QUOTE) else None
            if base not in self.markets:
                return SimResponse({"code": -1121, "msg": "Invalid symbol."}, 400)
        path = request.path
        if path == "/fapi/v3/exchangeInfo":
            return SimResponse(self._exchange_info())
        if path == "/fapi/v3/fundingInfo":
            rows = [self._funding_info(s) for s in self.markets if base in (None, s)]
            return SimResponse(rows)
        if path == "/fapi/v3/premiumIndex":
            if base is not None:
                return SimResponse(self._premium_index(base))
            return SimResponse([self._premium_index(s) for s in self.markets])
        if path == "/fapi/v3/depth":
            if base is None:
                return SimResponse(
                    {"code": -1102, "msg": "Mandatory parameter 'symbol' was not sent."}, 400
                )
            try:
                limit = int(request.query.get("limit", "500"))
            except ValueError:
                limit = 0
            if limit not in DEPTH_LIMITS:
                return SimResponse({"code": -1130, "msg": "Invalid limit."}, 400)
            return SimResponse(self._depth(base, limit))
        if path == "/fapi/v3/aggTrades":
            if base is None:
                return SimResponse(
                    {"code": -1102, "msg": "Mandatory parameter 'symbol' was not sent."}, 400
                )
            return self._agg_trades(self.markets[base], request.query)
        return super().rest(request)

    def _agg_trades(self, market: SyntheticMarket, query: Mapping[str, str]) -> SimResponse:
        try:
            limit = int(query.get("limit", AGG_TRADES_DEFAULT))
            from_id = int(query["fromId"]) if "fromId" in query else None
            start = int(query["startTime"]) if "startTime" in query else None
            end = int(query["endTime"]) if "endTime" in query else None
        except ValueError:
            return SimResponse({"code": -1100, "msg": "Illegal characters in a parameter."}, 400)
        if not 1 <= limit <= AGG_TRADES_MAX:
            return SimResponse({"code": -1130, "msg": "Invalid limit."}, 400)
        if start is not None and end is not None and not 0 <= end - start < HOUR_MS_RANGE:
            return SimResponse({"code": -1127, "msg": "More than 1 hours between times."}, 400)
        trades = [market.trades[i] for i in sorted(market.trades)]
        if from_id is not None:
            trades = [t for t in trades if t.trade_id >= from_id]
        if start is not None:
            trades = [t for t in trades if t.ts_ms >= start]
        if end is not None:
            trades = [t for t in trades if t.ts_ms <= end]
        if from_id is None and start is None and end is None:
            trades = trades[-limit:]  # the latest
        return SimResponse([agg_trade(t) for t in trades[:limit]])

    def _exchange_info(self) -> dict[str, Any]:
        symbols = [
            {
                "symbol": base + QUOTE,
                "pair": base + QUOTE,
                "contractType": "PERPETUAL",
                "deliveryDate": 4133404800000,
                "onboardDate": 1598252400000,
                "status": "TRADING",
                "baseAsset": base,
                "quoteAsset": QUOTE,
                "marginAsset": QUOTE,
                "pricePrecision": 8,
                "quantityPrecision": 4,
                "filters": [
                    {"filterType": "PRICE_FILTER", "tickSize": _num(m.tick)},
                    {"filterType": "LOT_SIZE", "stepSize": "0.0001"},
                ],
            }
            for base, m in self.markets.items()
        ]
        return {
            "timezone": "UTC",
            "serverTime": wall_ms(),
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": 2400,
                }
            ],
            "exchangeFilters": [],
            "assets": [{"asset": QUOTE, "marginAvailable": True, "autoAssetExchange": 0}],
            "symbols": symbols,
        }

    def _funding_info(self, base: str) -> dict[str, Any]:
        return {
            "symbol": base + QUOTE,
            "interestRate": "0.00010000",
            "time": wall_ms(),
            "fundingIntervalHours": int(interval_h(base)),
            "fundingFeeCap": 0.03,
            "fundingFeeFloor": -0.03,
        }

    def _premium_index(self, base: str) -> dict[str, Any]:
        m = self.markets[base]
        now = wall_ms()
        return {
            "symbol": base + QUOTE,
            "markPrice": _num(m.mark),
            "indexPrice": _num(m.index),
            "estimatedSettlePrice": _num(m.index),
            "lastFundingRate": _rate(m.funding_rate_1h * interval_h(base)),
            "interestRate": "0.00010000",
            "nextFundingTime": _next_funding_ms(base, now),
            "time": now,
        }

    def _depth(self, base: str, limit: int) -> dict[str, Any]:
        m = self.markets[base]
        bids, asks = m.book_top(limit)
        now = wall_ms()
        return {
            "lastUpdateId": m.update_id,
            "E": now,
            "T": now,
            "bids": _levels(bids),
            "asks": _levels(asks),
        }

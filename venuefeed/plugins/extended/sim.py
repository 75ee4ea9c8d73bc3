"""Extended (X10), simulated: the v1 streams and REST answers the adapter in this folder expects.

Used by `venuefeed run --sim` and the engine tests. Mirrors the protocol described in
`adapter.py`:

- URLs shaped like the real ones: streams under `{ws}/stream.extended.exchange/v1`, REST
  under `{http}/api/v1` (so the adapter's joining of a base path is exercised too).
- v1 has no subscribe message: the URL is the subscription, one socket per stream and
  market (`/orderbooks/{m}`, `/publicTrades/{m}`, `/funding/{m}`, `/prices/mark/{m}`; no
  market = every market). The stream starts on connect; an unknown stream or market gets
  `{"status": "ERROR", "error": {"code": 1001, ...}}`.
- Every message carries `seq`, starting at 1 and growing by exactly 1 per message on its
  connection. The book stream opens with a full-depth `SNAPSHOT`, then one `DELTA` per
  market step whose levels carry both readings the adapter accepts: `q` the size change
  and `c` the new absolute size (0 removes the level).
- Trades `{ts, data: [{m, S, tT, T, p, q, i}], seq}`, funding `{ts, data: {m, T, f}, seq}`
  and mark `{type: "MP", data: {m, p, ts: 0}, ts, seq}` (the venue's `data.ts` of 0)
  about once a second. Numbers are decimal strings, as on the venue.
- No application-level ping: the server sends websocket pings (`ws_ping`) and drops a
  client that stops answering them; client messages are ignored.
- Every request needs a `User-Agent` (`required_headers`): the venue's WAF answers a request
  without one, REST or websocket handshake, with 403.
- REST `GET /info/markets[?market=]`, `/info/markets/{m}/stats`,
  `/info/markets/{m}/orderbook` (the whole true book) and `/info/markets/{m}/trades` (the
  market's last `REST_TRADES` trades, oldest first like the docs' example, as the trades
  stream sent them; the venue's count is not documented) in the `{status: "OK", data:
  ...}` envelope.

`ExtendedSim.opened` counts connections per stream path and `requests` lists REST paths,
so tests can check that a resync reopened only the broken book's socket.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from venuefeed.core.clock import wall_ms
from venuefeed.core.wire import next_hour_ms
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

WS_PREFIX = "/stream.extended.exchange/v1"
REST_PREFIX = "/api/v1"
#: v1 stream path segment -> DataFrame kind
STREAMS: dict[str, str] = {
    "orderbooks": "book",
    "publicTrades": "trade",
    "funding": "funding",
    "prices/mark": "mark",
}
#: trades `/info/markets/{m}/trades` returns (the sim's choice: the docs give no count)
REST_TRADES = 50
_encode = msgspec.json.encode


def _num(x: float) -> str:
    """A decimal string without exponent, exact for the market model's rounded values."""
    text = f"{x:.10f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def market_name(base: str) -> str:
    return f"{base}-USD"


def _error(code: int, message: str) -> dict[str, Any]:
    return {"status": "ERROR", "error": {"code": code, "message": message}}


class ExtendedStream(SimSession):
    """One v1 stream connection: a stream kind and the markets it carries."""

    #: v1's keep-alive: websocket pings from the server, answered by the client
    ws_ping = True

    def __init__(
        self, kind: str | None, bases: Sequence[str], markets: Mapping[str, SyntheticMarket]
    ) -> None:
        self.kind = kind  # "book", "trade", "funding", "mark"; None: an unknown stream
        self.bases = tuple(bases)
        self.seq = 0  # the last seq sent on this connection
        self.sent: Counter[str] = Counter()  # book frames sent, by type
        self.last_update: dict[str, int] = {}  # base -> last market update described
        #: per base: the book as this connection last described it (to derive `q`)
        self._books: dict[str, tuple[dict[float, float], dict[float, float]]] = {}
        self._markets = {b: markets[b] for b in self.bases}

    def _frame(self, body: dict[str, Any]) -> str:
        self.seq += 1
        body["seq"] = self.seq
        return _encode(body).decode()

    def on_open(self) -> Sequence[Frame]:
        if self.kind is None or not self.bases:
            return (_encode(_error(1001, "Market not found.")).decode(),)
        if self.kind != "book":
            return ()
        now = wall_ms()
        out: list[Frame] = []
        for base in self.bases:
            market = self._markets[base]
            bids, asks = dict(market.bids), dict(market.asks)
            self._books[base] = (bids, asks)
            self.last_update[base] = market.update_id
            self.sent["SNAPSHOT"] += 1
            data = {
                "m": market_name(base),
                "b": [{"p": _num(p), "q": _num(s)} for p, s in sorted(bids.items(), reverse=True)],
                "a": [{"p": _num(p), "q": _num(s)} for p, s in sorted(asks.items())],
            }
            out.append(self._frame({"ts": now, "type": "SNAPSHOT", "data": data}))
        return out

    def on_update(self, market: SyntheticMarket, update: MarketUpdate) -> Sequence[DataFrame]:
        base = market.symbol
        if base not in self.bases:
            return ()
        if self.kind == "book" and base in self._books:
            bids, asks = self._books[base]
            data = {
                "m": market_name(base),
                "b": _delta_levels(bids, update.bids),
                "a": _delta_levels(asks, update.asks),
            }
            body = {"ts": update.ts_ms, "type": "DELTA", "data": data}
            self.last_update[base] = update.update_id
            self.sent["DELTA"] += 1
            return (DataFrame("book", base, self._frame(body)),)
        if self.kind == "trade" and update.trades:
            rows = [trade_row(base, t) for t in update.trades]
            return (DataFrame("trade", base, self._frame({"ts": update.ts_ms, "data": rows})),)
        return ()

    def on_tick(self, markets: Mapping[str, SyntheticMarket], now_ms: int) -> Sequence[DataFrame]:
        out: list[DataFrame] = []
        for base in self.bases:
            m = markets[base]
            if self.kind == "funding":
                data: dict[str, Any] = {
                    "m": market_name(base),
                    "T": now_ms,
                    "f": _num(m.funding_rate_1h),
                }
                out.append(DataFrame("funding", base, self._frame({"ts": now_ms, "data": data})))
            elif self.kind == "mark":
                data = {"m": market_name(base), "p": _num(m.mark), "ts": 0}
                body = {"type": "MP", "data": data, "ts": now_ms}
                out.append(DataFrame("mark", base, self._frame(body)))
        return out


def trade_row(base: str, t: SimTrade) -> dict[str, Any]:
    """One public trade, on the stream and in the REST trades answer alike."""
    return {
        "m": market_name(base),
        "S": "BUY" if t.side == "buy" else "SELL",
        "tT": "TRADE",
        "T": t.ts_ms,
        "p": _num(t.price),
        "q": _num(t.size),
        "i": t.trade_id,
    }


def _delta_levels(
    book: dict[float, float], changes: Sequence[tuple[float, float]]
) -> list[dict[str, str]]:
    """DELTA levels: `q` the change from what this connection sent before, `c` the new size."""
    out: list[dict[str, str]] = []
    for price, size in changes:
        old = book.get(price, 0.0)
        if size > 0:
            book[price] = size
        else:
            book.pop(price, None)
        out.append({"p": _num(price), "q": _num(round(size - old, 8)), "c": _num(size)})
    return out


class ExtendedSim(SimVenue):
    name = "extended"
    #: the WAF blocks requests without one (see adapter.py)
    required_headers = ("User-Agent",)

    def __init__(self, markets: Mapping[str, SyntheticMarket]) -> None:
        super().__init__(markets)
        self.opened: Counter[str] = Counter()  # stream path -> connections opened
        self.requests: list[str] = []  # REST paths requested, in order
        self.sessions: dict[str, list[ExtendedStream]] = {}  # stream path -> its sessions

    def urls(self, base_http: str, base_ws: str) -> tuple[str, str]:
        return f"{base_ws}{WS_PREFIX}", f"{base_http}{REST_PREFIX}"

    def _base(self, market: str) -> str | None:
        for base in self.markets:
            if market_name(base) == market:
                return base
        return None

    def session(self, path: str, query: Mapping[str, str]) -> SimSession:
        path = path.removeprefix(WS_PREFIX)
        self.opened[path] += 1
        stream, market = path.strip("/"), ""
        if stream not in STREAMS:
            stream, _, market = stream.rpartition("/")
        kind = STREAMS.get(stream)
        if not market:
            bases = list(self.markets)
        else:
            base = self._base(market)
            bases = [base] if base is not None else []
        session = ExtendedStream(kind, bases, self.markets)
        self.sessions.setdefault(path, []).append(session)
        return session

    def rest(self, request: SimRequest) -> SimResponse:
        path = request.path.removeprefix(REST_PREFIX)
        self.requests.append(path)
        if request.method != "GET":
            return super().rest(request)
        if path == "/info/markets":
            wanted = request.query.get("market")
            rows = [
                self._market(base)
                for base in self.markets
                if wanted is None or market_name(base) == wanted
            ]
            return SimResponse({"status": "OK", "data": rows})
        parts = path.strip("/").split("/")
        if len(parts) == 4 and parts[:2] == ["info", "markets"]:
            base = self._base(parts[2])
            if base is None:
                return SimResponse(_error(1001, "Market not found."), 404)
            if parts[3] == "stats":
                return SimResponse({"status": "OK", "data": self._stats(base)})
            if parts[3] == "orderbook":
                return SimResponse({"status": "OK", "data": self._orderbook(base)})
            if parts[3] == "trades":
                m = self.markets[base]
                ids = range(max(1, m.trade_id - REST_TRADES + 1), m.trade_id + 1)
                rows = [trade_row(base, m.trades[i]) for i in ids if i in m.trades]
                return SimResponse({"status": "OK", "data": rows})
        return super().rest(request)

    def _market(self, base: str) -> dict[str, Any]:
        m = self.markets[base]
        return {
            "name": market_name(base),
            "uiName": market_name(base),
            "category": "Crypto",
            "assetName": base,
            "assetPrecision": 4,
            "collateralAssetName": "USD",
            "collateralAssetPrecision": 6,
            "active": True,
            "status": "ACTIVE",
            "marketStats": self._stats(base),
            "tradingConfig": {
                "minOrderSize": "0.0001",
                "minOrderSizeChange": "0.0001",
                "minPriceChange": _num(m.tick),
                "maxLeverage": "50.00",
            },
        }

    def _stats(self, base: str) -> dict[str, Any]:
        m = self.markets[base]
        return {
            "lastPrice": _num(m.mark),
            "bidPrice": _num(m.best_bid()),
            "askPrice": _num(m.best_ask()),
            "markPrice": _num(m.mark),
            "indexPrice": _num(m.index),
            "fundingRate": _num(m.funding_rate_1h),
            "nextFundingRate": next_hour_ms(wall_ms()),
            "openInterest": "1000000",
            "openInterestBase": "100",
            "dailyVolume": "1000000",
        }

    def _orderbook(self, base: str) -> dict[str, Any]:
        m = self.markets[base]
        bids, asks = m.book_top(max(len(m.bids), len(m.asks)))
        return {
            "market": market_name(base),
            "bid": [{"qty": _num(s), "price": _num(p)} for p, s in bids],
            "ask": [{"qty": _num(s), "price": _num(p)} for p, s in asks],
        }

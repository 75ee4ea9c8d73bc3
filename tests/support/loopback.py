"""An adapter wired to its own simulator in process: no sockets, no clock, no engine.

The REST requests an adapter describes are answered by its `SimVenue` (the way the core
would send them: `rest_url`'s path + the request's path, its query and JSON body, the
answer through a JSON round trip), its connections are `SimSession`s that get the
connection's subscribe messages, and every frame a session sends goes through the
adapter's `parse`. A test then steps the synthetic markets and compares what the adapter
made of the websocket with what it makes of the venue's REST endpoints: both come from
the same `SyntheticMarket`, so any difference is the plugin's (or the simulator's).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from venuefeed.core.adapter import Instrument, Parsed, RestRequest, VenueAdapter, VenueContext
from venuefeed.core.events import Trade
from venuefeed.sim.cluster import simulator_class
from venuefeed.sim.market import SyntheticMarket
from venuefeed.sim.protocol import Frame, SimRequest, SimSession, SimVenue

#: a fixed start for the markets' clock: one step is `STEP_MS` later than the one before
START_MS = 1_790_000_000_000
STEP_MS = 20


class SimRestError(AssertionError):
    """The simulator refused a request the adapter described (an error status)."""


@dataclass
class Loopback:
    """One adapter and its simulator, started the way the core starts an adapter."""

    adapter: VenueAdapter
    sim: SimVenue
    rest_url: str
    instruments: list[Instrument]
    sessions: list[SimSession] = field(default_factory=list)
    #: every result of every frame, in arrival order
    parsed: list[Parsed] = field(default_factory=list)
    now_ms: int = START_MS

    @property
    def markets(self) -> Mapping[str, SyntheticMarket]:
        return self.sim.markets

    def fetch(self, request: RestRequest, recv_ms: int | None = None) -> Sequence[Parsed]:
        """Answer `request` from the simulator and parse the body, as the core would."""
        path = urlsplit(self.rest_url).path.rstrip("/") + request.path
        body = None if request.json is None else json.loads(json.dumps(request.json))
        answer = self.sim.rest(SimRequest(request.method, path, dict(request.params or {}), body))
        if answer.status >= 400:
            raise SimRestError(f"{request.name}: HTTP {answer.status}: {answer.body!r}")
        return request.parse(json.loads(json.dumps(answer.body)), recv_ms or self.now_ms)

    def feed(self, frames: Sequence[Frame]) -> list[Parsed]:
        out: list[Parsed] = []
        for frame in frames:
            out.extend(self.adapter.parse(frame, self.now_ms))
        self.parsed.extend(out)
        return out

    def step(self, steps: int = 1) -> list[Parsed]:
        """Advance every market `steps` times; the results of the frames that went out."""
        out: list[Parsed] = []
        for _ in range(steps):
            self.now_ms += STEP_MS
            for market in self.markets.values():
                update = market.step(self.now_ms)
                for session in self.sessions:
                    out += self.feed([d.frame for d in session.on_update(market, update)])
        return out

    def tick(self) -> list[Parsed]:
        """The slow tick (mark, funding) on every session."""
        out: list[Parsed] = []
        for session in self.sessions:
            out += self.feed([d.frame for d in session.on_tick(self.markets, self.now_ms)])
        return out

    def connect(self) -> list[Parsed]:
        """Open every connection the adapter asks for and send its subscribe messages."""
        out: list[Parsed] = []
        for spec in self.adapter.connections(self.instruments):
            url = urlsplit(spec.url)
            session = self.sim.session(url.path, dict(parse_qsl(url.query)))
            self.sessions.append(session)
            out += self.feed(session.on_open())
            for message in spec.subscribe:
                text = message if isinstance(message, str) else json.dumps(message)
                out += self.feed(session.on_message(text))
        return out

    def disconnect(self) -> None:
        self.sessions.clear()

    def trades(self, results: Sequence[Parsed] | None = None) -> list[Trade]:
        return [r for r in (self.parsed if results is None else results) if isinstance(r, Trade)]


def loopback(
    adapter: type[VenueAdapter],
    symbols: Sequence[str] = ("BTC", "ETH"),
    *,
    options: Mapping[str, Any] | None = None,
    seed: int = 1,
    connect: bool = True,
) -> Loopback:
    """`adapter` started against its simulator (init requests answered, symbols resolved,
    connections opened and subscribed unless `connect` is false)."""
    markets = {s: SyntheticMarket(s, seed=seed) for s in symbols}
    sim = simulator_class(adapter)(markets)
    ws_url, rest_url = sim.urls("http://sim.test", "ws://sim.test")
    ctx = VenueContext(
        name=adapter.name,
        symbols=tuple(symbols),
        ws_url=ws_url,
        rest_url=rest_url,
        options={**sim.options(), **(options or {})},
    )
    rig = Loopback(adapter(ctx), sim, rest_url, [])
    for request in rig.adapter.init_requests():
        rig.fetch(request)
    rig.instruments = [rig.adapter.resolve(s) for s in symbols]
    if connect:
        rig.connect()
    return rig


#: the fields a backfilled trade must share with the live one (all but `ts_recv`/`source`)
TRADE_FIELDS = ("venue", "symbol", "instrument", "ts_venue", "price", "size", "side", "trade_id")


def assert_same_trades(live: Sequence[Trade], backfilled: Sequence[Trade]) -> None:
    """Every backfilled trade is a live trade field for field, marked `source="rest"`."""
    by_id = {t.trade_id: t for t in live}
    assert backfilled, "the backfill returned no trade to compare"
    for rest in backfilled:
        assert rest.source == "rest", f"backfilled trade {rest.trade_id} says {rest.source!r}"
        ws = by_id.get(rest.trade_id)
        assert ws is not None, f"backfilled trade {rest.trade_id} never came over the websocket"
        assert ws.source == "ws"
        for name in TRADE_FIELDS:
            got, want = getattr(rest, name), getattr(ws, name)
            assert got == want, f"trade {rest.trade_id}: {name} is {got!r} by REST, {want!r} live"


def flip_sides(request: RestRequest) -> RestRequest:
    """`request` with a parse that gets the taker side backwards (a broken backfill)."""

    def parse(body: Any, recv_ms: int) -> Sequence[Parsed]:
        out: list[Parsed] = []
        for item in request.parse(body, recv_ms):
            if isinstance(item, Trade):
                side = "sell" if item.side == "buy" else "buy"
                item = Trade(**{**_fields(item), "side": side})
            out.append(item)
        return out

    return RestRequest(
        request.name,
        request.path,
        parse,
        request.method,
        request.params,
        request.json,
        request.headers,
    )


def _fields(trade: Trade) -> dict[str, Any]:
    return {name: getattr(trade, name) for name in trade.__struct_fields__}

"""The status board: latest BBO, funding and mark per (venue, symbol), and event rates.

Fed by its own consumer (so it costs nothing unless the HTTP endpoints or the terminal
view are on). `snapshot()` is the one description of engine health that /status, /readyz
and the terminal view all render.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from venuefeed.core.clock import wall_ms
from venuefeed.core.events import Bbo, Event, Funding, Mark

if TYPE_CHECKING:
    from venuefeed.core.engine import Engine
    from venuefeed.core.publisher import Subscription


@dataclass
class SymbolView:
    bid: float | None = None
    ask: float | None = None
    mark: float | None = None
    funding_per_hour: float | None = None


@dataclass
class Board:
    engine: Engine
    symbols: dict[tuple[str, str], SymbolView] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    _rate_mark: tuple[float, Counter[str]] = field(
        default_factory=lambda: (time.monotonic(), Counter())
    )
    rates: dict[str, float] = field(default_factory=dict)

    async def run(self, events: Subscription) -> None:
        async for event in events:
            self.observe(event)

    def observe(self, event: Event) -> None:
        self.counts[event.venue] += 1
        if isinstance(event, Bbo | Funding | Mark):
            view = self.symbols.get((event.venue, event.symbol))
            if view is None:
                view = self.symbols[(event.venue, event.symbol)] = SymbolView()
            if isinstance(event, Bbo):
                view.bid, view.ask = event.bid_px, event.ask_px
            elif isinstance(event, Funding):
                view.funding_per_hour = event.rate_per_hour
            else:
                view.mark = event.mark_px

    def update_rates(self) -> None:
        """Events per second per venue since the previous call (the terminal view's clock)."""
        now = time.monotonic()
        then, before = self._rate_mark
        elapsed = max(now - then, 1e-6)
        self.rates = {v: (self.counts[v] - before[v]) / elapsed for v in self.counts}
        self._rate_mark = (now, Counter(self.counts))

    def snapshot(self) -> dict[str, Any]:
        """Per venue: streams (state, ages, reconnects, stale seconds, last error) and symbols."""
        now = wall_ms()
        engine = self.engine
        venues: dict[str, Any] = {}
        for name, runner in engine.runners.items():
            rt = runner.runtime
            streams: dict[str, Any] = {}
            for stream, st in rt.states.items():
                streams[stream] = {"state": st.state, "reason": st.reason, "since_ms": st.at_ms}
            for conn in runner.connections:
                entry = streams.setdefault(conn.stream, {"state": "connecting"})
                last = conn.last_data_ms
                entry.update(
                    last_data_age_s=None if last is None else round((now - last) / 1000, 3),
                    stale_seconds=round(conn.seconds_not_live(), 3),
                    reconnects=int(engine.metrics.value("reconnects", venue=name)),
                    last_error=conn.last_error,
                    backoff_attempt=conn.backoff.attempt,
                    breaker=conn.breaker.state.value,
                )
            symbols = {
                sym: {
                    "bid": v.bid,
                    "ask": v.ask,
                    "mark": v.mark,
                    "funding_per_hour": v.funding_per_hour,
                }
                for (venue, sym), v in sorted(self.symbols.items())
                if venue == name
            }
            venues[name] = {
                "live": venue_live(runner),
                "streams": streams,
                "symbols": symbols,
                "events_per_s": round(self.rates.get(name, 0.0), 1),
            }
        return {"ts_ms": now, "venues": venues}


def venue_live(runner: Any) -> bool:
    """Every connection of the venue is live (a venue still in init is not)."""
    connections = runner.connections
    states = runner.runtime.states
    return bool(connections) and all(
        states.get(c.stream) is not None and states[c.stream].state == "live" for c in connections
    )

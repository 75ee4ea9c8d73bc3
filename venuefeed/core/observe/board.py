"""The price board: latest BBO, funding per hour and mark per (venue, symbol), and each
venue's event rate.

Fed by its own consumer (so it costs nothing unless the HTTP endpoints or the terminal
view are on). Health is not its business: that is the health read model (`health.py`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from venuefeed.core.events import Bbo, Event, Funding, Mark
from venuefeed.core.publishing.publisher import Subscription

#: event rates are averaged over at least this long
RATE_WINDOW_S = 1.0

Prices = dict[str, dict[str, dict[str, float | None]]]  # venue -> symbol -> field -> value


class Board:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._prices: Prices = {}
        self.counts: Counter[str] = Counter()
        self._mark: tuple[float, Counter[str]] = (clock(), Counter())
        self._rates: dict[str, float] = {}

    async def run(self, events: Subscription) -> None:
        async for event in events:
            self.observe(event)

    def observe(self, event: Event) -> None:
        self.counts[event.venue] += 1
        if isinstance(event, Bbo | Funding | Mark):
            venue = self._prices.setdefault(event.venue, {})
            view = venue.get(event.symbol)
            if view is None:
                view = venue[event.symbol] = {
                    "bid": None,
                    "ask": None,
                    "mark": None,
                    "funding_per_hour": None,
                }
            if isinstance(event, Bbo):
                view["bid"], view["ask"] = event.bid_px, event.ask_px
            elif isinstance(event, Funding):
                if event.basis == "predicted":  # one series: the rate that will be paid
                    view["funding_per_hour"] = event.rate_per_hour
            else:
                view["mark"] = event.mark_px

    def prices(self) -> Prices:
        return self._prices

    def rates(self) -> dict[str, float]:
        """Events per second per venue, over the time since the previous window closed
        (at least `RATE_WINDOW_S`): whoever looks (HTTP, terminal) gets a current rate."""
        now = self._clock()
        then, before = self._mark
        if now - then >= RATE_WINDOW_S:
            elapsed = now - then
            self._rates = {v: (self.counts[v] - before[v]) / elapsed for v in self.counts}
            self._mark = (now, Counter(self.counts))
        return self._rates

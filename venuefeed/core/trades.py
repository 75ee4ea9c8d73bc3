"""Every trade exactly once: a bounded memory of the trades a venue has published.

A venue may send a trade twice (Hyperliquid replays its recent trades on every subscribe;
a REST backfill overlaps the live feed), and a consumer computing volume or fills must see
it once. Per instrument, `TradeMemory` remembers the identities (`adapter.trade_identity`)
of the last `window` trades published; `admit()` says whether a trade is new, and
remembers it. It also keeps the last trade published per instrument (by
`adapter.trade_order`), where a backfill starts from. Memory is bounded by `window` per
instrument, whatever the trade rate.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from venuefeed.core.events import Trade


class TradeMemory:
    def __init__(
        self,
        identity: Callable[[Trade], Hashable],
        order: Callable[[Trade], Any],
        window: int,
    ) -> None:
        self._identity = identity
        self._order = order
        self._window = window
        self._seen: dict[str, OrderedDict[Hashable, None]] = {}
        self._last: dict[str, Trade] = {}
        self.duplicates = 0

    def admit(self, trade: Trade) -> bool:
        """True the first time this trade is offered; False for a repeat (counted)."""
        instrument = trade.instrument
        seen = self._seen.get(instrument)
        if seen is None:
            seen = self._seen[instrument] = OrderedDict()
        key = self._identity(trade)
        if key in seen:
            self.duplicates += 1
            return False
        seen[key] = None
        if len(seen) > self._window:
            seen.popitem(last=False)
        last = self._last.get(instrument)
        if last is None or self._order(trade) >= self._order(last):
            self._last[instrument] = trade
        return True

    def seen(self, trade: Trade) -> bool:
        """Whether a trade with this identity was published (and is still remembered)."""
        seen = self._seen.get(trade.instrument)
        return seen is not None and self._identity(trade) in seen

    def last(self, instrument: str) -> Trade | None:
        """The latest trade published for the instrument (None before the first)."""
        return self._last.get(instrument)

    def in_order(self, trades: list[Trade]) -> list[Trade]:
        return sorted(trades, key=self._order)

    def after(self, trade: Trade, last: Trade) -> bool:
        return bool(self._order(trade) > self._order(last))

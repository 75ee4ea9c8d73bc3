"""One session's trades: each published once, and an outage filled before newer ones.

Every trade goes through `take()`: a trade the venue already published (a replay on
subscribe, a backfill overlapping the live feed) is dropped and counted. After an outage,
a session that carries trades holds its live trades back until `fill()` has fetched what
the venue sent meanwhile (`adapter.recent_trades_request`); the fetched trades and the
held ones (a venue's replay on subscribe is one of these) are then merged and published
in the venue's order (`adapter.trade_order`), each once. So a consumer sees the outage's
trades before newer ones, whichever source had them.

What cannot be proven complete is said, not hidden. A backfill is complete when the
venue's answer reaches back to the last trade published before the outage (it includes
that trade or an older one), or, for an instrument with no trade published yet, when it
reaches back past the outage's start (or the venue has no trade at all to show). A venue
without a recent-trades endpoint, a backfill that fails, or one that does not reach back,
gets a `Gap` event (`reason="outage"`) for the interval it cannot vouch for. Trades held
when a session ends are published, after a Gap.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection

from venuefeed.core.adapter import RestRequest
from venuefeed.core.errors import VenueError
from venuefeed.core.events import Event, Gap, Trade
from venuefeed.core.retry import Retry
from venuefeed.core.trades import TradeMemory
from venuefeed.core.venue.services import VenueServices

#: tries of one backfill request before the outage is declared a gap
BACKFILL_ATTEMPTS = 3


class TradeFill:
    def __init__(
        self,
        services: VenueServices,
        memory: TradeMemory,
        instruments: Collection[str],
        *,
        recovering: bool,
        offer: Callable[[Event], None],
    ) -> None:
        self._services = services
        self._memory = memory
        self._offer = offer
        self._dup_key = services.metrics.key("trades_duplicate", venue=services.name)
        #: instruments whose live trades wait for the outage's backfill
        self.holding: set[str] = set(instruments) if recovering else set()
        self._held: dict[str, list[Trade]] = {i: [] for i in self.holding}

    def take(self, trade: Trade) -> bool:
        """Whether to publish this trade now (False: held for a backfill, or a repeat)."""
        if trade.instrument in self.holding:
            self._held[trade.instrument].append(trade)
            return False
        if not self._memory.admit(trade):
            self._services.metrics.bump(self._dup_key)
            return False
        return True

    async def fill(self, from_ms: int, to_ms: int) -> None:
        """Backfill each held instrument's outage, publish it in order, then release."""
        for instrument in sorted(self.holding):
            await self._fill_one(instrument, from_ms, to_ms)

    async def _fill_one(self, instrument: str, from_ms: int, to_ms: int) -> None:
        services = self._services
        memory = self._memory
        last = memory.last(instrument)
        request = services.adapter.recent_trades_request(instrument, last)
        fetched: list[Trade] | None = None
        if request is not None:
            fetched = await self._fetch(instrument, request)
        held = self._held.pop(instrument, [])
        mine = memory.in_order([t for t in (fetched or []) if t.instrument == instrument] + held)
        if last is not None:  # the trades reach back to what was published
            complete = any(not memory.after(t, last) for t in mine)
        else:  # ...or past the outage's start, or the venue had none to show
            complete = fetched is not None and (
                not mine or (mine[0].ts_venue or mine[0].ts_recv) < from_ms
            )
        fresh = [
            t
            for t in mine
            if (memory.after(t, last) if last is not None else (t.ts_venue or t.ts_recv) >= from_ms)
        ]
        if not complete:  # said first: where the gap is, before what follows it
            first = fresh[0] if fresh else None
            self._gap(
                instrument,
                last,
                from_ms,
                to_ms if first is None else (first.ts_venue or first.ts_recv),
            )
        recovered = 0
        for trade in fresh:
            if memory.admit(trade):
                self._offer(trade)
                recovered += trade.source == "rest"
            else:
                services.metrics.bump(self._dup_key)
        services.metrics.inc("trades_backfilled", recovered, venue=services.name)
        symbol = services.symbols.get(instrument, instrument)
        how = "complete" if complete else "a gap remains"
        services.status(
            f"trade:{instrument}",
            "backfilled",
            f"{recovered} trades recovered from REST after the outage; {how}",
            symbol=symbol,
            instrument=instrument,
        )
        self.holding.discard(instrument)

    async def _fetch(self, instrument: str, request: RestRequest) -> list[Trade] | None:
        """The request's trades, or None after `BACKFILL_ATTEMPTS` failures: the session
        goes on and the outage is declared a gap rather than waited on forever."""
        services = self._services
        retry = Retry(services.policy)
        for attempt in range(1, BACKFILL_ATTEMPTS + 1):
            try:
                results = await services.rest.fetch(request, "backfill")
            except VenueError as exc:
                services.metrics.inc("rest_failures", venue=services.name, request=request.name)
                services.log.log(
                    logging.WARNING,
                    f"backfill:{instrument}",
                    "%s (backfill attempt %d of %d)",
                    exc,
                    attempt,
                    BACKFILL_ATTEMPTS,
                )
                if attempt == BACKFILL_ATTEMPTS:
                    return None
                await asyncio.sleep(retry.delay_after(exc))
                continue
            return [t for t in results if isinstance(t, Trade)]
        return None

    def _gap(self, instrument: str, last: Trade | None, from_ms: int, to_ms: int) -> None:
        services = self._services
        start = from_ms if last is None else (last.ts_venue or last.ts_recv)
        self._offer(
            Gap(
                venue=services.name,
                symbol=services.symbols.get(instrument, instrument),
                instrument=instrument,
                ts_recv=to_ms,
                reason="outage",
                lost_kind="trade",
                count=None,
                first_id=None if last is None else last.trade_id,
                from_ms=start,
                to_ms=to_ms,
            )
        )
        services.metrics.inc("trade_gaps", venue=services.name)

    def _release(self, instrument: str) -> None:
        self.holding.discard(instrument)
        for trade in self._held.pop(instrument, []):
            if self._memory.admit(trade):
                self._offer(trade)
            else:
                self._services.metrics.bump(self._dup_key)

    def end(self, now_ms: int) -> None:
        """The session ends: trades still held were received, so they are published, after
        a Gap for the outage their backfill did not get to fill."""
        for instrument in sorted(self.holding):
            last = self._memory.last(instrument)
            self._gap(instrument, last, now_ms, now_ms)
            self._release(instrument)

"""One venue's life: start-up, then its supervised tasks.

VenueRunner.run
  ├─ start-up       init requests (retried forever), symbols resolved   (startup.py)
  ├─ books          one BookKeeper for the venue's instruments
  └─ Supervisor     one ConnectionRunner per ConnectionSpec + the Poller  (poller.py)
                    + the REST fallback (fallback.py)

In a replay (`services.io.replays`) the poller and the fallback do not run on timers:
the recording says when they polled, and the replay calls them there (`io.drive`).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable

from venuefeed.core.adapter import Resync
from venuefeed.core.books import BookKeeper
from venuefeed.core.connection.runner import ConnectionRunner
from venuefeed.core.observe.health import VenueHealth
from venuefeed.core.supervisor import Child, Supervisor
from venuefeed.core.trades import TradeMemory
from venuefeed.core.transport.tap import request_call, request_key
from venuefeed.core.venue.fallback import RestFallback
from venuefeed.core.venue.poller import Poller
from venuefeed.core.venue.services import VenueServices
from venuefeed.core.venue.startup import initialise, resolve_symbols


class VenueRunner:
    def __init__(self, services: VenueServices) -> None:
        self.services = services
        self.connections: list[ConnectionRunner] = []
        self.fallback: RestFallback | None = None

    async def run(self) -> None:
        services = self.services
        self.connections = []  # a restarted runner starts over: no ghosts in health reports
        await initialise(services)
        services.instruments = resolve_symbols(services)
        services.symbols = {i.instrument: i.symbol for i in services.instruments}
        if not services.instruments:
            services.status("venue", "error", "no configured symbol is listed by the venue")
            await asyncio.Event().wait()  # nothing to stream; stay visible as an error
        adapter = services.adapter
        services.books = BookKeeper(
            venue=services.name,
            continuity=adapter.continuity,
            rest_snapshots=adapter.resync is Resync.REST_SNAPSHOT,
            depth=services.policy.book_depth,
            symbols=services.symbols,
            bbo_from_book=adapter.bbo_from_book,
        )
        services.trades = TradeMemory(
            adapter.trade_identity, adapter.trade_order, services.policy.trade_memory
        )
        children: dict[str, Child] = {}
        for spec in adapter.connections(services.instruments):
            conn = ConnectionRunner(services, spec)
            self.connections.append(conn)
            children[conn.stream] = conn.run
        polls = adapter.poll_requests(services.instruments)
        poller = Poller(services, polls)
        self.fallback = fallback = RestFallback(services, self.connections)
        if services.io.replays:
            driven: dict[str, Callable[[], Awaitable[object]]] = {}
            for request in polls:
                key = request_key("poll", request_call(request))
                driven[key] = functools.partial(poller.poll_once, request)
            for conn in self.connections:
                for instrument in sorted(conn.book_instruments):
                    for request in adapter.fallback_requests(instrument):
                        key = request_key("fallback", request_call(request))
                        driven[key] = functools.partial(fallback.poll_request, request)
            services.io.drive(driven)
        else:
            if polls:
                children["poll:funding"] = poller.run
            if fallback.enabled:
                children["fallback"] = fallback.run
        await Supervisor(services.name, services.policy, services.metrics).run(children)

    def health(self) -> VenueHealth:
        services = self.services
        return VenueHealth(
            name=services.name,
            connections=tuple(c.health() for c in self.connections),
            streams=dict(services.states),
            lag_buckets=services.lag.cumulative(),
            lag_sum_s=services.lag.sum_s,
            fallback=tuple(sorted(self.fallback.active)) if self.fallback is not None else (),
        )

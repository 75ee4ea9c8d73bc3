"""While a socket carrying books is down, its books come from the venue's REST API.

Without this, a venue whose websocket is refused shows nothing until the socket is back:
up to `backoff_max_s`, plus `breaker_cooldown_s` under repeated failures. The fallback is a
supervised child of each venue. It watches the venue's connections through the health read
model; once one that carries books has not been live for a poll interval, it polls the
adapter's `fallback_requests` for those instruments every
`max(fallback_poll_s, adapter.fallback_min_interval_s)` (the second is what the venue's
documented rate limits allow), publishes what they return marked `source="rest"`, and
stops as soon as the socket is live again. A `fallback` status says when it starts and a
`recovered` one when it ends; `/status` and `/readyz` name the connections in fallback.
Polled books never touch the websocket's books (`BookKeeper.polled`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from venuefeed.core.adapter import BookSnapshot, RestRequest
from venuefeed.core.connection.runner import ConnectionRunner
from venuefeed.core.errors import RestError
from venuefeed.core.events import Event, from_rest
from venuefeed.core.venue.services import VenueServices


class RestFallback:
    def __init__(self, services: VenueServices, connections: Sequence[ConnectionRunner]) -> None:
        self._services = services
        self._connections = [c for c in connections if c.book_instruments]
        policy = services.policy
        self.interval_s = max(policy.fallback_poll_s, services.adapter.fallback_min_interval_s)
        self.enabled = policy.fallback_poll_s > 0 and bool(self._connections)
        #: connection streams whose books come from REST now
        self.active: set[str] = set()
        self._down_since: dict[str, float] = {}

    async def run(self) -> None:
        if not self.enabled:
            await asyncio.Event().wait()  # nothing to do, ever; stay owned and quiet
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            for conn in self._due(started):
                await self._poll(conn)
            await asyncio.sleep(max(0.0, self.interval_s - (loop.time() - started)))

    def _due(self, now: float) -> list[ConnectionRunner]:
        """The connections to poll for now, with their fallback starting and ending."""
        due: list[ConnectionRunner] = []
        services = self._services
        for conn in self._connections:
            stream = conn.stream
            if conn.health().state == "live":
                self._down_since.pop(stream, None)
                if stream in self.active:
                    self.active.discard(stream)
                    services.status(f"fallback:{stream}", "recovered", "socket live again")
                continue
            since = self._down_since.setdefault(stream, now)
            if now - since < self.interval_s:
                continue  # a brief reconnect is not worth a REST poll
            if stream not in self.active:
                self.active.add(stream)
                services.status(
                    f"fallback:{stream}",
                    "fallback",
                    f"{stream} is down: books from REST every {self.interval_s:g}s",
                )
            due.append(conn)
        return due

    async def _poll(self, conn: ConnectionRunner) -> None:
        for instrument in sorted(conn.book_instruments):
            for request in self._services.adapter.fallback_requests(instrument):
                await self.poll_request(request)

    async def poll_request(self, request: RestRequest) -> None:
        """One REST poll, its book and mark published (a replay calls this where the
        recording polled)."""
        services = self._services
        books = services.books
        assert books is not None
        try:
            results = await services.rest.fetch(request, "fallback")
        except RestError as exc:
            services.metrics.inc("fallback_failures", venue=services.name, request=request.name)
            services.log.log(logging.WARNING, f"fallback:{request.name}", "%s (polling on)", exc)
            return
        recv_ms = services.clock()
        for item in results:
            events: Sequence[Event] = (
                books.polled(item, recv_ms) if isinstance(item, BookSnapshot) else ()
            )
            if isinstance(item, Event):
                events = (from_rest(item),)
            for event in events:
                services.publisher.offer(event)
        services.metrics.inc("fallback_polls", venue=services.name)

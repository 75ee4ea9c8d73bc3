"""Funding (and mark) REST polls every `funding_poll_s`.

A poll survives every error: a failed request is counted and logged (rate-limited) and
tried again next round; a venue's `Retry-After` delays the next round by at least that,
counted from the answer (`core/retry.py`'s cap applies).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from venuefeed.core.adapter import RestRequest
from venuefeed.core.errors import RestError
from venuefeed.core.events import Event, from_rest
from venuefeed.core.retry import RETRY_AFTER_MAX_S
from venuefeed.core.venue.services import VenueServices


class Poller:
    def __init__(self, services: VenueServices, requests: Sequence[RestRequest]) -> None:
        self.services = services
        self.requests = requests

    async def run(self) -> None:
        services = self.services
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            retry_after: float | None = None
            for request in self.requests:
                retry_after = await self.poll_once(request)
                if retry_after is not None:
                    break  # the venue asked us to back off: the rest of this round waits too
            wait = services.policy.funding_poll_s - (loop.time() - started)
            if retry_after is not None:  # counted from the answer, as Retry-After means
                wait = max(wait, min(retry_after, RETRY_AFTER_MAX_S))
            await asyncio.sleep(max(0.0, wait))

    async def poll_once(self, request: RestRequest) -> float | None:
        """One poll; returns the venue's Retry-After when it asked for one."""
        services = self.services
        try:
            results = await services.rest.fetch(request, "poll")
        except RestError as exc:
            services.metrics.inc("poll_failures", venue=services.name, request=request.name)
            services.log.log(logging.WARNING, f"poll:{request.name}", "%s (will poll again)", exc)
            return exc.retry_after_s
        services.metrics.inc("polls", venue=services.name, request=request.name)
        for item in results:
            if isinstance(item, Event):
                services.publisher.offer(from_rest(item))
            else:  # polls feed events only; anything else is a plugin bug, said out loud
                services.metrics.inc(
                    "poll_unexpected_results", venue=services.name, request=request.name
                )
                services.log.log(
                    logging.WARNING,
                    f"poll-result:{request.name}",
                    "%s: poll %s returned %s, which polls cannot deliver; not published",
                    services.name,
                    request.name,
                    type(item).__name__,
                )
        return None

"""Frames that are about the connection, not the market: answers to the venue's pings,
pongs to ours, subscription acknowledgements, and the venue's error notices.

A rejected subscription (`VenueNotice(fatal=True)` naming a stream) is reported as an
error for that stream, which then has no freshness deadline instead of being waited on
forever; it also counts as the venue's answer to that subscribe.
"""

from __future__ import annotations

import logging

from venuefeed.core.adapter import Ack, Control, Pong, Reply, VenueNotice
from venuefeed.core.connection.freshness import Freshness
from venuefeed.core.connection.link import Send
from venuefeed.core.venue.services import VenueServices

logger = logging.getLogger(__name__)


class ControlFrames:
    def __init__(self, services: VenueServices, freshness: Freshness, send: Send) -> None:
        self._services = services
        self._freshness = freshness
        self._send = send

    async def handle(self, item: Control) -> None:
        services = self._services
        if isinstance(item, Reply):
            await self._send(item.message)
        elif isinstance(item, Pong):
            services.metrics.inc("pongs", venue=services.name)
        elif isinstance(item, Ack):
            if item.subscribed:
                self._freshness.acks += 1
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("%s: %s ack %s", services.name, self._freshness.stream, item.detail)
        elif isinstance(item, VenueNotice):
            self._notice(item)

    def _notice(self, notice: VenueNotice) -> None:
        services = self._services
        stream = self._freshness.stream
        services.metrics.inc("venue_errors", venue=services.name, code=notice.code)
        services.log.log(
            logging.ERROR if notice.fatal else logging.WARNING,
            f"notice:{stream}:{notice.code}:{notice.stream}",
            "%s: %s venue error %s: %s%s",
            services.name,
            stream,
            notice.code,
            notice.message,
            f" (stream {notice.stream})" if notice.stream else "",
        )
        if notice.fatal:
            self._freshness.acks += 1  # a rejection is an answer too: the venue heard us
            self._reject(notice)

    def _reject(self, notice: VenueNotice) -> None:
        """A rejected subscription: report it as an error instead of waiting on it."""
        services = self._services
        freshness = self._freshness
        keys = {s.key for s in freshness.watched}
        if notice.stream not in keys:
            services.status(
                freshness.stream, "error", f"venue error {notice.code}: {notice.message}"
            )
            return
        if notice.stream in freshness.rejected:
            return
        freshness.rejected.add(notice.stream)
        instrument = notice.stream.split(":", 1)[1]
        services.status(
            notice.stream,
            "error",
            f"subscription rejected: {notice.code} {notice.message}",
            symbol=services.symbols.get(instrument, instrument),
            instrument=instrument,
        )

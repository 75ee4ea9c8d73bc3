"""What a recorder is told about a venue's traffic, at the two places it crosses the
wire: the websocket `Link` and the `RestClient`.

The core only calls a `Tap`; what it does with the traffic (write it, compress it, drop
it when the disk is slow) is the recorder's business (`venuefeed/record/`). Every method
is called on the event loop, from the socket reader's path, and must return at once:
recording never makes a reader wait.

A REST exchange is identified by `request_key`: its purpose (who asked: `init`, `poll`,
`snapshot`, `backfill`, `fallback`) and the request as data (name, method, path, params,
JSON body). A replay answers a request with the recorded answer for the same key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol

import msgspec

from venuefeed.core.adapter import RestRequest

#: who made a REST request: start-up, a funding poll, a book resync, a trade backfill
#: after an outage, the REST book while a socket is down
Purpose = Literal["init", "poll", "snapshot", "backfill", "fallback", "request"]


class Tap(Protocol):
    """One venue's traffic, as it happens. Times are wall-clock nanoseconds."""

    def opened(self, conn: str, url: str, ns: int) -> None:
        """A websocket of connection `conn` is open."""

    def open_failed(self, conn: str, error: BaseException, ns: int) -> None:
        """A handshake of `conn` failed with `error` (a `VenueConnectError`)."""

    def received(self, conn: str, data: str | bytes, ns: int) -> None:
        """A text (str) or binary (bytes) message arrived on `conn`."""

    def sent(self, conn: str, text: str, ns: int) -> None:
        """We sent `text` on `conn` (subscribes, pings, replies)."""

    def closed(self, conn: str, reason: BaseException | None, ns: int) -> None:
        """The session of `conn` ended, for `reason` (the exception that ended it)."""

    def answered(
        self, purpose: Purpose, request: RestRequest, status: int, body: bytes, ns: int
    ) -> None:
        """A REST request got a whole body (any HTTP status)."""

    def failed(self, purpose: Purpose, request: RestRequest, error: BaseException, ns: int) -> None:
        """A REST request got no usable answer (timeout, connection error, HTTP error)."""


def request_call(request: RestRequest) -> dict[str, Any]:
    """The request as plain data: what a recording stores and a replay matches on."""
    return {
        "name": request.name,
        "method": request.method,
        "path": request.path,
        "params": dict(request.params) if request.params is not None else None,
        "json": request.json,
    }


def request_key(purpose: str, call: Mapping[str, Any]) -> str:
    """One string per (purpose, request): equal requests give equal keys."""
    return msgspec.json.encode([purpose, call], order="sorted").decode()

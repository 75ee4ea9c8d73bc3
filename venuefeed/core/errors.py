"""One exception hierarchy for venuefeed.

```
VenuefeedError
├── StartupError              stops the process with one line (never retried)
│   ├── ConfigError           bad TOML/env value, unknown venue, unknown field
│   └── PluginError           broken or duplicate plugin, bad adapter class
├── VenueError                network or venue trouble: reconnect / retry with backoff
│   ├── VenueConnectError     handshake refused, timed out, DNS, TLS
│   ├── VenueClosedError      the venue closed or dropped the socket
│   ├── StaleError            the freshness watchdog found a stream without data
│   ├── SubscribeTimeoutError the venue did not acknowledge a subscription in time
│   ├── FrameTooLargeError    a frame over `max_frame_bytes`
│   ├── ResyncError           a book needs a reconnect to recover
│   └── RestError             an HTTP request failed (timeout, status, bad body)
├── ParseError                one bad frame: counted and logged, the connection is kept
│   ├── MalformedFrame        not decodable, wrong types, truncated
│   └── UnknownFrame          well-formed but of a type the adapter does not know
├── UnknownSymbolError        a configured symbol the venue does not list (per venue)
└── ConsumerClosedError       a consumer's stream ended, or the engine is stopped
    └── ConsumerTooSlowError  a consumer fell behind past what its policy allows
```

`retriable` tells every retrying place (`core/retry.py`) whether waiting and trying again
can help; `retry_after_s` carries a venue's `Retry-After` to the wait.
"""

from __future__ import annotations


class VenuefeedError(Exception):
    """Base of every error venuefeed raises on purpose."""

    retriable: bool = False
    retry_after_s: float | None = None


class StartupError(VenuefeedError):
    """A problem the user must fix; the process stops with one clear line."""


class ConfigError(StartupError):
    """A configuration value, field or venue name is wrong."""


class PluginError(StartupError):
    """A plugin could not be loaded, or broke the adapter contract."""


class VenueError(VenuefeedError):
    """Network or venue trouble: reconnect or retry with backoff."""

    retriable = True

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class VenueConnectError(VenueError):
    """The websocket handshake failed or timed out."""


class VenueClosedError(VenueError):
    """The venue closed or dropped an established socket."""


class StaleError(VenueError):
    """A stream had no market data for longer than `stale_after_s`."""


class SubscribeTimeoutError(VenueError):
    """The venue did not acknowledge the subscriptions within `subscribe_timeout_s`."""


class FrameTooLargeError(VenueError):
    """A frame exceeded `max_frame_bytes`; memory stays bounded by reconnecting."""


class ResyncError(VenueError):
    """A book lost continuity and the venue's resync means is a reconnect."""


class RestError(VenueError):
    """An HTTP request failed: timeout, error status or an unparseable body."""


class ParseError(VenuefeedError):
    """One frame could not be turned into events; the connection is kept."""


class MalformedFrame(ParseError):
    """The frame is not valid for its format: undecodable, truncated, wrong types."""


class UnknownFrame(ParseError):
    """The frame is well-formed but of a kind the adapter does not handle."""


class UnknownSymbolError(VenuefeedError):
    """A configured symbol is not listed by the venue."""

    def __init__(self, venue: str, symbol: str, known: list[str] | None = None) -> None:
        hint = ""
        if known:
            shown = ", ".join(sorted(known)[:20])
            more = "" if len(known) <= 20 else f" (+{len(known) - 20} more)"
            hint = f"; the venue lists: {shown}{more}"
        super().__init__(f"{venue}: unknown symbol {symbol!r}{hint}")
        self.venue = venue
        self.symbol = symbol


class ConsumerClosedError(VenuefeedError):
    """A consumer's stream ended on error, or events() was called on a stopped engine."""


class ConsumerTooSlowError(ConsumerClosedError):
    """A consumer fell behind past what its overflow policy allows and was closed."""

"""The health read model: frozen snapshots, and the one place that judges them.

Each connection exposes a `ConnectionHealth` snapshot and each venue a `VenueHealth`;
`/readyz`, `/status`, the Prometheus collector and the terminal view all read those
snapshots through the functions here. Nobody reaches into a running connection's
breaker or backoff: a snapshot is taken, and judged, in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from venuefeed.core.events import StatusState


@dataclass(frozen=True, slots=True)
class StreamHealth:
    """The last status of one stream or connection (`ws:main`, `book:BTC`, `init`);
    `delay_s` is the wait its status announced (a retry in that long), if any."""

    state: StatusState
    reason: str
    since_ms: int
    delay_s: float | None = None


#: states whose `delay_s` is the wait before the next attempt
WAITING_STATES = frozenset({"backoff", "init_failed", "breaker_open"})


def retry_in_s(stream: StreamHealth | None, now_ms: int) -> float | None:
    """Seconds until a failing stream's next attempt (None: it is not waiting)."""
    if stream is None or stream.delay_s is None or stream.state not in WAITING_STATES:
        return None
    return round(max(0.0, stream.since_ms / 1000 + stream.delay_s - now_ms / 1000), 1)


@dataclass(frozen=True, slots=True)
class ConnectionHealth:
    """One websocket connection, as it is now."""

    stream: str  # "ws:<name>"
    state: StatusState
    reason: str
    since_ms: int
    last_data_ms: int | None
    seconds_not_live: float
    reconnects: int
    last_error: str
    backoff_attempt: int
    breaker: str  # "closed", "open" or "half_open"


@dataclass(frozen=True, slots=True)
class VenueHealth:
    """One venue: its connections (none before start-up finished) and every stream's
    last status; the receive-lag histogram for the metrics."""

    name: str
    connections: tuple[ConnectionHealth, ...]
    streams: Mapping[str, StreamHealth]
    lag_buckets: Sequence[tuple[str, float]] = ()
    lag_sum_s: float = 0.0
    #: connections whose books come from the REST fallback right now
    fallback: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)


def venue_live(venue: VenueHealth) -> bool:
    """Every connection of the venue is live (a venue still starting up is not)."""
    return bool(venue.connections) and all(c.state == "live" for c in venue.connections)


#: a component besides the venues that must be ready too (a bus sink): (ready, why not)
ReadinessCheck = Callable[[], tuple[bool, str]]


def readiness(
    venues: Mapping[str, VenueHealth],
    wanted: Sequence[str] | None,
    checks: Mapping[str, ReadinessCheck] | None = None,
) -> tuple[bool, list[str]]:
    """Whether every wanted venue (default: all) is live and every check passes, and why
    not."""
    reasons: list[str] = []
    for name in wanted or tuple(venues):
        venue = venues.get(name)
        if venue is None:
            reasons.append(f"{name}: not running")
        elif not venue_live(venue):
            detail = ", ".join(f"{c.stream}={c.state}" for c in venue.connections) or "starting"
            if venue.fallback:
                detail += f"; books from REST for {', '.join(venue.fallback)}"
            reasons.append(f"{name}: not live ({detail})")
    for name, check in (checks or {}).items():
        ready, detail = check()
        if not ready:
            reasons.append(f"{name}: {detail}")
    return not reasons, reasons


def status_document(
    venues: Mapping[str, VenueHealth],
    prices: Mapping[str, Mapping[str, Mapping[str, float | None]]],
    rates: Mapping[str, float],
    now_ms: int,
) -> dict[str, Any]:
    """`/status` and the terminal view: per venue its streams (with the seconds until a
    failing one tries again), symbols and event rate."""
    out: dict[str, Any] = {}
    for name, venue in venues.items():
        streams: dict[str, Any] = {
            key: {
                "state": s.state,
                "reason": s.reason,
                "since_ms": s.since_ms,
                "retry_in_s": retry_in_s(s, now_ms),
            }
            for key, s in venue.streams.items()
        }
        for conn in venue.connections:
            last = conn.last_data_ms
            streams[conn.stream] = {
                "state": conn.state,
                "reason": conn.reason,
                "since_ms": conn.since_ms,
                "last_data_age_s": None if last is None else round((now_ms - last) / 1000, 3),
                "stale_seconds": round(conn.seconds_not_live, 3),
                "reconnects": conn.reconnects,
                "last_error": conn.last_error,
                "backoff_attempt": conn.backoff_attempt,
                "breaker": conn.breaker,
                "retry_in_s": retry_in_s(venue.streams.get(conn.stream), now_ms),
            }
        out[name] = {
            "live": venue_live(venue),
            "streams": streams,
            "symbols": {sym: dict(view) for sym, view in sorted(prices.get(name, {}).items())},
            "events_per_s": round(rates.get(name, 0.0), 1),
            "fallback": list(venue.fallback),
            **venue.extra,
        }
    return {"ts_ms": now_ms, "venues": out}

"""Every counter family `/metrics` exports, and the series that exist from the start.

A counter that appears only the first time something happens gives an alert nothing to
work on: `rate(venuefeed_reconnects_total[5m])` is empty, not 0, until the first
reconnect, and `absent()` cannot tell "never happened" from "not scraped". So every
family below is exported from the first scrape (its HELP and TYPE lines), and every
series whose label values are known in advance (event kinds, reconnect reasons, parse
error kinds, status states, a venue's connections) is exported at 0 for each configured
venue. Only label values that the venue itself names (a poll request, a venue error
code, a resync reason) appear when they first happen.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import get_args

from venuefeed.core.errors import ParseError, VenueError
from venuefeed.core.events import StatusState

Labels = dict[str, str]

EVENT_KINDS: tuple[str, ...] = ("book", "bbo", "trade", "funding", "mark", "status", "gap")
STATE_KINDS: tuple[str, ...] = ("book", "bbo", "mark")
HISTORY_KINDS: tuple[str, ...] = ("trade", "funding", "status", "gap")
POLICIES: tuple[str, ...] = ("gap", "evict", "lossless")

#: family -> (help, label names besides `venue`, whether it is labelled by venue)
FAMILIES: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "frames": ("websocket frames received", (), True),
    "frames_skipped": (
        "snapshot frames not decoded: a newer one of the same book was waiting",
        (),
        True,
    ),
    "events": ("events published, by kind", ("kind",), True),
    "parse_errors": ("frames that could not be used, by error kind", ("kind",), True),
    "reconnects": ("connections ended and reopened, by reason", ("reason",), True),
    "stale": ("streams found without data for stale_after_s", (), True),
    "task_restarts": ("supervised tasks restarted after a crash", ("task",), True),
    "init_failures": ("failed start-up request rounds", (), True),
    "poll_failures": ("failed REST polls, by request", ("request",), True),
    "polls": ("REST polls done, by request", ("request",), True),
    "poll_unexpected_results": ("poll results that were not events", ("request",), True),
    "book_resyncs": ("books resynchronised, by reason", ("reason",), True),
    "venue_errors": ("error frames from the venue, by its code", ("code",), True),
    "pings_sent": ("application-level pings sent", (), True),
    "pongs": ("application-level pongs received", (), True),
    "frames_too_large": ("frames over max_frame_bytes", (), True),
    "rest_failures": (
        "failed REST requests (snapshots, backfills), by request",
        ("request",),
        True,
    ),
    "status_changes": ("status changes, by state", ("state",), True),
    "unknown_symbols": ("configured symbols the venue does not list", (), True),
    "events_conflated": ("state events replaced in a consumer's queue", ("kind",), True),
    "events_dropped": ("history events dropped for a consumer behind", ("kind",), True),
    "trades_backfilled": ("trades fetched over REST after an outage", (), True),
    "trades_duplicate": ("trades dropped as already published", (), True),
    "trade_gaps": ("outages whose trades could not be fetched", (), True),
    "fallback_polls": ("REST book polls while a socket was down", (), True),
    "record_dropped": (
        "records `run --record` dropped (the disk fell behind; a gap mark in their place)",
        (),
        True,
    ),
    "consumer_dropped": ("events dropped, by consumer", ("consumer",), False),
    "consumers_evicted": ("consumers closed for falling behind, by policy", ("policy",), False),
    "events_discarded": ("events pending when their consumer closed", (), False),
}


def _subclass_names(base: type[BaseException]) -> list[str]:
    found: list[str] = []
    stack = list(base.__subclasses__())
    while stack:
        cls = stack.pop()
        found.append(cls.__name__)
        stack.extend(cls.__subclasses__())
    return sorted(set(found))


def venue_series(venue: str, connections: Sequence[str]) -> Iterator[tuple[str, Labels]]:
    """The series of `venue` that exist from the start, at 0 until counted."""
    for family, (_, labels, _) in FAMILIES.items():
        if not labels:
            if FAMILIES[family][2]:
                yield family, {"venue": venue}
            continue
        for value in _known_values(family, connections):
            yield family, {"venue": venue, labels[0]: value}


def engine_series(consumers: Sequence[str]) -> Iterator[tuple[str, Labels]]:
    """The engine-wide series that exist from the start."""
    yield "events_discarded", {}
    for policy in POLICIES:
        yield "consumers_evicted", {"policy": policy}
    for consumer in consumers:
        yield "consumer_dropped", {"consumer": consumer}


def _known_values(family: str, connections: Sequence[str]) -> Sequence[str]:
    if family == "events":
        return EVENT_KINDS
    if family == "events_conflated":
        return STATE_KINDS
    if family == "events_dropped":
        return HISTORY_KINDS
    if family == "parse_errors":
        return _subclass_names(ParseError)
    if family == "reconnects":
        return [*_subclass_names(VenueError), "rotate"]
    if family == "status_changes":
        return get_args(StatusState)
    if family == "task_restarts":
        return ["venue", *connections]
    return ()  # the venue names these values itself

"""The cluster demo's accounting: what the simulator made against what the tail received.

Pure functions, so a deliberately broken case (a duplicated and a lost trade) can prove
in tests/bench/test_cluster_accounting.py that the demo would report and fail it.

The window. A pair (venue, symbol) is owed from the moment every engine of the shard
that owns it was live (`/readyz` answered 200: its venues connected, its sink
publishing) until the cutoff, after which the demo leaves a drain time for the last
trades to travel. Trades the simulator made before that were made before anyone was
subscribed: an engine's backfill may fetch some of them, and they count as received, but
they cannot be owed. A duplicate is any trade id the tail received twice, whenever it
was made; a loss is a trade of the window that the tail never received.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

Pair = tuple[str, str]  # (venue, symbol)


@dataclass(frozen=True, slots=True)
class Received:
    """One trade line the tail printed, and when (wall seconds) the demo read it."""

    venue: str
    symbol: str
    trade_id: int
    at_s: float


@dataclass(frozen=True, slots=True)
class VenueRow:
    venue: str
    sent: int  # trades the simulator made in the window
    received: int  # of those, received by the tail
    received_total: int  # every distinct trade the tail received (backfill included)
    duplicates: int
    lost: int
    longest_gap_s: float  # longest time between two trades of this venue at the tail


def account(
    made: Mapping[str, Mapping[str, Iterable[tuple[int, int]]]],
    received: Iterable[Received],
    windows: Mapping[Pair, tuple[int, int]],
) -> list[VenueRow]:
    """One row per venue of `made` (venue -> symbol -> (trade id, made at wall ms)).

    `windows` gives each owed pair's (start ms, cutoff ms); a pair without one is owed
    nothing. The longest gap is the longest time between two consecutive arrivals of the
    venue's owed trades (first copies): the market trades all along, so a long one is
    the bus or an engine holding trades back, even when they all arrive in the end."""
    got = list(received)
    counts = Counter((r.venue, r.symbol, r.trade_id) for r in got)
    rows = []
    for venue in sorted(made):
        owed: set[tuple[str, int]] = set()
        for symbol, trades in made[venue].items():
            start, cutoff = windows.get((venue, symbol), (1, 0))
            owed |= {(symbol, i) for i, at_ms in trades if start <= at_ms <= cutoff}
        seen = {(s, i) for (v, s, i) in counts if v == venue}
        first: dict[tuple[str, int], float] = {}
        for r in got:
            if r.venue == venue and (r.symbol, r.trade_id) in owed:
                first.setdefault((r.symbol, r.trade_id), r.at_s)
        arrivals = sorted(first.values())
        rows.append(
            VenueRow(
                venue=venue,
                sent=len(owed),
                received=len(owed & seen),
                received_total=len(seen),
                duplicates=sum(n - 1 for (v, _, _), n in counts.items() if v == venue),
                lost=len(owed - seen),
                longest_gap_s=max((b - a for a, b in itertools.pairwise(arrivals)), default=0.0),
            )
        )
    return rows


def table(rows: list[VenueRow]) -> list[str]:
    """The summary the demo prints (and the README quotes)."""
    lines = [
        f"{'venue':<12} {'sent':>6} {'received':>9} {'(+backfill)':>11} "
        f"{'duplicates':>10} {'lost':>5} {'longest gap':>12}"
    ]
    for r in rows:
        lines.append(
            f"{r.venue:<12} {r.sent:>6} {r.received:>9} {r.received_total:>11} "
            f"{r.duplicates:>10} {r.lost:>5} {r.longest_gap_s:>11.2f}s"
        )
    total = (sum(r.sent for r in rows), sum(r.received for r in rows))
    lines.append(
        f"{'all':<12} {total[0]:>6} {total[1]:>9} {sum(r.received_total for r in rows):>11} "
        f"{sum(r.duplicates for r in rows):>10} {sum(r.lost for r in rows):>5} "
        f"{max((r.longest_gap_s for r in rows), default=0.0):>11.2f}s"
    )
    return lines


def failed(rows: list[VenueRow]) -> list[str]:
    """Why the demo fails: a duplicate, a loss, or a venue with nothing owed."""
    why = [f"{r.venue}: {r.duplicates} duplicate trade(s)" for r in rows if r.duplicates]
    why += [f"{r.venue}: {r.lost} lost trade(s)" for r in rows if r.lost]
    why += [f"{r.venue}: no trade in the window (nothing was checked)" for r in rows if not r.sent]
    return why


def lost_trades(
    made: Mapping[str, Mapping[str, Iterable[tuple[int, int]]]],
    received: Iterable[Received],
    windows: Mapping[Pair, tuple[int, int]],
) -> list[tuple[str, str, int, int]]:
    """Each owed trade the tail never received, as (venue, symbol, id, made at ms): when
    it was made (against the kills and the cutoff) says where to look."""
    seen = {(r.venue, r.symbol, r.trade_id) for r in received}
    lost = []
    for venue, symbols in made.items():
        for symbol, trades in symbols.items():
            start, cutoff = windows.get((venue, symbol), (1, 0))
            lost += [
                (venue, symbol, i, at_ms)
                for i, at_ms in trades
                if start <= at_ms <= cutoff and (venue, symbol, i) not in seen
            ]
    return sorted(lost)

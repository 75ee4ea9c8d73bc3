"""Checkers for what a bus consumer saw, and helpers shared by the bus tests.

Each checker has a deliberately broken input in tests/bus/test_checkers.py that it must
catch: a checker that cannot fail proves nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping

from venuefeed.bus.arbiter import order_key
from venuefeed.core.events import Event, Trade


def trade_key(trade: Trade) -> tuple[str, str, int]:
    return (trade.venue, trade.symbol, int(trade.trade_id))


def duplicate_trades(trades: Iterable[Trade]) -> list[tuple[str, str, int]]:
    """Trade ids seen more than once."""
    counts = Counter(trade_key(t) for t in trades)
    return sorted(key for key, n in counts.items() if n > 1)


def missing_trades(
    trades: Iterable[Trade], sent: Mapping[tuple[str, str], set[int]]
) -> list[tuple[str, str, int]]:
    """Ids the venue sent, between the first and last id seen per (venue, symbol), that
    were not seen."""
    seen: dict[tuple[str, str], set[int]] = defaultdict(set)
    for t in trades:
        seen[(t.venue, t.symbol)].add(int(t.trade_id))
    out = []
    for key, ids in seen.items():
        low, high = min(ids), max(ids)
        out += [
            (*key, i) for i in sorted(sent.get(key, set())) if low <= i <= high and i not in ids
        ]
    return out


def older_states(events: Iterable[Event]) -> list[Event]:
    """State events older (by the arbitration order) than one seen before them."""
    last: dict[tuple[str, str, str], tuple[int, int, int]] = {}
    out = []
    for event in events:
        if not event.is_state:
            continue
        slot = (event.venue, event.instrument, event.kind)
        key = order_key(event)
        if slot in last and last[slot][0] == key[0] and key < last[slot]:
            out.append(event)
        last[slot] = max(key, last.get(slot, key))
    return out


async def until(check: Callable[[], bool], within: float, what: str) -> None:
    """Wait (bounded) for a condition that no event announces (another process's state)."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.05)

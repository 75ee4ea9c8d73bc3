"""Did a replay give what the live run gave? The check behind `venuefeed replay`'s tests.

Two event streams agree when they hold the same set of trades (venue, symbol, trade id,
price, size, side) and the same last book per (venue, instrument). Events are JSON
objects, as the jsonl sink writes them (`Event.to_dict()` for events in memory).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TradeKey = tuple[str, str, str, float, float, str]


@dataclass
class Outcome:
    """What a run published that a replay must match."""

    trades: set[TradeKey] = field(default_factory=set)
    books: dict[tuple[str, str], tuple[Any, Any]] = field(default_factory=dict)


def outcome(events: Iterable[Mapping[str, Any]]) -> Outcome:
    out = Outcome()
    for event in events:
        kind = event.get("kind")
        if kind == "trade":
            out.trades.add(
                (
                    event["venue"],
                    event["symbol"],
                    event["trade_id"],
                    event["price"],
                    event["size"],
                    event["side"],
                )
            )
        elif kind == "book":
            out.books[(event["venue"], event["instrument"])] = (event["bids"], event["asks"])
    return out


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path) as lines:
        return [json.loads(line) for line in lines if line.strip()]


def differences(live: Outcome, replayed: Outcome, *, limit: int = 5) -> list[str]:
    """What differs, one line each (at most `limit` examples per kind); [] when equal."""
    found: list[str] = []
    missing = sorted(live.trades - replayed.trades)
    extra = sorted(replayed.trades - live.trades)
    if missing:
        found.append(f"{len(missing)} live trades not replayed, e.g. {missing[:limit]}")
    if extra:
        found.append(f"{len(extra)} replayed trades not live, e.g. {extra[:limit]}")
    for key in sorted(live.books.keys() | replayed.books.keys()):
        if live.books.get(key) != replayed.books.get(key):
            found.append(f"last book of {key[0]} {key[1]} differs")
    return found

"""Recordings in tests: record the simulated venues, replay a recording through the
engine, and compare what both published (`venuefeed.record.compare`).

`replay_recording(path, venue)` is the fixture for a regression case: check a capture of
a real venue session into `tests/` (`venuefeed run --record DIR --venues NAME`, then
copy DIR) with the outcome it must give, and assert the replay still gives it.
"""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from venuefeed.core.engine import Engine
from venuefeed.core.settings import Settings
from venuefeed.record import Recorder, ReplayResult, replay_events
from venuefeed.record.compare import Outcome, differences, outcome
from venuefeed.sim import simulate

VENUES = ("hyperliquid", "paradex", "lighter", "extended", "aster")


def sim_settings(venues: Sequence[str], symbols: Sequence[str] = ("BTC", "ETH")) -> Settings:
    return Settings.model_validate(
        {"defaults": {"symbols": list(symbols)}, "venues": {name: {} for name in venues}}
    )


async def record_sim(
    directory: Path,
    venues: Sequence[str] = VENUES,
    *,
    trades: int = 10,
    symbols: Sequence[str] = ("BTC", "ETH"),
    timeout_s: float = 30.0,
    rotate_mb: float = 256.0,
) -> list[dict[str, Any]]:
    """Run the simulated `venues`, recorded into `directory`, until each published
    `trades` trades; returns every event the engine published, as JSON objects."""
    events: list[dict[str, Any]] = []
    counts: collections.Counter[str] = collections.Counter()
    with Recorder(directory, rotate_mb=rotate_mb) as recorder:
        async with simulate(sim_settings(venues, symbols), tick_s=0.02) as simulated:
            async with Engine(simulated, network=recorder.network) as engine:
                live = engine.events("live", policy="lossless")
                async with asyncio.timeout(timeout_s):
                    async for event in live:
                        events.append(event.to_dict())
                        counts[event.venue] += event.kind == "trade"
                        if all(counts[name] >= trades for name in venues):
                            break
            # the engine stopped: what it published meanwhile is still delivered
            events.extend([event.to_dict() async for event in live])
    return events


async def replay_recording(path: Path, venues: Iterable[str] | None = None) -> ReplayResult:
    """Replay the recording at `path` (only `venues`, default all) as fast as it goes."""
    return await replay_events(path, venues=venues)


def as_dicts(result: ReplayResult) -> list[dict[str, Any]]:
    return [event.to_dict() for event in result.events]


def mismatch(live: Iterable[dict[str, Any]], replayed: Iterable[dict[str, Any]]) -> list[str]:
    """[] when both hold the same trades and the same last book per instrument."""
    return differences(outcome(live), outcome(replayed))


def outcome_json(result: Outcome) -> dict[str, Any]:
    """An outcome as JSON, to check in next to a recording."""
    return {
        "trades": sorted(list(t) for t in result.trades),
        "books": [[v, i, bids, asks] for (v, i), (bids, asks) in sorted(result.books.items())],
    }


def outcome_from_json(data: dict[str, Any]) -> Outcome:
    return Outcome(
        trades={tuple(t) for t in data["trades"]},  # type: ignore[misc]
        books={(v, i): (bids, asks) for v, i, bids, asks in data["books"]},
    )


def load_outcome(path: Path) -> Outcome:
    return outcome_from_json(json.loads(path.read_text()))

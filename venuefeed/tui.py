"""The live terminal view: per venue and symbol health at a glance, and a funding board.

Rendered from the engine's status document (`Engine.status()`: the health read model,
prices and event rates) a few times a second, never from the per-message path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

_STYLE = {
    "live": "green",
    "recovered": "green",
    "connecting": "yellow",
    "backoff": "yellow",
    "stale": "red",
    "breaker_open": "bold red",
    "breaker_half_open": "yellow",
    "error": "bold red",
    "init_failed": "red",
}
REFRESH_PER_S = 4


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:+.5f}%"


def render(snapshot: dict[str, Any]) -> Group:
    health = Table(title="venues", expand=True)
    for col in (
        "venue",
        "stream",
        "state",
        "data age",
        "events/s",
        "reconnects",
        "stale s",
        "last error",
    ):
        health.add_column(col, overflow="fold")
    funding = Table(title="funding per hour (and BBO)", expand=True)
    funding.add_column("symbol")
    venues = sorted(snapshot["venues"])
    for name in venues:
        funding.add_column(name, justify="right")
    symbols: set[str] = set()
    for name in venues:
        venue = snapshot["venues"][name]
        symbols.update(venue["symbols"])
        streams = venue["streams"] or {"venue": {"state": "connecting"}}
        for stream, st in sorted(streams.items()):
            if not stream.startswith("ws:") and st.get("state") == "live":
                continue
            state = st.get("state", "?")
            age = st.get("last_data_age_s")
            health.add_row(
                name,
                stream,
                Text(state, style=_STYLE.get(state, "")),
                "-" if age is None else f"{age:.1f}s",
                f"{venue['events_per_s']:.0f}",
                str(st.get("reconnects", "-")),
                _fmt(st.get("stale_seconds"), 1),
                (st.get("last_error") or st.get("reason") or "")[:60],
            )
    for symbol in sorted(symbols):
        cells = []
        for name in venues:
            view = snapshot["venues"][name]["symbols"].get(symbol)
            if view is None:
                cells.append("-")
                continue
            cells.append(
                f"{_pct(view['funding_per_hour'])}\n{_fmt(view['bid'])} / {_fmt(view['ask'])}"
            )
        funding.add_row(symbol, *cells)
    return Group(health, funding)


async def run_view(status: Callable[[], dict[str, Any]], console: Console | None = None) -> None:
    """Redraw until cancelled."""
    with Live(render(status()), console=console, refresh_per_second=REFRESH_PER_S) as live:
        while True:
            await asyncio.sleep(1 / REFRESH_PER_S)
            live.update(render(status()))

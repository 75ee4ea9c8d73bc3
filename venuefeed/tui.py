"""The live terminal view: each venue's connections at a glance, why one is failing and
when it tries again, and a funding board.

Rendered from the engine's status document (`Engine.status()`: the health read model,
prices and event rates) a few times a second, never from the per-message path. It must
read in an 80-column terminal: no cell is ever broken inside a word (names are cut with
an ellipsis instead), and an error is never cut at all: it gets its own wrapped line
under the table, because the end of the message ("Name or service not known") is usually
the part that says what is wrong.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.padding import Padding
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
    "resync": "yellow",
    "fallback": "yellow",
}
#: states whose name is too long for the column, shown shorter
_LABEL = {"breaker_half_open": "half_open", "breaker_open": "breaker"}
REFRESH_PER_S = 4


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:+.5f}%"


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 10:
        return f"{value:.1f}s"
    if value < 100:
        return f"{value:.0f}s"
    if value < 6000:
        return f"{value / 60:.0f}m"
    return f"{value / 3600:.0f}h"


def _table(*columns: tuple[str, str, int]) -> Table:
    """A borderless table whose cells are cut with an ellipsis, never folded. Each column
    keeps at least its minimum width (0: it is the one that gives way when narrow)."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=False, show_edge=False)
    for name, justify, min_width in columns:
        table.add_column(
            name,
            justify=justify,  # type: ignore[arg-type]
            # rich narrows only wrappable columns: the one that gives way must be one (its
            # cells, one word each, are still cut with an ellipsis, not folded)
            no_wrap=bool(min_width),
            overflow="ellipsis",
            min_width=min_width or None,
        )
    return table


def render(snapshot: dict[str, Any], caption: str = "") -> Group:
    """The whole view for one status document (`Engine.status()`)."""
    health = _table(  # venue and state names are never cut: the connection gives way
        ("venue", "left", 11),
        ("connection", "left", 0),
        ("state", "left", 11),
        ("data", "right", 5),
        ("ev/s", "right", 5),
        ("recon", "right", 5),
        ("retry", "right", 6),
    )
    problems: list[RenderableType] = []
    venues = sorted(snapshot["venues"])
    for name in venues:
        venue = snapshot["venues"][name]
        streams = venue["streams"] or {"starting": {"state": "connecting"}}
        first = True
        for stream, st in sorted(streams.items()):
            state = st.get("state", "?")
            if not stream.startswith("ws:") and state == "live":
                continue
            retry = st.get("retry_in_s")
            health.add_row(
                name if first else "",
                stream,
                Text(_LABEL.get(state, state), style=_STYLE.get(state, "")),
                _seconds(st.get("last_data_age_s")),
                f"{venue['events_per_s']:.0f}" if first else "",
                str(st.get("reconnects", "")),
                "-" if retry is None else f"in {_seconds(retry)}",
            )
            first = False
            error = st.get("last_error") or ""
            if state not in ("live", "recovered", "connecting") and st.get("reason"):
                error = st["reason"]
            if error and state != "live":
                problems.append(_problem(name, stream, state, error, retry))
    parts: list[RenderableType] = []
    if caption:
        parts.append(Text(f"venuefeed  {caption}", style="dim"))
    parts.append(health)
    if problems:
        parts.append(Text("why", style="bold"))
        parts.extend(problems)
    board = _funding(snapshot, venues)
    if board.row_count:
        parts.append(board)
    return Group(*parts)


def _problem(
    venue: str, stream: str, state: str, error: str, retry: float | None
) -> RenderableType:
    """One failing stream: what and when next on one line, then its cause, whole, wrapped
    at word boundaries under an indent."""
    title = Text(f"  {venue} {stream}", style=_STYLE.get(state, ""))
    if retry is not None:
        title.append(f" (next try in {_seconds(retry)})", style="dim")
    return Group(title, Padding(Text(error), (0, 0, 0, 4)))


def _funding(snapshot: dict[str, Any], venues: list[str]) -> Table:
    """One row per (symbol, venue), grouped by symbol: the same coin's funding on every
    venue reads down one column, and the table fits 80 columns for five venues."""
    board = _table(
        ("symbol", "left", 6),
        ("venue", "left", 11),
        ("funding/h", "right", 10),
        ("bid", "right", 0),
        ("ask", "right", 0),
        ("mark", "right", 0),
    )
    symbols = sorted({s for n in venues for s in snapshot["venues"][n]["symbols"]})
    for symbol in symbols:
        first = True
        for name in venues:
            view = snapshot["venues"][name]["symbols"].get(symbol)
            if view is None:
                continue
            board.add_row(
                symbol if first else "",
                name,
                _pct(view["funding_per_hour"]),
                _fmt(view["bid"]),
                _fmt(view["ask"]),
                _fmt(view.get("mark")),
            )
            first = False
    return board


async def run_view(
    status: Callable[[], dict[str, Any]], console: Console | None = None, caption: str = ""
) -> None:
    """Redraw until cancelled."""
    with Live(render(status(), caption), console=console, refresh_per_second=REFRESH_PER_S) as live:
        while True:
            await asyncio.sleep(1 / REFRESH_PER_S)
            live.update(render(status(), caption))

"""The last gate before consumers: no impossible number leaves the engine.

Every plugin converts venue strings to floats its own way, and a mutated or hostile frame
can carry `inf`, `NaN`, a zero price or a negative size that each conversion accepts. The
core checks every parse result once, here, for every venue: a frame with an impossible
value is a counted parse error (`ImpossibleValue`), and nothing from it is published.
A delta's levels the read loop leaves to the book keeper, which reads each level anyway
and checks it as it applies it: an impossible one breaks the book (resync, counted as
the same parse error), so nothing of it is published either.

The rules: prices (trade, BBO, mark, index, book levels) are finite and > 0; sizes are
finite and >= 0 (a trade's size > 0; a delta whose sizes are changes may go negative);
funding rates are finite and their interval > 0.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Container, Iterable, Sequence

from venuefeed.core.adapter import BookDelta, BookSnapshot, Parsed
from venuefeed.core.errors import MalformedFrame, UnknownFrame
from venuefeed.core.events import Bbo, Event, Funding, Level, Mark, Trade

_isfinite = math.isfinite
_INF = math.inf
_LOWEST = -sys.float_info.max


class ImpossibleValue(MalformedFrame):
    """A well-formed frame carrying a number no market can have."""


def _price(value: float | None, what: str) -> None:
    if value is not None and not (_isfinite(value) and value > 0):
        raise ImpossibleValue(f"{what} = {value!r}: a price must be finite and > 0")


def _size(value: float | None, what: str) -> None:
    if value is not None and not (_isfinite(value) and value >= 0):
        raise ImpossibleValue(f"{what} = {value!r}: a size must be finite and >= 0")


def _levels(levels: Iterable[Level], side: str, changes: bool) -> None:
    # chained comparisons instead of isfinite() calls: this runs for every level. NaN
    # fails every comparison and the bounds exclude both infinities, so `0 < p < inf`
    # is exactly "finite and > 0" (`_LOWEST` is the lowest finite float)
    low = _LOWEST if changes else 0.0
    for price, size in levels:
        if not (0.0 < price < _INF and low <= size < _INF):
            raise ImpossibleValue(f"{side} {level_problem(price, size, changes)}")


def level_problem(price: float, size: float, changes: bool) -> str:
    """What makes a book level impossible: said once, for this gate and for the book
    keeper, which checks a delta's levels as it applies them."""
    if not 0.0 < price < _INF:
        return f"level price {price!r}: must be finite and > 0"
    rule = "finite" if changes else "finite and >= 0"
    return f"level size {size!r} at {price!r}: must be {rule}"


def _trade(item: Parsed) -> None:
    assert isinstance(item, Trade)
    _price(item.price, "trade price")
    if not (_isfinite(item.size) and item.size > 0):
        raise ImpossibleValue(f"trade size = {item.size!r}: must be finite and > 0")
    if not item.trade_id:
        raise ImpossibleValue("trade without a trade id")


def _bbo(item: Parsed) -> None:
    assert isinstance(item, Bbo)
    _price(item.bid_px, "bid price")
    _price(item.ask_px, "ask price")
    _size(item.bid_sz, "bid size")
    _size(item.ask_sz, "ask size")


def _mark(item: Parsed) -> None:
    assert isinstance(item, Mark)
    _price(item.mark_px, "mark price")
    _price(item.index_px, "index price")


def _funding(item: Parsed) -> None:
    assert isinstance(item, Funding)
    if not (_isfinite(item.rate) and _isfinite(item.rate_per_hour)):
        raise ImpossibleValue(f"funding rate {item.rate!r} ({item.rate_per_hour!r}/h): not finite")
    if not (_isfinite(item.interval_h) and item.interval_h > 0):
        raise ImpossibleValue(f"funding interval {item.interval_h!r} h: must be > 0")


def _snapshot(item: Parsed) -> None:
    assert isinstance(item, BookSnapshot)
    _levels(item.bids, "bid", False)
    _levels(item.asks, "ask", False)


def _delta(item: Parsed) -> None:
    assert isinstance(item, BookDelta)
    _levels(item.bids, "bid", item.sizes_are_changes)
    _levels(item.asks, "ask", item.sizes_are_changes)


_CHECKS: dict[type, Callable[[Parsed], None]] = {
    Trade: _trade,
    Bbo: _bbo,
    Mark: _mark,
    Funding: _funding,
    BookSnapshot: _snapshot,
    BookDelta: _delta,
}


_DATA = (Event, BookSnapshot, BookDelta)


def check_results(
    results: Sequence[Parsed],
    instruments: Container[str] | None = None,
    *,
    delta_levels: bool = True,
) -> None:
    """Raise `ImpossibleValue` naming the first impossible number in `results`, and,
    when `instruments` is given, `UnknownFrame` for data about any other instrument (a
    plugin must not invent instruments the venue was not asked for).

    `delta_levels=False` leaves a `BookDelta`'s levels to the book keeper, which checks
    each as it applies it (`books.py`): the read loop's way, sparing every delta a
    second pass over its levels."""
    checks = _CHECKS
    for item in results:
        if type(item) is BookDelta:  # the hot case, checked without the table's two calls
            if delta_levels:
                changes = item.sizes_are_changes
                if item.bids:
                    _levels(item.bids, "bid", changes)
                if item.asks:
                    _levels(item.asks, "ask", changes)
            if instruments is not None and item.instrument not in instruments:
                raise not_streamed(item.instrument)
            continue
        check = checks.get(type(item))
        if check is None:
            continue
        check(item)
        if (
            instruments is not None
            and isinstance(item, _DATA)
            and item.instrument not in instruments
        ):
            raise not_streamed(item.instrument)


def not_streamed(instrument: str) -> UnknownFrame:
    """Data about an instrument the core did not ask for: a plugin's bug or a venue's."""
    return UnknownFrame(f"data for instrument {instrument!r}, which is not streamed")

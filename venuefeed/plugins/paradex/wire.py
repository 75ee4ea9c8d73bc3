"""Paradex numbers and names checked for what they stand for, on both encodings.

JSON frames quote decimals as strings and are read field by field (the shared converters
`price`, `size`, `trade_size` and `rate` of `venuefeed.core.wire` refuse NaN, infinities and
values no market can have); SBE frames carry int64 mantissas (`sbe.py`), always finite but
of any sign, and the same converters check them once scaled. Neither encoding says a price
is positive or a size is not negative, and a mutated or corrupted frame proves that they
can be neither. The checks below are the ones only Paradex needs: "" or 0 for "none", an
empty BBO side quoted at 0, SBE levels and market names, and an hourly rate that must stay
finite. Each turns a bad frame into `MalformedFrame` where it is read, so no impossible
value reaches the core's sanity gate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from venuefeed.core.codec import num
from venuefeed.core.errors import MalformedFrame
from venuefeed.core.events import Level
from venuefeed.core.wire import price, quotient


def json_number(value: Any, what: str) -> float | None:
    """A JSON decimal that may be absent: Paradex sends "" (or nothing) for none."""
    if value is None or value == "":
        return None
    return num(value, what)


def bbo_side(px: float | None, sz: float | None, side: str) -> tuple[float | None, float | None]:
    """One side of a BBO. A side quoted at price 0 with no size is empty; a price of 0 or
    less for a real quantity, or a negative quantity, is malformed."""
    if px is not None and not px > 0.0:
        if px == 0.0 and not sz:
            return None, None
        raise MalformedFrame(f"{side} price {px!r} for size {sz!r}")
    if sz is not None and not sz >= 0.0:
        raise MalformedFrame(f"{side} size {sz!r}")
    return px, sz


def index_price(value: float | None) -> float | None:
    """The index (underlying) price; absent or 0 (no index) is None."""
    if value is None or value == 0.0:
        return None
    return price(value, "index price")


def levels(rows: Sequence[Level], side: str) -> Sequence[Level]:
    """SBE book levels: prices positive, sizes zero (removed) or more."""
    for px, sz in rows:
        if not (px > 0.0 and sz >= 0.0):
            raise MalformedFrame(f"{side} level {px!r} x {sz!r}")
    return rows


def rate_per_hour(rate: float, interval_h: float, market: str) -> float:
    """The hourly rate; a huge rate over a vanishing period overflows, and is malformed."""
    hourly = quotient(rate, interval_h)
    if not math.isfinite(hourly):
        raise MalformedFrame(f"funding {rate!r} per {interval_h!r} h for {market}")
    return hourly


def market(text: str) -> str:
    """A market id from an SBE frame: its empty string names no market."""
    if not text:
        raise MalformedFrame("SBE frame without a market")
    return text

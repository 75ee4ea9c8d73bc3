"""What every plugin's wire code needs, declared once: checked number types, time helpers
and a symbol table.

Numbers: a venue's decimal can be anything a mutated frame makes of it. `Price`, `Size`,
`TradeSize`, `Change`, `Rate` and `Hours` are msgspec-annotated floats whose bounds say
what the number stands for (they also exclude NaN and the infinities: a NaN fails every
comparison, and every bound is finite), for typed decoders; `price()`, `size()`,
`trade_size()`, `rate()` and `hours()` do the same for values quoted as strings. Either
way an impossible value is a `MalformedFrame` where it is read, before the core's own
last gate (`core/publishing/sanity.py`) would have to catch it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Annotated, Any, Final

import msgspec

from venuefeed.core.adapter import Instrument
from venuefeed.core.codec import num
from venuefeed.core.errors import MalformedFrame, UnknownSymbolError

#: the largest magnitude any venue number may have (a bound that also excludes infinity)
_HUGE: Final = 1e300

Price = Annotated[float, msgspec.Meta(gt=0.0, le=_HUGE)]
Size = Annotated[float, msgspec.Meta(ge=0.0, le=_HUGE)]
TradeSize = Annotated[float, msgspec.Meta(gt=0.0, le=_HUGE)]
#: a size change (may be negative), or any other signed amount
Change = Annotated[float, msgspec.Meta(ge=-_HUGE, le=_HUGE)]
Rate = Annotated[float, msgspec.Meta(ge=-_HUGE, le=_HUGE)]
Hours = Annotated[float, msgspec.Meta(gt=0.0, le=1e6)]
NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]


def price(value: Any, what: str = "price") -> float:
    """A quoted price: a finite number > 0."""
    out = num(value, what)
    if not 0.0 < out <= _HUGE:
        raise MalformedFrame(f"{what} = {value!r}: a price must be finite and > 0")
    return out


def size(value: Any, what: str = "size") -> float:
    """A quoted size: a finite number >= 0 (0 removes a level)."""
    out = num(value, what)
    if not 0.0 <= out <= _HUGE:
        raise MalformedFrame(f"{what} = {value!r}: a size must be finite and >= 0")
    return out


def trade_size(value: Any, what: str = "trade size") -> float:
    """A quoted trade size: a trade of nothing did not happen."""
    out = num(value, what)
    if not 0.0 < out <= _HUGE:
        raise MalformedFrame(f"{what} = {value!r}: a trade size must be finite and > 0")
    return out


def rate(value: Any, what: str = "rate") -> float:
    """A quoted funding rate: finite, of either sign."""
    out = num(value, what)
    if not -_HUGE <= out <= _HUGE:
        raise MalformedFrame(f"{what} = {value!r}: a rate must be finite")
    return out


def hours(value: Any, what: str = "interval") -> float:
    """A quoted interval in hours: finite and > 0."""
    out = num(value, what)
    if not 0.0 < out <= 1e6:
        raise MalformedFrame(f"{what} = {value!r}: an interval must be > 0 hours")
    return out


def quotient(dividend: float, divisor: float) -> float:
    """`dividend / divisor` without binary noise in its last digits, for rates derived
    from quoted ones (percent to fraction, per interval to per hour): 0.0012 / 100 is
    1.1999999999999999e-05 in floating point and 1.2e-05 here, kept to 15 significant
    digits, the most a double carries exactly from a decimal quote. A non-finite result is
    returned as it is, for the caller to reject."""
    value = dividend / divisor
    return float(f"{value:.15g}") if math.isfinite(value) else value


HOUR_MS: Final = 3_600_000


def next_hour_ms(ts_ms: int) -> int:
    """The next top of the hour after `ts_ms` (hourly funding settles there)."""
    return (ts_ms // HOUR_MS + 1) * HOUR_MS


class SymbolTable:
    """The venue's listed instruments by normalized symbol, filled by a plugin's init.

    `resolve` accepts the normalized base (`BTC`, any case) or the venue's own id, and
    raises `UnknownSymbolError` naming what the venue lists; `symbol_of` maps an id back.
    """

    def __init__(self, venue: str) -> None:
        self._venue = venue
        self._by_symbol: dict[str, str] = {}  # upper-case symbol -> instrument
        self._symbol_of: dict[str, str] = {}  # instrument -> symbol

    def replace(self, listed: Iterable[tuple[str, str]]) -> None:
        """Set the listing to these (symbol, instrument) pairs; the first wins a clash."""
        by_symbol: dict[str, str] = {}
        symbol_of: dict[str, str] = {}
        for symbol, instrument in listed:
            by_symbol.setdefault(symbol.upper(), instrument)
            symbol_of.setdefault(instrument, symbol)
        self._by_symbol, self._symbol_of = by_symbol, symbol_of

    def __len__(self) -> int:
        return len(self._symbol_of)

    def __contains__(self, instrument: object) -> bool:
        return instrument in self._symbol_of

    def symbol_of(self, instrument: str) -> str | None:
        return self._symbol_of.get(instrument)

    def resolve(self, wanted: str) -> Instrument:
        if wanted in self._symbol_of:
            return Instrument(self._symbol_of[wanted], wanted)
        instrument = self._by_symbol.get(wanted.upper())
        if instrument is None:
            raise UnknownSymbolError(self._venue, wanted, sorted(self._by_symbol))
        return Instrument(self._symbol_of[instrument], instrument)

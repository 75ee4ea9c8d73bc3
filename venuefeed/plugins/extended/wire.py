"""Extended v1 stream frames and REST bodies as typed messages, decoded and checked.

Frames are decoded once by a typed msgspec decoder in lax mode: Extended quotes prices,
sizes and rates as JSON strings, and lax mode turns them into floats inside the decoder
instead of a second Python pass. The bounds of the shared number types
(`venuefeed.core.wire`) reject `"nan"`/`"inf"`, which lax mode would otherwise accept, so
garbage numbers fail as `MalformedFrame` like any other wrong type; so does a negative
absolute size (`c` is a `Size`), checked in C rather than per level in Python. The structs a
book frame decodes into (`Frame`, `Data`, `BookLevel`) are `gc=False`: decoded JSON holds no
reference cycle, and untracked they cost the garbage collector nothing. What the messages mean
(which frame is which, the events they become) is `adapter.py`'s; so are the protocol facts
and their sources, in its docstring.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec

from venuefeed.core.codec import decode_typed
from venuefeed.core.errors import MalformedFrame
from venuefeed.core.events import Level
from venuefeed.core.wire import Change, NonEmpty, Price, Rate, Size, TradeSize

T = TypeVar("T")


class BookLevel(msgspec.Struct, gc=False):
    """`{p, q, c}`: `q` is the size in a snapshot and a change in a delta, `c` (deltas
    only, not always sent) the level's new absolute size."""

    p: Price
    q: Change | None = None
    c: Size | None = None  # an absolute size: never negative


class TradeRow(msgspec.Struct):
    """One public trade: market, side, time, price, size, id and trade type."""

    m: NonEmpty
    S: str
    T: int
    p: Price
    q: TradeSize
    i: int | NonEmpty
    tT: str | None = None


class Data(msgspec.Struct, gc=False):
    """The `data` object of book, funding and mark frames (each uses some fields)."""

    m: NonEmpty | None = None
    b: list[BookLevel] | None = None
    a: list[BookLevel] | None = None
    T: int | None = None
    f: Rate | None = None
    p: Price | None = None
    ts: int | None = None


class Error(msgspec.Struct):
    code: int | str | None = None
    message: str | None = None


class Frame(msgspec.Struct, gc=False):
    """Every v1 stream frame: `type` tells books and marks apart, trades carry a list and
    funding a `data.f`; error frames carry `status`/`error`."""

    type: str | None = None
    data: list[TradeRow] | Data | None = None
    ts: int | None = None
    seq: int | None = None
    status: str | None = None
    error: Error | str | None = None


_FRAME = msgspec.json.Decoder(Frame, strict=False)


def decode_frame(frame: str | bytes) -> Frame:
    """One text frame as a `Frame`; a binary frame or a wrong type is `MalformedFrame`."""
    if not isinstance(frame, str):
        raise MalformedFrame("binary frame: Extended v1 streams send JSON text")
    return decode_typed(_FRAME, frame)


def sizes(levels: list[BookLevel], *, absolute: bool) -> list[Level]:
    """Levels sized by `q`: the size itself in a snapshot, a change in a delta."""
    out: list[Level] = []
    for lv in levels:
        q = lv.q
        if q is None or (absolute and q < 0):
            raise MalformedFrame(f"book level {lv.p} without a valid size: {q!r}")
        out.append((lv.p, q))
    return out


def current(levels: list[BookLevel]) -> list[Level] | None:
    """Levels sized by their absolute `c` (never negative: `Size`), or None when some
    level has no `c`."""
    out: list[Level] = []
    for lv in levels:
        c = lv.c
        if c is None:
            return None
        out.append((lv.p, c))
    return out


# ---------------------------------------------------------------- REST bodies


class Stats(msgspec.Struct, rename="camel"):
    """`/info/markets/{m}/stats` `data`: the fields the funding and mark poll reads."""

    mark_price: Price | None = None
    index_price: Price | None = None
    funding_rate: Rate | None = None
    next_funding_rate: int | None = None  # despite the name: next funding time, ms


class _Market(msgspec.Struct, rename="camel"):
    name: str
    asset_name: str | None = None
    status: str | None = None
    active: bool | None = None


def _convert(body: Any, typ: type[Any], what: str) -> Any:
    try:
        return msgspec.convert(body, typ, strict=False)
    except msgspec.ValidationError as exc:
        raise MalformedFrame(f"{what}: {exc}") from None


class _Envelope(msgspec.Struct, Generic[T]):
    """Every REST answer: `{status, data, error}`, `data` only once the status is OK."""

    status: str
    data: T | None = None
    error: Error | str | None = None


def _data(body: Any, typ: Any, what: str) -> Any:
    """A REST answer's `data` as `typ`, once its status says OK."""
    parsed: _Envelope[Any] = _convert(body, _Envelope[typ], what)
    _check_ok(parsed.status, parsed.error, what)
    if parsed.data is None:
        raise MalformedFrame(f"{what}: no data")
    return parsed.data


def _check_ok(status: str, error: Error | str | None, what: str) -> None:
    if status != "OK":
        if isinstance(error, Error):
            detail = f"{error.code} {error.message or ''}".strip()
        else:
            detail = error or ""
        raise MalformedFrame(f"{what}: status {status} {detail}".rstrip())


def decode_markets(body: Any) -> list[tuple[str, str, bool]]:
    """`/info/markets` -> (market name, base asset, is active) for every listed market."""
    markets: list[_Market] = _data(body, list[_Market], "markets")
    out: list[tuple[str, str, bool]] = []
    for market in markets:
        base = market.asset_name or market.name.rsplit("-", 1)[0]
        active = market.status == "ACTIVE" if market.status is not None else bool(market.active)
        out.append((market.name, base, active))
    return out


class OrderbookLevel(msgspec.Struct):
    """`{qty, price}` of the REST book: a size, not a change."""

    price: Price
    qty: Size


class Orderbook(msgspec.Struct):
    market: NonEmpty
    bid: list[OrderbookLevel]
    ask: list[OrderbookLevel]


def decode_trades(body: Any) -> list[TradeRow]:
    """`/info/markets/{market}/trades` -> its rows, the stream's trade rows."""
    data: list[TradeRow] = _data(body, list[TradeRow], "market trades")
    return data


def decode_orderbook(body: Any) -> Orderbook:
    """`/info/markets/{market}/orderbook` -> its `data`, once the status says OK."""
    data: Orderbook = _data(body, Orderbook, "market order book")
    return data


def decode_stats(body: Any) -> Stats:
    """`/info/markets/{market}/stats` -> its `data`, once the status says OK."""
    data: Stats = _data(body, Stats, "market stats")
    return data

"""Extended frames and REST bodies turned into venuefeed results.

Frames are decoded once by a typed msgspec decoder in lax mode: Extended quotes prices,
sizes and rates as JSON strings, and lax mode turns them into floats inside the decoder
instead of a second Python pass. Range constraints reject `"nan"`/`"inf"`, which lax
mode would otherwise accept, so garbage numbers fail as `MalformedFrame` like any other
wrong type. The protocol facts and their sources are in `adapter.py`'s docstring.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import msgspec

from venuefeed.core.adapter import BookDelta, BookSnapshot, Parsed, VenueNotice
from venuefeed.core.codec import decode_typed
from venuefeed.core.errors import MalformedFrame, UnknownFrame
from venuefeed.core.events import Funding, Level, Mark, Side, Trade

#: a price: positive and finite.
Price = Annotated[float, msgspec.Meta(gt=0.0, le=1e300)]
#: a size, a size change or a rate: finite, any sign.
Amount = Annotated[float, msgspec.Meta(ge=-1e300, le=1e300)]
#: a market name or trade id: an empty one would publish events without an identity.
Name = Annotated[str, msgspec.Meta(min_length=1)]

HOUR_MS = 3_600_000
#: Extended charges funding every hour and quotes the hourly rate.
FUNDING_INTERVAL_H = 1.0

#: error codes meaning "this stream will never deliver" (bad market or parameter), as
#: opposed to transient ones such as 1006 application error or 1010 maintenance mode.
FATAL_CODES = frozenset({"1000", "1001", "1002", "1003", "1005"})

_SIDES: dict[str, Side] = {"BUY": "buy", "SELL": "sell"}


class _Level(msgspec.Struct):
    p: Price
    q: Amount | None = None
    c: Amount | None = None


class _TradeRow(msgspec.Struct):
    m: Name
    S: str
    T: int
    p: Price
    q: Price  # a trade's size: positive, like a price
    i: int | Name
    tT: str | None = None


class _Data(msgspec.Struct):
    """The `data` object of book, funding and mark frames (each uses some fields)."""

    m: Name | None = None
    b: list[_Level] | None = None
    a: list[_Level] | None = None
    T: int | None = None
    f: Amount | None = None
    p: Price | None = None
    ts: int | None = None


class _Error(msgspec.Struct):
    code: int | str | None = None
    message: str | None = None


class _Frame(msgspec.Struct):
    type: str | None = None
    data: list[_TradeRow] | _Data | None = None
    ts: int | None = None
    seq: int | None = None
    status: str | None = None
    error: _Error | str | None = None


_FRAME = msgspec.json.Decoder(_Frame, strict=False)


class FrameParser:
    """Turns one Extended v1 stream frame into results.

    `bases` maps a market name to its base asset; the adapter fills it from
    `/info/markets` and this parser reads it, so both share the same dict.
    """

    __slots__ = ("_bases", "_include_deleverage", "_venue")

    def __init__(self, venue: str, bases: Mapping[str, str], *, include_deleverage: bool) -> None:
        self._venue = venue
        self._bases = bases
        self._include_deleverage = include_deleverage

    def base(self, market: str) -> str:
        """The base asset of a market, from the market list or its `BASE-QUOTE` name."""
        base = self._bases.get(market)
        if base is None:
            base = market.rsplit("-", 1)[0]
        return base

    def parse(self, frame: str | bytes, recv_ms: int) -> Sequence[Parsed]:
        if not isinstance(frame, str):
            raise MalformedFrame("binary frame: Extended v1 streams send JSON text")
        msg = decode_typed(_FRAME, frame)
        if msg.error is not None or msg.status == "ERROR":
            return (self._notice(msg),)
        kind = msg.type
        data = msg.data
        if kind == "DELTA":
            return (self._delta(msg),)
        if kind == "SNAPSHOT":
            return (self._snapshot(msg),)
        if kind == "MP":
            return (self._mark(msg, recv_ms),)
        if isinstance(data, list):
            return self._trades(data, recv_ms)
        if data is not None and data.f is not None:
            return (self._funding(data, data.f, msg.ts, recv_ms),)
        raise UnknownFrame(f"unknown Extended frame type {kind!r}")

    def _book_data(self, msg: _Frame) -> tuple[str, list[_Level], list[_Level], int]:
        data = msg.data
        if not isinstance(data, _Data) or data.m is None:
            raise MalformedFrame(f"{msg.type} frame without a market object")
        if msg.seq is None:
            raise MalformedFrame(f"{msg.type} frame without seq")
        return data.m, data.b or [], data.a or [], msg.seq

    def _snapshot(self, msg: _Frame) -> BookSnapshot:
        market, b, a, seq = self._book_data(msg)
        bids = _sizes(b, absolute=True)
        asks = _sizes(a, absolute=True)
        return BookSnapshot(instrument=market, bids=bids, asks=asks, seq=seq, ts_venue=msg.ts)

    def _delta(self, msg: _Frame) -> BookDelta:
        market, b, a, seq = self._book_data(msg)
        # `c` is the level's new absolute size where the venue sends it; `q` alone is a
        # change to add to the stored size (official SDK). One flag covers a message, so
        # a message that lacks `c` anywhere is applied entirely as changes from `q`.
        bids = _current(b)
        asks = _current(a) if bids is not None else None
        changes = bids is None or asks is None
        if bids is None or asks is None:
            bids = _sizes(b, absolute=False)
            asks = _sizes(a, absolute=False)
        return BookDelta(
            instrument=market,
            bids=bids,
            asks=asks,
            seq=seq,
            ts_venue=msg.ts,
            sizes_are_changes=changes,
        )

    def _trades(self, rows: list[_TradeRow], recv_ms: int) -> list[Trade]:
        venue = self._venue
        out: list[Trade] = []
        for row in rows:
            if row.tT == "DELEVERAGE" and not self._include_deleverage:
                continue
            side = _SIDES.get(row.S)
            if side is None:
                raise MalformedFrame(f"trade side {row.S!r} is neither BUY nor SELL")
            out.append(
                Trade(
                    venue=venue,
                    symbol=self.base(row.m),
                    instrument=row.m,
                    ts_venue=row.T,
                    ts_recv=recv_ms,
                    price=row.p,
                    size=row.q,
                    side=side,
                    trade_id=str(row.i),
                )
            )
        return out

    def _funding(self, data: _Data, rate: float, ts: int | None, recv_ms: int) -> Funding:
        market = data.m
        if market is None:
            raise MalformedFrame("funding frame without a market")
        stamp = data.T if data.T is not None else ts
        return Funding(
            venue=self._venue,
            symbol=self.base(market),
            instrument=market,
            ts_venue=stamp,
            ts_recv=recv_ms,
            rate=rate,
            interval_h=FUNDING_INTERVAL_H,
            rate_per_hour=rate,
            next_funding_ms=None if stamp is None else next_hour_ms(stamp),
        )

    def _mark(self, msg: _Frame, recv_ms: int) -> Mark:
        data = msg.data
        if not isinstance(data, _Data) or data.m is None or data.p is None:
            raise MalformedFrame("mark price frame without market or price")
        # the venue has sent `data.ts` as 0; the envelope `ts` is the real stamp then.
        stamp = data.ts or msg.ts
        return Mark(
            venue=self._venue,
            symbol=self.base(data.m),
            instrument=data.m,
            ts_venue=stamp,
            ts_recv=recv_ms,
            mark_px=data.p,
        )

    def _notice(self, msg: _Frame) -> VenueNotice:
        err = msg.error
        if isinstance(err, _Error):
            code = "" if err.code is None else str(err.code)
            text = err.message or ""
        else:
            code, text = "", err or ""
        return VenueNotice(
            code=code or (msg.status or "ERROR"),
            message=text,
            stream=None,
            fatal=code in FATAL_CODES,
        )


def _sizes(levels: list[_Level], *, absolute: bool) -> list[Level]:
    """Levels sized by `q`: the size itself in a snapshot, a change in a delta."""
    out: list[Level] = []
    for lv in levels:
        q = lv.q
        if q is None or (absolute and q < 0):
            raise MalformedFrame(f"book level {lv.p} without a valid size: {q!r}")
        out.append((lv.p, q))
    return out


def _current(levels: list[_Level]) -> list[Level] | None:
    """Levels sized by their absolute `c`, or None when some level has no `c`."""
    out: list[Level] = []
    for lv in levels:
        c = lv.c
        if c is None:
            return None
        if c < 0:
            raise MalformedFrame(f"book level {lv.p} with negative size {c}")
        out.append((lv.p, c))
    return out


def next_hour_ms(ts_ms: int) -> int:
    """The next funding time after `ts_ms`: Extended settles funding on the hour."""
    return (ts_ms // HOUR_MS + 1) * HOUR_MS


# ---------------------------------------------------------------- REST bodies


class _Stats(msgspec.Struct, rename="camel"):
    mark_price: Price | None = None
    index_price: Price | None = None
    funding_rate: Amount | None = None
    next_funding_rate: int | None = None  # despite the name: next funding time, ms


class _Market(msgspec.Struct, rename="camel"):
    name: str
    asset_name: str | None = None
    status: str | None = None
    active: bool | None = None


class _MarketsBody(msgspec.Struct):
    status: str
    data: list[_Market] | None = None
    error: _Error | str | None = None


class _StatsBody(msgspec.Struct):
    status: str
    data: _Stats | None = None
    error: _Error | str | None = None


def _convert(body: Any, typ: type[Any], what: str) -> Any:
    try:
        return msgspec.convert(body, typ, strict=False)
    except msgspec.ValidationError as exc:
        raise MalformedFrame(f"{what}: {exc}") from None


def _check_ok(status: str, error: _Error | str | None, what: str) -> None:
    if status != "OK":
        if isinstance(error, _Error):
            detail = f"{error.code} {error.message or ''}".strip()
        else:
            detail = error or ""
        raise MalformedFrame(f"{what}: status {status} {detail}".rstrip())


def parse_markets(body: Any) -> list[tuple[str, str, bool]]:
    """`/info/markets` -> (market name, base asset, is active) for every listed market."""
    parsed: _MarketsBody = _convert(body, _MarketsBody, "markets")
    _check_ok(parsed.status, parsed.error, "markets")
    if parsed.data is None:
        raise MalformedFrame("markets: no data")
    out: list[tuple[str, str, bool]] = []
    for market in parsed.data:
        base = market.asset_name or market.name.rsplit("-", 1)[0]
        active = market.status == "ACTIVE" if market.status is not None else bool(market.active)
        out.append((market.name, base, active))
    return out


def parse_stats(
    body: Any, *, venue: str, symbol: str, instrument: str, recv_ms: int
) -> list[Parsed]:
    """`/info/markets/{market}/stats` -> the hourly funding rate and the mark price."""
    parsed: _StatsBody = _convert(body, _StatsBody, "market stats")
    _check_ok(parsed.status, parsed.error, "market stats")
    stats = parsed.data
    if stats is None:
        raise MalformedFrame("market stats: no data")
    out: list[Parsed] = []
    if stats.funding_rate is not None:
        out.append(
            Funding(
                venue=venue,
                symbol=symbol,
                instrument=instrument,
                ts_recv=recv_ms,
                rate=stats.funding_rate,
                interval_h=FUNDING_INTERVAL_H,
                rate_per_hour=stats.funding_rate,
                next_funding_ms=stats.next_funding_rate,
            )
        )
    if stats.mark_price is not None:
        out.append(
            Mark(
                venue=venue,
                symbol=symbol,
                instrument=instrument,
                ts_recv=recv_ms,
                mark_px=stats.mark_price,
                index_px=stats.index_price,
            )
        )
    return out

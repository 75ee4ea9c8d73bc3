"""Typed shapes of the Aster frames and REST bodies the adapter reads.

The websocket decoder runs with `strict=False` so msgspec turns Aster's quoted numbers
("114783.7") into floats in C while it decodes: no per-field Python conversion on the hot
path. The bounds of the shared number types (`venuefeed.core.wire`) reject "NaN",
"Infinity", zero or negative prices and negative sizes, which non-strict decoding would
otherwise let through ("1e-400" reads as 0.0, "-0" as -0.0: both fail `gt=0`). A price Aster
may quote as 0 for "none" (an empty BBO side, an absent index) is typed `Size` (finite, not
negative) and the adapter decides what the 0 means. Field names are Aster's one-letter keys,
renamed so the adapter reads as prose. Unknown keys are ignored, so fields Aster adds later
do not break decoding.

`Envelope` and `DepthUpdate`, what every frame of a diff-depth stream decodes into, are
`gc=False`: decoded JSON holds no reference cycle, and leaving them untracked spares the
garbage collector (~4% of decoding them, measured).
"""

from __future__ import annotations

from typing import Any

import msgspec

from venuefeed.core.wire import Hours, Price, Rate, Size, TradeSize

#: a book level: a price and its size (0 removes the level).
PriceLevel = tuple[Price, Size]


class DepthUpdate(msgspec.Struct, tag_field="e", tag="depthUpdate", gc=False):
    """`<sym>@depth[@100ms|@500ms]` (and the partial `@depthN` streams, same shape)."""

    symbol: str = msgspec.field(name="s")
    first_id: int = msgspec.field(name="U")
    last_id: int = msgspec.field(name="u")
    prev_last_id: int = msgspec.field(name="pu")
    bids: list[PriceLevel] = msgspec.field(name="b")
    asks: list[PriceLevel] = msgspec.field(name="a")
    event_ms: int | None = msgspec.field(default=None, name="E")
    tx_ms: int | None = msgspec.field(default=None, name="T")


class BookTicker(msgspec.Struct, tag_field="e", tag="bookTicker"):
    """`<sym>@bookTicker`: best bid and ask, pushed on every change. A side with size 0 is
    empty, whatever its price; the adapter checks the price of a side that is not."""

    symbol: str = msgspec.field(name="s")
    bid_px: Size = msgspec.field(name="b")
    bid_sz: Size = msgspec.field(name="B")
    ask_px: Size = msgspec.field(name="a")
    ask_sz: Size = msgspec.field(name="A")
    event_ms: int | None = msgspec.field(default=None, name="E")
    tx_ms: int | None = msgspec.field(default=None, name="T")


class AggTrade(msgspec.Struct, tag_field="e", tag="aggTrade"):
    """`<sym>@aggTrade`: one taker order's fills within 100 ms."""

    symbol: str = msgspec.field(name="s")
    agg_id: int = msgspec.field(name="a")
    price: Price = msgspec.field(name="p")
    size: TradeSize = msgspec.field(name="q")
    buyer_is_maker: bool = msgspec.field(name="m")
    trade_ms: int | None = msgspec.field(default=None, name="T")
    event_ms: int | None = msgspec.field(default=None, name="E")


class MarkPriceUpdate(msgspec.Struct, tag_field="e", tag="markPriceUpdate"):
    """`<sym>@markPrice[@1s]`: mark, index, current funding rate and next funding time.
    An index of 0 means the venue has none."""

    symbol: str = msgspec.field(name="s")
    mark_px: Price = msgspec.field(name="p")
    index_px: Size | None = msgspec.field(default=None, name="i")
    rate: Rate | None = msgspec.field(default=None, name="r")
    next_funding_ms: int | None = msgspec.field(default=None, name="T")
    event_ms: int | None = msgspec.field(default=None, name="E")


Payload = DepthUpdate | BookTicker | AggTrade | MarkPriceUpdate

#: the `e` values the adapter understands; anything else is an unknown (not a broken) frame.
KNOWN_EVENTS = frozenset(
    str(cls.__struct_config__.tag) for cls in (DepthUpdate, BookTicker, AggTrade, MarkPriceUpdate)
)


class Envelope(msgspec.Struct, gc=False):
    """Every text frame on one connection, decoded in a single pass.

    Combined-stream frames carry `data`; raw-stream frames carry the payload's own `e` at
    the top level; subscription answers carry `result`/`id`; errors carry `code`/`msg`
    (or, Binance-style, an `error` object).
    """

    data: Payload | None = None
    e: Any = None
    result: Any = msgspec.UNSET
    id: Any = None
    code: Any = None
    msg: Any = None
    error: Any = None


ENVELOPE = msgspec.json.Decoder(Envelope, strict=False)
PAYLOAD = msgspec.json.Decoder(Payload, strict=False)


# --- REST bodies (already JSON-decoded by the core; converted with msgspec.convert) ---


class DepthSnapshot(msgspec.Struct):
    """`GET /fapi/v3/depth`."""

    lastUpdateId: int
    bids: list[PriceLevel]
    asks: list[PriceLevel]
    E: int | None = None
    T: int | None = None


class AggTradeRow(msgspec.Struct):
    """One row of `GET /fapi/v3/aggTrades`: the stream's `aggTrade` without `e`, `E`, `s`."""

    agg_id: int = msgspec.field(name="a")
    price: Price = msgspec.field(name="p")
    size: TradeSize = msgspec.field(name="q")
    buyer_is_maker: bool = msgspec.field(name="m")
    trade_ms: int = msgspec.field(name="T")


class PremiumIndex(msgspec.Struct):
    """`GET /fapi/v3/premiumIndex?symbol=`."""

    symbol: str
    markPrice: Price
    indexPrice: Size | None = None
    lastFundingRate: Rate | None = None
    nextFundingTime: int | None = None
    time: int | None = None


class FundingInfo(msgspec.Struct):
    """One row of `GET /fapi/v3/fundingInfo`."""

    symbol: str
    fundingIntervalHours: Hours | None = None


class MarketInfo(msgspec.Struct):
    """One row of `exchangeInfo.symbols`; only what symbol validation needs."""

    symbol: str
    contractType: str | None = None
    status: str | None = None
    baseAsset: str | None = None
    quoteAsset: str | None = None


class ExchangeInfo(msgspec.Struct):
    """`GET /fapi/v3/exchangeInfo`."""

    symbols: list[MarketInfo]

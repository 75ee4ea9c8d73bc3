"""Lighter websocket frames as typed msgspec structs, decoded in one pass.

Every Lighter frame is one JSON object whose payload key depends on `type`, so a single
struct with optional payload fields decodes all of them without building dicts for the
fields venuefeed ignores (trades carry ~25 of those). `strict=False` lets msgspec turn
Lighter's decimal strings ("2064.54") into floats during decoding, and any field of the
wrong type fails the whole frame as `MalformedFrame`.

Lax decoding also reads "nan", "inf" and "1e999" (infinity) as floats, and "1e-400" as 0.0:
the bounds of the shared number types (`venuefeed.core.wire`) refuse every number no market
can have, at decode time. `market_stats` is kept as a loose dict (one market, or every
market keyed by id); `index_price` below checks the one value it needs that no shared
converter covers.

The structs a delta frame decodes into (`Frame`, `Book`, `Level`) are `gc=False`: a
decoded frame can hold no reference cycle, and leaving its objects untracked spares the
garbage collector the collections a delta feed's allocations (~10 objects a frame) would
otherwise trigger.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from venuefeed.core.codec import num
from venuefeed.core.wire import NonEmpty, Price, Size, TradeSize, price


class Level(msgspec.Struct, gc=False):
    """One book level; both fields are required, a missing one is a malformed frame."""

    price: Price
    size: Size


class Quote(msgspec.Struct):
    """One side of `ticker`: defaults let an absent or empty side decode as "no quote".
    A price of 0 means "none" here too, so it is a `Size` (finite, >= 0), not a `Price`."""

    price: Size = 0.0
    size: Size = 0.0


class Book(msgspec.Struct, gc=False):
    asks: list[Level] = []
    bids: list[Level] = []
    nonce: int | None = None
    begin_nonce: int | None = None


class Ticker(msgspec.Struct):
    a: Quote | None = None
    b: Quote | None = None


class TradeMsg(msgspec.Struct):
    trade_id: int | NonEmpty  # an empty string identifies nothing
    price: Price
    size: TradeSize
    is_maker_ask: bool
    timestamp: int | None = None


class RestingOrder(msgspec.Struct):
    """One order of `GET /api/v1/orderBookOrders` (SDK `lighter/models/simple_order.py`):
    decimals kept exact, because orders are summed into levels. msgspec puts no bounds on
    a Decimal: `__post_init__` refuses what no order can be (NaN, infinities, a price of 0
    or less, a negative amount)."""

    price: Decimal
    remaining_base_amount: Decimal

    def __post_init__(self) -> None:
        px, amount = self.price, self.remaining_base_amount
        if not (px.is_finite() and amount.is_finite() and px > 0 and amount >= 0):
            raise ValueError(f"an order of {amount} at {px}")


class Frame(msgspec.Struct, gc=False):
    type: str | None = None
    channel: str | None = None
    timestamp: int | None = None
    order_book: Book | None = None
    ticker: Ticker | None = None
    trades: list[TradeMsg] | None = None
    liquidation_trades: list[TradeMsg] | None = None
    # one market's stats, or (for `market_stats/all`) a dict keyed by market id
    market_stats: dict[str, Any] | None = None
    # `{"error": {"code", "message"}}` frames; kept loose because its shape varies
    error: Any = None
    code: int | str | None = None
    message: str | None = None
    session_id: str | None = None
    close_in_ms: int | None = None


FRAME_DECODER: msgspec.json.Decoder[Frame] = msgspec.json.Decoder(Frame, strict=False)


def index_price(value: Any) -> float | None:
    """`market_stats.index_price`; absent or 0 (a market without an index) is None."""
    if value is None:
        return None
    out = num(value, "index_price")
    return None if out == 0.0 else price(out, "index_price")

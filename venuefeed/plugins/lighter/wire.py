"""Lighter websocket frames as typed msgspec structs, decoded in one pass.

Every Lighter frame is one JSON object whose payload key depends on `type`, so a single
struct with optional payload fields decodes all of them without building dicts for the
fields venuefeed ignores (trades carry ~25 of those). `strict=False` lets msgspec turn
Lighter's decimal strings ("2064.54") into floats during decoding, and any field of the
wrong type fails the whole frame as `MalformedFrame`.

Lax decoding also reads "nan", "inf" and "1e999" (infinity) as floats, and "1e-400" as 0.0:
the bounds below refuse every number no market can have, at decode time.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

#: a price: finite and positive.
Price = Annotated[float, msgspec.Meta(gt=0.0, le=1e300)]
#: a size (0 removes a book level), or a ticker quote where 0 means "none": finite, >= 0.
Size = Annotated[float, msgspec.Meta(ge=0.0, le=1e300)]
#: a trade's size: a trade of nothing did not happen.
TradeSize = Annotated[float, msgspec.Meta(gt=0.0, le=1e300)]
#: a trade id given as a string: an empty one identifies nothing.
TradeId = Annotated[str, msgspec.Meta(min_length=1)]


class Level(msgspec.Struct):
    """One book level; both fields are required, a missing one is a malformed frame."""

    price: Price
    size: Size


class Quote(msgspec.Struct):
    """One side of `ticker`: defaults let an absent or empty side decode as "no quote"."""

    price: Size = 0.0
    size: Size = 0.0


class Book(msgspec.Struct):
    asks: list[Level] = []
    bids: list[Level] = []
    nonce: int | None = None
    begin_nonce: int | None = None


class Ticker(msgspec.Struct):
    a: Quote | None = None
    b: Quote | None = None


class TradeMsg(msgspec.Struct):
    trade_id: int | TradeId
    price: Price
    size: TradeSize
    is_maker_ask: bool
    timestamp: int | None = None


class Frame(msgspec.Struct):
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

"""Typed shapes of the Hyperliquid websocket frames this plugin reads.

Every frame is `{"channel": <name>, "data": ...}`, so one msgspec tagged union on
`channel` decodes and validates a frame in a single pass. Prices and sizes arrive as
decimal strings; the decoder runs with `strict=False` so msgspec turns them into floats
itself, and the bounds of the shared number types (`venuefeed.core.wire`) reject NaN,
infinities and negative prices at decode time instead of letting them reach a book. An
empty coin name (`NonEmpty`) would publish events for the instrument "".
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from venuefeed.core.wire import NonEmpty, Price, Size, TradeSize

#: the funding rate as a fraction per hour. Hyperliquid caps it at 4 %/hour (HL-docs
#: `trading/funding`), so |rate| <= 1 is a loose bound of this venue's own that still
#: rejects NaN and any rate no Hyperliquid market can have (the shared `Rate` only
#: requires a finite number).
HourlyRate = Annotated[float, msgspec.Meta(ge=-1.0, le=1.0)]


class Level(msgspec.Struct, gc=False):
    """`WsLevel {px, sz, n}`; the order count `n` is not needed."""

    px: Price
    sz: Size


class BookData(msgspec.Struct, gc=False):
    """`WsBook`: `levels[0]` are bids (best first), `levels[1]` asks (best first)."""

    coin: NonEmpty
    levels: tuple[list[Level], list[Level]]
    time: int


class BboData(msgspec.Struct, gc=False):
    """`WsBbo`: `[bid, ask]`, a side is null when that side of the book is empty."""

    coin: NonEmpty
    time: int
    bbo: tuple[Level | None, Level | None]


class TradeData(msgspec.Struct, gc=False):
    """One `WsTrade`; `side` is the aggressor: "B" bought, "A" sold."""

    coin: NonEmpty
    side: Literal["A", "B"]
    px: Price
    sz: TradeSize
    time: int
    tid: int


class PerpCtx(msgspec.Struct, gc=False):
    """The fields of `PerpsAssetCtx` this plugin publishes."""

    funding: HourlyRate
    markPx: Price
    oraclePx: Price


class AssetCtxData(msgspec.Struct, gc=False):
    coin: NonEmpty
    ctx: PerpCtx


class BookMsg(msgspec.Struct, tag_field="channel", tag="l2Book", gc=False):
    data: BookData


class BboMsg(msgspec.Struct, tag_field="channel", tag="bbo", gc=False):
    data: BboData


class TradesMsg(msgspec.Struct, tag_field="channel", tag="trades", gc=False):
    data: list[TradeData]


class AssetCtxMsg(msgspec.Struct, tag_field="channel", tag="activeAssetCtx", gc=False):
    data: AssetCtxData


class PongMsg(msgspec.Struct, tag_field="channel", tag="pong", gc=False):
    pass


class SubscriptionResponseMsg(
    msgspec.Struct, tag_field="channel", tag="subscriptionResponse", gc=False
):
    data: Any = None


class ErrorMsg(msgspec.Struct, tag_field="channel", tag="error", gc=False):
    data: Any = None


Frame = BookMsg | BboMsg | TradesMsg | AssetCtxMsg | PongMsg | SubscriptionResponseMsg | ErrorMsg

#: channels the union knows; anything else is an `UnknownFrame`, not a malformed one.
KNOWN_CHANNELS = frozenset(
    {"l2Book", "bbo", "trades", "activeAssetCtx", "pong", "subscriptionResponse", "error"}
)

FRAME_DECODER: msgspec.json.Decoder[Frame] = msgspec.json.Decoder(Frame, strict=False)

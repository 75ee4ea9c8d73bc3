"""Normalized events: the only types a consumer of venuefeed ever sees.

They are msgspec structs so building one in the hot path costs little, and the JSON
sink encodes them without an intermediate dict. `kind` is the tag in JSON and a class
attribute in Python, typed as a literal per class so that a type checker narrows
`AnyEvent` on `event.kind == "status"` like on `isinstance`. Prices and sizes are floats;
timestamps are integer milliseconds.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import msgspec

_encoder = msgspec.json.Encoder()

Side = Literal["buy", "sell"]
Level = tuple[float, float]
#: where a market-data event came from: the venue's websocket, or its REST API (a trade
#: backfilled after an outage, a book polled while the socket was down)
Source = Literal["ws", "rest"]
#: what a funding rate is: the rate the next settlement is expected to apply (or, on a
#: venue with continuous funding, the rate accruing now), or the rate applied at the
#: last settlement
FundingBasis = Literal["predicted", "settled"]


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind"):
    """Fields every event carries."""

    kind: ClassVar[str]
    #: state events are conflated per key for slow consumers; history events never are.
    is_state: ClassVar[bool]

    venue: str
    symbol: str
    instrument: str
    ts_venue: int | None = None
    ts_recv: int

    def to_dict(self) -> dict[str, Any]:
        """The event as plain JSON types, `kind` included (`msgspec.structs.asdict` leaves
        the tag out, and keeps tuples): exactly the object `to_json` writes."""
        out: dict[str, Any] = msgspec.json.decode(_encoder.encode(self))
        return out

    def to_json(self) -> str:
        """The event as one JSON object, the line the jsonl sink writes."""
        return _encoder.encode(self).decode()


class Book(Event, frozen=True, kw_only=True, tag="book"):
    """Top-N order book, bids descending and asks ascending."""

    kind: ClassVar[Literal["book"]] = "book"
    is_state: ClassVar[bool] = True

    bids: list[Level]
    asks: list[Level]
    seq: int | None = None
    source: Source = "ws"


class Bbo(Event, frozen=True, kw_only=True, tag="bbo"):
    """Best bid and offer; a side is None when that side of the book is empty."""

    kind: ClassVar[Literal["bbo"]] = "bbo"
    is_state: ClassVar[bool] = True

    bid_px: float | None
    bid_sz: float | None
    ask_px: float | None
    ask_sz: float | None
    source: Source = "ws"


class Trade(Event, frozen=True, kw_only=True, tag="trade"):
    """One public trade; `side` is the taker's side."""

    kind: ClassVar[Literal["trade"]] = "trade"
    is_state: ClassVar[bool] = False

    price: float
    size: float
    side: Side
    trade_id: str
    source: Source = "ws"


class Funding(Event, frozen=True, kw_only=True, tag="funding"):
    """One funding rate, the same meaning on every venue.

    `rate` is a fraction (0.0001 = 0.01 %) for one funding interval of `interval_h` hours,
    whatever unit the venue quotes it in (percent is converted); `rate_per_hour` is
    `rate / interval_h` to 15 significant digits (`core.wire.quotient`), the number to
    compare across venues. `basis` says whether it is the predicted rate or the last
    settled one, `source` whether it came over the websocket or REST, and `feed` names the
    venue's own feed (`activeAssetCtx`, `funding-rates`...), so two feeds of one venue are
    never mistaken for one series.
    """

    kind: ClassVar[Literal["funding"]] = "funding"
    is_state: ClassVar[bool] = False

    rate: float
    interval_h: float
    rate_per_hour: float
    next_funding_ms: int | None = None
    basis: FundingBasis = "predicted"
    source: Source = "ws"
    feed: str = ""


class Mark(Event, frozen=True, kw_only=True, tag="mark"):
    """Mark price, and the index price where the venue gives it."""

    kind: ClassVar[Literal["mark"]] = "mark"
    is_state: ClassVar[bool] = True

    mark_px: float
    index_px: float | None = None
    source: Source = "ws"


StatusState = Literal[
    "connecting",
    "live",
    "stale",
    "backoff",
    "breaker_open",
    "breaker_half_open",
    "recovered",
    "resync",
    "init_failed",
    "error",
    "backfilled",
    "fallback",
]


class Status(Event, frozen=True, kw_only=True, tag="status"):
    """A state change of one stream or connection of a venue.

    `stream` names a connection (`ws:main`) or one stream (`book:BTC-USD-PERP`);
    `symbol` is `*` when the change concerns the whole connection.
    """

    kind: ClassVar[Literal["status"]] = "status"
    is_state: ClassVar[bool] = False

    stream: str
    state: StatusState
    reason: str = ""
    delay_s: float | None = None
    gap_start_ms: int | None = None
    gap_end_ms: int | None = None


GapReason = Literal["consumer_behind", "outage", "bus_unreachable"]


class Gap(Event, frozen=True, kw_only=True, tag="gap"):
    """Events this consumer will never see, said in-band where they would have been.

    `reason` says why: `consumer_behind` (this consumer's queue overflowed and the oldest
    events were dropped), `outage` (the venue's socket was down and the venue offers no
    way to fetch what it missed), `bus_unreachable` (a sink could not reach its bus).
    `lost_kind` is the kind of the missing events; `count` is how many (None when
    unknown); `first_id`/`last_id` are the trade ids at both ends when known;
    `from_ms`/`to_ms` bound the missing events' receive (or outage) times.
    """

    kind: ClassVar[Literal["gap"]] = "gap"
    is_state: ClassVar[bool] = False

    reason: GapReason
    lost_kind: str
    count: int | None = None
    first_id: str | None = None
    last_id: str | None = None
    from_ms: int
    to_ms: int


#: every event a consumer can receive; `engine.events()` yields these
AnyEvent = Book | Bbo | Trade | Funding | Mark | Status | Gap

_SOURCED = (Book, Bbo, Trade, Funding, Mark)


def from_rest(event: Event) -> Event:
    """The event marked `source="rest"` (a poll's results came over REST by construction,
    whatever the plugin filled in)."""
    if isinstance(event, _SOURCED) and event.source != "rest":
        return msgspec.structs.replace(event, source="rest")
    return event


def encode_event(event: Event) -> bytes:
    """Serialize one event as a JSON object (no trailing newline)."""
    return _encoder.encode(event)


def decode_event(data: bytes | str) -> AnyEvent:
    """Inverse of `encode_event`, for consumers of the JSON-lines sink."""
    event: AnyEvent = msgspec.json.decode(data, type=AnyEvent)
    return event

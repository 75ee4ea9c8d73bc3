"""The adapter contract: what a venue plugin declares, and nothing it may do.

An adapter says *what* to talk: URLs, subscribe messages, how a frame becomes events,
the heartbeat rule, REST requests as data, and how its book sequence numbers chain.
It never opens a socket, sleeps, retries or reconnects; the core does all of that the
same way for every venue.

Life of an adapter instance (one per enabled venue and engine run):

1. `__init__(ctx)` with the venue's resolved settings (`VenueContext`).
2. `init_requests()` run by the core, retried until they succeed; their `parse`
   functions fill adapter state such as a symbol -> market-id map.
3. `resolve(symbol)` for each configured symbol -> `Instrument` (or `UnknownSymbolError`).
4. `connections(instruments)` and `poll_requests(instruments)`.
5. `parse(frame, recv_ms)` for every websocket frame, on the hot path: decode once,
   build results directly, no logging, no I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Self

import msgspec
from pydantic import BaseModel, ConfigDict, ValidationError

from venuefeed.core.errors import ConfigError
from venuefeed.core.events import Event, Level, Trade


@dataclass(frozen=True, slots=True)
class Instrument:
    """A configured symbol resolved to the venue's own identifier."""

    symbol: str  # normalized base asset, e.g. "BTC"
    instrument: str  # the venue's id, e.g. "BTC-USD-PERP" or "0"


class AdapterOptions(BaseModel):
    """Base of a plugin's `[venues.<name>.options]` model.

    A plugin subclasses it with typed fields and defaults and names it in its adapter's
    `Options`; the core validates the table against it when the config is loaded, so a
    misspelt or mistyped option stops `venuefeed check` and `run` with one line naming
    `venues.<name>.options.<field>`. Unknown keys are errors; values are frozen.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def of(cls, ctx: VenueContext) -> Self:
        """The validated options in `ctx` (validating a raw mapping, as tests pass)."""
        options = ctx.options
        if isinstance(options, cls):
            return options
        try:
            return cls.model_validate(dict(options) if isinstance(options, Mapping) else options)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise ConfigError(
                f"config error: venues.{ctx.name}.options.{where} = {err.get('input')!r}: "
                f"{err['msg']}"
            ) from None


@dataclass(frozen=True, slots=True)
class VenueContext:
    """What an adapter knows about its configuration: where, what, and its options.

    `options` is the plugin's validated `Options` model (a raw mapping only when a test
    builds a context by hand; `AdapterOptions.of` validates it then)."""

    name: str
    symbols: tuple[str, ...]
    ws_url: str
    rest_url: str
    options: AdapterOptions | Mapping[str, Any] = field(default_factory=dict)


StreamKind = Literal["book", "bbo", "trade", "funding", "mark"]


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """One market-data stream carried by a connection.

    Every stream has a freshness deadline unless `quiet` is set: trades on an
    illiquid market may legitimately be silent for minutes.
    """

    kind: StreamKind
    instrument: str
    quiet: bool = False

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.instrument}"


@dataclass(frozen=True, slots=True)
class FrameKey:
    """Which book a whole-snapshot frame replaces, told without decoding it (data only;
    the core interprets it, `core/connection/framebatch.py`).

    `pattern` is a regular expression (`str` for text frames, `bytes` for binary ones)
    matched at the start of a frame. A frame it matches must be a complete book snapshot
    of one instrument and nothing else; group `key` names that book (one key per
    instrument, never one for two); optional group `seq` is its sequence number (decimal
    digits in text, a little-endian signed integer in binary), required when the venue
    numbers its snapshots. When several frames of one key wait in the socket, the core
    decodes only the one conflation would deliver anyway. Trades, deltas and control
    frames must never match. `venuefeed.testing.check_frame_key` proves a rule on frames.
    """

    pattern: str | bytes


@dataclass(frozen=True, slots=True)
class ConnectionSpec:
    """One websocket the core keeps open: where, how to subscribe, what it carries.

    `subscribe` holds JSON-serialisable messages (or ready strings) sent in order right
    after the handshake. `max_lifetime_s` makes the core rotate the connection before a
    venue-imposed lifetime runs out.

    `acks_expected` is how many subscription acknowledgements (`Ack(subscribed=True)`)
    the venue sends for `subscribe`; when it is not 0, the core requires them within
    `subscribe_timeout_s` and otherwise recycles the connection: a swallowed subscribe
    is noticed by its own deadline, not after a whole stale period.

    `snapshot_key` (venues whose every book frame is a whole snapshot) lets the core
    skip snapshot frames that a newer one of the same book already replaces.
    """

    name: str
    url: str
    streams: tuple[StreamSpec, ...]
    subscribe: tuple[Any, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    max_lifetime_s: float | None = None
    acks_expected: int = 0
    snapshot_key: FrameKey | None = None


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The venue's keep-alive rule.

    `ping` is an application-level message the core sends every
    `policy.heartbeat_interval_s` (None: the venue needs none). Pings the venue sends
    are answered by `parse` returning `Reply`; websocket-level pings are answered by
    the core.
    """

    ping: Any | None = None


class Continuity(enum.Enum):
    """How a venue's book sequence numbers chain from one message to the next."""

    #: every book message is a full snapshot; there is nothing to chain.
    SNAPSHOTS = "snapshots"
    #: a delta's `seq` must be the previous `seq` + 1 (Extended, Paradex deltas).
    SEQ_INCREMENT = "seq_increment"
    #: a delta's `prev_seq` must equal the previous `seq` (Lighter begin_nonce, Aster pu).
    PREV_LINK = "prev_link"


class Resync(enum.Enum):
    """How the core recovers one broken book."""

    #: send `resubscribe_messages(instrument)` on the same connection.
    RESUBSCRIBE = "resubscribe"
    #: fetch `book_snapshot_request(instrument)` over REST, buffering deltas meanwhile.
    REST_SNAPSHOT = "rest_snapshot"
    #: drop and reopen the connection that carries the book.
    RECONNECT = "reconnect"


class BookSnapshot(msgspec.Struct, frozen=True, gc=False):
    """A full (or top-N) book replacing whatever the core held for the instrument.

    `seq` is the sequence the next delta chains from; for a REST snapshot it is the
    venue's `lastUpdateId`-style number and `from_rest` is True.
    """

    instrument: str
    bids: Sequence[Level]
    asks: Sequence[Level]
    seq: int | None = None
    ts_venue: int | None = None
    from_rest: bool = False


class BookDelta(msgspec.Struct, frozen=True, gc=False):
    """Changed levels. A size of 0 removes the level.

    `seq` is this message's sequence; `prev_seq` the one it claims to follow;
    `first_seq` the first update it contains (Binance-style `U`). Sizes are absolute
    unless `sizes_are_changes`.
    """

    instrument: str
    bids: Sequence[Level]
    asks: Sequence[Level]
    seq: int | None = None
    prev_seq: int | None = None
    first_seq: int | None = None
    ts_venue: int | None = None
    sizes_are_changes: bool = False


@dataclass(frozen=True, slots=True)
class Reply:
    """A message the core must send back right away (answer to a venue's ping)."""

    message: Any


@dataclass(frozen=True, slots=True)
class Pong:
    """The venue answered our heartbeat. Not market data: freshness is untouched."""


@dataclass(frozen=True, slots=True)
class Ack:
    """A subscription was confirmed (`subscribed=True`) or some other harmless control
    frame arrived (a greeting, an unsubscribe answer)."""

    detail: str = ""
    subscribed: bool = False


@dataclass(frozen=True, slots=True)
class VenueNotice:
    """An error frame from the venue, with its own code and message.

    `stream` names the StreamSpec key it concerns when known; `fatal` marks a rejected
    subscription: the stream will never deliver, which the core reports as an error
    for that stream instead of waiting on it forever.
    """

    code: str
    message: str
    stream: str | None = None
    fatal: bool = False


Control = Reply | Pong | Ack | VenueNotice
Parsed = Event | BookSnapshot | BookDelta | Control


@dataclass(frozen=True, slots=True)
class RestRequest:
    """An HTTP request as data; `parse(body, recv_ms)` turns the decoded JSON body
    into results (events or book snapshots) and/or updates adapter state.

    It raises `ParseError` (or anything) on a bad body; the core treats that as a
    failed request and retries or counts it.
    """

    name: str
    path: str
    parse: Callable[[Any, int], Sequence[Parsed]]
    method: Literal["GET", "POST"] = "GET"
    params: Mapping[str, str] | None = None
    json: Any | None = None
    headers: Mapping[str, str] | None = None


class VenueAdapter:
    """Base class for venue plugins. Subclass it and override what your venue needs."""

    #: unique venue name, the key under `[venues.<name>]`.
    name: ClassVar[str]
    #: defaults used when venues.toml gives no URL.
    default_ws_url: ClassVar[str] = ""
    default_rest_url: ClassVar[str] = ""
    heartbeat: ClassVar[Heartbeat] = Heartbeat()
    #: how book sequence numbers chain and how a broken book recovers: class defaults
    #: that an instance may set otherwise when an option changes the feed
    continuity: Continuity = Continuity.SNAPSHOTS
    resync: Resync = Resync.RECONNECT
    #: publish a BBO derived from the book on every book update (turn off when the
    #: venue has its own BBO stream and you want only that).
    bbo_from_book: ClassVar[bool] = True
    #: "module:Class" of this venue's simulator encoder (a `venuefeed.sim.SimVenue`),
    #: imported only by `venuefeed run --sim` and tests.
    simulator: ClassVar[str | None] = None
    #: the model of `[venues.<name>.options]` (the base model: the plugin takes none)
    Options: ClassVar[type[AdapterOptions]] = AdapterOptions

    def __init__(self, ctx: VenueContext) -> None:
        self.ctx = ctx

    def init_requests(self) -> Sequence[RestRequest]:
        """REST requests that must succeed before connecting (id maps, intervals)."""
        return ()

    def resolve(self, symbol: str) -> Instrument:
        """Map a configured symbol (base asset or venue-native id) to an instrument."""
        raise NotImplementedError

    def connections(self, instruments: Sequence[Instrument]) -> Sequence[ConnectionSpec]:
        """The websockets to keep open for these instruments."""
        raise NotImplementedError

    def parse(self, frame: str | bytes, recv_ms: int) -> Sequence[Parsed]:
        """Turn one frame into results; raise `ParseError` for frames it cannot use."""
        raise NotImplementedError

    def poll_requests(self, instruments: Sequence[Instrument]) -> Sequence[RestRequest]:
        """REST requests repeated every `funding_poll_s` (funding, mark)."""
        return ()

    def resubscribe_messages(self, instrument: str) -> Sequence[Any]:
        """Messages that make the venue send a fresh book snapshot (Resync.RESUBSCRIBE)."""
        return ()

    def book_snapshot_request(self, instrument: str) -> RestRequest | None:
        """REST request returning a `BookSnapshot` (Resync.REST_SNAPSHOT)."""
        return None

    # -- gap-free trades and REST fallback (the core decides when; the plugin says how) --

    def trade_identity(self, trade: Trade) -> Hashable:
        """What makes a trade unique within its instrument on this venue (cite the venue's
        docs). The core keeps a bounded window of recently published identities per
        instrument and drops a trade it has already published (a venue that replays
        recent trades on subscribe, a backfill overlapping the live feed). Default: the
        trade id."""
        return trade.trade_id

    def trade_order(self, trade: Trade) -> Any:
        """A sort key putting this venue's trades of one instrument in the order they
        happened (backfilled trades are published in this order). Default: venue time,
        then the trade id as a number when it is one."""
        tid = trade.trade_id
        return (trade.ts_venue or 0, int(tid) if tid.isdigit() else -1, tid)

    def trades_from(self, trades: Iterable[Trade], after: Trade | None) -> list[Trade]:
        """A backfill answer in this venue's order (`trade_order`), from `after` on: what is
        older was published before it; `after` itself stays, since it proves the answer
        reaches back (trades sharing its key may not have been seen yet). All of them
        when there is no `after`."""
        ordered = sorted(trades, key=self.trade_order)
        if after is None:
            return ordered
        since = self.trade_order(after)
        return [t for t in ordered if self.trade_order(t) >= since]

    def recent_trades_request(self, instrument: str, after: Trade | None) -> RestRequest | None:
        """REST request for the instrument's recent public trades, parsed into `Trade`s
        (`source="rest"`), used after a reconnect to fill the outage. `after` is the last
        trade published before it (None if none). None: the venue has no such endpoint,
        and the core publishes a `Gap` for the outage instead."""
        return None

    def fallback_requests(self, instrument: str) -> Sequence[RestRequest]:
        """REST requests for the instrument's book (and BBO or mark where the venue has
        them), parsed into events with `source="rest"`, polled while the connection
        carrying its book is not live. Empty: no REST fallback."""
        return ()

    #: the shortest interval between two fallback polls of one instrument that the venue's
    #: documented REST rate limits allow with every configured instrument polled (cite them)
    fallback_min_interval_s: ClassVar[float] = 1.0

"""Wire layouts of Paradex's SBE market-data frames (schema id 1, versions 0 to 2).

Paradex sends public channel payloads as little-endian SBE binary frames once the
connection asks for them in the URL; control frames (acks, errors) stay JSON text.
Layouts follow the schema `paradex_py/api/sbe/paradex_1_0.xml` in the official SDK
(github.com/tradeparadex/paradex-py: @486647e is schema 1:1, released 2026-03-17;
@b8108ae is schema 1:2, header "Released 2026-09-25", "Negotiable on nightly, testnet and
prod"):

- an 8-byte header `blockLength, templateId, schemaId, version` (uint16 each);
- a fixed root block of `blockLength` bytes: fields appended by a newer version sit at
  its end, so a decoder reads the fields it knows and jumps `blockLength` to reach the
  repeating groups and the trailing var-data (SBE's own forward-compatibility);
- groups as `blockLength, numInGroup` (uint16 each) then `numInGroup` entries;
- var-data fields (`varString8`) as a uint8 length plus that many UTF-8 bytes, in the
  order the schema lists them after every fixed field and group;
- prices, sizes and rates as int64 mantissas with a constant exponent of -8,
  INT64_MIN meaning null; timestamps as int64 microseconds since the epoch.

TradeEvent (template 1) and its trade id, the reason this module reads version 2:

- root block (50 bytes in every version): ts, seq, tradeId (int64), side (uint8), price,
  size, createdAt, tradeType (uint8); then var-data `market` and, since 1:2, `tradeIdStr`.
- `tradeId` is "DEPRECATED, use tradeIdStr": a Paradex trade id has 28 digits (the JSON
  feed's `id`, e.g. "1718179273230201709233240002") and this int64 holds only "the low 64
  bits of the real id, reinterpreted as signed", wrong for every real trade and negative
  for some. `tradeIdStr` (`<data id="10" sinceVersion="2">`, after `market`) is "Full
  trade id, matching the id on REST and the JSON feed" and "Authoritative" (schema 1:2).
- The server cuts `tradeIdStr` from frames for clients that negotiated below 1:2, and 1:2
  itself was widened in place, so even a 1:2 frame may lack it: "treat appended var-data
  that is absent at the end of the frame as missing rather than malformed" (schema 1:2
  version-history note). `read_optional_string` does exactly that.
- Paradex changelog v1.165.0 (docs.paradex.trade/releases/changelog/2026/9/28): "SBE trade
  events now carry the full trade id and the orderbook sequence number" (the latter is
  the 1:2 meaning of `seq`, unused here).
- ccxt 4.5.90 (`pro/paradex.py`) asks for `sbeSchemaVersion=3` and calls the layout "1:3".
  No official source knows a 1:3: the SDK schema puts `tradeIdStr` in 1:2 and says an
  unsupported version "is rejected with HTTP 400 at connect". The official sources win:
  this plugin requests version 2. The docs page (docs.paradex.trade/ws/general-information/
  binary-encoding-sbe) still says "0 or 1. Use 1"; it predates the 1:2 schema.

Only the parts the adapter needs are described here; decoding builds events in
`adapter.py` straight from the unpacked tuples.
"""

from __future__ import annotations

import struct

from venuefeed.core.errors import MalformedFrame
from venuefeed.core.events import Level, Side

SCHEMA_ID = 1
#: the version requested by default: the first one carrying the full trade id (1:2).
SCHEMA_VERSION = 2
#: every version this decoder reads (and the `sbe_schema_version` option accepts).
SCHEMA_VERSIONS = (2, 1, 0)
#: the version that added `TradeEvent.tradeIdStr`.
TRADE_ID_STR_SINCE = 2

HEADER = struct.Struct("<HHHH")
HEADER_SIZE = HEADER.size
GROUP = struct.Struct("<HH")
LEVEL = struct.Struct("<qq")

#: mantissa exponent of Price8 / Qty8 / Rate8 (a power of ten, exact as a float, so
#: `mantissa / SCALE` is the float nearest to the decimal value).
SCALE = 1e8
NULL = -(2**63)

# templateId -> root-block layout (only the leading fields the adapter reads) and the
# smallest root block ever served for it (version 0).
TRADE = 1
TRADE_BLOCK = struct.Struct("<qqqBqqqB")  # ts seq tradeId side price size createdAt tradeType
#: prefix of a trade id rebuilt from the deprecated int64 (no `tradeIdStr` in the frame):
#: it is not Paradex's id, only its low 64 bits, and says so.
LOW64_PREFIX = "low64:"
BBO = 2
BBO_BLOCK = struct.Struct("<qqqqqq")  # ts seq bidPrice bidSize askPrice askSize
BOOK = 3
BOOK_BLOCK = struct.Struct("<qqB")  # ts seq pkgType (+ interactive/API best prices, unused)
BOOK_MIN_BLOCK = 89
SUMMARY = 4
SUMMARY_BLOCK = struct.Struct("<qqqq")  # ts seq markPrice indexPrice (+ 23 more, unused)
SUMMARY_MIN_BLOCK = 216
FUNDING = 5
FUNDING_BLOCK = struct.Struct("<qqqqqqqh")  # ts seq rate index createdAt premium rate8h hours
HEARTBEAT = 40
SUBSCRIBED = 41

MIN_BLOCK: dict[int, int] = {
    TRADE: TRADE_BLOCK.size,
    BBO: BBO_BLOCK.size,
    BOOK: BOOK_MIN_BLOCK,
    SUMMARY: SUMMARY_MIN_BLOCK,
    FUNDING: FUNDING_BLOCK.size,
    HEARTBEAT: 16,
    SUBSCRIBED: 17,
}

#: Side enum: 1 BUY, 2 SELL (254 NON_REPRESENTABLE has no taker side to report).
SIDES: dict[int, Side] = {1: "buy", 2: "sell"}
PKG_SNAPSHOT = 0
PKG_DELTA = 1


def is_sbe(frame: bytes) -> bool:
    """An SBE frame carries schema id 1 at bytes 4-5; JSON text never has a 0x01 0x00 there."""
    return len(frame) >= HEADER_SIZE and frame[4] == SCHEMA_ID and frame[5] == 0


def opt(mantissa: int) -> float | None:
    """A nullable fixed-point field as a float, None for the INT64_MIN sentinel."""
    return None if mantissa == NULL else mantissa / SCALE


def read_string(buf: bytes, pos: int) -> tuple[str, int]:
    """A varString8 at `pos`: the text and the position after it."""
    if pos >= len(buf):
        raise MalformedFrame(f"SBE frame truncated before a string at byte {pos}")
    end = pos + 1 + buf[pos]
    if end > len(buf):
        raise MalformedFrame(f"SBE string at byte {pos} runs past the frame end")
    return buf[pos + 1 : end].decode(), end


def read_optional_string(buf: bytes, pos: int) -> tuple[str | None, int]:
    """A var-data string appended by a later schema version: None when the frame ends
    right before it (a server cuts appended var-data for older clients), else as
    `read_string` (a frame ending inside it is malformed)."""
    if pos == len(buf):
        return None, pos
    return read_string(buf, pos)


def low64_trade_id(full_id: str) -> str:
    """What the deprecated int64 `tradeId` says about a full trade id, written as the
    adapter writes it: `LOW64_PREFIX` + the low 64 bits as an unsigned decimal. Lets a
    consumer (and the tests) match a trade seen on an old schema version with the same
    trade from the JSON feed or REST."""
    return f"{LOW64_PREFIX}{int(full_id) % 2**64}"


def truncated_trade_id(trade_id: int) -> str:
    """The deprecated int64 `tradeId` (signed, the low 64 bits of the real id) as a trade
    id that cannot be mistaken for Paradex's own: `LOW64_PREFIX` + the unsigned value."""
    return f"{LOW64_PREFIX}{trade_id % 2**64}"


def read_levels(buf: bytes, pos: int) -> tuple[list[Level], int]:
    """A (price, size) repeating group at `pos`: its levels and the position after it."""
    entry, count = GROUP.unpack_from(buf, pos)
    pos += GROUP.size
    if entry < LEVEL.size:
        raise MalformedFrame(f"SBE level entries of {entry} bytes, expected >= {LEVEL.size}")
    end = pos + entry * count
    if end > len(buf):
        raise MalformedFrame(f"SBE group of {count} levels runs past the frame end")
    if entry == LEVEL.size:
        levels = [(p / SCALE, s / SCALE) for p, s in LEVEL.iter_unpack(buf[pos:end])]
    else:
        levels = []
        for at in range(pos, end, entry):
            p, s = LEVEL.unpack_from(buf, at)
            levels.append((p / SCALE, s / SCALE))
    return levels, end

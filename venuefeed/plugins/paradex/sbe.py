"""Wire layouts of Paradex's SBE market-data frames (schema id 1, versions 0 and 1).

Paradex sends public channel payloads as little-endian SBE binary frames once the
connection asks for them in the URL; control frames (acks, errors) stay JSON text.
Layouts follow the schema `paradex_py/api/sbe/paradex_1_0.xml` in the official SDK
(github.com/tradeparadex/paradex-py @486647e, schema 1:1, released 2026-03-17):

- an 8-byte header `blockLength, templateId, schemaId, version` (uint16 each);
- a fixed root block of `blockLength` bytes: fields appended by a newer version sit at
  its end, so a decoder reads the fields it knows and jumps `blockLength` to reach the
  repeating groups and the trailing `market` string (SBE's own forward-compatibility);
- groups as `blockLength, numInGroup` (uint16 each) then `numInGroup` entries;
- `market` as a uint8 length plus UTF-8 bytes;
- prices, sizes and rates as int64 mantissas with a constant exponent of -8,
  INT64_MIN meaning null; timestamps as int64 microseconds since the epoch.

Only the parts the adapter needs are described here; decoding builds events in
`adapter.py` straight from the unpacked tuples.
"""

from __future__ import annotations

import struct

from venuefeed.core.errors import MalformedFrame
from venuefeed.core.events import Level, Side

SCHEMA_ID = 1
#: the version the docs tell clients to request ("Use 1"); 0 is still served.
SCHEMA_VERSION = 1

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

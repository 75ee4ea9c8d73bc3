"""How the Paradex SBE trade samples in tests/plugins/paradex/data are made.

Each `ws_trade.v<N>.bin` is the JSON sample `ws_trades.ccxt.json` encoded as a schema 1:N
TradeEvent (layout: venuefeed/plugins/paradex/sbe.py, from the official SDK's
`paradex_1_0.xml`): ts = createdAt = `created_at` in microseconds, seq 1, the deprecated
int64 `tradeId` = the low 64 bits of the JSON `id` read as signed (what the schema says that
field holds), side, price and size as exponent -8 mantissas, tradeType FILL, then var-data
`market` and, from version 2 on, `tradeIdStr` = the JSON `id` itself.

`python tests/support/paradex_samples.py` rewrites them; `test_sbe.py` checks the files are
exactly what `trade_frame` builds, so a hand-edited sample cannot drift from this recipe.
"""

from __future__ import annotations

import json
import struct
from decimal import Decimal
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / "plugins" / "paradex" / "data"
TRADE_JSON = "ws_trades.ccxt.json"
#: schema versions a trade sample exists for, and its file name
TRADE_SAMPLES = {1: "ws_trade.v1.bin", 2: "ws_trade.v2.bin"}

_HEADER = struct.Struct("<HHHH")
_TRADE = struct.Struct("<qqqBqqqB")
_SIDES = {"BUY": 1, "SELL": 2}
_FILL_TYPES = {"FILL": 1, "LIQUIDATION": 2, "RPI": 5, "BLOCK_TRADE": 6}


def low64_signed(trade_id: str) -> int:
    """The deprecated int64 `tradeId` of a full trade id: its low 64 bits, as signed."""
    low = int(trade_id) % 2**64
    return low - 2**64 if low >= 2**63 else low


def _e8(value: str) -> int:
    return int(Decimal(value) * 100_000_000)


def _var(value: str) -> bytes:
    raw = value.encode()
    return bytes((len(raw),)) + raw


def trade_frame(data: dict[str, Any], version: int) -> bytes:
    """A JSON `trades` payload (`params.data`) as an SBE TradeEvent at schema 1:version."""
    created_us = int(data["created_at"]) * 1000
    block = _TRADE.pack(
        created_us,
        1,
        low64_signed(data["id"]),
        _SIDES[data["side"]],
        _e8(data["price"]),
        _e8(data["size"]),
        created_us,
        _FILL_TYPES[data["trade_type"]],
    )
    tail = _var(data["market"])
    if version >= 2:
        tail += _var(data["id"])
    return _HEADER.pack(len(block), 1, 1, version) + block + tail


def trade_json() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DATA / TRADE_JSON).read_text())
    data: dict[str, Any] = doc["params"]["data"]
    return data


def main() -> None:
    data = trade_json()
    for version, name in TRADE_SAMPLES.items():
        (DATA / name).write_bytes(trade_frame(data, version))
        print(f"wrote {name}")


if __name__ == "__main__":
    main()

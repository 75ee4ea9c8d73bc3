"""Frames `make fuzz` found to carry numbers the Paradex parser let through, or markets it
made up (and remembered).

Each frame is a recorded sample (JSON, or SBE `.bin`) with the fuzzer's mutation applied,
named in each case. Before the fix they produced trades at price inf, funding at NaN,
levels at negative prices, BBOs at 0..., which the core's sanity gate then had to reject.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest

from venuefeed.core.adapter import VenueContext
from venuefeed.core.errors import MalformedFrame, UnknownFrame
from venuefeed.core.events import Bbo, Mark, Trade
from venuefeed.core.publishing.sanity import check_results
from venuefeed.plugins.paradex.adapter import ParadexAdapter

DATA = Path(__file__).parent / "data"
RECV = 1_800_000_000_000
INT64_MAX = 2**63 - 1


@pytest.fixture
def adapter() -> ParadexAdapter:
    ctx = VenueContext(
        name="paradex",
        symbols=("BTC",),
        ws_url="wss://x/ws",
        rest_url="https://x",
    )
    adapter = ParadexAdapter(ctx)
    (request,) = adapter.init_requests()
    rows = [
        {"symbol": "BTC-USD-PERP", "base_currency": "BTC", "asset_kind": "PERP"},
        {"symbol": "TRUMP-USD-PERP", "base_currency": "TRUMP", "asset_kind": "PERP"},
        {"symbol": "kBONK-USD-PERP", "base_currency": "kBONK", "asset_kind": "PERP"},
        {"symbol": "ORDI-USD-PERP", "base_currency": "ORDI", "asset_kind": "PERP"},
    ]
    request.parse({"results": rows}, 1)
    for base in ("BTC", "TRUMP", "kBONK", "ORDI"):  # the markets the samples are about
        adapter.resolve(base)
    return adapter


def mutated(name: str, **fields: Any) -> str:
    """A recorded JSON push with fields of its `params.data` replaced."""
    doc = json.loads((DATA / name).read_text())
    doc["params"]["data"].update(fields)
    return json.dumps(doc)


def level(name: str, index: int, **fields: Any) -> str:
    doc = json.loads((DATA / name).read_text())
    doc["params"]["data"]["inserts"][index].update(fields)
    return json.dumps(doc)


def patched(frame: str | bytes, at: int, value: int) -> bytes:
    """A recorded SBE frame (its file name, or bytes) with the int64 at byte `at` replaced."""
    buf = bytearray(frame if isinstance(frame, bytes) else (DATA / frame).read_bytes())
    struct.pack_into("<q", buf, at, value)
    return bytes(buf)


TRADES = "ws_trades.ccxt.json"
BOOK = "ws_order_book_snapshot.ccxt.json"
FUNDING = "ws_funding_data.ccxt.json"
SUMMARY = "ws_markets_summary.ccxt.json"

JSON_FRAMES = [
    # trades: `price='-inf'`, `price='0.0'`, `price='-0.00000001'`, `size='1e999'`,
    # `size='-0'`, `size='-1e308'`, and an id of ""
    mutated(TRADES, price="-inf"),
    mutated(TRADES, price="0.0"),
    mutated(TRADES, price="-0.00000001"),
    mutated(TRADES, size="1e999"),
    mutated(TRADES, size="-0"),
    mutated(TRADES, size="-1e308"),
    mutated(TRADES, id=""),
    # funding NaN / inf: `funding_rate='inf'`, `funding_period_hours='1e999'`, and a rate
    # per hour that overflows: `funding_period_hours=1e-320`
    mutated(FUNDING, funding_rate="inf"),
    mutated(FUNDING, funding_rate="NaN"),
    mutated(FUNDING, funding_period_hours="1e999"),
    mutated(FUNDING, funding_rate="1e308", funding_period_hours=1e-320),
    # mark and index: `mark_price='-Infinity'`, `mark_price='1e-400'`, `underlying_price=...`
    mutated(SUMMARY, mark_price="-Infinity"),
    mutated(SUMMARY, mark_price="1e-400"),
    mutated(SUMMARY, underlying_price="-0.00000001"),
    mutated(SUMMARY, underlying_price="9" * 400),
    # book levels: `inserts/0/price='1e-400'`, `inserts/1/price='Infinity'`, negative sizes
    level(BOOK, 0, price="1e-400"),
    level(BOOK, 1, price="Infinity"),
    level(BOOK, 0, price=-0.5),
    level(BOOK, 1, size="-1"),
    level(BOOK, 0, size="-nan"),
]


@pytest.mark.parametrize("frame", JSON_FRAMES)
def test_impossible_json_numbers_are_malformed(adapter: ParadexAdapter, frame: str) -> None:
    with pytest.raises(MalformedFrame):
        adapter.parse(frame, RECV)


@pytest.mark.parametrize(
    ("bid", "bid_size", "ask", "ask_size"),
    [
        ("67629.7", "0.992", "0.0", "3.137"),  # `number /params/data/ask='0.0'`
        ("67629.7", "0.992", "NaN", "3.137"),
        ("Infinity", "0.992", "69378.6", "3.137"),
        ("67629.7", "-1", "69378.6", "3.137"),  # `bid_size='-1'`
        ("67629.7", "nan", "69378.6", "3.137"),
    ],
)
def test_impossible_bbo_quotes_are_malformed(
    adapter: ParadexAdapter, bid: str, bid_size: str, ask: str, ask_size: str
) -> None:
    data = {
        "market": "BTC-USD-PERP",
        "bid": bid,
        "bid_size": bid_size,
        "ask": ask,
        "ask_size": ask_size,
        "last_updated_at": 1718267837265,
    }
    frame = {"jsonrpc": "2.0", "method": "subscription"}
    frame["params"] = {"channel": "bbo.BTC-USD-PERP", "data": data}  # type: ignore[assignment]
    with pytest.raises(MalformedFrame):
        adapter.parse(json.dumps(frame), RECV)


SBE_FRAMES = [
    # BBO root block: ts@8 seq@16 bid@24 bid size@32 ask@40 ask size@48
    patched("ws_bbo.v1.bin", 24, 0),  # `int64 @24=0`: bid price 0 for a real quantity
    patched("ws_bbo.v1.bin", 24, -1),  # `int64 @24=-1`
    patched("ws_bbo.v1.bin", 40, -1),  # `int64 @40=-1`
    patched("ws_bbo.v1.bin", 32, -100_000_000),  # `int64 @32=-100000000`: bid size -1
    # trade: price@33 size@41 (after the one-byte side)
    patched("ws_trade.v1.bin", 33, -(10**8)),
    patched("ws_trade.v1.bin", 33, 0),
    patched("ws_trade.v1.bin", 41, 0),  # a trade of nothing
    patched("ws_trade.v1.bin", 41, -1),
    # book: bid level at 101 (price) / 109 (size), ask level at 121 / 129
    patched("ws_order_book_snapshot.v1.bin", 121, -INT64_MAX),  # `int64 @128=...`: ask < 0
    patched("ws_order_book_snapshot.v1.bin", 101, 0),
    patched("ws_order_book_snapshot.v1.bin", 109, -5),
    # summary: mark@24 index@32
    patched("ws_markets_summary.v1.bin", 24, -100_000_000),  # `int64 @24=-100000000`
    patched("ws_markets_summary.v1.bin", 32, -INT64_MAX),  # `int64 @32=...`: index < 0
]


@pytest.mark.parametrize("frame", SBE_FRAMES)
def test_impossible_sbe_numbers_are_malformed(adapter: ParadexAdapter, frame: bytes) -> None:
    with pytest.raises(MalformedFrame):
        adapter.parse(frame, RECV)


def test_sbe_frame_without_a_market_is_malformed(adapter: ParadexAdapter) -> None:
    raw = (DATA / "ws_trade.v1.bin").read_bytes()
    with pytest.raises(MalformedFrame, match="without a market"):
        adapter.parse(raw[:58] + b"\x00", RECV)  # market string of length 0


def test_a_zero_index_is_no_index(adapter: ParadexAdapter) -> None:
    for frame in (
        patched("ws_markets_summary.v1.bin", 32, 0),
        mutated(SUMMARY, underlying_price="0"),
    ):
        (mark,) = adapter.parse(frame, RECV)
        check_results([mark])
        assert isinstance(mark, Mark) and mark.index_px is None and mark.mark_px == 49.80885481


def test_an_empty_bbo_side_quoted_at_zero_is_no_quote(adapter: ParadexAdapter) -> None:
    frame = patched(patched("ws_bbo.v1.bin", 40, 0), 48, 0)
    (bbo,) = adapter.parse(frame, RECV)
    assert isinstance(bbo, Bbo) and bbo.ask_px is None and bbo.ask_sz is None
    assert bbo.bid_px == 67629.7


def renamed_sbe_trade(market: str) -> bytes:
    """The recorded SBE trade about another market (its trailing varString8)."""
    raw = (DATA / "ws_trade.v1.bin").read_bytes()
    name = market.encode()
    return raw[:58] + bytes([len(name)]) + name


def about(market: str) -> list[str | bytes]:
    """One frame of every market-data kind, JSON and SBE, about `market`."""
    bbo = {"market": market, "bid": "1", "bid_size": "1", "last_updated_at": 1}
    return [
        mutated(TRADES, market=market),
        mutated(BOOK, market=market),
        mutated(FUNDING, market=market),
        mutated(SUMMARY, symbol=market),
        json.dumps({"method": "subscription", "params": {"channel": f"bbo.{market}", "data": bbo}}),
        renamed_sbe_trade(market),
    ]


def container_sizes(adapter: ParadexAdapter) -> dict[str, int]:
    return {k: len(v) for k, v in vars(adapter).items() if isinstance(v, dict | set | frozenset)}


@pytest.mark.parametrize(
    "market",
    [
        "ORDI-UCD-PERP",  # make fuzz: `string /params/data/symbol='ORDI-UCD-PERP'` -> a Mark
        "ETH-USD-PERP",  # a real market, but not one the adapter was asked to stream
        "kbonk-USD-PERP",  # another market than kBONK-USD-PERP, not a spelling of it
    ],
)
def test_data_for_a_market_not_subscribed_is_unknown(adapter: ParadexAdapter, market: str) -> None:
    for frame in about(market):
        with pytest.raises(UnknownFrame, match=market):
            adapter.parse(frame, RECV)


def test_junk_market_names_leave_nothing_behind(adapter: ParadexAdapter) -> None:
    """The adapter used to remember a base for every market name a frame carried (888
    entries after 100,000 fuzzed frames): memory grew without bound under junk."""
    before = container_sizes(adapter)
    for n in range(1_000):
        for frame in about(f"JUNK{n}-USD-PERP"):
            with pytest.raises(UnknownFrame):
                adapter.parse(frame, RECV)
    assert container_sizes(adapter) == before
    (trade,) = adapter.parse((DATA / TRADES).read_text(), RECV)  # its own markets still flow
    assert isinstance(trade, Trade) and trade.instrument == "kBONK-USD-PERP"

"""Paradex JSON frames: recorded samples and frames built from the asyncapi schemas; garbage,
truncated and wrong-typed frames (JSON and binary) raise ParseError subclasses and nothing else."""

from __future__ import annotations

import contextlib
import json
import random
from pathlib import Path
from typing import Any

import pytest

from venuefeed.core.adapter import (
    Ack,
    BookDelta,
    BookSnapshot,
    Instrument,
    VenueContext,
    VenueNotice,
)
from venuefeed.core.errors import MalformedFrame, ParseError, UnknownFrame
from venuefeed.core.events import Bbo, Funding, Mark, Trade
from venuefeed.plugins.paradex.adapter import ParadexAdapter

DATA = Path(__file__).parent / "data"
RECV = 1_800_000_000_000


def text(name: str) -> str:
    return (DATA / name).read_text()


def make(options: dict[str, Any] | None = None) -> ParadexAdapter:
    ctx = VenueContext(
        name="paradex",
        symbols=("BTC", "ETH"),
        ws_url="wss://x/ws",
        rest_url="https://x",
        options=options or {},
    )
    adapter = ParadexAdapter(ctx)
    (request,) = adapter.init_requests()
    rows: list[dict[str, Any]] = [
        {"symbol": "BTC-USD-PERP", "base_currency": "BTC", "asset_kind": "PERP"},
        {"symbol": "ETH-USD-PERP", "base_currency": "ETH", "asset_kind": "PERP"},
        {"symbol": "TRUMP-USD-PERP", "base_currency": "TRUMP", "asset_kind": "PERP"},
        {"symbol": "kBONK-USD-PERP", "base_currency": "kBONK", "asset_kind": "PERP"},
        {"symbol": "ORDI-USD-PERP", "base_currency": "ORDI", "asset_kind": "PERP"},
    ]
    rows[0]["funding_period_hours"] = 4
    rows[1]["funding_period_hours"] = 8
    request.parse({"results": rows}, 1)
    for base in ("BTC", "ETH", "TRUMP", "kBONK", "ORDI"):  # the markets the samples are about
        adapter.resolve(base)
    return adapter


def push(channel: str, data: Any) -> str:
    return json.dumps(
        {"jsonrpc": "2.0", "method": "subscription", "params": {"channel": channel, "data": data}}
    )


@pytest.fixture
def adapter() -> ParadexAdapter:
    return make()


# -- recorded samples -------------------------------------------------------------------------


def test_book_snapshot_sample(adapter: ParadexAdapter) -> None:
    assert adapter.parse(text("ws_order_book_snapshot.ccxt.json"), RECV) == (
        BookSnapshot(
            instrument="BTC-USD-PERP",
            bids=[(67629.7, 0.992)],
            asks=[(69378.6, 3.137)],
            seq=14127815,
            ts_venue=1718267837265,
        ),
    )


def test_trade_sample(adapter: ParadexAdapter) -> None:
    assert adapter.parse(text("ws_trades.ccxt.json"), RECV) == (
        Trade(
            venue="paradex",
            symbol="kBONK",
            instrument="kBONK-USD-PERP",
            ts_venue=1718179273230,
            ts_recv=RECV,
            price=0.028776,
            size=34028.0,
            side="buy",
            trade_id="1718179273230201709233240002",
        ),
    )


def test_funding_sample(adapter: ParadexAdapter) -> None:
    assert adapter.parse(text("ws_funding_data.ccxt.json"), RECV) == (
        Funding(
            venue="paradex",
            symbol="TRUMP",
            instrument="TRUMP-USD-PERP",
            ts_venue=1771506636154,
            ts_recv=RECV,
            rate=-0.00014969570582,
            interval_h=8.0,
            rate_per_hour=-0.00014969570582 / 8,
            next_funding_ms=None,
            basis="predicted",
            source="ws",
            feed="funding_data",
        ),
    )


def test_funding_row_without_a_period_uses_the_market_period(adapter: ParadexAdapter) -> None:
    # The /funding/data sample: an old row with funding_period_hours 0 and funding_rate_8h "".
    row = json.loads(text("rest_funding_data_response.ccxt.json"))["results"][0]
    (funding,) = adapter.parse(push("funding_data.BTC-USD-PERP", row), RECV)
    assert funding == Funding(
        venue="paradex",
        symbol="BTC",
        instrument="BTC-USD-PERP",
        ts_venue=1764160327843,
        ts_recv=RECV,
        rate=-0.00006992598926,
        interval_h=4.0,
        rate_per_hour=-0.00006992598926 / 4,
        basis="predicted",
        feed="funding_data",
    )
    del row["funding_period_hours"]
    unlisted = make()
    unlisted.connections([Instrument("XYZ", "XYZ-USD-PERP")])
    (funding,) = unlisted.parse(
        push("funding_data.XYZ-USD-PERP", {**row, "market": "XYZ-USD-PERP"}), 1
    )
    assert isinstance(funding, Funding)
    assert (funding.symbol, funding.interval_h) == ("XYZ", 8.0)


def test_markets_summary_sample(adapter: ParadexAdapter) -> None:
    assert adapter.parse(text("ws_markets_summary.ccxt.json"), RECV) == (
        Mark(
            venue="paradex",
            symbol="ORDI",
            instrument="ORDI-USD-PERP",
            ts_venue=1718334307698,
            ts_recv=RECV,
            mark_px=49.80885481,
            index_px=47.93,
        ),
    )


def test_subscribe_ack_sample(adapter: ParadexAdapter) -> None:
    assert adapter.parse(text("ws_subscribe_response.doc.json"), RECV) == (
        Ack("subscribed CHANNEL_NAME"),
    )


def test_error_sample_for_an_unknown_id(adapter: ParadexAdapter) -> None:
    assert adapter.parse(text("ws_error_invalid_channel.ccxt.json"), RECV) == (
        VenueNotice(code="-32600", message="invalid subscribe request: invalid channel"),
    )


def test_error_sample_maps_its_id_to_the_rejected_stream(adapter: ParadexAdapter) -> None:
    adapter.connections([Instrument("BTC", "BTC-USD-PERP")])
    assert adapter.parse(text("ws_error_invalid_params.doc.json"), RECV) == (
        VenueNotice(
            code="-32602", message="Invalid parameters", stream="book:BTC-USD-PERP", fatal=True
        ),
    )
    frame = json.loads(text("ws_error_invalid_params.doc.json"))
    frame["id"] = 3
    assert adapter.parse(json.dumps(frame), RECV)[0] == VenueNotice(
        code="-32602", message="Invalid parameters", stream="trade:BTC-USD-PERP", fatal=True
    )


@pytest.mark.parametrize(
    "name",
    [
        "ws_order_book_snapshot.ccxt.json",
        "ws_trades.ccxt.json",
        "ws_funding_data.ccxt.json",
        "ws_markets_summary.ccxt.json",
        "ws_subscribe_response.doc.json",
        "ws_error_invalid_channel.ccxt.json",
    ],
)
def test_text_arriving_as_bytes_parses_the_same(adapter: ParadexAdapter, name: str) -> None:
    assert adapter.parse(text(name).encode(), RECV) == adapter.parse(text(name), RECV)


# -- frames built from the asyncapi schemas ---------------------------------------------------


def test_bbo(adapter: ParadexAdapter) -> None:
    data = {
        "market": "ETH-USD-PERP",
        "seq_no": 20784,
        "bid": "3012.22",
        "bid_size": "0.04",
        "ask": "3013.15",
        "ask_size": "0.05",
        "last_updated_at": 1681493939981,
    }
    assert adapter.parse(push("bbo.ETH-USD-PERP", data), RECV) == (
        Bbo(
            venue="paradex",
            symbol="ETH",
            instrument="ETH-USD-PERP",
            ts_venue=1681493939981,
            ts_recv=RECV,
            bid_px=3012.22,
            bid_sz=0.04,
            ask_px=3013.15,
            ask_sz=0.05,
        ),
    )


def test_bbo_with_an_empty_side(adapter: ParadexAdapter) -> None:
    data = {"market": "BTC-USD-PERP", "seq_no": 1, "bid": "", "bid_size": "", "ask": "70001.5"}
    data |= {"ask_size": "1.25", "last_updated_at": 17}
    (bbo,) = adapter.parse(push("bbo.BTC-USD-PERP", data), RECV)
    assert isinstance(bbo, Bbo)
    assert (bbo.bid_px, bbo.bid_sz, bbo.ask_px, bbo.ask_sz) == (None, None, 70001.5, 1.25)


def test_sell_trade_of_another_type(adapter: ParadexAdapter) -> None:
    data = {
        "id": "12345643",
        "market": "BTC-USD-PERP",
        "side": "SELL",
        "size": "0.01",
        "price": "30001.2",
        "created_at": 1681497002041,
        "trade_type": "LIQUIDATION",
    }
    (trade,) = adapter.parse(push("trades.BTC-USD-PERP", data), RECV)
    assert isinstance(trade, Trade)
    assert (trade.side, trade.price, trade.size, trade.trade_id, trade.symbol) == (
        "sell",
        30001.2,
        0.01,
        "12345643",
        "BTC",
    )


def test_book_delta_sets_updates_and_removes_deletes() -> None:
    adapter = make({"book_feed": "deltas"})
    data = {
        "seq_no": 20785,
        "market": "ETH-USD-PERP",
        "last_updated_at": 1681462770114,
        "update_type": "d",
        "inserts": [{"side": "BUY", "price": "3010.5", "size": "2.5"}],
        "updates": [{"side": "SELL", "price": "3011.25", "size": "0.75"}],
        "deletes": [
            {"side": "BUY", "price": "3009", "size": "0"},
            {"side": "SELL", "price": "3015.5", "size": "1.1"},
        ],
    }
    assert adapter.parse(push("order_book.ETH-USD-PERP.deltas", data), RECV) == (
        BookDelta(
            instrument="ETH-USD-PERP",
            bids=[(3010.5, 2.5), (3009.0, 0.0)],
            asks=[(3011.25, 0.75), (3015.5, 0.0)],
            seq=20785,
            ts_venue=1681462770114,
        ),
    )
    data["update_type"] = "s"
    (snapshot,) = adapter.parse(push("order_book.ETH-USD-PERP.deltas", data), RECV)
    assert isinstance(snapshot, BookSnapshot)
    assert snapshot.seq == 20785


# -- controls and unknown frames --------------------------------------------------------------


def test_ack_and_result_without_channel(adapter: ParadexAdapter) -> None:
    adapter.connections([Instrument("BTC", "BTC-USD-PERP")])
    ack = {"jsonrpc": "2.0", "result": {"channel": "bbo.BTC-USD-PERP"}, "id": 2}
    expected = Ack("subscribed bbo.BTC-USD-PERP", subscribed=True)
    assert adapter.parse(json.dumps(ack), RECV) == (expected,)
    assert adapter.parse('{"jsonrpc":"2.0","result":null,"id":9}', RECV) == (Ack("result id=9"),)


def test_error_without_id_or_with_custom_code(adapter: ParadexAdapter) -> None:
    frame = {"jsonrpc": "2.0", "error": {"code": 40112, "message": "Geo IP blocked"}}
    assert adapter.parse(json.dumps(frame), RECV) == (
        VenueNotice(code="40112", message="Geo IP blocked"),
    )


@pytest.mark.parametrize(
    "frame",
    [
        '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"account","data":{}}}',
        '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"fills.X","data":{}}}',
        '{"jsonrpc":"2.0","method":"ping"}',
        '{"jsonrpc":"2.0"}',
    ],
)
def test_unknown_frames(adapter: ParadexAdapter, frame: str) -> None:
    with pytest.raises(UnknownFrame):
        adapter.parse(frame, RECV)


@pytest.mark.parametrize(
    ("channel", "data"),
    [
        ("trades.X", {"id": "1", "market": "X", "side": "buy", "size": "1", "price": "1"}),
        ("trades.X", {"id": None, "market": "X", "side": "BUY", "size": "1", "price": "1"}),
        ("trades.X", {"id": "1", "market": "X", "side": "BUY", "size": "1", "price": "1"}),
        ("bbo.X", {"market": "X", "bid": "abc", "last_updated_at": 1}),
        ("bbo.X", {"market": 5, "last_updated_at": 1}),
        ("funding_data.X", {"market": "X", "funding_rate": "", "created_at": 1}),
        ("funding_data.X", {"market": "X", "funding_rate": "0.1", "created_at": True}),
        ("markets_summary.X", {"symbol": "X", "mark_price": None, "created_at": 1}),
        (
            "order_book.X.snapshot@15@100ms",
            {
                "market": "X",
                "seq_no": 1,
                "last_updated_at": 1,
                "update_type": "x",
                "inserts": [],
                "updates": [],
                "deletes": [],
            },
        ),
        (
            "order_book.X.snapshot@15@100ms",
            {"market": "X", "inserts": [{"side": "BID", "price": "1", "size": "1"}]},
        ),
        ("order_book.X.snapshot@15@100ms", {"market": "X", "inserts": "none"}),
        ("bbo.X", ["not", "an", "object"]),
        ("bbo.X", "text"),
    ],
)
def test_wrong_fields_are_malformed(adapter: ParadexAdapter, channel: str, data: Any) -> None:
    with pytest.raises(MalformedFrame):
        adapter.parse(push(channel, data), RECV)


# -- garbage, truncated and wrong-typed frames: ParseError subclasses and nothing else ----------

JSON_SAMPLES = sorted(p.name for p in DATA.glob("ws_*.json"))


def bare(options: dict[str, Any] | None = None) -> ParadexAdapter:
    """An adapter that never ran init, streaming BTC-USD-PERP only."""
    ctx = VenueContext(
        name="paradex",
        symbols=("BTC", "ETH"),
        ws_url="wss://x/ws",
        rest_url="https://x",
        options=options or {},
    )
    adapter = ParadexAdapter(ctx)
    adapter.connections([Instrument("BTC", "BTC-USD-PERP")])
    return adapter


def parse_or_parse_error(adapter: ParadexAdapter, frame: str | bytes) -> None:
    with contextlib.suppress(ParseError):
        adapter.parse(frame, 1)


@pytest.mark.parametrize(
    "frame",
    [
        "",
        " ",
        "{",
        "}",
        "[]",
        "null",
        "42",
        '"subscription"',
        "not json",
        '{"method":"subscription"}',
        '{"method":"subscription","params":[]}',
        '{"method":"subscription","params":{"channel":5,"data":{}}}',
        '{"method":"subscription","params":{"channel":"","data":{}}}',
        '{"method":"subscription","params":{"channel":"trades.X"}}',
        '{"method":"subscription","params":{"channel":"trades.X","data":null}}',
        '{"error":null,"id":1}',
        '{"error":{"message":"x"},"id":1}',
        '{"error":{"code":[1],"message":"x"},"id":1}',
        '{"error":{"code":true,"message":"x"},"id":1}',
        '{"error":"boom","id":1}',
        b"",
        b"{",
        b"\x00",
        b"\xff" * 7,
        b"\x10\x00\x28\x00\x01\x00\x01\x00",
    ],
)
def test_garbage_raises_parse_error(frame: str | bytes) -> None:
    with pytest.raises(ParseError):
        bare().parse(frame, 1)


@pytest.mark.parametrize("name", JSON_SAMPLES)
def test_every_prefix_of_every_sample(name: str) -> None:
    adapter = bare()
    text = (DATA / name).read_text()
    compact = json.dumps(json.loads(text), separators=(",", ":"))
    for cut in range(len(compact)):
        with pytest.raises(ParseError):
            adapter.parse(compact[:cut], 1)
        with pytest.raises(ParseError):
            adapter.parse(compact[:cut].encode(), 1)


def _mutations(value: Any) -> list[Any]:
    """The value with one leaf at a time replaced by a value of the wrong type."""
    wrong: list[Any] = [None, True, 1.5, -1, "", "x", [], {}, [1, 2], {"a": 1}]
    out: list[Any] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            for replacement in [*wrong, *_mutations(inner)]:
                out.append({**value, key: replacement})
            out.append({k: v for k, v in value.items() if k != key})
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            for replacement in [*wrong, *_mutations(inner)]:
                out.append([*value[:i], replacement, *value[i + 1 :]])
    return out


@pytest.mark.parametrize("name", JSON_SAMPLES)
@pytest.mark.parametrize("book_feed", ["snapshot", "deltas"])
def test_wrong_typed_fields_raise_only_parse_errors(name: str, book_feed: str) -> None:
    adapter = bare({"book_feed": book_feed})
    sample = json.loads((DATA / name).read_text())
    for mutated in _mutations(sample):
        parse_or_parse_error(adapter, json.dumps(mutated))


def test_random_bytes_raise_only_parse_errors() -> None:
    adapter = bare()
    rng = random.Random(20261126)
    for _ in range(3000):
        size = rng.randrange(0, 120)
        frame = bytes(rng.randrange(256) for _ in range(size))
        parse_or_parse_error(adapter, frame)
        # Keep a valid SBE header so the body decoders see the garbage, too.
        template = rng.choice([1, 2, 3, 4, 5, 40, 41])
        header = bytes([rng.randrange(256), 0, template, 0, 1, 0, 1, 0])
        parse_or_parse_error(adapter, header + frame)


def test_binary_text_that_is_not_utf8_json_is_malformed() -> None:
    with pytest.raises(MalformedFrame):
        bare().parse(b'{"jsonrpc":"2.0","result":\xff}', 1)

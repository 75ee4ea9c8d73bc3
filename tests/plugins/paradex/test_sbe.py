"""Paradex SBE binary frames, encoded here from the schema (paradex-py paradex_1_0.xml, 1:2)."""

from __future__ import annotations

import struct
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from paradex_samples import TRADE_SAMPLES, trade_frame, trade_json

from venuefeed.core.adapter import Ack, BookDelta, BookSnapshot, Instrument, VenueContext
from venuefeed.core.errors import MalformedFrame, ParseError, UnknownFrame
from venuefeed.core.events import Bbo, Funding, Mark, Trade
from venuefeed.plugins.paradex import sbe
from venuefeed.plugins.paradex.adapter import ParadexAdapter

RECV = 1_800_000_000_000
NULL = -(2**63)


def make() -> ParadexAdapter:
    ctx = VenueContext(
        name="paradex",
        symbols=("BTC", "ETH"),
        ws_url="wss://x/ws",
        rest_url="https://x",
    )
    adapter = ParadexAdapter(ctx)
    (request,) = adapter.init_requests()
    rows: list[dict[str, Any]] = [
        {"symbol": "BTC-USD-PERP", "base_currency": "BTC", "asset_kind": "PERP"},
        {"symbol": "ETH-USD-PERP", "base_currency": "ETH", "asset_kind": "PERP"},
        # the markets of the recorded samples
        {"symbol": "kBONK-USD-PERP", "base_currency": "kBONK", "asset_kind": "PERP"},
        {"symbol": "TRUMP-USD-PERP", "base_currency": "TRUMP", "asset_kind": "PERP"},
        {"symbol": "ORDI-USD-PERP", "base_currency": "ORDI", "asset_kind": "PERP"},
    ]
    rows[0]["funding_period_hours"] = 4
    request.parse({"results": rows}, 1)
    for base in ("BTC", "ETH", "kBONK", "TRUMP", "ORDI"):
        adapter.resolve(base)
    return adapter


@pytest.fixture
def adapter() -> ParadexAdapter:
    return make()


def e8(value: str) -> int:
    """A decimal string as an exponent -8 mantissa, the way Paradex encodes it."""
    return int(Decimal(value) * 100_000_000)


def string(value: str) -> bytes:
    raw = value.encode()
    return bytes([len(raw)]) + raw


def frame(template: int, block: bytes, tail: bytes, *, version: int = 1, schema: int = 1) -> bytes:
    return struct.pack("<HHHH", len(block), template, schema, version) + block + tail


def levels(rows: list[tuple[str, str]], entry: int = 16) -> bytes:
    out = struct.pack("<HH", entry, len(rows))
    for price, size in rows:
        out += struct.pack("<qq", e8(price), e8(size)) + b"\0" * (entry - 16)
    return out


#: a Paradex trade id (28 digits) and what the deprecated int64 `tradeId` holds of it: the
#: low 64 bits read as signed, negative for this id (they exceed 2^63)
FULL_ID = "1718267844574815464072425529"
LOW64 = int(FULL_ID) % 2**64 - 2**64


def trade(
    side: int = 1,
    market: str = "BTC-USD-PERP",
    *,
    version: int = 2,
    full_id: str | None = FULL_ID,
    low64: int = LOW64,
) -> bytes:
    """A TradeEvent; `full_id` is the 1:2 `tradeIdStr` (None: the frame has none)."""
    block = struct.pack(
        "<qqqBqqqB",
        1718267837999001,  # ts: feed publish time, not the trade time
        555,
        low64,
        side,
        e8("67629.7"),
        e8("0.992"),
        1718267837265123,  # createdAt: the matching engine's time
        1,
    )
    tail = string(market) + (b"" if full_id is None else string(full_id))
    return frame(1, block, tail, version=version)


def book(pkg: int, bids: bytes, asks: bytes, market: str = "ETH-USD-PERP") -> bytes:
    block = struct.pack("<qqB", 1718267840123456, 14127815, pkg) + struct.pack("<9q", *[NULL] * 9)
    assert len(block) == 89
    return frame(3, block, bids + asks + string(market))


def summary(version: int) -> bytes:
    fields = [1718334307698000, 42, e8("49.80885481"), e8("47.93"), e8("62.038")]
    fields += [0] * 22
    if version >= 1:
        fields += [NULL, NULL, 39_199_975_098_110]
    block = struct.pack(f"<{len(fields)}q", *fields)
    assert len(block) == (240 if version else 216)
    return frame(4, block, string("ETH-USD-PERP"), version=version)


def funding(hours: int, version: int, market: str = "ETH-USD-PERP") -> bytes:
    block = struct.pack(
        "<qqqqqqqh",
        1771506636999000,
        77,
        e8("-0.00014969"),
        e8("-0.55169401"),
        1771506636154000,
        e8("-0.00050991"),
        e8("-0.00014969"),
        hours,
    )
    if version >= 1:
        block += struct.pack("<q", NULL)
    return frame(5, block, string(market), version=version)


def test_trade(adapter: ParadexAdapter) -> None:
    assert adapter.parse(trade(), RECV) == (
        Trade(
            venue="paradex",
            symbol="BTC",
            instrument="BTC-USD-PERP",
            ts_venue=1718267837265,
            ts_recv=RECV,
            price=67629.7,
            size=0.992,
            side="buy",
            trade_id=FULL_ID,
        ),
    )
    (sell,) = adapter.parse(trade(side=2), RECV)
    assert isinstance(sell, Trade)
    assert sell.side == "sell"


def trade_id(adapter: ParadexAdapter, raw: bytes) -> str:
    (event,) = adapter.parse(raw, RECV)
    assert isinstance(event, Trade)
    return event.trade_id


@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_the_full_trade_id_wins_whatever_the_header_version(
    adapter: ParadexAdapter, version: int
) -> None:
    """1:2 was widened in place, so the header cannot tell whether `tradeIdStr` follows;
    a later version keeps it where it is."""
    assert trade_id(adapter, trade(version=version)) == FULL_ID


@pytest.mark.parametrize("version", [0, 1, 2])
def test_without_the_full_id_the_low_64_bits_are_marked(
    adapter: ParadexAdapter, version: int
) -> None:
    """Versions 0 and 1 (and a 1:2 frame from before the field) have only the int64: its
    value is not Paradex's id, and the event says so."""
    expected = f"low64:{int(FULL_ID) % 2**64}"
    assert LOW64 < 0  # the signed int64 wrapped: the marked id is still the unsigned value
    assert trade_id(adapter, trade(version=version, full_id=None)) == expected
    assert expected == sbe.low64_trade_id(FULL_ID)
    assert trade_id(adapter, trade(full_id=None, low64=42)) == "low64:42"


def test_an_empty_full_id_falls_back_on_the_int64(adapter: ParadexAdapter) -> None:
    assert trade_id(adapter, trade(full_id="", low64=7)) == "low64:7"


def test_a_full_id_running_past_the_frame_is_malformed(adapter: ParadexAdapter) -> None:
    cut = trade()[:-3]
    with pytest.raises(MalformedFrame, match="past the frame end"):
        adapter.parse(cut, RECV)


def test_bytes_after_the_full_id_are_later_var_data(adapter: ParadexAdapter) -> None:
    """A later version may append more var-data: it is skipped, the id is unchanged."""
    assert trade_id(adapter, trade() + string("a later field")) == FULL_ID


def test_trade_without_a_representable_side_is_malformed(adapter: ParadexAdapter) -> None:
    with pytest.raises(MalformedFrame, match="side"):
        adapter.parse(trade(side=254), RECV)


def test_bbo_with_a_null_side(adapter: ParadexAdapter) -> None:
    block = struct.pack("<qqqqqq", 1681493939981777, 9, e8("3012.22"), e8("0.04"), NULL, NULL)
    assert adapter.parse(frame(2, block, string("ETH-USD-PERP")), RECV) == (
        Bbo(
            venue="paradex",
            symbol="ETH",
            instrument="ETH-USD-PERP",
            ts_venue=1681493939981,
            ts_recv=RECV,
            bid_px=3012.22,
            bid_sz=0.04,
            ask_px=None,
            ask_sz=None,
        ),
    )


def test_book_snapshot(adapter: ParadexAdapter) -> None:
    bids = levels([("3010.5", "2.5"), ("3009.25", "11")])
    asks = levels([("3011.75", "0.125")])
    assert adapter.parse(book(0, bids, asks), RECV) == (
        BookSnapshot(
            instrument="ETH-USD-PERP",
            bids=[(3010.5, 2.5), (3009.25, 11.0)],
            asks=[(3011.75, 0.125)],
            seq=14127815,
            ts_venue=1718267840123,
        ),
    )


def test_book_delta_with_wider_group_entries(adapter: ParadexAdapter) -> None:
    bids = levels([("3010.5", "0")], entry=24)
    asks = levels([], entry=24)
    assert adapter.parse(book(1, bids, asks), RECV) == (
        BookDelta(
            instrument="ETH-USD-PERP",
            bids=[(3010.5, 0.0)],
            asks=[],
            seq=14127815,
            ts_venue=1718267840123,
        ),
    )


def test_book_with_unknown_package_type_is_malformed(adapter: ParadexAdapter) -> None:
    with pytest.raises(MalformedFrame, match="package"):
        adapter.parse(book(7, levels([]), levels([])), RECV)


@pytest.mark.parametrize("version", [0, 1])
def test_market_summary_both_versions(adapter: ParadexAdapter, version: int) -> None:
    assert adapter.parse(summary(version), RECV) == (
        Mark(
            venue="paradex",
            symbol="ETH",
            instrument="ETH-USD-PERP",
            ts_venue=1718334307698,
            ts_recv=RECV,
            mark_px=49.80885481,
            index_px=47.93,
        ),
    )


@pytest.mark.parametrize("version", [0, 1])
def test_funding_both_versions(adapter: ParadexAdapter, version: int) -> None:
    assert adapter.parse(funding(8, version), RECV) == (
        Funding(
            venue="paradex",
            symbol="ETH",
            instrument="ETH-USD-PERP",
            ts_venue=1771506636154,
            ts_recv=RECV,
            rate=-0.00014969,
            interval_h=8.0,
            rate_per_hour=-0.00014969 / 8,
            basis="predicted",
            source="ws",
            feed="funding_data",
        ),
    )


def test_funding_without_a_period_uses_the_market_period(adapter: ParadexAdapter) -> None:
    (btc,) = adapter.parse(funding(0, 1, market="BTC-USD-PERP"), RECV)
    adapter.connections([Instrument("SOL", "SOL-USD-PERP")])  # not listed by GET /markets
    (other,) = adapter.parse(funding(0, 1, market="SOL-USD-PERP"), RECV)
    assert isinstance(btc, Funding) and isinstance(other, Funding)
    assert (btc.interval_h, btc.rate_per_hour) == (4.0, -0.00014969 / 4)
    assert (other.symbol, other.interval_h) == ("SOL", 8.0)


def test_heartbeat_and_binary_ack(adapter: ParadexAdapter) -> None:
    beat = frame(40, struct.pack("<qq", 1, 2), b"")
    assert adapter.parse(beat, RECV) == (Ack("sbe heartbeat"),)
    subscribed = frame(41, struct.pack("<qqB", 1, 2, 0), string("bbo.BTC-USD-PERP"))
    assert adapter.parse(subscribed, RECV) == (Ack("sbe subscribed"),)


@pytest.mark.parametrize("template", [6, 20, 21, 22, 23, 999])
def test_templates_not_subscribed_are_unknown(adapter: ParadexAdapter, template: int) -> None:
    with pytest.raises(UnknownFrame):
        adapter.parse(frame(template, b"\0" * 64, string("BTC-USD-PERP")), RECV)


def test_other_schema_is_malformed(adapter: ParadexAdapter) -> None:
    bad = bytearray(trade())
    bad[4] = 2
    with pytest.raises(MalformedFrame, match="schema"):
        adapter.parse(bytes(bad), RECV)


def test_short_root_block_is_malformed(adapter: ParadexAdapter) -> None:
    with pytest.raises(MalformedFrame, match="block"):
        adapter.parse(frame(3, b"\0" * 17, levels([]) + levels([]) + string("X")), RECV)


@pytest.mark.parametrize(
    "good",
    [
        trade(full_id=None),
        book(0, levels([("1", "2"), ("3", "4")]), levels([("5", "6")])),
        book(1, levels([("1", "2")], entry=24), levels([])),
        summary(1),
        funding(8, 1),
        frame(2, struct.pack("<qqqqqq", 1, 2, 3, 4, 5, 6), string("BTC-USD-PERP")),
    ],
)
def test_every_truncation_raises_only_parse_errors(adapter: ParadexAdapter, good: bytes) -> None:
    assert adapter.parse(good, RECV)
    for cut in range(len(good)):
        with pytest.raises(ParseError):
            adapter.parse(good[:cut], RECV)


def test_group_count_past_the_end_is_malformed(adapter: ParadexAdapter) -> None:
    bids = struct.pack("<HH", 16, 60_000) + struct.pack("<qq", 1, 1)
    with pytest.raises(MalformedFrame, match="past the frame end"):
        adapter.parse(book(0, bids, b""), RECV)


def test_group_entries_too_small_are_malformed(adapter: ParadexAdapter) -> None:
    with pytest.raises(MalformedFrame, match="entries"):
        adapter.parse(book(0, struct.pack("<HH", 8, 1) + b"\0" * 8, levels([])), RECV)


def test_every_truncation_of_a_full_id_trade_is_a_parse_error_or_the_old_layout(
    adapter: ParadexAdapter,
) -> None:
    """Cut anywhere, a 1:2 trade is a ParseError, except cut right after `market`, which
    is exactly the pre-1:2 layout: the schema says to read that as the field missing."""
    good = trade()
    old_layout = len(trade(full_id=None))
    for cut in range(len(good)):
        if cut == old_layout:
            assert trade_id(adapter, good[:cut]) == sbe.truncated_trade_id(LOW64)
            continue
        with pytest.raises(ParseError):
            adapter.parse(good[:cut], RECV)


def test_bad_utf8_market_is_malformed(adapter: ParadexAdapter) -> None:
    bad: Any = trade(full_id=None)[:-12] + b"\xff\xfe" + b"X" * 10
    with pytest.raises(MalformedFrame):
        adapter.parse(bad, RECV)


def test_bad_utf8_full_id_is_malformed(adapter: ParadexAdapter) -> None:
    bad: Any = trade(full_id=None) + b"\x04\xff\xfe12"
    with pytest.raises(MalformedFrame):
        adapter.parse(bad, RECV)


# -- the recorded .bin samples (data/README.md) ---------------------------------------------

DATA = Path(__file__).parent / "data"

#: each SBE sample and the JSON sample whose values it carries (None: no JSON twin).
SBE_TWINS = {
    "ws_trade.v1.bin": "ws_trades.ccxt.json",
    "ws_trade.v2.bin": "ws_trades.ccxt.json",
    "ws_order_book_snapshot.v1.bin": "ws_order_book_snapshot.ccxt.json",
    "ws_funding_data.v1.bin": "ws_funding_data.ccxt.json",
    "ws_markets_summary.v1.bin": "ws_markets_summary.ccxt.json",
}


@pytest.mark.parametrize("name", sorted(SBE_TWINS))
def test_sbe_sample_carries_its_json_twin(name: str) -> None:
    """The binary samples the fuzzer mutates say what their JSON twins say (the 1:1 trade
    id and the funding rate's truncation to Rate8 aside)."""
    adapter = make()
    (binary,) = adapter.parse((DATA / name).read_bytes(), RECV)
    (text,) = adapter.parse((DATA / SBE_TWINS[name]).read_text(), RECV)
    assert type(binary) is type(text)
    if isinstance(binary, Trade) and name == "ws_trade.v1.bin":
        assert isinstance(text, Trade)
        assert binary.trade_id == sbe.low64_trade_id(text.trade_id)  # all 1:1 can say
        binary = msgspec.structs.replace(binary, trade_id=text.trade_id)
    if isinstance(binary, Funding):
        assert isinstance(text, Funding)
        assert binary.rate == pytest.approx(text.rate, abs=1e-8)
        binary = msgspec.structs.replace(binary, rate=text.rate, rate_per_hour=text.rate_per_hour)
    assert binary == text


def test_sbe_bbo_and_heartbeat_samples() -> None:
    adapter = make()
    (bbo,) = adapter.parse((DATA / "ws_bbo.v1.bin").read_bytes(), RECV)
    assert isinstance(bbo, Bbo)
    assert (bbo.bid_px, bbo.bid_sz, bbo.ask_px, bbo.ask_sz) == (67629.7, 0.992, 69378.6, 3.137)
    assert adapter.parse((DATA / "ws_heartbeat.v1.bin").read_bytes(), RECV) == (
        Ack("sbe heartbeat"),
    )


# -- the same trade over JSON and SBE: one trade id --------------------------------------


def ids_agree(json_frame: str, sbe_frame: bytes) -> bool:
    """Whether Paradex's JSON feed and its SBE feed name the same trade with one id, as a
    consumer (and the core's trade identity) sees them."""
    adapter = make()
    (text,) = adapter.parse(json_frame, RECV)
    (binary,) = adapter.parse(sbe_frame, RECV)
    assert isinstance(text, Trade) and isinstance(binary, Trade)
    return text.trade_id == binary.trade_id


def test_json_and_sbe_trade_ids_agree_on_the_samples() -> None:
    """Issue 10: the 28-digit JSON id and the SBE 1:2 id of the same recorded trade are one
    string; 1:1 cannot carry it and its id is visibly not the venue's."""
    json_frame = (DATA / "ws_trades.ccxt.json").read_text()
    assert ids_agree(json_frame, (DATA / "ws_trade.v2.bin").read_bytes())
    assert not ids_agree(json_frame, (DATA / "ws_trade.v1.bin").read_bytes())
    assert trade_id(make(), (DATA / "ws_trade.v2.bin").read_bytes()) == (
        "1718179273230201709233240002"
    )


def test_the_agreement_check_catches_a_wrong_id() -> None:
    """Deliberately broken: one digit of the SBE sample's `tradeIdStr` changed."""
    json_frame = (DATA / "ws_trades.ccxt.json").read_text()
    raw = (DATA / "ws_trade.v2.bin").read_bytes()
    tampered = raw[:-1] + b"3"
    assert tampered != raw and not ids_agree(json_frame, tampered)


@pytest.mark.parametrize(("version", "name"), sorted(TRADE_SAMPLES.items()))
def test_trade_samples_are_their_json_twin_encoded(version: int, name: str) -> None:
    """The recipe in tests/support/paradex_samples.py (and data/README.md) made them."""
    assert (DATA / name).read_bytes() == trade_frame(trade_json(), version)

"""Extended frames -> events: recorded samples, doc-derived frames, and garbage."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from venuefeed.core.adapter import BookDelta, BookSnapshot, VenueContext, VenueNotice
from venuefeed.core.errors import MalformedFrame, ParseError, UnknownFrame
from venuefeed.core.events import Funding, Mark, Trade
from venuefeed.plugins.extended.adapter import ExtendedAdapter

DATA = Path(__file__).parent / "data"
RECV = 1_800_000_000_123
WS_SAMPLES = (
    "ws_orderbook_snapshot.ccxt.json",
    "ws_public_trades.ccxt.json",
    "ws_funding.ccxt.json",
    "ws_mark_price.ccxt.json",
    "ws_error.ccxt.json",
)


def read(name: str) -> str:
    return (DATA / name).read_text()


def make(**options: Any) -> ExtendedAdapter:
    ctx = VenueContext(
        name="extended",
        symbols=("BTC",),  # the one market the recorded list names
        ws_url="wss://x/ws",
        rest_url="https://x",
        options=options,
    )
    adapter = ExtendedAdapter(ctx)
    (init,) = adapter.init_requests()
    init.parse(json.loads(read("rest_markets_response.ccxt.json")), 1)
    for symbol in ctx.symbols:  # as the core does: frames about other markets are unknown
        adapter.resolve(symbol)
    return adapter


@pytest.fixture
def adapter() -> ExtendedAdapter:
    return make()


def frame(obj: Any) -> str:
    return json.dumps(obj)


# --------------------------------------------------------------------------- book


def test_recorded_snapshot(adapter: ExtendedAdapter) -> None:
    (snap,) = adapter.parse(read("ws_orderbook_snapshot.ccxt.json"), RECV)
    assert snap == BookSnapshot(
        instrument="BTC-USD",
        bids=[(25670.0, 0.1)],
        asks=[(25770.0, 0.1)],
        seq=1,
        ts_venue=1701563440000,
    )


def test_snapshot_levels_keep_order_sides_and_sizes(adapter: ExtendedAdapter) -> None:
    msg = {
        "ts": 1701563441000,
        "type": "SNAPSHOT",
        "data": {
            "m": "BTC-USD",
            "b": [{"p": "25670.5", "q": "1.25"}, {"p": "25669", "q": "0.004"}],
            "a": [{"p": "25671", "q": "2.5"}],
        },
        "seq": 7,
    }
    (snap,) = adapter.parse(frame(msg), RECV)
    assert isinstance(snap, BookSnapshot)
    assert snap.bids == [(25670.5, 1.25), (25669.0, 0.004)]
    assert snap.asks == [(25671.0, 2.5)]
    assert (snap.seq, snap.ts_venue, snap.from_rest) == (7, 1701563441000, False)


def _delta(bids: list[dict[str, str]], asks: list[dict[str, str]], seq: int = 8) -> str:
    return frame(
        {
            "ts": 1701563442000,
            "type": "DELTA",
            "data": {"m": "BTC-USD", "b": bids, "a": asks},
            "seq": seq,
        }
    )


def test_delta_with_c_everywhere_is_absolute(adapter: ExtendedAdapter) -> None:
    raw = _delta(
        [{"p": "25670.5", "q": "-0.25", "c": "1"}],
        [{"p": "25671", "q": "-2.5", "c": "0"}, {"p": "25672", "q": "0.75", "c": "0.75"}],
    )
    (delta,) = adapter.parse(raw, RECV)
    assert delta == BookDelta(
        instrument="BTC-USD",
        bids=[(25670.5, 1.0)],
        asks=[(25671.0, 0.0), (25672.0, 0.75)],
        seq=8,
        ts_venue=1701563442000,
        sizes_are_changes=False,
    )


def test_delta_without_c_is_changes_from_q(adapter: ExtendedAdapter) -> None:
    raw = _delta(
        [{"p": "25670.5", "q": "-0.25"}],
        [{"p": "25671", "q": "-2.5"}, {"p": "25672", "q": "0.75"}],
        seq=9,
    )
    (delta,) = adapter.parse(raw, RECV)
    assert delta == BookDelta(
        instrument="BTC-USD",
        bids=[(25670.5, -0.25)],
        asks=[(25671.0, -2.5), (25672.0, 0.75)],
        seq=9,
        ts_venue=1701563442000,
        sizes_are_changes=True,
    )


def test_delta_with_c_missing_on_one_level_falls_back_to_q(adapter: ExtendedAdapter) -> None:
    raw = _delta(
        [{"p": "25670.5", "q": "-0.25", "c": "1"}],
        [{"p": "25671", "q": "-2.5"}],
    )
    (delta,) = adapter.parse(raw, RECV)
    assert isinstance(delta, BookDelta)
    assert delta.sizes_are_changes is True
    assert delta.bids == [(25670.5, -0.25)]
    assert delta.asks == [(25671.0, -2.5)]


def test_delta_one_sided_and_empty(adapter: ExtendedAdapter) -> None:
    (one,) = adapter.parse(_delta([], [{"p": "25672", "q": "1", "c": "3"}]), RECV)
    assert isinstance(one, BookDelta)
    assert (one.bids, one.asks, one.sizes_are_changes) == ([], [(25672.0, 3.0)], False)
    # a DELTA without levels still carries its seq, so the chain stays unbroken
    empty = frame({"ts": 5, "type": "DELTA", "data": {"m": "BTC-USD"}, "seq": 10})
    (none,) = adapter.parse(empty, RECV)
    assert isinstance(none, BookDelta)
    assert (none.bids, none.asks, none.seq) == ([], [], 10)


def test_delta_c_only_levels(adapter: ExtendedAdapter) -> None:
    (delta,) = adapter.parse(_delta([{"p": "1.5", "c": "2"}], []), RECV)
    assert isinstance(delta, BookDelta)
    assert (delta.bids, delta.sizes_are_changes) == ([(1.5, 2.0)], False)


@pytest.mark.parametrize(
    "raw",
    [
        # no seq: continuity cannot be checked
        frame({"ts": 1, "type": "DELTA", "data": {"m": "BTC-USD", "b": [], "a": []}}),
        frame({"ts": 1, "type": "SNAPSHOT", "data": {"m": "BTC-USD", "b": [], "a": []}}),
        # no market / no data
        frame({"ts": 1, "type": "DELTA", "data": {"b": [], "a": []}, "seq": 2}),
        frame({"ts": 1, "type": "SNAPSHOT", "seq": 2}),
        frame({"ts": 1, "type": "SNAPSHOT", "data": [], "seq": 2}),
        # negative absolute sizes, missing sizes
        frame({"type": "SNAPSHOT", "data": {"m": "X", "b": [{"p": "1", "q": "-1"}]}, "seq": 1}),
        frame({"type": "SNAPSHOT", "data": {"m": "X", "b": [{"p": "1"}]}, "seq": 1}),
        frame({"type": "DELTA", "data": {"m": "X", "b": [{"p": "1", "c": "-1"}]}, "seq": 1}),
        frame({"type": "DELTA", "data": {"m": "X", "b": [{"p": "1"}]}, "seq": 1}),
        # bad numbers
        frame({"type": "SNAPSHOT", "data": {"m": "X", "b": [{"p": "nan", "q": "1"}]}, "seq": 1}),
        frame({"type": "SNAPSHOT", "data": {"m": "X", "b": [{"p": "0", "q": "1"}]}, "seq": 1}),
        frame({"type": "SNAPSHOT", "data": {"m": "X", "b": [{"p": "1", "q": "inf"}]}, "seq": 1}),
        frame({"type": "SNAPSHOT", "data": {"m": "X", "b": [["1", "2"]]}, "seq": 1}),
        frame({"type": "DELTA", "data": {"m": "X", "b": [{"p": "1", "q": "1"}]}, "seq": "x"}),
    ],
)
def test_bad_book_frames_are_malformed(adapter: ExtendedAdapter, raw: str) -> None:
    with pytest.raises(MalformedFrame):
        adapter.parse(raw, RECV)


# ------------------------------------------------------------------------- trades


def test_recorded_trades(adapter: ExtendedAdapter) -> None:
    (trade,) = adapter.parse(read("ws_public_trades.ccxt.json"), RECV)
    assert trade == Trade(
        venue="extended",
        symbol="BTC",
        instrument="BTC-USD",
        ts_venue=1701563440000,
        ts_recv=RECV,
        price=25670.0,
        size=0.1,
        side="buy",
        trade_id="25124",
    )


TRADES = {
    "ts": 1701563450000,
    "data": [
        {"m": "BTC-USD", "S": "SELL", "tT": "LIQUIDATION", "T": 1701563449001,
         "p": "25660.5", "q": "0.25", "i": 1784963886257016832},
        {"m": "BTC-USD", "S": "BUY", "tT": "TRADE", "T": 1701563449002,
         "p": "25661", "q": "3", "i": "25126"},
        {"m": "BTC-USD", "S": "SELL", "tT": "DELEVERAGE", "T": 1701563449003,
         "p": "25000", "q": "7", "i": 25127},
    ],
    "seq": 3,
}  # fmt: skip


def test_trades_keep_order_side_and_skip_deleverage(adapter: ExtendedAdapter) -> None:
    sell, buy = adapter.parse(frame(TRADES), RECV)
    assert isinstance(sell, Trade) and isinstance(buy, Trade)
    assert (sell.side, sell.price, sell.size, sell.ts_venue, sell.trade_id) == (
        "sell",
        25660.5,
        0.25,
        1701563449001,
        "1784963886257016832",
    )
    assert (buy.side, buy.price, buy.size, buy.ts_venue, buy.trade_id) == (
        "buy",
        25661.0,
        3.0,
        1701563449002,
        "25126",
    )


def test_deleverage_trades_on_request() -> None:
    trades = make(include_deleverage=True).parse(frame(TRADES), RECV)
    assert [t.trade_id for t in trades if isinstance(t, Trade)] == [
        "1784963886257016832",
        "25126",
        "25127",
    ]


@pytest.mark.parametrize("market", ["SOL-USD", "ORDI-UCD-PERP"])
def test_trades_of_a_market_not_subscribed_are_unknown(
    adapter: ExtendedAdapter, market: str
) -> None:
    """Listed (SOL-USD) or not (a fuzzed name): no market the core did not ask for
    becomes an instrument, and its symbol is never guessed from the name."""
    row = {"m": market, "S": "BUY", "T": 1, "p": "150.5", "q": "2", "i": 1}
    with pytest.raises(UnknownFrame, match=market):
        adapter.parse(frame({"ts": 1, "data": [row], "seq": 1}), RECV)


def test_empty_trade_list(adapter: ExtendedAdapter) -> None:
    assert list(adapter.parse(frame({"ts": 1, "data": [], "seq": 4}), RECV)) == []


@pytest.mark.parametrize(
    "row",
    [
        {"m": "BTC-USD", "S": "HOLD", "T": 1, "p": "1", "q": "1", "i": 1},
        {"m": "BTC-USD", "S": "BUY", "T": 1, "p": "1", "q": "0", "i": 1},
        {"m": "BTC-USD", "S": "BUY", "T": 1, "p": "-1", "q": "1", "i": 1},
        {"m": "BTC-USD", "S": "BUY", "T": "soon", "p": "1", "q": "1", "i": 1},
        {"m": "BTC-USD", "S": "BUY", "T": 1, "p": "1", "q": "1"},
        {"S": "BUY", "T": 1, "p": "1", "q": "1", "i": 1},
    ],
)
def test_bad_trades_are_malformed(adapter: ExtendedAdapter, row: dict[str, Any]) -> None:
    with pytest.raises(MalformedFrame):
        adapter.parse(frame({"ts": 1, "data": [row], "seq": 1}), RECV)


# ------------------------------------------------------------------ funding, mark


def test_recorded_funding(adapter: ExtendedAdapter) -> None:
    (funding,) = adapter.parse(read("ws_funding.ccxt.json"), RECV)
    assert funding == Funding(
        venue="extended",
        symbol="BTC",
        instrument="BTC-USD",
        ts_venue=1701563440000,
        ts_recv=RECV,
        rate=0.001,
        interval_h=1.0,
        rate_per_hour=0.001,
        next_funding_ms=1701565200000,  # the next full hour after T
        basis="predicted",
        source="ws",
        feed="funding",
    )


def test_negative_funding_on_the_hour(adapter: ExtendedAdapter) -> None:
    msg = {"ts": 1777442400500, "data": {"m": "BTC-USD", "T": 1777442400000, "f": "-0.0000125"}}
    (funding,) = adapter.parse(frame(msg), RECV)
    assert isinstance(funding, Funding)
    assert (funding.rate, funding.rate_per_hour, funding.interval_h) == (-1.25e-05, -1.25e-05, 1.0)
    assert (funding.ts_venue, funding.next_funding_ms) == (1777442400000, 1777446000000)


def test_funding_without_t_uses_envelope_ts(adapter: ExtendedAdapter) -> None:
    (funding,) = adapter.parse(frame({"ts": 1777442401000, "data": {"m": "BTC-USD", "f": 0}}), 9)
    assert isinstance(funding, Funding)
    assert (funding.ts_venue, funding.next_funding_ms, funding.rate) == (
        1777442401000,
        1777446000000,
        0.0,
    )


def test_recorded_mark_with_zero_inner_ts(adapter: ExtendedAdapter) -> None:
    (mark,) = adapter.parse(read("ws_mark_price.ccxt.json"), RECV)
    assert mark == Mark(
        venue="extended",
        symbol="BTC",
        instrument="BTC-USD",
        ts_venue=1778641421485,
        ts_recv=RECV,
        mark_px=80988.400408625006,
        index_px=None,
    )


def test_mark_prefers_inner_ts(adapter: ExtendedAdapter) -> None:
    msg = {"type": "MP", "data": {"m": "BTC-USD", "p": "81000.5", "ts": 1778641421000},
           "ts": 1778641421485, "seq": 2}  # fmt: skip
    (mark,) = adapter.parse(frame(msg), RECV)
    assert isinstance(mark, Mark)
    assert (mark.mark_px, mark.ts_venue) == (81000.5, 1778641421000)


@pytest.mark.parametrize(
    "raw",
    [
        frame({"type": "MP", "data": {"m": "BTC-USD", "ts": 1}, "ts": 1}),
        frame({"type": "MP", "data": {"p": "1", "ts": 1}, "ts": 1}),
        frame({"type": "MP", "data": [], "ts": 1}),
        frame({"data": {"T": 1, "f": "0.001"}}),
        frame({"data": {"m": "BTC-USD", "T": 1, "f": "abc"}}),
        frame({"data": {"m": "BTC-USD", "T": 1, "f": True}}),
    ],
)
def test_bad_funding_and_mark_are_malformed(adapter: ExtendedAdapter, raw: str) -> None:
    with pytest.raises(MalformedFrame):
        adapter.parse(raw, RECV)


# ------------------------------------------------------------------------ errors


def test_recorded_error_is_a_fatal_notice(adapter: ExtendedAdapter) -> None:
    (notice,) = adapter.parse(read("ws_error.ccxt.json"), RECV)
    assert notice == VenueNotice(code="1001", message="Market not found.", stream=None, fatal=True)


@pytest.mark.parametrize(
    ("error", "code", "message", "fatal"),
    [
        ({"code": 1002, "message": "Market is disabled."}, "1002", "Market is disabled.", True),
        ({"code": 1005, "message": "Bad interval."}, "1005", "Bad interval.", True),
        ({"code": 1010, "message": "Maintenance mode."}, "1010", "Maintenance mode.", False),
        ({"code": 1006, "message": "Application error."}, "1006", "Application error.", False),
        ({"message": "no code"}, "ERROR", "no code", False),
        ("Something failed", "ERROR", "Something failed", False),
    ],
)  # fmt: skip
def test_error_frames(
    adapter: ExtendedAdapter, error: Any, code: str, message: str, fatal: bool
) -> None:
    (notice,) = adapter.parse(frame({"status": "ERROR", "error": error}), RECV)
    assert notice == VenueNotice(code=code, message=message, stream=None, fatal=fatal)


def test_error_status_without_body(adapter: ExtendedAdapter) -> None:
    (notice,) = adapter.parse('{"status":"ERROR"}', RECV)
    assert notice == VenueNotice(code="ERROR", message="", stream=None, fatal=False)


# ----------------------------------------------------------------------- garbage


@pytest.mark.parametrize(
    "raw",
    [
        '{"type":"CANDLE","data":{"m":"BTC-USD"},"ts":1,"seq":1}',
        '{"type":"IP","data":{"m":"BTC-USD","p":"1","ts":1},"ts":1,"seq":1}',
        '{"data":{"m":"BTC-USD","T":1},"ts":1,"seq":1}',
        '{"status":"OK"}',
        "{}",
    ],
)
def test_unknown_frames(adapter: ExtendedAdapter, raw: str) -> None:
    with pytest.raises(UnknownFrame):
        adapter.parse(raw, RECV)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        " ",
        "{",
        "null",
        "42",
        '"SNAPSHOT"',
        "[]",
        '[{"m":"BTC-USD"}]',
        '{"type":5}',
        '{"data":"x"}',
        '{"data":[1,2]}',
        '{"data":{"m":5}}',
        '{"ts":"soon","data":{"m":"BTC-USD","T":1,"f":"1"}}',
        '{"status":"ERROR","error":5}',
        '{"type":"MP","data":{"m":"BTC-USD","p":"1e400"},"ts":1}',
        '{"type":"SNAPSHOT","data":{"m":"BTC-USD","b":{"p":"1","q":"1"}},"seq":1}',
        "\ufeff{}",
    ],
)
def test_garbage_is_malformed(adapter: ExtendedAdapter, raw: str) -> None:
    with pytest.raises(MalformedFrame):
        adapter.parse(raw, RECV)


def test_binary_frames_are_malformed(adapter: ExtendedAdapter) -> None:
    with pytest.raises(MalformedFrame):
        adapter.parse(read("ws_funding.ccxt.json").encode(), RECV)
    with pytest.raises(MalformedFrame):
        adapter.parse(b"\x00\x01\xff", RECV)


@pytest.mark.parametrize("name", WS_SAMPLES)
def test_every_truncation_of_a_sample_raises_parse_error(
    adapter: ExtendedAdapter, name: str
) -> None:
    raw = json.dumps(json.loads(read(name)), separators=(",", ":"))
    for cut in range(len(raw)):
        with pytest.raises(ParseError):
            adapter.parse(raw[:cut], RECV)


_WRONG: tuple[Any, ...] = (None, True, -1, 0, 1.5, "", "x", "-1", [], {}, [1], {"a": 1})


def _mutations(value: Any) -> Iterator[Any]:
    """Every copy of `value` with one leaf or container replaced by a wrong-typed value."""
    if isinstance(value, dict):
        for key, inner in value.items():
            for wrong in _WRONG:
                yield {**value, key: wrong}
            for mutated in _mutations(inner):
                yield {**value, key: mutated}
            yield {k: v for k, v in value.items() if k != key}
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            for mutated in _mutations(inner):
                yield [*value[:i], mutated, *value[i + 1 :]]


@pytest.mark.parametrize("name", WS_SAMPLES)
def test_wrong_types_anywhere_raise_only_parse_error(adapter: ExtendedAdapter, name: str) -> None:
    sample = json.loads(read(name))
    count = 0
    for mutated in _mutations(sample):
        count += 1
        with contextlib.suppress(ParseError):
            adapter.parse(json.dumps(mutated), RECV)
    assert count > 20


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=12,
)
_keys = st.sampled_from(["type", "data", "ts", "seq", "status", "error", "m", "b", "a", "p",
                         "q", "c", "S", "T", "f", "i", "tT", "code", "message"])  # fmt: skip
_shaped = st.recursive(
    _json | st.sampled_from(["SNAPSHOT", "DELTA", "MP", "ERROR", "BUY", "SELL", "BTC-USD", "1"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=6),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_shaped)
def test_fuzzed_frames_raise_only_parse_error(value: Any) -> None:
    adapter = make()
    try:
        results = adapter.parse(json.dumps(value), RECV)
    except ParseError:
        return
    for result in results:
        assert isinstance(result, BookSnapshot | BookDelta | Trade | Funding | Mark | VenueNotice)

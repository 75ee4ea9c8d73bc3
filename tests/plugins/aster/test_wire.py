"""Websocket frames -> events, on every Aster sample plus frames built from the docs."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from venuefeed.core.adapter import Ack, BookDelta, VenueNotice
from venuefeed.core.errors import MalformedFrame, ParseError, UnknownFrame
from venuefeed.core.events import Bbo, Funding, Mark, Trade
from venuefeed.plugins.aster.adapter import AsterAdapter

RECV = 1_754_000_000_123

# --- book ---------------------------------------------------------------------------


def test_diff_depth_doc_example(adapter: AsterAdapter, combined: Any) -> None:
    frame = combined("ws_diff_depth_update.doc.json", "btcusdt@depth@100ms")
    assert adapter.parse(frame, RECV) == (
        BookDelta(
            instrument="BTCUSDT",
            bids=[(0.0024, 10.0)],
            asks=[(0.0026, 100.0)],
            seq=160,
            prev_seq=149,
            first_seq=157,
            ts_venue=123456788,  # T (transaction time), not E
        ),
    )


def test_depth_ccxt_sample(adapter: AsterAdapter, combined: Any) -> None:
    (delta,) = adapter.parse(combined("ws_depth20_update.ccxt.json", "btcusdt@depth"), RECV)
    assert delta == BookDelta(
        instrument="BTCUSDT",
        bids=[(114988.3, 0.147)],
        asks=[(114988.4, 1.06)],
        seq=156391349814,
        prev_seq=156391348236,
        first_seq=156391349814,
        ts_venue=1754556878031,
        sizes_are_changes=False,
    )


def test_depth_many_levels_zero_size_and_no_transaction_time(adapter: AsterAdapter) -> None:
    frame = {
        "stream": "ethusdt@depth@100ms",
        "data": {
            "e": "depthUpdate",
            "E": 1754556878999,
            "s": "ETHUSDT",
            "U": 1001,
            "u": 1005,
            "pu": 1000,
            "b": [["3500.10", "2.5"], ["3500.00", "0"]],
            "a": [],
        },
    }
    (delta,) = adapter.parse(json.dumps(frame), RECV)
    assert isinstance(delta, BookDelta)
    assert delta.instrument == "ETHUSDT"
    assert list(delta.bids) == [(3500.1, 2.5), (3500.0, 0.0)]
    assert list(delta.asks) == []
    assert (delta.first_seq, delta.seq, delta.prev_seq) == (1001, 1005, 1000)
    assert delta.ts_venue == 1754556878999  # falls back to E


# --- bbo ----------------------------------------------------------------------------


def test_book_ticker_ccxt_sample(adapter: AsterAdapter, combined: Any) -> None:
    frame = combined("ws_book_ticker.ccxt.json", "btcusdt@bookTicker")
    assert adapter.parse(frame, RECV) == (
        Bbo(
            venue="aster",
            symbol="BTC",
            instrument="BTCUSDT",
            ts_venue=1754896692922,
            ts_recv=RECV,
            bid_px=122046.7,
            bid_sz=1.084,
            ask_px=122046.8,
            ask_sz=0.001,
        ),
    )


def test_book_ticker_doc_example(adapter: AsterAdapter, combined: Any) -> None:
    (bbo,) = adapter.parse(combined("ws_book_ticker.doc.json", "bnbusdt@bookTicker"), RECV)
    assert bbo == Bbo(
        venue="aster",
        symbol="BNB",
        instrument="BNBUSDT",
        ts_venue=1568014460891,
        ts_recv=RECV,
        bid_px=25.3519,
        bid_sz=31.21,
        ask_px=25.3652,
        ask_sz=40.66,
    )


def test_book_ticker_empty_side_is_none(adapter: AsterAdapter) -> None:
    frame = {
        "e": "bookTicker",
        "u": 5,
        "E": 20,
        "T": 19,
        "s": "ETHUSDT",
        "b": "0",
        "B": "0",
        "a": "3500.5",
        "A": "7",
    }
    (bbo,) = adapter.parse(json.dumps({"stream": "ethusdt@bookTicker", "data": frame}), RECV)
    assert isinstance(bbo, Bbo)
    assert (bbo.bid_px, bbo.bid_sz, bbo.ask_px, bbo.ask_sz) == (None, None, 3500.5, 7.0)


# --- trades -------------------------------------------------------------------------


def test_agg_trade_ccxt_sample_taker_bought(adapter: AsterAdapter, combined: Any) -> None:
    frame = combined("ws_agg_trade.ccxt.json", "btcusdt@aggTrade")
    assert adapter.parse(frame, RECV) == (
        Trade(
            venue="aster",
            symbol="BTC",
            instrument="BTCUSDT",
            ts_venue=1754551358528,  # T (trade time), not E
            ts_recv=RECV,
            price=114783.7,
            size=0.02,
            side="buy",  # m=false: the buyer was the taker
            trade_id="20505890",
        ),
    )


def test_agg_trade_doc_example_taker_sold(adapter: AsterAdapter, combined: Any) -> None:
    (trade,) = adapter.parse(combined("ws_agg_trade.doc.json", "btcusdt@aggTrade"), RECV)
    assert trade == Trade(
        venue="aster",
        symbol="BTC",
        instrument="BTCUSDT",
        ts_venue=123456785,
        ts_recv=RECV,
        price=0.001,
        size=100.0,
        side="sell",  # m=true: the buyer made the market, the seller took it
        trade_id="5933014",
    )


# --- mark + funding -----------------------------------------------------------------


def test_mark_price_ccxt_sample_default_interval(adapter: AsterAdapter, combined: Any) -> None:
    # BTCUSDT is not in the (documented) fundingInfo list: the 8 h default applies.
    frame = combined("ws_mark_price_update.ccxt.json", "btcusdt@markPrice@1s")
    assert adapter.parse(frame, RECV) == (
        Mark(
            venue="aster",
            symbol="BTC",
            instrument="BTCUSDT",
            ts_venue=1754660466000,
            ts_recv=RECV,
            mark_px=116809.6,
            index_px=116836.93534884,
        ),
        Funding(
            venue="aster",
            symbol="BTC",
            instrument="BTCUSDT",
            ts_venue=1754660466000,
            ts_recv=RECV,
            rate=0.0001,
            interval_h=8.0,
            rate_per_hour=0.0000125,
            next_funding_ms=1754668800000,
            basis="predicted",
            source="ws",
            feed="markPrice",
        ),
    )


def test_mark_price_doc_example(adapter: AsterAdapter, combined: Any) -> None:
    mark, funding = adapter.parse(combined("ws_mark_price_update.doc.json", "x"), RECV)
    assert mark == Mark(
        venue="aster",
        symbol="BTC",
        instrument="BTCUSDT",
        ts_venue=1562305380000,
        ts_recv=RECV,
        mark_px=11794.15,
        index_px=11784.62659091,
    )
    assert isinstance(funding, Funding)
    assert funding.rate == 0.00038167
    assert funding.rate_per_hour == pytest.approx(0.00038167 / 8, rel=1e-15)
    assert funding.next_funding_ms == 1562306400000


def test_mark_price_uses_the_symbols_funding_interval(adapter: AsterAdapter) -> None:
    # ZORAUSDT is listed with fundingIntervalHours=4 in the documented fundingInfo answer.
    frame = {
        "e": "markPriceUpdate",
        "E": 1756197480000,
        "s": "ZORAUSDT",
        "p": "0.08512000",
        "P": "0.08500000",
        "i": "0.08520000",
        "r": "-0.00020000",
        "T": 1756209600000,
    }
    mark, funding = adapter.parse(json.dumps({"stream": "zorausdt@markPrice@1s", "data": frame}), 7)
    assert mark == Mark(
        venue="aster",
        symbol="ZORA",
        instrument="ZORAUSDT",
        ts_venue=1756197480000,
        ts_recv=7,
        mark_px=0.08512,
        index_px=0.0852,
    )
    assert funding == Funding(
        venue="aster",
        symbol="ZORA",
        instrument="ZORAUSDT",
        ts_venue=1756197480000,
        ts_recv=7,
        rate=-0.0002,
        interval_h=4.0,
        rate_per_hour=-0.00005,
        next_funding_ms=1756209600000,
        basis="predicted",
        source="ws",
        feed="markPrice",
    )


def test_mark_price_without_rate_gives_only_mark(adapter: AsterAdapter) -> None:
    frame = {"e": "markPriceUpdate", "E": 1, "s": "ETHUSDT", "p": "3500", "i": "3501", "T": 0}
    (mark,) = adapter.parse(json.dumps({"stream": "s", "data": frame}), RECV)
    assert isinstance(mark, Mark)
    assert (mark.mark_px, mark.index_px) == (3500.0, 3501.0)


def test_zero_next_funding_time_is_none(adapter: AsterAdapter) -> None:
    frame = {"e": "markPriceUpdate", "E": 1, "s": "ETHUSDT", "p": "3500", "r": "0.0001", "T": 0}
    _, funding = adapter.parse(json.dumps({"stream": "s", "data": frame}), RECV)
    assert isinstance(funding, Funding)
    assert funding.next_funding_ms is None


def test_default_interval_option(make_ctx: Any) -> None:
    a = AsterAdapter(make_ctx(default_funding_interval_h=4))
    a.resolve("BTC")
    frame = {"e": "markPriceUpdate", "E": 1, "s": "BTCUSDT", "p": "1", "r": "0.0008", "T": 2}
    _, funding = a.parse(json.dumps(frame), RECV)
    assert isinstance(funding, Funding)
    assert (funding.interval_h, funding.rate_per_hour) == (4.0, 0.0002)


# --- raw (non-combined) frames ------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "ws_diff_depth_update.doc.json",
        "ws_book_ticker.ccxt.json",
        "ws_agg_trade.ccxt.json",
        "ws_mark_price_update.ccxt.json",
    ],
)
def test_raw_stream_frames_parse_like_combined(
    adapter: AsterAdapter, combined: Any, load: Any, name: str
) -> None:
    raw = json.dumps(load(name))
    assert adapter.parse(raw, RECV) == adapter.parse(combined(name, "any"), RECV)


# --- control frames -----------------------------------------------------------------


def test_subscribe_ack(adapter: AsterAdapter) -> None:
    (ack,) = adapter.parse('{"result":null,"id":1}', RECV)
    assert isinstance(ack, Ack)
    assert "1" in ack.detail


def test_list_subscriptions_answer_is_ack(adapter: AsterAdapter) -> None:
    (ack,) = adapter.parse('{"result":["btcusdt@aggTrade"],"id":3}', RECV)
    assert isinstance(ack, Ack)
    assert "btcusdt@aggTrade" in ack.detail


def test_rejected_subscribe_is_fatal_for_each_of_its_streams(adapter: AsterAdapter) -> None:
    adapter.connections([adapter.resolve("BTC")])
    frame = '{"code": 2, "msg": "Invalid request: too many parameters", "id": 1}'
    notices = adapter.parse(frame, RECV)
    assert [(n.code, n.message, n.fatal) for n in notices if isinstance(n, VenueNotice)] == [
        ("2", "Invalid request: too many parameters", True)
    ] * 5
    assert [n.stream for n in notices if isinstance(n, VenueNotice)] == [
        "book:BTCUSDT",
        "bbo:BTCUSDT",
        "trade:BTCUSDT",
        "mark:BTCUSDT",
        "funding:BTCUSDT",
    ]


def test_binance_style_nested_error(adapter: AsterAdapter) -> None:
    adapter.connections([adapter.resolve("ETH")])
    frame = '{"error":{"code":2,"msg":"Invalid request: unknown variant"},"id":1}'
    notices = adapter.parse(frame, RECV)
    assert len(notices) == 5
    assert all(isinstance(n, VenueNotice) and n.fatal and n.code == "2" for n in notices)


@pytest.mark.parametrize(
    ("frame", "code", "message"),
    [
        ('{"code": 0, "msg": "Unknown property"}', "0", "Unknown property"),
        ('{"code":3,"msg":"Invalid JSON: expected value at line 1 column 1"}', "3", None),
        ('{"code": -1121, "msg": "Invalid symbol."}', "-1121", "Invalid symbol."),
        ('{"code": 2, "msg": "Invalid request", "id": 99}', "2", "Invalid request"),
        ('{"code": 2, "msg": "Invalid request", "id": null}', "2", "Invalid request"),
    ],
)
def test_error_frames_without_a_known_request(
    adapter: AsterAdapter, frame: str, code: str, message: str | None
) -> None:
    (notice,) = adapter.parse(frame, RECV)
    assert isinstance(notice, VenueNotice)
    assert notice.code == code
    assert notice.stream is None
    assert notice.fatal is False
    if message is not None:
        assert notice.message == message


# --- bad frames ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        "",
        " ",
        "{",
        "nope",
        '{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade"',
        "null",
        "42",
        '"text"',
        "true",
        '{"data": 5}',
        '{"data": "x"}',
        # known event types with missing or wrong-typed fields
        '{"data": {"e": "aggTrade", "s": "BTCUSDT"}}',
        '{"data": {"e": "aggTrade", "s": "BTCUSDT", "a": 1, "p": "x", "q": "1", "m": true}}',
        '{"data": {"e": "aggTrade", "s": "BTCUSDT", "a": 1, "p": "1", "q": "1", "m": "yes"}}',
        '{"data": {"e": "aggTrade", "s": "BTCUSDT", "a": 1.5, "p": "1", "q": "1", "m": true}}',
        '{"data": {"e": "bookTicker", "s": "BTCUSDT", "b": "NaN", "B": "1", "a": "1", "A": "1"}}',
        '{"data": {"e": "bookTicker", "s": "BTCUSDT", "b": "1", "B": "-1", "a": "1", "A": "1"}}',
        '{"data": {"e": "markPriceUpdate", "s": "BTCUSDT", "p": "Infinity"}}',
        '{"data": {"e": "markPriceUpdate", "s": "BTCUSDT", "p": "1", "r": "nan"}}',
        '{"data": {"e": "markPriceUpdate", "s": 5, "p": "1"}}',
        '{"data": {"e": "depthUpdate", "s": "BTCUSDT", "U": 1, "u": 2, "b": [], "a": []}}',
        '{"data": {"e": "depthUpdate", "s": "BTCUSDT", "U": 1, "u": 2, "pu": 0, "b": [["1"]], '
        '"a": []}}',
        '{"data": {"e": "depthUpdate", "s": "BTCUSDT", "U": 1, "u": 2, "pu": 0, "b": {}, "a": []}}',
        '{"data": {"e": "depthUpdate", "s": "BTCUSDT", "U": "x", "u": 2, "pu": 0, "b": [], '
        '"a": []}}',
        '{"data": {"e": 7}}',
        '{"data": {"s": "BTCUSDT"}}',
        '{"e": "aggTrade", "s": "BTCUSDT", "p": "1"}',
    ],
)
def test_malformed_frames(adapter: AsterAdapter, frame: str) -> None:
    with pytest.raises(MalformedFrame):
        adapter.parse(frame, RECV)


@pytest.mark.parametrize(
    "frame",
    [
        "{}",
        '{"foo": 1}',
        '{"stream": "btcusdt@kline_1m", "data": {"e": "kline", "E": 1, "s": "BTCUSDT"}}',
        '{"e": "24hrMiniTicker", "s": "BTCUSDT"}',
        '{"stream": "!markPrice@arr", "data": [{"e": "markPriceUpdate"}]}',
        "[]",
        # a well-formed event for an instrument this adapter never subscribed
        '{"data": {"e": "aggTrade", "s": "DOGEUSDT", "a": 1, "p": "1", "q": "1", "m": true}}',
    ],
)
def test_unknown_frames(adapter: AsterAdapter, frame: str) -> None:
    with pytest.raises(UnknownFrame):
        adapter.parse(frame, RECV)


def test_binary_frame_is_malformed(adapter: AsterAdapter, combined: Any) -> None:
    frame = combined("ws_agg_trade.ccxt.json", "btcusdt@aggTrade").encode()
    with pytest.raises(MalformedFrame):
        adapter.parse(frame, RECV)


SAMPLES = [
    ("ws_diff_depth_update.doc.json", "btcusdt@depth@100ms"),
    ("ws_depth20_update.ccxt.json", "btcusdt@depth"),
    ("ws_book_ticker.ccxt.json", "btcusdt@bookTicker"),
    ("ws_book_ticker.doc.json", "bnbusdt@bookTicker"),
    ("ws_agg_trade.ccxt.json", "btcusdt@aggTrade"),
    ("ws_agg_trade.doc.json", "btcusdt@aggTrade"),
    ("ws_mark_price_update.ccxt.json", "btcusdt@markPrice@1s"),
    ("ws_mark_price_update.doc.json", "btcusdt@markPrice@1s"),
]


@pytest.mark.parametrize(("name", "stream"), SAMPLES)
def test_every_truncation_raises_only_parse_error(
    adapter: AsterAdapter, combined: Any, name: str, stream: str
) -> None:
    frame = combined(name, stream)
    assert adapter.parse(frame, RECV)
    for cut in range(len(frame)):
        with pytest.raises(ParseError):
            adapter.parse(frame[:cut], RECV)


_WRONG_VALUES: list[Any] = [None, True, False, [], {}, "", "x", -1, 1.5, 10**30, [[1, 2]], "1e999"]


@pytest.mark.parametrize(("name", "stream"), SAMPLES)
def test_wrong_typed_fields_raise_only_parse_error(
    adapter: AsterAdapter, load: Any, name: str, stream: str
) -> None:
    payload = load(name)
    for key in payload:
        for value in _WRONG_VALUES:
            data = {**payload, key: value}
            for frame in (json.dumps({"stream": stream, "data": data}), json.dumps(data)):
                with contextlib.suppress(ParseError):
                    adapter.parse(frame, RECV)


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(max_size=200))
def test_random_text_raises_only_parse_error(text: str) -> None:
    from venuefeed.core.adapter import VenueContext

    a = AsterAdapter(
        VenueContext(
            name="aster",
            symbols=("BTC",),
            ws_url="wss://x/ws",
            rest_url="https://x",
        )
    )
    a.resolve("BTC")
    with contextlib.suppress(ParseError):
        a.parse(text, RECV)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, database=None)
@given(
    kind=st.sampled_from(["depthUpdate", "bookTicker", "aggTrade", "markPriceUpdate", "other"]),
    fields=st.dictionaries(
        st.sampled_from(["s", "U", "u", "pu", "b", "a", "B", "A", "p", "q", "m", "r", "T", "E"]),
        _JSON,
    ),
    wrapped=st.booleans(),
)
def test_random_payloads_raise_only_parse_error(
    kind: str, fields: dict[str, Any], wrapped: bool
) -> None:
    from venuefeed.core.adapter import VenueContext

    a = AsterAdapter(
        VenueContext(name="aster", symbols=("BTC",), ws_url="wss://x", rest_url="https://x")
    )
    a.resolve("BTC")
    data = {"e": kind, **fields}
    frame = json.dumps({"stream": "x", "data": data} if wrapped else data)
    with contextlib.suppress(ParseError):
        a.parse(frame, RECV)

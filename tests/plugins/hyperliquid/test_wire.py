"""Websocket frame parsing: recorded samples, frames built from the docs, and garbage."""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from venuefeed.core.adapter import Ack, BookSnapshot, Pong, VenueContext, VenueNotice
from venuefeed.core.errors import MalformedFrame, ParseError, UnknownFrame
from venuefeed.core.events import Bbo, Funding, Mark, Trade
from venuefeed.plugins.hyperliquid.adapter import HyperliquidAdapter

HOUR = 3_600_000
RECV = 1_790_232_238_000  # 2026-09-24T06:43:58Z, inside the hour starting 1_790_229_600_000
NEXT_HOUR = 1_790_233_200_000


def frame(channel: str, data: Any) -> str:
    return json.dumps({"channel": channel, "data": data})


# -- control frames ----------------------------------------------------------------------


def test_greeting_is_an_ack_not_an_error(adapter: HyperliquidAdapter) -> None:
    assert adapter.parse("Websocket connection established.", RECV) == (
        Ack("Websocket connection established."),
    )


def test_pong_sample(adapter: HyperliquidAdapter, frame_text: Callable[[str], str]) -> None:
    assert adapter.parse(frame_text("ws_pong.doc.json"), RECV) == (Pong(),)


def test_subscription_response_sample(
    adapter: HyperliquidAdapter, frame_text: Callable[[str], str]
) -> None:
    out = adapter.parse(frame_text("ws_subscription_response.doc.json"), RECV)
    assert out == (Ack("subscribe trades SOL", subscribed=True),)


def test_unsubscribe_ack_sample(
    adapter: HyperliquidAdapter, frame_text: Callable[[str], str]
) -> None:
    out = adapter.parse(frame_text("ws_unsubscribe_ack.ccxt.json"), RECV)
    assert out == (Ack("unsubscribe l2Book BTC"),)


def test_heartbeat_round_trip(adapter: HyperliquidAdapter) -> None:
    assert type(adapter).heartbeat.ping == {"method": "ping"}
    assert adapter.parse('{"channel":"pong"}', RECV) == (Pong(),)


# -- error frames ------------------------------------------------------------------------


def test_error_sample_is_a_non_fatal_notice(
    adapter: HyperliquidAdapter, frame_text: Callable[[str], str]
) -> None:
    # The ccxt sample quotes a request that names no coin of ours: nothing to blame.
    out = adapter.parse(frame_text("ws_error_channel.ccxt.json"), RECV)
    assert out == (
        VenueNotice(
            code="invalid_request",
            message='Error parsing JSON into valid websocket request: { "type": "allMids" }',
            stream=None,
            fatal=False,
        ),
    )


def test_already_subscribed_is_harmless(adapter: HyperliquidAdapter) -> None:
    text = 'Already subscribed: {"type":"l2Book","coin":"SOL","nSigFigs":null,"mantissa":null}'
    assert adapter.parse(frame("error", text), RECV) == (Ack(text),)
    assert adapter.parse(frame("error", "Already unsubscribed: {}"), RECV) == (
        Ack("Already unsubscribed: {}"),
    )


def test_rejected_subscription_is_fatal_for_each_stream_it_feeds(
    adapter: HyperliquidAdapter,
) -> None:
    text = (
        "Error parsing JSON into valid websocket request: "
        '{"method":"subscribe","subscription":{"type":"activeAssetCtx","coin":"ETH","x":[1]}}'
    )
    assert adapter.parse(frame("error", text), RECV) == [
        VenueNotice(code="invalid_request", message=text, stream="funding:ETH", fatal=True),
        VenueNotice(code="invalid_request", message=text, stream="mark:ETH", fatal=True),
    ]


def test_invalid_subscription_names_its_stream(adapter: HyperliquidAdapter) -> None:
    text = 'Invalid subscription {"type":"bbo","coin":"BTC"}'
    assert adapter.parse(frame("error", text), RECV) == [
        VenueNotice(code="invalid_subscription", message=text, stream="bbo:BTC", fatal=True)
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Internal error",
        'Error parsing JSON into valid websocket request: {"method":"ping"',  # cut short
        'Error parsing JSON into valid websocket request: {"method":"unsubscribe",'
        '"subscription":{"type":"trades","coin":"BTC"}}',
        'Invalid subscription {"type":"candle","coin":"BTC"}',
    ],
)
def test_errors_naming_none_of_our_streams_are_not_fatal(
    adapter: HyperliquidAdapter, text: str
) -> None:
    (notice,) = adapter.parse(frame("error", text), RECV)
    assert isinstance(notice, VenueNotice)
    assert (notice.message, notice.stream, notice.fatal) == (text, None, False)
    assert notice.code in {"error", "invalid_request", "invalid_subscription"}


def test_error_with_non_text_data_still_becomes_a_notice(adapter: HyperliquidAdapter) -> None:
    assert adapter.parse(frame("error", {"code": 7}), RECV) == (
        VenueNotice(code="error", message='{"code":7}'),
    )


# -- order book ----------------------------------------------------------------------------


def test_l2book_sample(adapter: HyperliquidAdapter, frame_text: Callable[[str], str]) -> None:
    out = adapter.parse(frame_text("ws_l2book_snapshot.ccxt.json"), RECV)
    assert out == (
        BookSnapshot(
            instrument="BTC",
            bids=[(68674.0, 0.97139)],
            asks=[(68675.0, 0.04396)],
            seq=None,
            ts_venue=1710131872708,
            from_rest=False,
        ),
    )


def test_l2book_real_capture_levels0_are_bids(
    new_adapter: Callable[..., HyperliquidAdapter], rest_body: Callable[[str], Any]
) -> None:
    """The real 20-level capture, in the websocket envelope (WsBook is the same shape)."""
    book = rest_body("rest_l2book_response.sdk_cassette.json")
    adapter = new_adapter(symbols=("DYDX",))
    (snap,) = adapter.parse(frame("l2Book", book), RECV)
    assert isinstance(snap, BookSnapshot)
    assert snap.instrument == "DYDX"
    assert snap.ts_venue == 1689630203930
    assert len(snap.bids) == len(snap.asks) == 20
    assert snap.bids[0] == (2.111, 134.4)
    assert snap.bids[5] == (2.1052, 2800.9)
    assert snap.bids[-1] == (1.81, 2397.0)
    assert snap.asks[0] == (2.1124, 352.3)
    assert snap.asks[-1] == (2.1518, 62.0)
    assert [p for p, _ in snap.bids] == sorted((p for p, _ in snap.bids), reverse=True)
    assert [p for p, _ in snap.asks] == sorted(p for p, _ in snap.asks)
    assert snap.bids[0][0] < snap.asks[0][0]


def test_l2book_of_an_empty_market(adapter: HyperliquidAdapter) -> None:
    out = adapter.parse(frame("l2Book", {"coin": "ETH", "time": 5, "levels": [[], []]}), RECV)
    assert out == (BookSnapshot(instrument="ETH", bids=[], asks=[], ts_venue=5),)


def test_l2book_accepts_numeric_levels(adapter: HyperliquidAdapter) -> None:
    data = {
        "coin": "ETH",
        "time": 1790232237073,
        "levels": [[{"px": 3001.5, "sz": 2, "n": 1}], [{"px": "3002", "sz": "0.25", "n": 4}]],
    }
    out = adapter.parse(frame("l2Book", data), RECV)
    assert out == (
        BookSnapshot(
            instrument="ETH", bids=[(3001.5, 2.0)], asks=[(3002.0, 0.25)], ts_venue=1790232237073
        ),
    )


# -- bbo -----------------------------------------------------------------------------------


def test_bbo_from_the_docs_shape(adapter: HyperliquidAdapter) -> None:
    data = {
        "coin": "ETH",
        "time": 1790232237145,
        "bbo": [{"px": "3012.5", "sz": "7.25", "n": 3}, {"px": "3012.6", "sz": "0.5", "n": 1}],
    }
    assert adapter.parse(frame("bbo", data), RECV) == (
        Bbo(
            venue="hyperliquid",
            symbol="ETH",
            instrument="ETH",
            ts_venue=1790232237145,
            ts_recv=RECV,
            bid_px=3012.5,
            bid_sz=7.25,
            ask_px=3012.6,
            ask_sz=0.5,
        ),
    )


def test_bbo_with_an_empty_side(adapter: HyperliquidAdapter) -> None:
    data = {"coin": "BTC", "time": 42, "bbo": [None, {"px": "84144.0", "sz": "1.5", "n": 2}]}
    (bbo,) = adapter.parse(frame("bbo", data), RECV)
    assert isinstance(bbo, Bbo)
    assert (bbo.bid_px, bbo.bid_sz, bbo.ask_px, bbo.ask_sz) == (None, None, 84144.0, 1.5)
    data = {"coin": "BTC", "time": 43, "bbo": [{"px": "84143.0", "sz": "2.5", "n": 2}, None]}
    (bbo,) = adapter.parse(frame("bbo", data), RECV)
    assert isinstance(bbo, Bbo)
    assert (bbo.bid_px, bbo.bid_sz, bbo.ask_px, bbo.ask_sz) == (84143.0, 2.5, None, None)


def test_events_carry_the_configured_venue_name(
    new_adapter: Callable[..., HyperliquidAdapter],
) -> None:
    a = new_adapter(name="hyperliquid_b")
    data = {"coin": "BTC", "time": 42, "bbo": [None, None]}
    (bbo,) = a.parse(frame("bbo", data), RECV)
    assert isinstance(bbo, Bbo)
    assert bbo.venue == "hyperliquid_b"


# -- trades --------------------------------------------------------------------------------


def test_trades_sample(adapter: HyperliquidAdapter, frame_text: Callable[[str], str]) -> None:
    out = adapter.parse(frame_text("ws_trades.ccxt.json"), RECV)
    assert out == [
        Trade(
            venue="hyperliquid",
            symbol="BTC",
            instrument="BTC",
            ts_venue=1710125266669,
            ts_recv=RECV,
            price=68517.0,
            size=0.005,
            side="sell",
            trade_id="981894269203506",
        )
    ]


def test_trades_both_sides_in_one_frame(adapter: HyperliquidAdapter) -> None:
    data = [
        {
            "coin": "ETH",
            "side": "B",
            "px": "3012.6",
            "sz": "1.25",
            "time": 1790232216193,
            "hash": "0xab",
            "tid": 1045359869404765,
            "users": ["0x1", "0x2"],
        },
        {
            "coin": "ETH",
            "side": "A",
            "px": "3012.4",
            "sz": "0.75",
            "time": 1790232216194,
            "hash": "0xcd",
            "tid": 7,
            "users": ["0x3", "0x4"],
        },
    ]
    out = adapter.parse(frame("trades", data), RECV)
    assert [(t.side, t.price, t.size, t.ts_venue, t.trade_id) for t in out] == [  # type: ignore[union-attr]
        ("buy", 3012.6, 1.25, 1790232216193, "1045359869404765"),
        ("sell", 3012.4, 0.75, 1790232216194, "7"),
    ]


def test_empty_trades_frame(adapter: HyperliquidAdapter) -> None:
    assert list(adapter.parse(frame("trades", []), RECV)) == []


# -- funding and mark ------------------------------------------------------------------------


def test_active_asset_ctx_sample(
    adapter: HyperliquidAdapter, frame_text: Callable[[str], str]
) -> None:
    out = adapter.parse(frame_text("ws_active_asset_ctx_funding_mark.ccxt.json"), RECV)
    assert out == (
        Mark(
            venue="hyperliquid",
            symbol="BTC",
            instrument="BTC",
            ts_venue=None,
            ts_recv=RECV,
            mark_px=14.3161,
            index_px=14.32,
        ),
        Funding(
            venue="hyperliquid",
            symbol="BTC",
            instrument="BTC",
            ts_venue=None,
            ts_recv=RECV,
            rate=0.0000125,
            interval_h=1.0,
            rate_per_hour=0.0000125,
            next_funding_ms=NEXT_HOUR,
            basis="predicted",
            source="ws",
            feed="activeAssetCtx",
        ),
    )


def ctx_frame(coin: str, funding: str, mark: str = "84148.0", oracle: str = "84198.0") -> str:
    ctx = {
        "funding": funding,
        "openInterest": "36585.31848",
        "prevDayPx": "86627.0",
        "dayNtlVlm": "4161029539.6949653625",
        "premium": "-0.0006413454",
        "oraclePx": oracle,
        "markPx": mark,
        "midPx": "84143.5",
        "impactPxs": ["84143.0", "84144.0"],
        "dayBaseVlm": "49116.08533",
    }
    return frame("activeAssetCtx", {"coin": coin, "ctx": ctx})


def test_negative_funding_and_distinct_mark_and_index(adapter: HyperliquidAdapter) -> None:
    mark, funding = adapter.parse(ctx_frame("ETH", "-0.0000018952", "3011.9", "3010.2"), RECV)
    assert isinstance(mark, Mark) and isinstance(funding, Funding)
    assert (mark.mark_px, mark.index_px) == (3011.9, 3010.2)
    assert (funding.rate, funding.rate_per_hour, funding.interval_h) == (
        -0.0000018952,
        -0.0000018952,
        1.0,
    )


def test_funding_is_published_only_when_it_changes(adapter: HyperliquidAdapter) -> None:
    first = adapter.parse(ctx_frame("BTC", "0.0000125"), RECV)
    assert [type(e) for e in first] == [Mark, Funding]
    # the same rate a second later: the mark still flows, the funding does not repeat
    again = adapter.parse(ctx_frame("BTC", "0.0000125", mark="84149.0"), RECV + 1000)
    assert [type(e) for e in again] == [Mark]
    assert again[0].mark_px == 84149.0  # type: ignore[union-attr]
    # another coin has its own memory
    assert [type(e) for e in adapter.parse(ctx_frame("ETH", "0.0000125"), RECV)] == [
        Mark,
        Funding,
    ]
    # a new rate is published
    changed = adapter.parse(ctx_frame("BTC", "0.0000130"), RECV + 2000)
    assert [type(e) for e in changed] == [Mark, Funding]
    assert changed[1].rate == 0.0000130  # type: ignore[union-attr]
    # the same rate once the hour turns is a new funding period: published again
    later = adapter.parse(ctx_frame("BTC", "0.0000130"), NEXT_HOUR + 5)
    assert [type(e) for e in later] == [Mark, Funding]
    assert later[1].next_funding_ms == NEXT_HOUR + HOUR  # type: ignore[union-attr]


def test_next_funding_matches_the_documented_hlperp_next_time(
    new_adapter: Callable[..., HyperliquidAdapter], rest_body: Callable[[str], Any]
) -> None:
    """The docs' predictedFundings example gives HlPerp's next funding on a whole hour."""
    (coin, venues) = rest_body("rest_predicted_fundings_response.doc.json")[0]
    hl = dict(venues)["HlPerp"]
    next_time = hl["nextFundingTime"]
    assert coin == "AVAX" and next_time % HOUR == 0
    for recv in (next_time - HOUR, next_time - 1, next_time - HOUR // 2):
        _, funding = new_adapter().parse(ctx_frame("BTC", hl["fundingRate"]), recv)
        assert isinstance(funding, Funding)
        assert funding.next_funding_ms == next_time
        assert funding.rate_per_hour == 0.0000125
    _, funding = new_adapter().parse(ctx_frame("BTC", "0.0000125"), next_time)
    assert funding.next_funding_ms == next_time + HOUR  # type: ignore[union-attr]


def test_next_funding_matches_real_hourly_settlements(
    adapter: HyperliquidAdapter, rest_body: Callable[[str], Any]
) -> None:
    """In the real fundingHistory capture, each hourly settlement lands where we predict."""
    times = [row["time"] for row in rest_body("rest_funding_history_response.sdk_cassette.json")]
    hourly = [(a, b) for a, b in itertools.pairwise(times) if b - a < HOUR + 60_000]
    assert len(hourly) > 900
    for i, (a, b) in enumerate(hourly):
        _, funding = adapter.parse(ctx_frame("BTC", f"0.00001{i:06d}"), a)
        assert isinstance(funding, Funding)
        assert funding.next_funding_ms == b - b % HOUR
        assert b % HOUR < 10_000  # stamped within seconds after the hour


# -- garbage -------------------------------------------------------------------------------


def fresh_adapter() -> HyperliquidAdapter:
    """For hypothesis tests, which cannot take function-scoped fixtures; parse needs no meta."""
    ctx = VenueContext(name="hyperliquid", symbols=(), ws_url="wss://x/ws", rest_url="https://x")
    return HyperliquidAdapter(ctx)


def parse_or_parse_error(adapter: HyperliquidAdapter, data: str | bytes) -> None:
    """Either results or a ParseError; anything else escaping parse() is a bug."""
    with contextlib.suppress(ParseError):
        adapter.parse(data, RECV)


@pytest.mark.parametrize(
    "data",
    [
        "",
        " ",
        "{",
        "null",
        "42",
        '"text"',
        "[]",
        "[1, 2]",
        "Websocket connection established",  # greeting without its full stop
        '{"channel": 5}',
        '{"channel": ["l2Book"]}',
        '{"channel": "l2Book"}',
        '{"channel": "l2Book", "data": "x"}',
        '{"channel": "l2Book", "data": {"coin": "BTC", "time": 1, "levels": [[]]}}',
        '{"channel": "l2Book", "data": {"coin": "BTC", "time": 1, "levels": [[], [], []]}}',
        '{"channel": "l2Book", "data": {"coin": "BTC", "time": "t", "levels": [[], []]}}',
        '{"channel": "l2Book", "data": {"coin": 7, "time": 1, "levels": [[], []]}}',
        '{"channel": "l2Book", "data": {"coin": "BTC", "time": 1.5, "levels": [[], []]}}',
        '{"channel": "l2Book", "data": {"coin": "BTC", "time": 1,'
        ' "levels": [[{"px": "abc", "sz": "1"}], []]}}',
        '{"channel": "l2Book", "data": {"coin": "BTC", "time": 1,'
        ' "levels": [[{"px": "nan", "sz": "1"}], []]}}',
        '{"channel": "l2Book", "data": {"coin": "BTC", "time": 1,'
        ' "levels": [[{"px": "inf", "sz": "1"}], []]}}',
        '{"channel": "l2Book", "data": {"coin": "BTC", "time": 1,'
        ' "levels": [[{"px": "-1", "sz": "1"}], []]}}',
        '{"channel": "l2Book", "data": {"coin": "BTC", "time": 1,'
        ' "levels": [[{"px": "1", "sz": "-1"}], []]}}',
        '{"channel": "l2Book", "data": {"coin": "BTC", "time": 1,'
        ' "levels": [[{"px": "1e999", "sz": "1"}], []]}}',
        '{"channel": "l2Book", "data": {"coin": "BTC", "time": 1, "levels": [[{"px": "1"}], []]}}',
        '{"channel": "bbo", "data": {"coin": "BTC", "time": 1, "bbo": [null]}}',
        '{"channel": "bbo", "data": {"coin": "BTC", "time": 1, "bbo": "none"}}',
        '{"channel": "trades", "data": {}}',
        '{"channel": "trades", "data": [{"coin": "BTC", "side": "X", "px": "1", "sz": "1",'
        ' "time": 1, "tid": 1}]}',
        '{"channel": "trades", "data": [{"coin": "BTC", "side": "B", "px": "1", "sz": "1",'
        ' "time": 1}]}',
        '{"channel": "activeAssetCtx", "data": {"coin": "BTC", "ctx": {}}}',
        '{"channel": "activeAssetCtx", "data": {"coin": "BTC", "ctx": {"funding": "x",'
        ' "markPx": "1", "oraclePx": "1"}}}',
        '{"channel": "activeAssetCtx", "data": {"coin": "BTC", "ctx": {"funding": "5",'
        ' "markPx": "1", "oraclePx": "1"}}}',
        '{"channel": "activeAssetCtx", "data": null}',
    ],
)
def test_bad_frames_raise_malformed(adapter: HyperliquidAdapter, data: str) -> None:
    with pytest.raises(MalformedFrame):
        adapter.parse(data, RECV)


@pytest.mark.parametrize(
    "data",
    [
        '{"channel": "post", "data": {"id": 1, "response": {}}}',
        '{"channel": "activeSpotAssetCtx", "data": {"coin": "PURR/USDC", "ctx": {}}}',
        '{"channel": "allMids", "data": {"mids": {"BTC": "1"}}}',
        '{"method": "ping"}',
        "{}",
    ],
)
def test_well_formed_but_unknown_frames(adapter: HyperliquidAdapter, data: str) -> None:
    with pytest.raises(UnknownFrame):
        adapter.parse(data, RECV)


@pytest.mark.parametrize(
    "data", [b'{"channel":"pong"}', b"Websocket connection established.", b"\x00\xff", b""]
)
def test_binary_frames_are_malformed(adapter: HyperliquidAdapter, data: bytes) -> None:
    with pytest.raises(MalformedFrame):
        adapter.parse(data, RECV)


SAMPLES = [
    "ws_active_asset_ctx_funding_mark.ccxt.json",
    "ws_error_channel.ccxt.json",
    "ws_l2book_snapshot.ccxt.json",
    "ws_pong.doc.json",
    "ws_subscription_response.doc.json",
    "ws_trades.ccxt.json",
    "ws_unsubscribe_ack.ccxt.json",
]


@pytest.mark.parametrize("name", SAMPLES)
def test_every_truncation_of_a_sample_is_a_parse_error(
    adapter: HyperliquidAdapter, frame_text: Callable[[str], str], name: str
) -> None:
    text = frame_text(name).rstrip()
    for cut in range(len(text)):
        with pytest.raises(ParseError):
            adapter.parse(text[:cut], RECV)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    channel=st.sampled_from(
        ["l2Book", "bbo", "trades", "activeAssetCtx", "pong", "error", "subscriptionResponse"]
    ),
    data=json_values,
)
def test_any_json_under_a_known_channel_never_escapes_as_another_error(
    channel: str, data: Any
) -> None:
    a = fresh_adapter()
    parse_or_parse_error(a, json.dumps({"channel": channel, "data": data}))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40) | st.binary(max_size=40))
def test_arbitrary_text_and_bytes_never_escape_as_another_error(data: str | bytes) -> None:
    a = fresh_adapter()
    parse_or_parse_error(a, data)

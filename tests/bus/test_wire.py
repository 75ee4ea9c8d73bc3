"""Subjects, payloads and message ids on the bus: pure functions."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from venuefeed.bus.url import parse_nats_url
from venuefeed.bus.wire import (
    ALL_KINDS,
    HISTORY_KINDS,
    STATE_KINDS,
    decode,
    encode,
    message_id,
    subject,
    token,
    untoken,
)
from venuefeed.core.errors import ConfigError
from venuefeed.core.events import Bbo, Book, Event, Funding, Gap, Mark, Status, Trade
from venuefeed.sinks.spec import parse_sink

BASE = {"venue": "aster", "symbol": "BTC", "instrument": "BTCUSDT", "ts_recv": 5}
EVENTS: list[Event] = [
    Book(**BASE, ts_venue=4, bids=[(1.0, 2.0)], asks=[(3.0, 4.0)], seq=9),
    Bbo(**BASE, bid_px=1.0, bid_sz=2.0, ask_px=None, ask_sz=None),
    Trade(**BASE, price=1.5, size=0.1, side="sell", trade_id="77"),
    Funding(**BASE, rate=1e-4, interval_h=8, rate_per_hour=1.25e-5, next_funding_ms=9),
    Mark(**BASE, mark_px=1.0),
    Status(**{**BASE, "symbol": "*", "instrument": "*"}, stream="ws:main", state="live"),
    Gap(**BASE, reason="bus_unreachable", lost_kind="trade", count=3, from_ms=1, to_ms=2),
]


def test_kinds_split_by_the_events_own_state_flag():
    kinds = {type(e).kind: type(e).is_state for e in EVENTS}
    assert set(kinds) == set(ALL_KINDS)
    assert {k for k, state in kinds.items() if state} == set(STATE_KINDS)
    assert {k for k, state in kinds.items() if not state} == set(HISTORY_KINDS)


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.kind)
def test_payload_decodes_to_the_same_typed_event(event: Event):
    assert decode(encode(event)) == event
    assert type(decode(encode(event))) is type(event)


def test_subjects_are_prefix_kind_venue_symbol_and_safe():
    assert subject("venuefeed", EVENTS[2]) == "venuefeed.trade.aster.BTC"
    assert subject("vf", EVENTS[5]) == "vf.status.aster.~2A"
    assert token("BTC.X >") == "BTC~2EX~20~3E"
    assert token("") == "~"


@given(st.text())
def test_tokens_are_one_subject_token_and_reversible(text: str):
    tok = token(text)
    assert tok and not any(c in tok for c in ".*> \t\r\n")
    assert untoken(tok) == text


def test_trade_ids_are_the_venues_identity_and_equal_from_two_engines():
    trade = EVENTS[2]
    assert isinstance(trade, Trade)
    assert message_id(trade, "engine-a", 1) == message_id(trade, "engine-b", 99)
    assert message_id(trade, "a", 1) == "t:aster:BTCUSDT:77"


def test_funding_with_venue_time_is_shared_without_it_engine_specific():
    timed = Funding(**{**BASE, "ts_venue": 1000}, rate=1e-4, interval_h=8, rate_per_hour=1e-5)
    untimed = EVENTS[3]
    assert message_id(timed, "a", 1) == message_id(timed, "b", 2)
    assert message_id(untimed, "a", 1) != message_id(untimed, "b", 1)


def test_funding_of_two_feeds_or_bases_at_one_time_are_two_facts():
    """Issue 10: one venue publishes several funding series (websocket and REST, predicted
    and settled); the bus must not drop one as the other's duplicate."""
    timed: dict[str, Any] = {**BASE, "ts_venue": 1000, "rate": 1e-4, "interval_h": 1}
    ws = Funding(**timed, rate_per_hour=1e-4, feed="market_stats")
    rest = Funding(**timed, rate_per_hour=1e-4, feed="funding-rates", source="rest")
    settled = Funding(**timed, rate_per_hour=1e-4, feed="market_stats", basis="settled")
    ids = {message_id(e, "a", 1) for e in (ws, rest, settled)}
    assert len(ids) == 3
    assert message_id(ws, "a", 1) == "f:aster:BTCUSDT:market_stats:predicted:1000"


def test_status_and_gap_are_engine_specific_and_state_has_no_id():
    for event in (EVENTS[5], EVENTS[6]):
        assert message_id(event, "a", 1) != message_id(event, "b", 1)
        assert message_id(event, "a", 1) == message_id(event, "a", 1)  # a retry: same id
    for event in [*EVENTS[:2], EVENTS[4]]:
        assert message_id(event, "a", 1) is None


def test_nats_urls():
    assert parse_nats_url("nats://127.0.0.1:4333") == "nats://127.0.0.1:4333"
    assert parse_nats_url("nats://localhost") == "nats://localhost:4222"
    assert parse_nats_url("tls://[::1]:1") == "tls://[::1]:1"
    cluster = "nats://127.0.0.1:1, nats://localhost,nats://127.0.0.1:3"
    assert parse_nats_url(cluster) == "nats://127.0.0.1:1,nats://localhost:4222,nats://127.0.0.1:3"
    assert parse_sink("nats://h:1").kind == "nats" and parse_sink("jsonl:-").target == "-"


@pytest.mark.parametrize(
    "url",
    [
        "http://h:1",
        "nats://",
        "nats://h:99999",
        "nats://h:1/x",
        "nats://u:hunter2@h:1",
        "nats://h:1,nats://u:hunter2@h:2",
        "nats://h:1,nats://h:1",
        "nats://h:1,tls://h:2",
        "nats://h:1,",
    ],
)
def test_bad_urls_are_one_line_and_never_echo_a_password(url: str):
    with pytest.raises(ConfigError) as info:
        parse_sink(url)
    assert "hunter2" not in str(info.value) and "\n" not in str(info.value)

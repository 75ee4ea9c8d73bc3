"""Connection-level faults: accept-then-drop, bad frames, huge frames, refused handshakes,
heartbeats, book gaps, rejected subscriptions, the breaker and unknown symbols; each on
both websocket clients (`ws_client`: picows, the default, and aiohttp)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from venuefeed.core.engine import Engine
from venuefeed.core.events import Book, Status


@pytest.fixture(params=["picows", "aiohttp"])
def engine_for(
    request: pytest.FixtureRequest, engine_for: Callable[..., Engine]
) -> Callable[..., Engine]:
    def build(base: str, **kwargs: Any) -> Engine:
        return engine_for(base, ws_client=request.param, **kwargs)

    return build


def status(state: str, venue: str = "fakex"):
    return lambda e: isinstance(e, Status) and e.state == state and e.venue == venue


def book(instrument: str | None = None):
    return lambda e: isinstance(e, Book) and (instrument is None or e.instrument == instrument)


async def test_accept_then_drop_backs_off_instead_of_looping(fake_venue, engine_for, next_matching):
    venue, base = fake_venue
    venue.drop_after_accept = 1_000
    async with engine_for(base) as engine:
        sub = engine.events()
        delays = [(await next_matching(sub, status("backoff"))).delay_s for _ in range(6)]
    assert delays == [0.05, 0.1, 0.2, 0.4, 0.4, 0.4]
    # the handshake succeeded every time, yet the counter never reset (no data was delivered)
    assert 6 <= venue.connections <= 7


async def test_malformed_binary_and_unknown_frames_are_counted_and_connection_kept(
    fake_venue, engine_for, next_matching, caplog
):
    venue, base = fake_venue
    async with engine_for(base) as engine:
        sub = engine.events()
        await next_matching(sub, book())
        await venue.send("this is not json {")
        await venue.send(b"\x00\xff\x10binary")
        await venue.send({"t": "mystery"})
        await venue.send('{"t": "trade", "s": "BTC-PERP", "px": "NaN?"}')
        metrics = engine.metrics
        async with asyncio.timeout(5):
            while metrics.value("parse_errors", venue="fakex") < 4:
                await next_matching(sub, book())
        assert metrics.value("parse_errors", kind="MalformedFrame") == 3
        assert metrics.value("parse_errors", kind="UnknownFrame") == 1
        await next_matching(sub, book())
        assert venue.connections == 1
        # logged once per kind and window: the later malformed frames were folded, not spammed
        assert caplog.text.count("MalformedFrame:") == 1
        assert caplog.text.count("UnknownFrame:") == 1


async def test_oversized_frame_is_an_error_and_a_reconnect(fake_venue, engine_for, next_matching):
    venue, base = fake_venue
    async with engine_for(base, max_frame_bytes=4096) as engine:
        sub = engine.events()
        await next_matching(sub, book())
        await venue.send("x" * 10_000)
        backoff = await next_matching(sub, status("backoff"))
        assert "FrameTooLargeError" in backoff.reason or "larger than" in backoff.reason
        await next_matching(sub, status("recovered"))
        assert engine.metrics.value("frames_too_large", venue="fakex") == 1
        assert venue.connections == 2


async def test_refused_handshake_honours_retry_after(fake_venue, engine_for, next_matching):
    venue, base = fake_venue
    venue.refuse = [(429, {"Retry-After": "0.3"}), (503, {})]
    async with engine_for(base) as engine:
        sub = engine.events()
        first = await next_matching(sub, status("backoff"))
        assert "HTTP 429" in first.reason and first.delay_s == 0.3
        second = await next_matching(sub, status("backoff"))
        assert "HTTP 503" in second.reason and second.delay_s == 0.1
        await next_matching(sub, status("live"))


async def test_app_heartbeats_are_sent_and_venue_pings_answered(
    fake_venue, engine_for, next_matching
):
    venue, base = fake_venue
    async with engine_for(base) as engine:
        sub = engine.events()
        await next_matching(sub, book())
        await venue.send({"t": "ping"})
        async with asyncio.timeout(5):
            while {"op": "pong"} not in venue.received or {"op": "ping"} not in venue.received:
                await next_matching(sub, book())
        async with asyncio.timeout(5):
            while engine.metrics.value("pongs", venue="fakex") < 1:
                await next_matching(sub, book())


async def test_pongs_do_not_count_as_data(fake_venue, engine_for, next_matching):
    venue, base = fake_venue
    async with engine_for(base) as engine:
        sub = engine.events()
        await next_matching(sub, book())
        venue.pumping.clear()  # heartbeats still answered every 0.1s, no market data
        await next_matching(sub, status("stale"))
        assert engine.metrics.value("pongs", venue="fakex") >= 1


async def test_gap_resyncs_one_instrument_only(fake_venue, engine_for, next_matching):
    venue, base = fake_venue
    async with engine_for(base) as engine:
        sub = engine.events()
        await next_matching(sub, book("BTC-PERP"))
        venue.skip("BTC-PERP")
        resync = await next_matching(sub, status("resync"))
        assert resync.stream == "book:BTC-PERP" and resync.symbol == "BTC"
        assert "gap" in resync.reason and "resubscribe" in resync.reason
        await next_matching(sub, book("ETH-PERP"))
        fresh = await next_matching(sub, book("BTC-PERP"))
        assert fresh.asks == [(101.0, 1.5), (102.0, 3.0)]
        assert {"op": "resub", "sym": "BTC-PERP"} in venue.received
        assert venue.connections == 1  # the connection and ETH were not interrupted
        assert engine.metrics.value("book_resyncs", venue="fakex") == 1


async def test_rejected_subscription_is_an_error_not_a_hang(fake_venue, engine_for, next_matching):
    venue, base = fake_venue
    async with engine_for(base) as engine:
        sub = engine.events()
        await next_matching(sub, book())
        notice = {"t": "err", "code": 30005, "msg": "Invalid channel", "stream": "book:ETH-PERP"}
        await venue.send({**notice, "fatal": True})
        error = await next_matching(sub, status("error"))
        assert error.stream == "book:ETH-PERP" and "30005 Invalid channel" in error.reason
        assert engine.metrics.value("venue_errors", code="30005") == 1


async def test_breaker_opens_then_half_opens(fake_venue, engine_for, next_matching):
    venue, base = fake_venue
    venue.drop_after_accept = 3
    async with engine_for(base, breaker_failures=3, breaker_cooldown_s=0.2) as engine:
        sub = engine.events()
        opened = await next_matching(sub, status("breaker_open"))
        assert opened.delay_s is not None and 0 < opened.delay_s <= 0.2
        await next_matching(sub, status("breaker_half_open"))
        await next_matching(sub, status("live"))


async def test_unknown_symbol_is_an_error_for_that_symbol_only(
    fake_venue, engine_for, next_matching
):
    _venue, base = fake_venue
    engine = engine_for(base)
    object.__setattr__(engine.adapters["fakex"].ctx, "symbols", ("BTC", "DOGE"))
    async with engine:
        sub = engine.events()
        error = await next_matching(sub, status("error"))
        assert error.symbol == "DOGE" and "unknown symbol 'DOGE'" in error.reason
        assert "BTC, ETH" in error.reason
        await next_matching(sub, book("BTC-PERP"))

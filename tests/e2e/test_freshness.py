"""Freshness, the watchdog and the stable reset, pinned down tightly enough that a
mutation of any of them fails a test (issue 9's survivors)."""

from __future__ import annotations

import asyncio

from venuefeed.core.events import Book, Event, Status


def status(state: str, stream: str | None = None):
    return lambda e: (
        isinstance(e, Status) and e.state == state and (stream is None or e.stream == stream)
    )


def book():
    return lambda e: isinstance(e, Book)


async def test_backoff_is_not_reset_before_the_stable_window(fake_venue, engine_for, next_matching):
    """Sessions that deliver data but die before stable_after_s keep the backoff growing."""
    venue, base = fake_venue
    async with engine_for(base, stable_after_s=5.0) as engine:
        sub = engine.events()
        delays = []
        for _ in range(3):
            await next_matching(sub, book())  # data flowed in this session
            await venue.drop()  # ...and it died well inside the stable window
            delays.append((await next_matching(sub, status("backoff"))).delay_s)
    assert delays == [0.05, 0.1, 0.2]


async def test_a_stable_session_clears_the_breakers_failures(fake_venue, engine_for, next_matching):
    """2 failures, a stable session, 2 more failures: with breaker_failures=3 the breaker
    stays closed only if the stable session cleared the first two."""
    venue, base = fake_venue
    venue.drop_after_accept = 2
    async with engine_for(
        base, breaker_failures=3, breaker_window_s=60.0, stable_after_s=0.2
    ) as engine:
        sub = engine.events()
        seen: list[Event] = []
        await next_matching(sub, status("live"), log=seen)
        async with asyncio.timeout(5):
            while attempts(engine):  # the stable window passed
                await next_matching(sub, book(), log=seen)
        venue.drop_after_accept = 1
        await venue.drop()  # failure 1 after the reset ...
        await next_matching(sub, status("backoff"), log=seen)
        await next_matching(sub, status("backoff"), log=seen)  # ... and 2 (dropped on accept)
        await next_matching(sub, status("live"), log=seen)
    assert not [e for e in seen if isinstance(e, Status) and e.state == "breaker_open"]


async def test_stale_is_reported_once_per_stream_and_promptly(
    fake_venue, engine_for, next_matching
):
    venue, base = fake_venue
    async with engine_for(base, stale_after_s=0.3) as engine:
        sub = engine.events()
        await next_matching(sub, book())
        loop = asyncio.get_running_loop()
        venue.pumping.clear()
        stopped = loop.time()
        seen: list[Event] = []
        first = await next_matching(sub, status("stale"), log=seen)
        noticed = loop.time() - stopped
        await next_matching(sub, status("backoff"), log=seen)
        venue.pumping.set()
    stale = [e.stream for e in [*seen] if isinstance(e, Status) and e.state == "stale"]
    # each once, not twice; a book whose last frame was still in flight when the pump
    # stopped may be fresh still when the first stale one ends the session (a loaded
    # machine), so the other book need not be reported
    assert len(stale) == len(set(stale)) and set(stale) <= {"book:BTC-PERP", "book:ETH-PERP"}
    assert stale, seen
    assert first.reason == "no market data for 0.3s"
    # never early; the exact deadline is pinned with a fake clock in tests/core
    assert 0.25 <= noticed < 1.5, noticed


async def test_every_watched_kind_is_kept_fresh_by_its_own_data(
    fake_venue, engine_for, next_matching
):
    """Trades watched (not quiet): a steady trickle keeps the trade streams fresh."""
    venue, base = fake_venue
    async with engine_for(base, options={"quiet_trades": False}, stale_after_s=0.3) as engine:
        sub = engine.events()
        await next_matching(sub, status("live"))
        seen: list[Event] = []
        for _ in range(15):  # 1.5 s, five stale periods
            for sym in ("BTC-PERP", "ETH-PERP"):
                await venue.trade(sym)
            await asyncio.sleep(0.1)
            while (event := sub.get_nowait()) is not None:
                seen.append(event)
        assert not [e for e in seen if isinstance(e, Status) and e.state == "stale"]
        assert venue.connections == 1
        venue_trades_stop = asyncio.get_running_loop().time()
        stale = await next_matching(sub, status("stale"))
        assert stale.stream.startswith("trade:")
        assert asyncio.get_running_loop().time() - venue_trades_stop < 1.0


def attempts(engine) -> int:
    """The fakex connection's retry attempt count, from the health read model."""
    return engine.health()["fakex"].connections[0].backoff_attempt

"""Every trade exactly once across replays and reconnects, outages backfilled (or declared
as gaps), and books from REST while the socket is down (issue 10)."""

from __future__ import annotations

import asyncio

from venuefeed.core.events import Book, Event, Gap, Status, Trade


def status(state: str, stream: str | None = None):
    return lambda e: (
        isinstance(e, Status) and e.state == state and (stream is None or e.stream == stream)
    )


def trade(trade_id: str):
    return lambda e: isinstance(e, Trade) and e.trade_id == trade_id


def trades_in(seen: list[Event]) -> list[str]:
    return [e.trade_id for e in seen if isinstance(e, Trade)]


async def test_a_replayed_trade_is_published_once(fake_venue, engine_for, next_matching):
    venue, base = fake_venue
    async with engine_for(base) as engine:
        sub = engine.events()
        await next_matching(sub, status("live"))
        first = venue.make_trade()
        await venue.trade(resend=first)
        await venue.trade(resend=first)  # the venue says it again (a replay)
        last = await venue.trade()
        seen: list[Event] = []
        await next_matching(sub, trade(last), log=seen)
        assert trades_in(seen) == [str(first["id"]), last]
        assert engine.metrics.value("trades_duplicate", venue="fakex") == 1


async def test_an_outage_is_backfilled_before_newer_trades(fake_venue, engine_for, next_matching):
    """Trades 1-2 live; 3-5 happen while the socket is down; after the reconnect the
    venue's first live trade (6) waits until 3-5 came from REST, in order, each once."""
    venue, base = fake_venue
    async with engine_for(base, options={"backfill": True}) as engine:
        sub = engine.events()
        await next_matching(sub, status("live"))
        for _ in range(2):
            await venue.trade()
        await next_matching(sub, trade("2"))
        await venue.drop()
        missed = [venue.make_trade() for _ in range(3)]  # never sent over the socket
        await next_matching(sub, status("recovered"))
        live = await venue.trade()
        seen: list[Event] = []
        filled = await next_matching(sub, status("backfilled", "trade:BTC-PERP"), log=seen)
        other = await next_matching(sub, status("backfilled", "trade:ETH-PERP"), log=seen)
        later = await venue.trade()
        await next_matching(sub, trade(later), log=seen)
    # the outage's trades from REST, in order, then the live one (REST may have had it
    # first: either way once), then later trades
    assert trades_in(seen) == ["3", "4", "5", live, later]
    assert all(e.source == "rest" for e in seen if isinstance(e, Trade) and e.trade_id < live)
    assert "complete" in filled.reason and "complete" in other.reason
    assert not [e for e in seen if isinstance(e, Gap)]
    assert len(missed) == 3


async def test_a_backfill_that_cannot_reach_back_says_so_with_a_gap(
    fake_venue, engine_for, next_matching
):
    venue, base = fake_venue
    async with engine_for(base, options={"backfill": True}) as engine:
        sub = engine.events()
        await next_matching(sub, status("live"))
        await venue.trade()
        await next_matching(sub, trade("1"))
        await venue.drop()
        venue.make_trade()
        venue.trade_log.clear()  # the venue's window no longer reaches back to trade 1
        venue.make_trade()
        seen: list[Event] = []
        await next_matching(sub, status("backfilled", "trade:BTC-PERP"), log=seen)
        await next_matching(sub, status("backfilled", "trade:ETH-PERP"), log=seen)
    gaps = [e for e in seen if isinstance(e, Gap)]
    assert len(gaps) == 1 and gaps[0].reason == "outage" and gaps[0].first_id == "1"
    assert gaps[0].instrument == "BTC-PERP" and gaps[0].count is None
    assert trades_in(seen) == ["3"]


async def test_a_venue_without_a_trades_endpoint_gets_a_gap_for_each_outage(
    fake_venue, engine_for, next_matching
):
    venue, base = fake_venue
    async with engine_for(base) as engine:  # no backfill option: no endpoint
        sub = engine.events()
        await next_matching(sub, status("live"))
        await venue.trade()
        await next_matching(sub, trade("1"))
        await venue.drop()
        recovered = await next_matching(sub, status("recovered"))
        gaps = [
            await next_matching(sub, lambda e: isinstance(e, Gap)),
            await next_matching(sub, lambda e: isinstance(e, Gap)),
        ]
    assert {g.instrument for g in gaps} == {"BTC-PERP", "ETH-PERP"}
    assert all(g.reason == "outage" and g.lost_kind == "trade" for g in gaps)
    assert all(g.to_ms >= recovered.gap_start_ms for g in gaps)  # type: ignore[operator]


async def test_books_come_from_rest_while_the_socket_is_refused(
    fake_venue, engine_for, next_matching
):
    venue, base = fake_venue
    async with engine_for(
        base,
        options={"fallback": True},
        fallback_poll_s=0.1,
        backoff_initial_s=2.0,
        backoff_max_s=2.0,
    ) as engine:
        sub = engine.events()
        await next_matching(sub, status("live"))
        venue.refuse = [(503, {})] * 1000  # the socket is refused from now on
        await venue.drop()
        started = await next_matching(sub, status("fallback"))
        assert "ws:main is down" in started.reason
        rest_books = [
            await next_matching(sub, lambda e: isinstance(e, Book) and e.source == "rest")
            for _ in range(4)
        ]
        ready = engine.health()["fakex"]
        assert ready.fallback == ("ws:main",)
        assert {b.instrument for b in rest_books} == {"BTC-PERP", "ETH-PERP"}
        venue.refuse = []  # the socket is accepted again: the fallback stops
        await next_matching(sub, status("recovered", "fallback:ws:main"), within=10)
        await next_matching(sub, lambda e: isinstance(e, Book) and e.source == "ws")
        polls = engine.metrics.value("fallback_polls", venue="fakex")
        await asyncio.sleep(0.5)
        assert engine.metrics.value("fallback_polls", venue="fakex") == polls

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from venuefeed.core.errors import ConsumerClosedError, ConsumerTooSlowError
from venuefeed.core.events import Book, Event, Gap, Mark, Status, Trade
from venuefeed.core.observe.metrics import Metrics
from venuefeed.core.publishing.publisher import Publisher
from venuefeed.core.settings import ConsumerPolicy, EngineSettings


def publisher(
    queue_max: int = 16,
    policy: ConsumerPolicy = "gap",
    slow_consumer_s: float = 30.0,
    lossless_max: int = 10_000,
) -> Publisher:
    settings = EngineSettings(
        queue_max=queue_max,
        consumer_policy=policy,
        slow_consumer_s=slow_consumer_s,
        lossless_max=lossless_max,
    )
    return Publisher(settings, Metrics())


def mark(instrument: str, px: float) -> Mark:
    return Mark(venue="v", symbol=instrument, instrument=instrument, ts_recv=1, mark_px=px)


def book(instrument: str, n: int) -> Book:
    return Book(
        venue="v",
        symbol=instrument,
        instrument=instrument,
        ts_recv=n,
        bids=[(1.0, float(n))],
        asks=[],
    )


def trade(n: int, instrument: str = "BTC") -> Trade:
    return Trade(
        venue="v",
        symbol=instrument,
        instrument=instrument,
        ts_recv=1000 + n,
        price=1,
        size=1,
        side="buy",
        trade_id=str(n),
    )


def status(state: str) -> Status:
    return Status(venue="v", symbol="*", instrument="*", ts_recv=1, stream="ws:main", state=state)  # type: ignore[arg-type]


def drain(sub: object) -> list[Event]:
    out: list[Event] = []
    while (event := sub.get_nowait()) is not None:  # type: ignore[attr-defined]
        out.append(event)
    return out


async def test_slow_consumer_gets_latest_per_key_and_every_trade():
    pub = publisher(queue_max=1000)
    sub = pub.subscribe("slow")
    got: list[Event] = []

    async def consume() -> None:
        async for event in sub:
            got.append(event)
            await asyncio.sleep(0.001)  # ten times slower than the producer below
            if isinstance(event, Trade) and event.trade_id == "199":
                return

    async with asyncio.TaskGroup() as tg:
        tg.create_task(consume())
        for n in range(200):
            pub.offer(mark("BTC", float(n)))
            pub.offer(mark("ETH", float(1000 + n)))
            pub.offer(trade(n))
            await asyncio.sleep(0.0001)
    got.extend(drain(sub))
    trades = [e.trade_id for e in got if isinstance(e, Trade)]
    assert trades == [str(n) for n in range(200)]
    marks = [e for e in got if isinstance(e, Mark)]
    assert len(marks) < 400  # conflated
    assert pub.metrics.value("events_conflated") > 0
    # no key's value is lost to another key: the final value of each key arrived
    last = {m.instrument: m.mark_px for m in marks}
    assert last == {"BTC": 199.0, "ETH": 1199.0}


def test_a_conflated_key_moves_to_the_position_of_its_newest_value():
    pub = publisher()
    sub = pub.subscribe()
    pub.offer(book("BTC", 1))
    pub.offer(trade(1))
    pub.offer(book("BTC", 2))
    got = drain(sub)
    assert [type(e).__name__ for e in got] == ["Trade", "Book"]
    assert isinstance(got[1], Book) and got[1].ts_recv == 2
    assert pub.metrics.value("events_conflated") == 1


def test_no_trade_after_a_later_book_and_no_status_after_later_data():
    pub = publisher(queue_max=10_000)
    sub = pub.subscribe()
    published: list[Event] = []
    for n in range(300):
        for event in (book("BTC", n), trade(n), book("ETH", n)):
            pub.offer(event)
            published.append(event)
        if n % 50 == 0:
            for event in (status("stale"), book("BTC", 10_000 + n), status("live")):
                pub.offer(event)
                published.append(event)
    got = drain(sub)
    position = {id(e): i for i, e in enumerate(published)}
    order = [position[id(e)] for e in got]
    assert order == sorted(order), "a consumer must see events in publish order"
    # and nothing delivered was conflated out of its own history
    assert [e.trade_id for e in got if isinstance(e, Trade)] == [str(n) for n in range(300)]
    assert [e.state for e in got if isinstance(e, Status)] == ["stale", "live"] * 6


def test_conflation_keeps_one_slot_per_key():
    pub = publisher()
    sub = pub.subscribe()
    for n in range(5):
        pub.offer(mark("BTC", n))
        pub.offer(mark("ETH", 10 + n))
    pub.offer(trade(1))
    assert sub.depth == 3
    first, second, third = drain(sub)
    assert isinstance(first, Mark) and (first.instrument, first.mark_px) == ("BTC", 4)
    assert isinstance(second, Mark) and (second.instrument, second.mark_px) == ("ETH", 14)
    assert isinstance(third, Trade)
    assert pub.metrics.value("events_conflated") == 8


def test_gap_policy_drops_oldest_and_says_so_in_order(caplog: pytest.LogCaptureFixture):
    pub = publisher(queue_max=16)
    sub = pub.subscribe("stuck")
    pub.offer(book("BTC", 0))
    with caplog.at_level(logging.ERROR):
        for n in range(26):
            pub.offer(trade(n))
    assert pub.metrics.value("events_dropped", kind="trade") == 10
    assert "consumer stuck is full (16 history events waiting)" in caplog.text
    assert len(caplog.records) == 1  # rate-limited, not one line per drop
    got = drain(sub)
    assert isinstance(got[0], Book)
    gap = got[1]
    assert isinstance(gap, Gap)
    assert (gap.reason, gap.lost_kind, gap.count) == ("consumer_behind", "trade", 10)
    assert (gap.first_id, gap.last_id, gap.from_ms, gap.to_ms) == ("0", "9", 1000, 1009)
    assert [e.trade_id for e in got[2:] if isinstance(e, Trade)] == [str(n) for n in range(10, 26)]
    assert len(got) == 18


def test_gap_policy_keeps_one_gap_per_instrument_at_the_first_loss():
    pub = publisher(queue_max=16)
    sub = pub.subscribe()
    for n in range(40):
        pub.offer(trade(n, "BTC" if n % 2 else "ETH"))
    got = drain(sub)
    gaps = [e for e in got if isinstance(e, Gap)]
    assert [(g.instrument, g.count, g.first_id, g.last_id) for g in gaps] == [
        ("ETH", 12, "0", "22"),
        ("BTC", 12, "1", "23"),
    ]
    assert got[:2] == gaps  # where the first losses were: ahead of every kept trade
    assert [e.trade_id for e in got[2:] if isinstance(e, Trade)] == [str(n) for n in range(24, 40)]


def test_a_stuck_consumer_holds_bounded_memory():
    pub = publisher(queue_max=100)
    sub = pub.subscribe("stuck")
    for n in range(20_000):
        pub.offer(trade(n, f"S{n % 5}"))
        pub.offer(book(f"S{n % 5}", n))
    # history bound + one gap and one book per instrument
    assert sub.depth <= 100 + 5 + 5


async def test_evict_policy_closes_a_full_consumer_and_frees_its_series(
    caplog: pytest.LogCaptureFixture,
):
    pub = publisher(queue_max=16, policy="evict")
    sub = pub.subscribe("laggard")
    other = pub.subscribe("reader", policy="gap")
    with caplog.at_level(logging.ERROR):
        for n in range(17):
            pub.offer(trade(n))
    assert sub.closed and sub.depth == 0
    assert "consumer 'laggard' (evict policy) fell 16 history events behind" in caplog.text
    assert pub.metrics.value("consumers_evicted", policy="evict") == 1
    series = [lbl for s in pub.metrics.snapshot().values() for lbl in s]
    assert all(("consumer", "laggard") not in lbl for lbl in series)
    with pytest.raises(ConsumerTooSlowError, match="laggard"):
        await anext(sub)
    assert other.depth == 17 and not other.closed


async def test_evict_policy_closes_a_consumer_that_stopped_reading():
    pub = publisher(queue_max=1000, policy="evict", slow_consumer_s=0.05)
    sub = pub.subscribe("sleepy")
    pub.offer(trade(0))
    assert await anext(sub) is not None  # it reads, then stops
    pub.offer(trade(1))
    deadline = time.monotonic() + 2
    while not sub.closed and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
        pub.offer(trade(2))
    assert sub.closed
    with pytest.raises(ConsumerTooSlowError, match=r"has not read for 0\.05s"):
        await anext(sub)


async def test_an_idle_consumer_with_nothing_to_read_is_not_evicted():
    pub = publisher(queue_max=1000, policy="evict", slow_consumer_s=0.05)
    sub = pub.subscribe()
    await asyncio.sleep(0.1)
    pub.offer(trade(1))
    assert not sub.closed and sub.depth == 1


def test_lossless_policy_keeps_everything_up_to_its_cap():
    pub = publisher(queue_max=16, policy="lossless", lossless_max=100)
    sub = pub.subscribe()
    for n in range(100):
        pub.offer(trade(n))
    assert not sub.closed and sub.depth == 100
    assert [e.trade_id for e in drain(sub) if isinstance(e, Trade)] == [str(n) for n in range(100)]
    for n in range(101):
        pub.offer(trade(n))
    assert sub.closed


def test_each_consumer_has_its_own_queue():
    pub = publisher()
    a, b = pub.subscribe("a"), pub.subscribe("b")
    pub.offer(trade(1))
    assert a.get_nowait() is not None
    assert b.depth == 1


async def test_closed_consumer_is_loud_and_gets_nothing_more(caplog: pytest.LogCaptureFixture):
    pub = publisher()
    sub = pub.subscribe("gone")
    other = pub.subscribe("stays")
    pub.offer(trade(1))
    with caplog.at_level(logging.WARNING):
        sub.close()
    assert "consumer gone closed" in caplog.text
    assert pub.metrics.value("events_discarded") == 1
    pub.offer(trade(3))  # a closed consumer never makes the producer raise
    assert sub.depth == 0 and other.depth == 2
    with pytest.raises(StopAsyncIteration):
        await anext(sub)


async def test_a_consumer_closing_while_its_reader_waits_ends_the_iteration():
    pub = publisher()
    sub = pub.subscribe()
    reader = asyncio.create_task(anext(sub))
    await asyncio.sleep(0)
    sub.close()
    with pytest.raises(StopAsyncIteration):
        async with asyncio.timeout(1):
            await reader


async def test_close_with_an_error_delivers_pending_then_raises_it():
    pub = publisher()
    sub = pub.subscribe()
    pub.offer(trade(1))
    pub.close(RuntimeError("engine died"))
    assert isinstance(await anext(sub), Trade)
    with pytest.raises(RuntimeError, match="engine died"):
        await anext(sub)


def test_subscribe_after_close_is_an_error_not_a_hang():
    pub = publisher()
    pub.close()
    with pytest.raises(ConsumerClosedError, match="engine is stopped"):
        pub.subscribe()


def test_consumers_that_came_and_went_leave_no_series_or_log_keys():
    pub = publisher(queue_max=16)
    for n in range(200):
        sub = pub.subscribe(f"c{n}")
        for m in range(20):
            pub.offer(trade(m))  # overflows: per-consumer drop series and a log key
        sub.close()
    labels = {lbl for series in pub.metrics.snapshot().values() for lbl in series}
    assert not any(dict(lbl).get("consumer") for lbl in labels)
    assert not pub._log._last  # type: ignore[attr-defined]
    assert pub.metrics.value("events_dropped") == 200 * 4  # the venue-level count stays


def test_book_is_state():
    pub = publisher()
    sub = pub.subscribe()
    for n in range(3):
        pub.offer(book("B", n))
    assert sub.depth == 1


def test_drops_are_counted_by_venue_kind_and_consumer_and_logged_with_what(
    caplog: pytest.LogCaptureFixture,
):
    pub = publisher(queue_max=16)
    sub = pub.subscribe("stuck")
    with caplog.at_level(logging.ERROR):
        for n in range(19):
            pub.offer(trade(n))
    assert sub.dropped == 3
    assert pub.metrics.value("events_dropped", venue="v", kind="trade") == 3
    assert pub.metrics.value("consumer_dropped", consumer="stuck") == 3
    assert caplog.records[0].getMessage() == (
        "consumer stuck is full (16 history events waiting); dropping its oldest "
        "(v trade BTC) and telling it with a gap event"
    )


def test_conflation_is_counted_by_venue_and_kind():
    pub = publisher()
    pub.subscribe()
    for n in range(3):
        pub.offer(mark("BTC", n))
    assert pub.metrics.value("events_conflated", venue="v", kind="mark") == 2


def test_a_gap_carries_every_field_of_what_it_replaces():
    pub = publisher(queue_max=16)
    sub = pub.subscribe()
    for n in range(18):
        pub.offer(trade(n))
    gap = sub.get_nowait()
    assert gap == Gap(
        venue="v",
        symbol="BTC",
        instrument="BTC",
        ts_recv=1000,
        reason="consumer_behind",
        lost_kind="trade",
        count=2,
        first_id="0",
        last_id="1",
        from_ms=1000,
        to_ms=1001,
    )


def test_a_gap_of_non_trades_keeps_no_trade_ids():
    from venuefeed.core.events import Funding

    pub = publisher(queue_max=16)
    sub = pub.subscribe()
    for n in range(18):
        pub.offer(
            Funding(
                venue="v",
                symbol="BTC",
                instrument="BTC",
                ts_recv=n,
                rate=0.0001,
                interval_h=8,
                rate_per_hour=0.0000125,
            )
        )
    gap = sub.get_nowait()
    assert isinstance(gap, Gap)
    assert (gap.lost_kind, gap.count, gap.first_id, gap.last_id) == ("funding", 2, None, None)
    assert (gap.from_ms, gap.to_ms) == (0, 1)


def test_an_eviction_is_logged_and_counted_by_policy(caplog: pytest.LogCaptureFixture):
    pub = publisher(queue_max=16, policy="evict")
    pub.subscribe("lag")
    with caplog.at_level(logging.ERROR):
        for n in range(17):
            pub.offer(trade(n))
    (record,) = caplog.records
    assert record.getMessage() == (
        "consumer 'lag' (evict policy) fell 16 history events behind; it was closed and its "
        "16 pending events discarded"
    )
    assert pub.metrics.value("consumers_evicted", policy="evict") == 1


def test_events_are_counted_by_venue_and_kind():
    pub = publisher()
    pub.subscribe()
    for n in range(3):
        pub.offer(mark("BTC", n))
    for n in range(2):
        pub.offer(trade(n))
    assert pub.metrics.value("events", venue="v", kind="mark") == 3
    assert pub.metrics.value("events", venue="v", kind="trade") == 2


def test_consumers_are_named_in_turn_unless_named():
    pub = publisher()
    names = [pub.subscribe().name, pub.subscribe("mine").name, pub.subscribe().name]
    assert names == ["consumer-1", "mine", "consumer-3"]


def test_only_evict_consumers_are_closed_for_not_reading():
    pub = publisher(policy="gap", slow_consumer_s=1e-9)
    sub = pub.subscribe()
    for n in range(3):
        time.sleep(0.001)
        pub.offer(trade(n))
    assert not sub.closed and sub.depth == 3


async def test_a_reader_that_keeps_up_partly_is_not_evicted():
    pub = publisher(queue_max=100, policy="evict", slow_consumer_s=10.0)
    sub = pub.subscribe()
    for n in range(3):
        pub.offer(trade(n))
    await anext(sub)  # it read one and two still wait
    pub.offer(trade(3))
    assert not sub.closed and sub.depth == 3


def test_closing_an_empty_consumer_is_quiet_and_a_full_one_counts_every_event(
    caplog: pytest.LogCaptureFixture,
):
    pub = publisher()
    empty, full = pub.subscribe("empty"), pub.subscribe("full")
    with caplog.at_level(logging.WARNING):
        empty.close()
        assert not caplog.records
        full.close()  # it held nothing: the trades below came later
    pub2 = publisher()
    holder = pub2.subscribe("holder")
    pub2.offer(trade(1))
    pub2.offer(trade(2))
    with caplog.at_level(logging.WARNING):
        holder.close()
    assert pub2.metrics.value("events_discarded") == 2
    assert caplog.records[-1].getMessage() == (
        "consumer holder closed while the engine runs; 2 pending events discarded"
    )


def test_drop_logs_are_folded_within_the_configured_window(caplog: pytest.LogCaptureFixture):
    settings = EngineSettings(queue_max=16, log_repeat_s=3600.0)
    pub = Publisher(settings, Metrics())
    pub.subscribe("a")
    with caplog.at_level(logging.ERROR):
        for n in range(40):
            pub.offer(trade(n))
    assert len(caplog.records) == 1
    pub_fast = Publisher(EngineSettings(queue_max=16, log_repeat_s=1e-9), Metrics())
    pub_fast.subscribe("b")
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        for n in range(20):
            time.sleep(0.001)
            pub_fast.offer(trade(n))
    assert len(caplog.records) == 4

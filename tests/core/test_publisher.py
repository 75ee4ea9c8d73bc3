from __future__ import annotations

import asyncio
import logging

import pytest

from venuefeed.core.errors import ConsumerClosedError
from venuefeed.core.events import Book, Mark, Trade
from venuefeed.core.metrics import Metrics
from venuefeed.core.publisher import Publisher
from venuefeed.core.settings import EngineSettings


def publisher(queue_max: int = 16, put_timeout: float = 0.05) -> Publisher:
    return Publisher(
        EngineSettings(queue_max=queue_max, history_put_timeout_s=put_timeout), Metrics()
    )


def mark(instrument: str, px: float) -> Mark:
    return Mark(venue="v", symbol=instrument, instrument=instrument, ts_recv=1, mark_px=px)


def trade(n: int) -> Trade:
    return Trade(
        venue="v",
        symbol="BTC",
        instrument="BTC",
        ts_recv=1,
        price=1,
        size=1,
        side="buy",
        trade_id=str(n),
    )


async def test_slow_consumer_gets_latest_per_key_and_every_trade():
    pub = publisher(queue_max=64, put_timeout=5.0)
    sub = pub.subscribe("slow")
    got: list[object] = []

    async def consume() -> None:
        async for event in sub:
            got.append(event)
            await asyncio.sleep(0.001)  # ten times slower than the producer below
            if isinstance(event, Trade) and event.trade_id == "199":
                return

    async with asyncio.TaskGroup() as tg:
        tg.create_task(consume())
        for n in range(200):
            await pub.publish(mark("BTC", float(n)))
            await pub.publish(mark("ETH", float(1000 + n)))
            await pub.publish(trade(n))
            assert sub.depth <= 64 + 2  # history bound + one slot per state key
    while (rest := sub.get_nowait()) is not None:  # what was still pending at the end
        got.append(rest)
    trades = [e.trade_id for e in got if isinstance(e, Trade)]
    assert trades == [str(n) for n in range(200)]
    marks = [e for e in got if isinstance(e, Mark)]
    assert len(marks) < 400  # conflated
    assert pub.metrics.value("events_conflated") > 0
    # no key's value is lost to another key: the final value of each key arrived
    last = {m.instrument: m.mark_px for m in marks}
    assert last == {"BTC": 199.0, "ETH": 1199.0}


async def test_conflation_keeps_one_slot_per_key_in_order():
    pub = publisher()
    sub = pub.subscribe()
    for n in range(5):
        await pub.publish(mark("BTC", n))
        await pub.publish(mark("ETH", 10 + n))
    await pub.publish(trade(1))
    assert sub.depth == 3
    first, second, third = (sub.get_nowait() for _ in range(3))
    assert (first.instrument, first.mark_px) == ("BTC", 4)  # type: ignore[union-attr]
    assert (second.instrument, second.mark_px) == ("ETH", 14)  # type: ignore[union-attr]
    assert isinstance(third, Trade)
    assert pub.metrics.value("events_conflated") == 8


async def test_full_history_lane_waits_then_counts_and_logs_a_drop(
    caplog: pytest.LogCaptureFixture,
):
    pub = publisher(queue_max=16, put_timeout=0.01)
    sub = pub.subscribe("stuck")
    for n in range(16):
        await pub.publish(trade(n))
    with caplog.at_level(logging.ERROR):
        await pub.publish(trade(99))
    assert pub.metrics.value("events_dropped", consumer="stuck") == 1
    assert "consumer stuck is full" in caplog.text
    assert sub.depth == 16


async def test_waiting_producer_resumes_when_consumer_reads():
    pub = publisher(queue_max=16, put_timeout=5.0)
    sub = pub.subscribe()
    for n in range(16):
        await pub.publish(trade(n))
    blocked = asyncio.create_task(pub.publish(trade(16)))
    await asyncio.sleep(0)
    assert not blocked.done()
    sub.get_nowait()
    async with asyncio.timeout(1):
        await blocked
    assert pub.metrics.value("events_dropped") == 0 and sub.depth == 16


async def test_each_consumer_has_its_own_queue():
    pub = publisher()
    a, b = pub.subscribe("a"), pub.subscribe("b")
    await pub.publish(trade(1))
    assert a.get_nowait() is not None
    assert b.depth == 1


async def test_closed_consumer_is_loud(caplog: pytest.LogCaptureFixture):
    pub = publisher()
    sub = pub.subscribe("gone")
    await pub.publish(trade(1))
    with caplog.at_level(logging.WARNING):
        sub.close()
    assert "consumer gone closed" in caplog.text
    assert pub.metrics.value("events_discarded", consumer="gone") == 1
    with pytest.raises(ConsumerClosedError):
        sub.offer(trade(2))
    await pub.publish(trade(3))  # other consumers unaffected, no error
    with pytest.raises(StopAsyncIteration):
        await anext(sub)


async def test_book_is_state():
    pub = publisher()
    sub = pub.subscribe()
    for n in range(3):
        await pub.publish(
            Book(venue="v", symbol="B", instrument="B", ts_recv=n, bids=[(1.0, float(n))], asks=[])
        )
    assert sub.depth == 1

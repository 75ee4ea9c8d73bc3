"""Freshness deadlines with a fake clock: exact, so a watchdog that wakes late, early or
all the time fails here."""

from __future__ import annotations

import asyncio

import pytest

from venuefeed.core.adapter import StreamSpec
from venuefeed.core.connection.freshness import Freshness, Verdict, watch
from venuefeed.core.settings import Policy

POLICY = Policy(
    stale_after_s=10.0,
    stable_after_s=30.0,
    subscribe_timeout_s=5.0,
    quiet_stale_after_s=120.0,
)
BOOK = StreamSpec("book", "BTC")
TRADE = StreamSpec("trade", "BTC")
QUIET_TRADE = StreamSpec("trade", "BTC", quiet=True)


def fresh(*streams: StreamSpec, acks: int = 0, started: float = 100.0) -> Freshness:
    return Freshness(
        stream="ws:main", streams=streams, policy=POLICY, acks_expected=acks, started=started
    )


def test_a_stream_without_data_is_stale_exactly_stale_after_the_start():
    f = fresh(BOOK)
    assert f.check(100.0) == Verdict(wake_at=110.0)
    assert f.check(109.999) == Verdict(wake_at=110.0)
    assert f.check(110.0) == Verdict(stale=("book:BTC",), wake_at=120.0)


def test_data_pushes_the_deadline_and_the_earliest_deadline_wakes():
    f = fresh(BOOK, TRADE)
    f.mark("book", "BTC", 104.0)
    f.mark("trade", "BTC", 102.5)
    assert f.check(105.0).wake_at == 112.5  # the trade's deadline comes first
    f.mark("trade", "BTC", 106.0)
    assert f.check(106.0).wake_at == 114.0  # now the book's
    assert f.check(114.0).stale == ("book:BTC",)


def test_every_stale_stream_is_named_once():
    f = fresh(BOOK, TRADE)
    assert f.check(200.0).stale == ("book:BTC", "trade:BTC")


def test_quiet_streams_have_no_deadline_of_their_own():
    f = fresh(BOOK, QUIET_TRADE)
    f.mark("book", "BTC", 150.0)
    assert f.check(155.0) == Verdict(wake_at=160.0)


def test_a_rejected_stream_has_no_deadline():
    f = fresh(BOOK, TRADE)
    f.rejected.add("trade:BTC")
    f.mark("book", "BTC", 150.0)
    assert f.check(155.0) == Verdict(wake_at=160.0)


def test_a_quiet_only_connection_must_deliver_within_its_quiet_bound():
    f = fresh(QUIET_TRADE)
    assert f.check(101.0) == Verdict(wake_at=111.0)  # checked at least every stale period
    assert f.check(219.9).stale == ()
    assert f.check(220.0).stale == ("ws:main",)
    f.mark("trade", "BTC", 219.0)
    assert f.check(220.0) == Verdict(wake_at=230.0)
    assert f.check(339.0).stale == ("ws:main",)
    assert f.stale_after() == 120.0 and fresh(BOOK).stale_after() == 10.0


def test_acks_must_arrive_within_the_subscribe_timeout():
    f = fresh(BOOK, acks=2)
    assert f.check(101.0) == Verdict(wake_at=105.0)
    f.acks = 1
    assert f.check(105.0).unacknowledged
    f.acks = 2
    assert f.check(105.0) == Verdict(wake_at=110.0)


def test_no_ack_deadline_when_none_is_expected():
    assert fresh(BOOK).check(105.0) == Verdict(wake_at=110.0)


def test_the_stable_window_completes_once_and_only_after_first_data():
    f = fresh(BOOK)
    for t in (101.0, 105.0, 109.0):
        f.mark("book", "BTC", t)
    assert not f.check(109.0).stable  # no first data recorded yet
    f.first_data = 101.0
    for t in range(110, 131, 5):
        f.mark("book", "BTC", float(t))
    verdict = f.check(130.0)
    assert not verdict.stable and verdict.wake_at == 131.0  # the stable deadline wakes
    assert f.check(131.0).stable
    f.mark("book", "BTC", 135.0)
    assert not f.check(136.0).stable  # reported once per session


def test_a_stale_check_is_not_also_stable():
    f = fresh(BOOK)
    f.first_data = 100.0
    assert f.check(140.0) == Verdict(stale=("book:BTC",), wake_at=150.0)


async def test_watch_sleeps_until_each_deadline_and_no_more():
    """Checks happen at the deadlines, not in between (no busy polling, no late wakes)."""
    loop = asyncio.get_running_loop()
    base = loop.time()
    policy = Policy(stale_after_s=0.2, stable_after_s=10.0)
    f = Freshness(stream="ws:main", streams=(BOOK,), policy=policy, acks_expected=0, started=base)
    checks: list[float] = []

    def act(verdict: Verdict) -> bool:
        checks.append(loop.time() - base)
        return bool(verdict.stale)

    first = asyncio.Event()
    first.set()
    async with asyncio.timeout(2):
        await watch(f, loop.time, first, act)
    assert len(checks) == 2  # at the start, then at the deadline: nothing in between
    assert checks[1] == pytest.approx(0.2, abs=0.05)


async def test_first_data_wakes_the_watch_for_the_stable_deadline():
    loop = asyncio.get_running_loop()
    policy = Policy(stale_after_s=5.0, stable_after_s=0.1)
    f = Freshness(
        stream="ws:main", streams=(BOOK,), policy=policy, acks_expected=0, started=loop.time()
    )
    first = asyncio.Event()
    stable = asyncio.Event()

    def act(verdict: Verdict) -> bool:
        if verdict.stable:
            stable.set()
            return True
        return False

    async with asyncio.timeout(2), asyncio.TaskGroup() as tg:
        tg.create_task(watch(f, loop.time, first, act))
        await asyncio.sleep(0.05)
        f.first_data = loop.time()
        f.mark("book", "BTC", loop.time())
        first.set()  # without this, the watch would sleep until the 5 s stale deadline
        await stable.wait()

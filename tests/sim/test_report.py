"""The soak report is honest: a recovery over its bound, a venue that went down while a
consumer was stuck, events the report itself lost, or a venue that had to drop the engine
all make the venue (and the run) not ok."""

from __future__ import annotations

import asyncio
from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest

from venuefeed.core.events import Gap, Status
from venuefeed.core.settings import Policy
from venuefeed.sim.bounds import AllowedWaits, allowed_backoff_s, first_attempt_bound_s
from venuefeed.sim.chaos import FaultSpan
from venuefeed.sim.report import SoakObserver, VenueObservation, venue_problems, went_down
from venuefeed.sim.run import summary_lines

POLICY = Policy()  # 10 s stale, backoff 0.5 s doubling to 30 s, +-20 %, stable after 30 s
BOUND = first_attempt_bound_s(POLICY)


def recovery(
    spans: list[FaultSpan], data_ms: list[int], statuses: list[tuple[str, int]] = ()
) -> dict[str, Any]:
    waits = AllowedWaits(POLICY)
    for state, ts in statuses:
        waits.note("ws:main", state, ts)
    obs = VenueObservation(data_times_ms=data_ms, waits=waits)
    return SoakObserver._recovery_times(obs, spans, POLICY)


def test_the_first_attempt_bound():
    assert allowed_backoff_s(POLICY, 0) == 0.6
    assert BOUND == 10.0 + 0.6 + 1.0


def test_the_policys_backoff_is_rebuilt_from_the_statuses():
    waits = AllowedWaits(POLICY)
    waits.note("ws:main", "live", 0)
    waits.note("ws:main", "backoff", 1_000)  # attempt 0: up to 0.6 s
    waits.note("ws:main", "backoff", 2_000)  # refused again before it was stable: 1.2 s
    waits.note("ws:main", "live", 4_000)
    waits.note("ws:main", "backoff", 10_000)  # not stable yet: attempt 2, 2.4 s
    assert waits.within_s(0, 60_000) == pytest.approx(0.6 + 1.2 + 2.4)
    assert waits.within_s(2_000, 2_600) == 0.6  # only the part inside counts
    waits.note("ws:main", "live", 20_000)
    waits.note("ws:main", "backoff", 51_000)  # live for 31 s: the engine started over
    assert waits.within_s(51_000, 60_000) == 0.6
    waits.note("ws:other", "breaker_open", 51_000)  # the longest connection counts
    assert waits.within_s(51_000, 60_000) == 9.0


def test_a_recovery_over_its_bound_is_named():
    quick = recovery([FaultSpan("disconnect", 0, 1_000)], [1_500])
    assert quick["over_bound"] == [] and quick["max"] == 0.5
    slow = recovery([FaultSpan("disconnect", 0, 1_000)], [1_000 + int(BOUND * 1000) + 1])
    assert slow["over_bound"] == ["disconnect"]


def test_the_longer_waits_of_later_attempts_are_allowed_and_nothing_more():
    # faults faster than connections become stable: the fourth failure may wait 4.8 s
    failures = [("live", 0), ("backoff", 1_000), ("live", 2_000), ("backoff", 3_000)]
    failures += [("live", 4_000), ("backoff", 5_000), ("live", 10_000), ("backoff", 20_000)]
    allowed_ms = int((10.0 + 4.8 + 1.0) * 1000)
    late = recovery([FaultSpan("disconnect", 20_000, 20_000)], [20_000 + allowed_ms], failures)
    assert late["over_bound"] == []
    later = recovery([FaultSpan("disconnect", 20_000, 20_000)], [20_001 + allowed_ms], failures)
    assert later["over_bound"] == ["disconnect"]


def test_waits_the_venue_imposes_are_reported_not_held_to_the_bound():
    late = 1_000 + int(BOUND * 1000) + 500
    for kind in ("refuse_429", "connect_hang"):
        report = recovery([FaultSpan(kind, 0, 1_000)], [late])
        assert report["over_bound"] == [] and report["max_by_fault"] == {kind: BOUND + 0.5}


def test_a_recovery_the_next_fault_interrupts_is_judged_only_once_past_the_bound():
    # a stall begins 2 s after a disconnect, before any data: the disconnect is not judged
    early = recovery([FaultSpan("disconnect", 0, 0), FaultSpan("stall", 2_000, 14_000)], [14_100])
    assert early["interrupted"] == {"disconnect": 1} and early["over_bound"] == []
    assert early["max_by_fault"] == {"stall": 0.1}
    # ...but one still without data when its bound had passed is over it
    spans = [FaultSpan("disconnect", 0, 0), FaultSpan("stall", 20_000, 32_000)]
    late = recovery(spans, [32_100])
    assert late["over_bound"] == ["disconnect"] and late["max_by_fault"]["disconnect"] == 20.0


def test_faults_that_do_not_disrupt_are_not_measured():
    report = recovery([FaultSpan("malformed", 0, 0), FaultSpan("latency", 0, 12_000)], [60_000])
    assert report["count"] == 0


def _observer() -> SoakObserver:
    engine = SimpleNamespace(events=lambda *args, **kwargs: None, policies={"v": POLICY})
    cluster = SimpleNamespace(servers={"v": None})
    return SoakObserver(engine, cluster)  # type: ignore[arg-type]


def _status(state: str, ts: int) -> Status:
    return Status(venue="v", symbol="*", instrument="*", ts_recv=ts, stream="ws:main", state=state)


def test_the_observer_notes_when_the_venue_went_down_and_what_it_lost():
    observer = _observer()
    observer.observe(_status("live", 1_000))
    observer.observe(_status("backoff", 2_000))
    observer.observe(_status("live", 3_000))
    gap = Gap(
        venue="v",
        symbol="BTC",
        instrument="BTC",
        ts_recv=5,
        reason="consumer_behind",
        lost_kind="trade",
        from_ms=1,
        to_ms=5,
    )
    observer.observe(gap)
    obs = observer.venues["v"]
    assert obs.down_ms == [2_000] and obs.gaps == 1
    assert obs.data_times_ms == []  # a gap is not fresh data
    assert obs.waits is not None and obs.waits.within_s(0, 10_000) == 0.6
    assert went_down(obs, 1_990, 2_010)
    assert not went_down(obs, 2_001, 3_000)
    assert not went_down(obs, 1_000, 1_999)


def _problems(**overrides: Any) -> list[str]:
    values: dict[str, Any] = {
        "ended_stale": False,
        "lost": 0,
        "obs": VenueObservation(),
        "over_bound": [],
        "broken_windows": [],
        "client_drops": Counter(),
        "refused": Counter(),
        **overrides,
    }
    return venue_problems(**values)


def test_every_problem_fails_the_venue():
    assert _problems() == []
    assert _problems(over_bound=["stall"]) == ["recovery over its bound after stall"]
    assert _problems(broken_windows=["stuck_consumer"]) == [
        "not live during the window after stuck_consumer"
    ]
    assert _problems(obs=VenueObservation(gaps=2)) == ["the report's own consumer got 2 gap events"]
    assert _problems(client_drops=Counter(pong_timeout=1)) == [
        "the venue dropped the engine 1x (pong_timeout)"
    ]
    assert _problems(refused=Counter({"User-Agent": 3})) == [
        "the venue refused 3 requests without User-Agent"
    ]
    assert len(_problems(ended_stale=True, lost=2, obs=VenueObservation(crossed=1))) == 3


def test_the_summary_says_why_a_venue_failed():
    venue = {
        "ok": False,
        "problems": ["recovery over its bound after stall"],
        "faults_injected": {"stall": 1},
        "recoveries": 1,
        "trades_received": 5,
        "trades_sent": 5,
        "trades_lost": 0,
        "book_checks": 2,
        "book_mismatches": 0,
        "seconds_not_live": 13.0,
        "fault_to_fresh_data_s": {"count": 1, "median": 12.0, "max": 12.0},
    }
    (line, why) = summary_lines({"venues": {"aster": venue}})
    assert "FAIL" in line and why.strip() == "why: recovery over its bound after stall"


async def test_trades_are_counted_only_once_the_engine_holds_none_and_all_are_observed():
    """A run that ends as a venue recovers: its engine still holds that session's live
    trades for the outage's backfill, so counting then would call them lost."""
    conn = SimpleNamespace(holding_trades=True)
    events = SimpleNamespace(depth=0)
    engine = SimpleNamespace(
        events=lambda *args, **kwargs: events,
        policies={"v": POLICY},
        runners={"v": SimpleNamespace(connections=[conn])},
    )
    observer = SoakObserver(engine, SimpleNamespace(servers={"v": None}))  # type: ignore[arg-type]
    observer.observe(_status("live", 1_000))
    assert observer.all_live() and not observer.settled()
    conn.holding_trades = False
    events.depth = 3  # released, not yet observed
    assert not observer.settled()
    events.depth = 0
    assert observer.settled()
    waiting = asyncio.create_task(observer.wait_all_live(5.0))
    conn.holding_trades = True
    await asyncio.sleep(0)
    assert not waiting.done()
    conn.holding_trades = False  # the backfill's status wakes the wait
    backfilled = Status(
        venue="v", symbol="BTC", instrument="BTC", ts_recv=2, stream="trade:BTC", state="backfilled"
    )
    observer.observe(backfilled)
    async with asyncio.timeout(5):
        assert await waiting

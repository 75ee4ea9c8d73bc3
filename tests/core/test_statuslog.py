"""Status changes as log lines: a venue down for days costs a few dozen lines, each with
its cause, and its recovery says how long it took."""

from __future__ import annotations

import logging

import pytest

from venuefeed.core.observe.statuslog import StatusLog, duration

DNS = (
    "hyperliquid: meta (POST https://api.hyperliquid.xyz/info): ClientConnectorDNSError: "
    "Cannot connect to host api.hyperliquid.xyz:443 ssl:default [Name or service not known]"
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def log(clock: Clock) -> StatusLog:
    return StatusLog(logging.getLogger("t.status"), window_s=30, clock=clock)


def lines(caplog: pytest.LogCaptureFixture, level: int = logging.INFO) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= level]


def fail_for(log: StatusLog, clock: Clock, seconds: float, every_s: float = 5.0) -> int:
    """An init that fails every `every_s` for `seconds`, the way startup reports it."""
    attempts = 0
    end = clock.now + seconds
    while clock.now < end:
        attempts += 1
        log.record("hyperliquid", "init", "init_failed", f"attempt {attempts}: {DNS}", delay_s=4.2)
        clock.now += every_s
    return attempts


def test_a_failing_venue_logs_its_cause_once_then_sparse_summaries(clock, log, caplog):
    with caplog.at_level(logging.INFO, "t.status"):
        attempts = fail_for(log, clock, 24 * 3600)  # a day, a failure every 5 s
    said = lines(caplog)
    assert attempts == 17_280
    assert len(said) < 40, said  # not 17,280
    cause = DNS.removeprefix("hyperliquid: ")
    assert said[0] == f"hyperliquid: init failing: {cause}; next try in 4.2s"
    assert "attempt" not in " ".join(said)  # nothing that changes every attempt
    summary = said[1]
    assert summary.startswith("hyperliquid: init still failing: 7 failures in 30s; last: meta")
    assert summary.endswith("[Name or service not known]; next try in 4.2s")
    # the summaries spread out: after the first hours, one an hour
    assert " failures in 23h" in said[-1] and " failures in 22h" in said[-2]


def test_recovery_is_one_line_with_the_count_and_the_time_down(clock, log, caplog):
    with caplog.at_level(logging.INFO, "t.status"):
        log.record("aster", "ws:main", "connecting", "wss://x")
        log.record("aster", "ws:main", "live")
        log.record("aster", "ws:main", "stale", "no market data for 10.0s")
        for _ in range(3):
            log.record("aster", "ws:main", "backoff", "closed by venue (code 1006)", delay_s=0.5)
            clock.now += 2
            log.record("aster", "ws:main", "connecting", "wss://x")  # an attempt: folded
        log.record("aster", "ws:main", "recovered", gap_s=6.5)
        log.record("aster", "ws:main", "live")  # said by `recovered` already
    assert lines(caplog) == [
        "aster: ws:main connecting: wss://x",
        "aster: ws:main live",
        "aster: ws:main stale: no market data for 10.0s",
        "aster: ws:main failing: closed by venue (code 1006); next try in 0.5s",
        "aster: ws:main recovered after 3 failures in 6.0s, 6.5s without data",
    ]


def test_start_up_success_ends_its_episode(clock, log, caplog):
    with caplog.at_level(logging.INFO, "t.status"):
        fail_for(log, clock, 60)
        log.succeeded("hyperliquid", "init", "2 requests")
        log.record("hyperliquid", "init", "init_failed", f"attempt 1: {DNS}", delay_s=0.5)
    said = lines(caplog)
    assert "hyperliquid: init ok after 12 failures in 1m00s (2 requests)" in said
    assert said[-1].startswith("hyperliquid: init failing: meta")  # a new episode


def test_the_breaker_opening_is_said_once_per_episode(clock, log, caplog):
    with caplog.at_level(logging.INFO, "t.status"):
        log.record("paradex", "ws:main", "backoff", "cannot connect", delay_s=1)
        for _ in range(5):
            clock.now += 60
            log.record("paradex", "ws:main", "breaker_open", "8 failures", delay_s=60)
            log.record("paradex", "ws:main", "breaker_half_open", "trying one connection")
    breaker = [line for line in lines(caplog) if "breaker" in line]
    assert breaker == ["paradex: ws:main breaker open: 8 failures; next try in 1m00s"]


def test_other_warnings_are_folded_with_a_count(clock, log, caplog):
    with caplog.at_level(logging.INFO, "t.status"):
        for _ in range(10):
            log.record("lighter", "book:1", "resync", "gap: expected seq 5, got 7")
            clock.now += 1
        clock.now += 30
        log.record("lighter", "book:1", "resync", "gap: expected seq 9, got 11")
    assert lines(caplog) == [
        "lighter: book:1 resync: gap: expected seq 5, got 7",
        "lighter: book:1 resync: gap: expected seq 9, got 11 (+9 similar in the last 30s)",
    ]


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.5, "0.5s"), (42, "42s"), (185, "3m05s"), (7800, "2h10m")]
)
def test_durations_read_at_a_glance(seconds: float, text: str):
    assert duration(seconds) == text

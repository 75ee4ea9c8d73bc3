"""Supervision: what is logged and counted, how long a restart waits, and that shutdown
always wins over a child's crash."""

from __future__ import annotations

import asyncio
import logging

import pytest

from venuefeed.core.errors import ConfigError, VenueClosedError
from venuefeed.core.observe.metrics import Metrics
from venuefeed.core.settings import Policy
from venuefeed.core.supervisor import Supervisor

POLICY = Policy(backoff_initial_s=0.01, backoff_max_s=1.0, backoff_jitter=0.0, stable_after_s=0.2)


def supervisor(metrics: Metrics | None = None, policy: Policy = POLICY) -> Supervisor:
    return Supervisor("own", policy, metrics or Metrics())


async def test_a_child_that_returns_is_logged_and_restarted(caplog: pytest.LogCaptureFixture):
    runs = 0
    done = asyncio.Event()

    async def child() -> None:
        nonlocal runs
        runs += 1
        if runs == 3:
            done.set()
            await asyncio.Event().wait()

    with caplog.at_level(logging.INFO, logger="venuefeed.core.supervisor"):
        async with asyncio.timeout(2), asyncio.TaskGroup() as tg:
            task = tg.create_task(supervisor().keep("t", child))
            await done.wait()
            task.cancel()
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("own: task t returned; restarting it") == 2
    assert "own: restarting task t in 0.01s" in messages
    assert "own: restarting task t in 0.02s" in messages


async def test_a_crash_is_logged_with_its_traceback_counted_and_restarted(
    caplog: pytest.LogCaptureFixture,
):
    metrics = Metrics()
    runs = 0
    done = asyncio.Event()

    async def child() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise RuntimeError("bug")
        done.set()
        await asyncio.Event().wait()

    with caplog.at_level(logging.ERROR):
        async with asyncio.timeout(2), asyncio.TaskGroup() as tg:
            task = tg.create_task(supervisor(metrics).keep("t", child))
            await done.wait()
            task.cancel()
    (crash,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert crash.getMessage() == "own: task t crashed; restarting it"
    assert crash.exc_info is not None and "bug" in str(crash.exc_info[1])
    assert metrics.value("task_restarts", venue="own", task="t") == 1


async def test_a_restart_waits_at_least_what_the_error_asks():
    loop = asyncio.get_running_loop()
    starts: list[float] = []
    done = asyncio.Event()

    async def child() -> None:
        starts.append(loop.time())
        if len(starts) == 1:
            raise VenueClosedError("closed", retry_after_s=0.3)
        done.set()
        await asyncio.Event().wait()

    async with asyncio.timeout(3), asyncio.TaskGroup() as tg:
        task = tg.create_task(supervisor().keep("t", child))
        await done.wait()
        task.cancel()
    assert starts[1] - starts[0] >= 0.3


async def test_the_wait_resets_after_a_child_ran_stable_long(caplog: pytest.LogCaptureFixture):
    runs = 0
    done = asyncio.Event()

    async def child() -> None:
        nonlocal runs
        runs += 1
        if runs in (1, 2, 3):  # three quick crashes: 0.01, 0.02, 0.04
            raise RuntimeError("quick")
        if runs == 4:  # a long run (past stable_after_s), then a crash
            await asyncio.sleep(0.25)
            raise RuntimeError("after a stable run")
        done.set()
        await asyncio.Event().wait()

    with caplog.at_level(logging.INFO, logger="venuefeed.core.supervisor"):
        async with asyncio.timeout(3), asyncio.TaskGroup() as tg:
            task = tg.create_task(supervisor().keep("t", child))
            await done.wait()
            task.cancel()
    delays = [r.getMessage().rsplit(" ", 1)[1] for r in caplog.records if " in " in r.getMessage()]
    assert delays == ["0.01s", "0.02s", "0.04s", "0.01s"]  # reset, not 0.08s


async def test_a_startup_error_is_never_retried():
    async def child() -> None:
        raise ConfigError("config error: bad")

    with pytest.raises(ConfigError):
        async with asyncio.timeout(1):
            await supervisor().keep("t", child)


async def test_cancellation_wins_over_a_crash_during_cleanup():
    started = asyncio.Event()
    runs = 0

    async def child() -> None:
        nonlocal runs
        runs += 1
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            raise RuntimeError("cleanup bug")  # a crash while being cancelled

    task = asyncio.create_task(supervisor().keep("t", child))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(1):
            await task
    assert runs == 1  # not restarted


async def test_children_run_as_named_tasks():
    names: list[str] = []
    both = asyncio.Event()

    def child(label: str):
        async def run() -> None:
            task = asyncio.current_task()
            assert task is not None
            names.append(task.get_name())
            if len(names) == 2:
                both.set()
            await asyncio.Event().wait()

        return run

    runner = asyncio.create_task(supervisor().run({"a": child("a"), "b": child("b")}))
    async with asyncio.timeout(1):
        await both.wait()
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    assert sorted(names) == ["own/a", "own/b"]

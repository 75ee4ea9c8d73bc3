"""Supervision: every long-lived task has an owner that awaits it and restarts it.

This is the one place that catches broad exceptions. A crash is logged with its
traceback, counted, and the child restarted after a wait from the one retry model
(`core/retry.py`) that resets once the child has run for `stable_after_s`.
`CancelledError` always propagates, and startup errors (config, plugin) are never
swallowed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from venuefeed.core.errors import StartupError
from venuefeed.core.observe.metrics import Metrics
from venuefeed.core.retry import Retry
from venuefeed.core.settings import Policy

logger = logging.getLogger(__name__)

Child = Callable[[], Awaitable[None]]


class Supervisor:
    def __init__(self, owner: str, policy: Policy, metrics: Metrics) -> None:
        self._owner = owner
        self._policy = policy
        self._metrics = metrics

    async def run(self, children: Mapping[str, Child]) -> None:
        """Run every child forever (until cancelled), each restarted independently."""
        async with asyncio.TaskGroup() as tg:
            for name, child in children.items():
                tg.create_task(self.keep(name, child), name=f"{self._owner}/{name}")

    async def keep(self, name: str, child: Child) -> None:
        retry = Retry(self._policy)
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            error: Exception | None = None
            try:
                await child()
                logger.warning("%s: task %s returned; restarting it", self._owner, name)
            except StartupError:
                raise
            except Exception as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from None
                error = exc
                logger.exception("%s: task %s crashed; restarting it", self._owner, name)
                self._metrics.inc("task_restarts", venue=self._owner, task=name)
            if loop.time() - started >= self._policy.stable_after_s:
                retry.reset()
            delay = retry.delay_after(error)
            logger.info("%s: restarting task %s in %.2fs", self._owner, name, delay)
            await asyncio.sleep(delay)

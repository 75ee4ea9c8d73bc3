"""One session's deadlines: market data per stream, subscription acks, the stable window.

`Freshness` is pure bookkeeping: the caller passes the time, so every deadline can be
tested exactly with a fake clock. The read loop writes `marks[(kind, instrument)] = now`
for each market-data event (a dict store, O(1) on the hot path); `check(now)` says which
streams are past their deadline, whether the venue failed to acknowledge the
subscriptions in time, whether the stable window has just completed, and when to look
again (the earliest deadline, never earlier, never later). `watch()` is the task that
acts on those verdicts.

Rules:
- a watched (non-quiet) stream is stale `stale_after_s` after its last data (or after
  the session started, if it never had any); a stream whose subscription the venue
  rejected has no deadline;
- a connection whose every stream is quiet by nature has one deadline instead: some
  market data within `quiet_stale_after_s` (a stalled server answering pings cannot fake
  it);
- `acks_expected` subscription answers must arrive within `subscribe_timeout_s`;
- the stable window: `stable_after_s` after the session's first data, with nothing stale
  meanwhile (a stale stream ends the session first), the backoff and breaker reset once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from venuefeed.core.adapter import StreamSpec
from venuefeed.core.settings import Policy

#: sleep this much past a deadline so the check that follows sees it passed
_SLACK_S = 0.001


@dataclass(frozen=True, slots=True)
class Verdict:
    #: keys past their deadline: stream keys, or the connection's own key (quiet-only)
    stale: tuple[str, ...] = ()
    #: the venue did not answer every subscription within `subscribe_timeout_s`
    unacknowledged: bool = False
    #: the stable window completed now (reported once per session)
    stable: bool = False
    #: when to check again
    wake_at: float = 0.0


class Freshness:
    def __init__(
        self,
        *,
        stream: str,
        streams: Sequence[StreamSpec],
        policy: Policy,
        acks_expected: int,
        started: float,
    ) -> None:
        self.stream = stream
        self.policy = policy
        self.watched = tuple(s for s in streams if not s.quiet)
        self.acks_expected = acks_expected
        self.started = started
        self.marks: dict[tuple[str, str], float] = {}
        self.acks = 0
        self.rejected: set[str] = set()
        self.first_data: float | None = None
        self._stable_done = False

    def mark(self, kind: str, instrument: str, now: float) -> None:
        self.marks[(kind, instrument)] = now

    def check(self, now: float) -> Verdict:
        policy = self.policy
        wake = now + policy.stale_after_s
        unacknowledged = False
        if self.acks_expected and self.acks < self.acks_expected:
            deadline = self.started + policy.subscribe_timeout_s
            if deadline <= now:
                unacknowledged = True
            else:
                wake = min(wake, deadline)
        stale: list[str] = []
        if self.watched:
            stale_after = policy.stale_after_s
            marks = self.marks
            for spec in self.watched:
                if spec.key in self.rejected:
                    continue
                deadline = marks.get((spec.kind, spec.instrument), self.started) + stale_after
                if deadline <= now:
                    stale.append(spec.key)
                else:
                    wake = min(wake, deadline)
        else:
            last = max(self.marks.values(), default=self.started)
            deadline = last + policy.quiet_stale_after_s
            if deadline <= now:
                stale.append(self.stream)
            else:
                wake = min(wake, deadline)
        stable = False
        if not self._stable_done and self.first_data is not None and not stale:
            stable_at = self.first_data + policy.stable_after_s
            if stable_at <= now:
                stable = self._stable_done = True
            else:
                wake = min(wake, stable_at)
        return Verdict(tuple(stale), unacknowledged, stable, wake)

    def stale_after(self) -> float:
        """The bound that `stale` keys broke (for the reason given)."""
        return self.policy.stale_after_s if self.watched else self.policy.quiet_stale_after_s


async def watch(
    freshness: Freshness,
    clock: Callable[[], float],
    first_data: asyncio.Event,
    act: Callable[[Verdict], bool],
) -> None:
    """Check at each deadline and hand every verdict to `act`; stop when `act` says the
    session is over. Before the first data there is no stable deadline to wait for, so
    the first data also wakes the check."""
    while True:
        verdict = freshness.check(clock())
        if act(verdict):
            return
        delay = max(0.0, verdict.wake_at - clock()) + _SLACK_S
        if first_data.is_set():
            await asyncio.sleep(delay)
        else:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await first_data.wait()

"""How long a venue may take to get fresh data again after a fault, from its own policy.

The soak report holds every disruptive fault's recovery (from the fault, or its end for one
that lasts, to the venue's next fresh data) to

    stale_after_s + the reconnect waits its policy allowed in that time + 1 s

- `stale_after_s`: the longest the engine may take to notice a connection that delivers
  nothing (a silent socket, a stall, a subscription the venue swallowed). A connection that
  declares `acks_expected` notices a swallowed subscription sooner, within
  `subscribe_timeout_s`, so the stale bound covers it too (no built-in plugin declares acks
  today). A connection whose every stream is quiet would take `quiet_stale_after_s`, but a
  venue's first fresh data comes from its watched connections.
- the reconnect waits: each `backoff` the venue's connections reported allows the policy's
  delay for that attempt, `min(backoff_max_s, backoff_initial_s * backoff_multiplier **
  attempt) * (1 + backoff_jitter)` (capped at `backoff_max_s`), and a `breaker_open` allows
  `breaker_cooldown_s`. The attempt number is rebuilt from the status events the way the
  engine counts it: it starts over once a connection has been live for `stable_after_s`, and
  grows by one with each failure before that. So faults that come faster than connections
  become stable are allowed the longer delays the policy prescribes for them, and nothing
  more. Per connection, only the part of each wait inside the recovery counts; the venue is
  allowed the longest of its connections' sums.
- 1 s (`CONNECT_ALLOWANCE_S`): the handshake (TLS included) and the first data frame.

Before waits were counted this way the bound was a constant (`stale_after_s +
backoff_initial_s * (1 + backoff_jitter) + 1 s`), which held only when every fault found the
engine at its first attempt; it is still what a first-attempt recovery is allowed.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from venuefeed.core.retry import backoff_delay
from venuefeed.core.settings import Policy

#: the handshake and the first data after a reconnect
CONNECT_ALLOWANCE_S = 1.0
#: a connection's backoff is taken as reset only this long after `stable_after_s`: the
#: engine's watchdog and the status events' clock differ by a little, and assuming a reset
#: that did not happen would hold the engine to a shorter wait than its policy allows
STABLE_MARGIN_S = 0.5


def allowed_backoff_s(policy: Policy, attempt: int) -> float:
    """The longest delay the policy allows before retry number `attempt` (0-based)."""
    return backoff_delay(
        attempt,
        initial_s=policy.backoff_initial_s,
        max_s=policy.backoff_max_s,
        multiplier=policy.backoff_multiplier,
        jitter=policy.backoff_jitter,
        rand=lambda: 1.0,  # the top of the jitter range
    )


def recovery_bound_s(policy: Policy, waits_s: float = 0.0) -> float:
    """The bound on one recovery in which the policy allowed `waits_s` of reconnect waits."""
    return policy.stale_after_s + waits_s + CONNECT_ALLOWANCE_S


def first_attempt_bound_s(policy: Policy) -> float:
    """The bound on a recovery with one reconnect at the first attempt."""
    return recovery_bound_s(policy, allowed_backoff_s(policy, 0))


@dataclass
class _Connection:
    attempt: int = 0  # the engine's next backoff attempt for this connection
    live_ms: int | None = None  # when it last became live (None: not live since)
    #: (from ms, to ms) of each wait its policy allowed, in order
    waits: list[tuple[int, int]] = field(default_factory=list)


class AllowedWaits:
    """The reconnect waits one venue's policy allowed its connections, rebuilt from their
    status events (`note` each `ws:` status in order)."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._connections: dict[str, _Connection] = {}

    def note(self, stream: str, state: str, ts_ms: int) -> None:
        conn = self._connections.setdefault(stream, _Connection())
        policy = self.policy
        if state == "live":
            conn.live_ms = ts_ms
        elif state == "backoff":
            stable_ms = (policy.stable_after_s + STABLE_MARGIN_S) * 1000
            if conn.live_ms is not None and ts_ms - conn.live_ms >= stable_ms:
                conn.attempt = 0  # it had been stable: the engine started over
            wait_s = allowed_backoff_s(policy, conn.attempt)
            conn.attempt += 1
            conn.live_ms = None
            conn.waits.append((ts_ms, ts_ms + int(wait_s * 1000)))
        elif state == "breaker_open":
            conn.live_ms = None
            conn.waits.append((ts_ms, ts_ms + int(policy.breaker_cooldown_s * 1000)))

    def within_s(self, start_ms: int, end_ms: int) -> float:
        """Seconds of allowed waiting inside [start_ms, end_ms]: the longest sum over the
        venue's connections of their waits' overlap with it."""
        longest = 0
        for conn in self._connections.values():
            waits = conn.waits
            # waits are in order and none is longer than the breaker cooldown or the
            # backoff cap: start from the first that could still overlap
            reach = int(max(self.policy.breaker_cooldown_s, self.policy.backoff_max_s) * 1000)
            i = bisect.bisect_left(waits, (start_ms - reach, 0))
            total = 0
            for begin, end in waits[i:]:
                if begin >= end_ms:
                    break
                total += max(0, min(end, end_ms) - max(begin, start_ms))
            longest = max(longest, total)
        return longest / 1000

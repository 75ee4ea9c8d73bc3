"""Status changes as log lines a person can live with for days.

A venue that cannot be reached fails every few seconds for as long as it is down: one
line per attempt is hundreds of long lines an hour per venue, and the cause scrolls away.
So each stream (`ws:main`, `init`) that fails goes through an episode:

- the first failure: one WARNING with the cause and when the next try is;
- while it keeps failing: the failures are counted and folded into a summary line (how
  many, for how long, the last cause, the next try), logged at the first failure after
  `window_s`, then after twice that, and so on up to once every `max_interval_s`: a
  venue down for a day costs about thirty lines, not thousands;
- the recovery: one INFO saying how many failures it took and how long it was down.

Reconnect attempts inside an episode (`connecting`, `breaker_half_open`) go to DEBUG.
Other states (stale, resync, error, fallback...) are logged as they come, rate-limited
per stream and state with a count of repeats (`RateLimitedLog`). The log never decides
anything: the Status events and the health read model carry the same facts.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from venuefeed.core.observe.logs import RateLimitedLog

#: states that mean "this attempt failed; the next one comes after `delay_s`"
FAILING = frozenset({"backoff", "init_failed", "breaker_open"})
#: states that end a failing episode
RECOVERING = frozenset({"live", "recovered"})
#: attempts inside an episode: noise once the episode is announced
ATTEMPTS = frozenset({"connecting", "breaker_half_open"})

_LEVELS: dict[str, int] = {
    "connecting": logging.INFO,
    "live": logging.INFO,
    "recovered": logging.INFO,
    "backfilled": logging.INFO,
    "stale": logging.WARNING,
    "resync": logging.WARNING,
    "breaker_half_open": logging.WARNING,
    "fallback": logging.WARNING,
    "error": logging.ERROR,
}
_ATTEMPT_PREFIX = re.compile(r"^attempt \d+: ")


@dataclass
class _Episode:
    started: float
    failures: int
    cause: str
    next_summary: float
    interval: float
    breaker_said: bool = False


def duration(seconds: float) -> str:
    """`42s`, `3m05s`, `2h10m`: short enough for a log line, exact enough to act on."""
    s = int(seconds)
    if s < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class StatusLog:
    """Decides which status changes of one engine's venues become log lines."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        window_s: float = 30.0,
        max_interval_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._window_s = window_s
        self._max_interval_s = max(max_interval_s, window_s)
        self._clock = clock
        self._episodes: dict[tuple[str, str], _Episode] = {}
        self._recovered: set[tuple[str, str]] = set()
        self._other = RateLimitedLog(logger, window_s=window_s, clock=clock)

    def failing(self, venue: str, stream: str) -> bool:
        return (venue, stream) in self._episodes

    def record(
        self,
        venue: str,
        stream: str,
        state: str,
        reason: str = "",
        *,
        delay_s: float | None = None,
        gap_s: float | None = None,
    ) -> None:
        """One status change of `stream` of `venue` (what `VenueServices.status` sends)."""
        key = (venue, stream)
        if state in FAILING:
            self._failed(key, state, _cause(venue, reason), delay_s)
        elif state in RECOVERING:
            self._ok(key, state, reason, gap_s)
        elif state in ATTEMPTS and key in self._episodes:
            self._logger.debug("%s: %s %s: %s", venue, stream, state, reason)
        else:
            self._recovered.discard(key)
            level = _LEVELS.get(state, logging.INFO)
            detail = f": {reason}" if reason else ""
            if level < logging.WARNING:
                self._logger.log(level, "%s: %s %s%s", venue, stream, state, detail)
            else:
                self._other.log(
                    level, f"{venue}:{stream}:{state}", "%s: %s %s%s", venue, stream, state, detail
                )

    def succeeded(self, venue: str, stream: str, detail: str = "") -> None:
        """A step without a `live` status of its own worked (start-up's requests)."""
        episode = self._episodes.pop((venue, stream), None)
        extra = f" ({detail})" if detail else ""
        if episode is None:
            self._logger.info("%s: %s ok%s", venue, stream, extra)
            return
        self._logger.info(
            "%s: %s ok after %s in %s%s",
            venue,
            stream,
            _failures(episode.failures),
            duration(self._clock() - episode.started),
            extra,
        )

    def _failed(self, key: tuple[str, str], state: str, cause: str, delay_s: float | None) -> None:
        venue, stream = key
        now = self._clock()
        retry = "" if delay_s is None else f"; next try in {duration(delay_s)}"
        episode = self._episodes.get(key)
        self._recovered.discard(key)
        if episode is None:
            self._episodes[key] = _Episode(
                now, 1, cause, now + self._window_s, self._window_s, state == "breaker_open"
            )
            what = "breaker open" if state == "breaker_open" else "failing"
            self._logger.warning("%s: %s %s: %s%s", venue, stream, what, cause, retry)
            return
        if state == "breaker_open":
            if not episode.breaker_said:  # an escalation: said once per episode
                episode.breaker_said = True
                self._logger.error("%s: %s breaker open: %s%s", venue, stream, cause, retry)
            return  # the failure that opened it was counted already
        episode.failures += 1
        episode.cause = cause
        if now < episode.next_summary:
            self._logger.debug("%s: %s failed again: %s%s", venue, stream, cause, retry)
            return
        episode.interval = min(episode.interval * 2, self._max_interval_s)
        episode.next_summary = now + episode.interval
        self._logger.warning(
            "%s: %s still failing: %s in %s; last: %s%s",
            venue,
            stream,
            _failures(episode.failures),
            duration(now - episode.started),
            cause,
            retry,
        )

    def _ok(self, key: tuple[str, str], state: str, reason: str, gap_s: float | None) -> None:
        venue, stream = key
        episode = self._episodes.pop(key, None)
        gap = "" if gap_s is None else f", {gap_s:.1f}s without data"
        if episode is not None:
            self._recovered.add(key)
            self._logger.info(
                "%s: %s recovered after %s in %s%s",
                venue,
                stream,
                _failures(episode.failures),
                duration(self._clock() - episode.started),
                gap,
            )
        elif state == "live" and key in self._recovered:
            self._recovered.discard(key)  # the `recovered` line said it already
            self._logger.debug("%s: %s live", venue, stream)
        else:
            detail = f": {reason}" if reason else ""
            self._logger.info("%s: %s %s%s%s", venue, stream, state, gap, detail)


def _cause(venue: str, reason: str) -> str:
    """The reason without what changes every attempt (`attempt 7:`) or repeats the venue."""
    return _ATTEMPT_PREFIX.sub("", reason).removeprefix(f"{venue}: ") or "no reason given"


def _failures(count: int) -> str:
    return "1 failure" if count == 1 else f"{count} failures"

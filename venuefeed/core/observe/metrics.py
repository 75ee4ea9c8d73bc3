"""In-process counters and gauges, cheap enough for the per-frame path.

Keys are (name, labels) with labels a tuple of (key, value) pairs. The HTTP exporter
reads `snapshot()`; tests read `value()`.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable

Labels = tuple[tuple[str, str], ...]


class Metrics:
    def __init__(self) -> None:
        self._counters: defaultdict[tuple[str, Labels], float] = defaultdict(float)
        self._gauges: dict[tuple[str, Labels], float] = {}

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        self._counters[(name, tuple(sorted(labels.items())))] += amount

    def key(self, name: str, **labels: str) -> tuple[str, Labels]:
        """A pre-built series key for `bump`, for counters on the hot path."""
        return (name, tuple(sorted(labels.items())))

    def bump(self, key: tuple[str, Labels], amount: float = 1.0) -> None:
        self._counters[key] += amount

    @property
    def gauge_names(self) -> set[str]:
        return {name for name, _ in self._gauges}

    def set(self, name: str, value: float, **labels: str) -> None:
        self._gauges[(name, tuple(sorted(labels.items())))] = value

    def forget(self, **labels: str) -> None:
        """Drop every series whose labels include `labels` (a consumer that went away)."""
        want = set(labels.items())
        for store in (self._counters, self._gauges):
            for key in [k for k in store if want <= set(k[1])]:
                del store[key]

    def value(self, name: str, **labels: str) -> float:
        """Sum of a counter (or the gauge) over every series whose labels include `labels`."""
        want = set(labels.items())
        total = 0.0
        for store in (self._counters, self._gauges):
            for (n, lbls), v in store.items():
                if n == name and want <= set(lbls):
                    total += v
        return total

    def snapshot(self) -> dict[str, dict[Labels, float]]:
        out: dict[str, dict[Labels, float]] = defaultdict(dict)
        for store in (self._counters, self._gauges):
            for (n, lbls), v in store.items():
                out[n][lbls] = v
        return dict(out)


#: upper bounds (seconds) of the receive-minus-venue-time histogram buckets
LAG_BUCKETS_S: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)


#: `observe_ms(lag)` is `observe_all_ms(lag, (0,))`: one venue time, 0, received at `lag`
_NOW = (0,)


class LagHistogram:
    """Receive time minus venue time, bucketed on the hot path for a few hundred ns.

    Negative lags (clock skew) land in the first bucket and are counted apart.
    """

    def __init__(self) -> None:
        # lags are whole milliseconds, so `lag <= 2.5` is `lag <= 2`: whole bounds keep
        # the bisection int against int (~40 ns a lag, not ~90 against floats)
        self._bounds_ms = [math.floor(b * 1000) for b in LAG_BUCKETS_S]
        self.counts = [0] * (len(LAG_BUCKETS_S) + 1)  # last slot: +Inf
        self.sum_s = 0.0
        self.negative = 0

    def observe_ms(self, lag_ms: int) -> None:
        self.observe_all_ms(lag_ms, _NOW)

    def observe_all_ms(self, recv_ms: int, venue_ms: Iterable[int]) -> None:
        """`observe_ms(recv_ms - t)` for each venue time `t` (a run of deltas received
        together), in one call."""
        bounds, counts, where = self._bounds_ms, self.counts, bisect.bisect_left
        total = 0
        for ts in venue_ms:
            lag_ms = recv_ms - ts
            if lag_ms < 0:
                self.negative += 1
                lag_ms = 0
            counts[where(bounds, lag_ms)] += 1
            total += lag_ms
        self.sum_s += total / 1000

    def cumulative(self) -> list[tuple[str, float]]:
        """Prometheus-style cumulative buckets, `+Inf` last."""
        out: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip((*LAG_BUCKETS_S, float("inf")), self.counts, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(bound), float(running)))
        return out

"""In-process counters and gauges, cheap enough for the per-frame path.

Keys are (name, labels) with labels a tuple of (key, value) pairs. The HTTP exporter
reads `snapshot()`; tests read `value()`.
"""

from __future__ import annotations

from collections import defaultdict

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

    def set(self, name: str, value: float, **labels: str) -> None:
        self._gauges[(name, tuple(sorted(labels.items())))] = value

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

"""`/metrics`: a prometheus-client collector read at scrape time.

It turns the engine's own counters (`Metrics`) and the health read model into metric
families; the per-message path pays nothing for any of it. It knows the engine only as
the callables it is given. Every family in the catalogue (`catalogue.py`) is exported from
the first scrape, with the series known in advance at 0, so alerts have something to
work on before the first failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, get_args

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from venuefeed.core.breaker import BreakerState
from venuefeed.core.events import StatusState
from venuefeed.core.observe.catalogue import FAMILIES, engine_series, venue_series
from venuefeed.core.observe.health import VenueHealth, venue_live
from venuefeed.core.observe.metrics import Metrics

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

PREFIX = "venuefeed_"
#: every state a connection can report (the Status event's own vocabulary)
STATES: tuple[str, ...] = get_args(StatusState)

HealthSource = Callable[[], Mapping[str, VenueHealth]]
DepthSource = Callable[[], Sequence[tuple[str, int]]]


class EngineCollector(Collector):
    def __init__(self, metrics: Metrics, health: HealthSource, depths: DepthSource) -> None:
        self._metrics = metrics
        self._health = health
        self._depths = depths

    def collect(self) -> Iterator[Metric]:
        metrics = self._metrics
        health = self._health()
        depths = self._depths()
        snapshot = metrics.snapshot()
        known = [
            *(
                item
                for name, venue in health.items()
                for item in venue_series(name, [c.stream for c in venue.connections])
            ),
            *engine_series([consumer for consumer, _ in depths]),
        ]
        for family_name, labelled in known:
            snapshot.setdefault(family_name, {}).setdefault(tuple(sorted(labelled.items())), 0.0)
        for family_name in FAMILIES:
            snapshot.setdefault(family_name, {})
        for name, series in sorted(snapshot.items()):
            if name in metrics.gauge_names:
                continue
            help_text, label_names, by_venue = FAMILIES.get(
                name, (f"venuefeed {name.replace('_', ' ')}", (), False)
            )
            declared = {*label_names, *(("venue",) if by_venue else ())}
            labels = sorted(declared | {k for lbls in series for k, _ in lbls})
            family = CounterMetricFamily(f"{PREFIX}{name}", help_text, labels=labels)
            for lbls, value in series.items():
                d = dict(lbls)
                family.add_metric([d.get(k, "") for k in labels], value)
            yield family
        state = GaugeMetricFamily(
            f"{PREFIX}stream_state",
            "1 for the current state of each connection",
            labels=["venue", "stream", "state"],
        )
        stale = CounterMetricFamily(
            f"{PREFIX}stale_seconds",
            "seconds a connection spent without data after failures",
            labels=["venue", "stream"],
        )
        backoff = GaugeMetricFamily(
            f"{PREFIX}backoff_delay_seconds", "current reconnect delay", labels=["venue", "stream"]
        )
        breaker = GaugeMetricFamily(
            f"{PREFIX}breaker_state",
            "1 for the breaker's current state",
            labels=["venue", "stream", "state"],
        )
        live = GaugeMetricFamily(
            f"{PREFIX}venue_live", "1 while every connection of the venue is live", labels=["venue"]
        )
        lag = HistogramMetricFamily(
            f"{PREFIX}receive_lag_seconds", "receive time minus venue time", labels=["venue"]
        )
        for name, venue in health.items():
            live.add_metric([name], 1.0 if venue_live(venue) else 0.0)
            for conn in venue.connections:
                for s in STATES:
                    state.add_metric([name, conn.stream, s], 1.0 if conn.state == s else 0.0)
                stale.add_metric([name, conn.stream], conn.seconds_not_live)
                delay = metrics.value("backoff_delay_s", venue=name, stream=conn.stream)
                backoff.add_metric([name, conn.stream], delay)
                for b in BreakerState:
                    breaker.add_metric(
                        [name, conn.stream, b.value], 1.0 if conn.breaker == b.value else 0.0
                    )
            lag.add_metric([name], buckets=list(venue.lag_buckets), sum_value=venue.lag_sum_s)
        depth = GaugeMetricFamily(
            f"{PREFIX}queue_depth", "events waiting per consumer", labels=["consumer"]
        )
        for consumer, waiting in depths:
            depth.add_metric([consumer], waiting)
        yield from (state, stale, backoff, breaker, live, lag, depth)


def registry_for(collector: EngineCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    ProcessCollector(registry=registry)  # process_resident_memory_bytes and friends
    return registry

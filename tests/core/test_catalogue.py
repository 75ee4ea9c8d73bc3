"""`/metrics` exports every counter family from the first scrape, with the series known
in advance at 0: an alert on `rate(venuefeed_reconnects_total[5m])` has data before the
first reconnect."""

from __future__ import annotations

from prometheus_client import generate_latest

from venuefeed.core.observe.catalogue import FAMILIES
from venuefeed.core.observe.collector import EngineCollector, registry_for
from venuefeed.core.observe.health import ConnectionHealth, VenueHealth
from venuefeed.core.observe.metrics import LagHistogram, Metrics


def scrape(metrics: Metrics, health: dict[str, VenueHealth]) -> str:
    collector = EngineCollector(metrics, lambda: health, lambda: [("sink", 0)])
    return generate_latest(registry_for(collector)).decode()


def starting(name: str, *streams: str) -> VenueHealth:
    connections = tuple(
        ConnectionHealth(s, "connecting", "", 0, None, 0.0, 0, "", 0, "closed") for s in streams
    )
    return VenueHealth(
        name=name, connections=connections, streams={}, lag_buckets=LagHistogram().cumulative()
    )


def test_every_family_is_exported_before_anything_happened():
    text = scrape(Metrics(), {"aster": starting("aster", "ws:main")})
    for family in FAMILIES:
        assert f"# TYPE venuefeed_{family}_total counter" in text, family
    for series in (
        'venuefeed_reconnects_total{reason="StaleError",venue="aster"} 0.0',
        'venuefeed_reconnects_total{reason="rotate",venue="aster"} 0.0',
        'venuefeed_stale_total{venue="aster"} 0.0',
        'venuefeed_task_restarts_total{task="venue",venue="aster"} 0.0',
        'venuefeed_task_restarts_total{task="ws:main",venue="aster"} 0.0',
        'venuefeed_events_dropped_total{kind="trade",venue="aster"} 0.0',
        'venuefeed_parse_errors_total{kind="MalformedFrame",venue="aster"} 0.0',
        'venuefeed_events_total{kind="book",venue="aster"} 0.0',
        'venuefeed_consumer_dropped_total{consumer="sink"} 0.0',
        'venuefeed_consumers_evicted_total{policy="gap"} 0.0',
    ):
        assert series in text, series


def test_a_counted_series_replaces_its_zero_and_nothing_is_doubled():
    metrics = Metrics()
    metrics.inc("reconnects", 3, venue="aster", reason="StaleError")
    metrics.inc("poll_failures", venue="aster", request="premiumIndex")
    text = scrape(metrics, {"aster": starting("aster")})
    lines = [line for line in text.splitlines() if "StaleError" in line]
    assert lines == ['venuefeed_reconnects_total{reason="StaleError",venue="aster"} 3.0']
    assert 'venuefeed_poll_failures_total{request="premiumIndex",venue="aster"} 1.0' in text
    assert 'request=""' not in text  # no phantom series for values only the venue names

"""Builders shared by the engine tests (conftest fixtures cannot be imported)."""

from __future__ import annotations

from typing import Any

import fakex

from venuefeed.core.plugins import PluginHost
from venuefeed.core.settings import Settings

#: policy for engine tests: every threshold short so tests finish in a fraction of a second.
FAST_POLICY: dict[str, Any] = {
    "stale_after_s": 0.3,
    "connect_timeout_s": 1.0,
    "request_timeout_s": 1.0,
    "backoff_initial_s": 0.05,
    "backoff_max_s": 0.4,
    "backoff_multiplier": 2.0,
    "backoff_jitter": 0.0,
    "stable_after_s": 0.3,
    "heartbeat_interval_s": 0.1,
    "funding_poll_s": 0.2,
    "init_retry_max_s": 0.1,
    "breaker_failures": 50,
    "breaker_window_s": 10.0,
    "breaker_cooldown_s": 0.2,
}


def fake_host() -> PluginHost:
    """A fresh plugin manager holding only the test venues."""
    return PluginHost(builtin_modules=(), extra_plugins=[fakex], load_entry_points=False)


def make_settings(venues: dict[str, dict[str, Any]], **policy: Any) -> Settings:
    return Settings.model_validate(
        {
            "defaults": {**FAST_POLICY, **policy, "symbols": ["BTC", "ETH"]},
            "engine": {"queue_max": 10_000},
            "venues": venues,
        }
    )

"""`venuefeed.sim.simulate()`: the simulated venues for library users and plugin authors."""

from __future__ import annotations

import pytest

from venuefeed import Book, ConfigError, Engine, Settings
from venuefeed.sim import simulate
from venuefeed.testing import next_event


async def test_simulate_yields_settings_pointed_at_loopback_venues():
    settings = Settings.model_validate(
        {"defaults": {"symbols": ["BTC"]}, "venues": {"hyperliquid": {}, "aster": {}}}
    )
    async with simulate(settings, venues=["hyperliquid"], tick_s=0.02) as simulated:
        table = simulated.venues["hyperliquid"]
        assert table.ws_url is not None and table.ws_url.startswith("wss://127.0.0.1:")
        assert table.ca_file is not None
        assert simulated.venues["aster"].enabled is False  # never the real venue
        async with Engine(simulated) as engine:
            book = await next_event(engine.events(), lambda e: isinstance(e, Book), 10)
    assert book.venue == "hyperliquid" and book.bids and book.asks
    assert book.ts_venue is not None and book.ts_venue > 0  # never the epoch


async def test_nothing_to_simulate_is_a_config_error():
    settings = Settings.model_validate({"venues": {"aster": {"enabled": False}}})
    with pytest.raises(ConfigError, match="nothing to simulate"):
        async with simulate(settings):
            pass

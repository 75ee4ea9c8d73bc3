"""The synthetic market a simulator serves: bounded whatever it runs for."""

from __future__ import annotations

import pytest

from venuefeed.sim import market as market_module
from venuefeed.sim.market import SyntheticMarket


def test_a_market_remembers_only_its_latest_trades(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(market_module, "KEPT_TRADES", 5)
    market = SyntheticMarket("BTC")
    now_ms = 1_000_000
    while market.trade_id < 40:
        now_ms += 100
        market.step(now_ms)
    kept = list(market.trades)
    assert len(kept) == 5 and kept == list(range(market.trade_id - 4, market.trade_id + 1))
    assert list(market.trade_times) == kept  # the loss accounting forgets the same ones

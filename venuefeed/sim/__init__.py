"""Simulated venues: loopback servers that speak each venue's real protocol.

`simulate(settings)` is the public way in (see `api.py`): an async context manager that
yields settings pointed at simulated venues. The market model (`market.py`), the server
and its faults (`server.py`) are core; each venue plugin supplies only a small `sim.py`
encoder (`SimVenue`) next to its parser, so protocol knowledge stays in the plugin's
folder.
"""

from venuefeed.sim.api import simulate
from venuefeed.sim.market import MarketUpdate, SimTrade, SyntheticMarket
from venuefeed.sim.protocol import DataFrame, Frame, SimRequest, SimResponse, SimSession, SimVenue

__all__ = [
    "DataFrame",
    "Frame",
    "MarketUpdate",
    "SimRequest",
    "SimResponse",
    "SimSession",
    "SimTrade",
    "SimVenue",
    "SyntheticMarket",
    "simulate",
]

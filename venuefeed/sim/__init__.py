"""Simulated venues: loopback servers that speak each venue's real protocol.

The market model (`market.py`), the server and its faults (`server.py`) are core; each venue
plugin supplies only a small `sim.py` encoder (`SimVenue`) next to its parser, so protocol
knowledge stays in the plugin's folder.
"""

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
]

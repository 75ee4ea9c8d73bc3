"""Paradex venue plugin: perpetuals market data over JSON-RPC + SBE websockets."""

from __future__ import annotations

from venuefeed import VenueAdapter, hookimpl
from venuefeed.plugins.paradex.adapter import ParadexAdapter

__all__ = ["ParadexAdapter"]


@hookimpl
def venuefeed_register_venues() -> list[type[VenueAdapter]]:
    return [ParadexAdapter]

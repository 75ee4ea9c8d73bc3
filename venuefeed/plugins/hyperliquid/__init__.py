"""Hyperliquid venue plugin: registers `HyperliquidAdapter` under the name "hyperliquid"."""

from __future__ import annotations

from venuefeed import VenueAdapter, hookimpl
from venuefeed.plugins.hyperliquid.adapter import HyperliquidAdapter

__all__ = ["HyperliquidAdapter", "venuefeed_register_venues"]


@hookimpl
def venuefeed_register_venues() -> list[type[VenueAdapter]]:
    return [HyperliquidAdapter]

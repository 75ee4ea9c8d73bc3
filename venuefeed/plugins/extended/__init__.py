"""Extended (formerly X10) perpetuals on Starknet: order book, trades, funding, mark."""

from __future__ import annotations

from venuefeed import hookimpl
from venuefeed.core.adapter import VenueAdapter
from venuefeed.plugins.extended.adapter import ExtendedAdapter

__all__ = ["ExtendedAdapter"]


@hookimpl
def venuefeed_register_venues() -> list[type[VenueAdapter]]:
    return [ExtendedAdapter]

"""Aster (asterdex) perpetuals venue plugin."""

from __future__ import annotations

from venuefeed import hookimpl
from venuefeed.core.adapter import VenueAdapter
from venuefeed.plugins.aster.adapter import AsterAdapter

__all__ = ["AsterAdapter"]


@hookimpl
def venuefeed_register_venues() -> list[type[VenueAdapter]]:
    return [AsterAdapter]

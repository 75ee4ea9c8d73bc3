"""Lighter (zkLighter) venue plugin: registers `LighterAdapter` under the name "lighter"."""

from __future__ import annotations

from venuefeed import hookimpl
from venuefeed.core.adapter import VenueAdapter
from venuefeed.plugins.lighter.adapter import LighterAdapter


@hookimpl
def venuefeed_register_venues() -> list[type[VenueAdapter]]:
    return [LighterAdapter]

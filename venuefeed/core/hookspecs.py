"""Plugin hooks. Few, verb-first, called at start-up only: never in the per-message path."""

from __future__ import annotations

from collections.abc import Sequence

import pluggy

from venuefeed.core.adapter import VenueAdapter

PROJECT = "venuefeed"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def venuefeed_register_venues() -> Sequence[type[VenueAdapter]]:  # type: ignore[empty-body]
    """Return the venue adapter classes this plugin provides.

    Called once when the plugin host is built (at engine or CLI start-up). Each class
    must subclass `venuefeed.VenueAdapter` and set a unique `name`; that name is the
    `[venues.<name>]` table that configures it.
    """

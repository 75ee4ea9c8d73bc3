"""venuefeed: supervised, normalized market data from crypto perpetual-futures venues.

Library use::

    settings = venuefeed.load_settings("venues.toml")
    async with venuefeed.Engine(settings) as engine:
        async for event in engine.events():
            ...

Plugin authors need `hookimpl`, `VenueAdapter` and the types re-exported below.
"""

from __future__ import annotations

from venuefeed.core.adapter import (
    Ack,
    AdapterOptions,
    BookDelta,
    BookSnapshot,
    ConnectionSpec,
    Continuity,
    Heartbeat,
    Instrument,
    Parsed,
    Pong,
    Reply,
    RestRequest,
    Resync,
    StreamSpec,
    VenueAdapter,
    VenueContext,
    VenueNotice,
)
from venuefeed.core.engine import Engine
from venuefeed.core.errors import (
    ConfigError,
    MalformedFrame,
    ParseError,
    PluginError,
    UnknownFrame,
    UnknownSymbolError,
    VenuefeedError,
)
from venuefeed.core.events import AnyEvent, Bbo, Book, Event, Funding, Gap, Mark, Status, Trade
from venuefeed.core.hookspecs import hookimpl
from venuefeed.core.settings import Policy, Settings, load_settings

__version__ = "0.1.0"

__all__ = [
    "Ack",
    "AdapterOptions",
    "AnyEvent",
    "Bbo",
    "Book",
    "BookDelta",
    "BookSnapshot",
    "ConfigError",
    "ConnectionSpec",
    "Continuity",
    "Engine",
    "Event",
    "Funding",
    "Gap",
    "Heartbeat",
    "Instrument",
    "MalformedFrame",
    "Mark",
    "ParseError",
    "Parsed",
    "PluginError",
    "Policy",
    "Pong",
    "Reply",
    "RestRequest",
    "Resync",
    "Settings",
    "Status",
    "StreamSpec",
    "Trade",
    "UnknownFrame",
    "UnknownSymbolError",
    "VenueAdapter",
    "VenueContext",
    "VenueNotice",
    "VenuefeedError",
    "__version__",
    "hookimpl",
    "load_settings",
]

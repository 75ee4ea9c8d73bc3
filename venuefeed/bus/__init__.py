"""The NATS JetStream bus: what engines publish (`--sink nats://`) and how to read it.

`subscribe(url, kinds=..., venues=..., symbols=..., start=..., durable=...)` gives the
same typed events the engine made (Trade, Book, ...), with trades once and books never
older than one already handed out. Subjects, payload and message ids: `wire.py`; the
streams: `streams.py`. nats-py is imported only when a connection is made, so importing
this package never needs it.
"""

from __future__ import annotations

from venuefeed.bus.arbiter import StateArbiter, order_key
from venuefeed.bus.connect import BusUnreachableError
from venuefeed.bus.subscriber import BusSubscription, subscribe
from venuefeed.bus.wire import ALL_KINDS, HISTORY_KINDS, STATE_KINDS, decode, subject, token

__all__ = [
    "ALL_KINDS",
    "HISTORY_KINDS",
    "STATE_KINDS",
    "BusSubscription",
    "BusUnreachableError",
    "StateArbiter",
    "decode",
    "order_key",
    "subject",
    "subscribe",
    "token",
]

"""What an event looks like on the bus: subject, payload, message id. Pure functions.

Subjects
    ``<prefix>.<kind>.<venue>.<symbol>``, e.g. ``venuefeed.trade.aster.BTC``. `symbol` is
    the normalized symbol (`*` on a status about a whole connection). Venue and symbol are
    made subject-safe by `token()`: letters, digits, `-` and `_` pass unchanged, any other
    byte of the UTF-8 text becomes `~XX` (hex), an empty string becomes `~`; so
    `*` -> `~2A`, `BTC.X` -> `BTC~2EX`, and `untoken()` reverses it exactly.

Payload
    The event's JSON object exactly as the JSON-lines sink writes it (`encode_event`):
    msgspec JSON rather than MessagePack because a line taken off the bus *is* a line of
    `run --sink jsonl:`, so `tail` and the JSONL sink agree byte for byte; any language
    and the `nats` CLI read it without a schema; and MessagePack saves little on our
    events, whose floats it writes as 9 bytes each (measured: 3% on a 20-level book, 21%
    on a trade), not enough to pay for a second wire format. `decode()` gives back the
    same typed event (`Trade`, `Book`, ...).

Message ids (`Nats-Msg-Id`, history stream only)
    The server drops a message whose id it stored within the stream's duplicate window,
    whoever sent it. So an id must be equal exactly when two messages are the same fact:

    - trade: ``t:<venue>:<instrument>:<trade_id>``: the venue's own identity, equal from
      every engine, so a trade published twice (a retry, or two redundant engines) is
      stored once;
    - funding with a venue timestamp: ``f:<venue>:<instrument>:<feed>:<basis>:<ts_venue>``,
      equal from every engine. The feed and basis are part of the fact: a venue's websocket
      and REST rates, or its predicted and settled ones, stamped the same millisecond are
      different observations and both kept. Funding without one (quotes polled or pushed
      with no time) gets an engine-specific id: keyed by value it would wrongly drop a rate
      that returns to an earlier value (A, B, A) within the window; each engine's quote is a
      true observation, so two engines may both store one;
    - status and gap: engine-specific, ``s:<engine>:<n>`` / ``g:<engine>:<n>``. A status is
      one engine's view of its own connection and a gap what that engine lost: two engines'
      are different facts and both are kept; a retry by the same engine is still dropped.

    State events carry no id: the state stream keeps one message per subject and consumers
    arbitrate by the venue's time and sequence (`venuefeed.bus.arbiter`).
"""

from __future__ import annotations

import re

from venuefeed.core.events import AnyEvent, Event, Funding, Gap, Status, Trade, decode_event
from venuefeed.core.events import encode_event as encode

HISTORY_KINDS: tuple[str, ...] = ("trade", "funding", "status", "gap")
STATE_KINDS: tuple[str, ...] = ("book", "bbo", "mark")
ALL_KINDS: tuple[str, ...] = (*HISTORY_KINDS, *STATE_KINDS)

#: header naming the engine instance that published a message (status and gap tell
#: which engine's view they are)
ENGINE_HEADER = "Venuefeed-Engine"
MSG_ID_HEADER = "Nats-Msg-Id"

_SAFE = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPE = re.compile(r"~([0-9A-F]{2})")

__all__ = [
    "ALL_KINDS",
    "ENGINE_HEADER",
    "HISTORY_KINDS",
    "MSG_ID_HEADER",
    "STATE_KINDS",
    "decode",
    "encode",
    "message_id",
    "stream_subjects",
    "subject",
    "token",
    "untoken",
]


def token(text: str) -> str:
    """`text` as one subject token (see the module docstring); reversible."""
    if not text:
        return "~"
    if _SAFE.fullmatch(text):
        return text
    out: list[str] = []
    for char in text:
        if _SAFE.fullmatch(char):
            out.append(char)
        else:
            out.extend(f"~{b:02X}" for b in char.encode())
    return "".join(out)


def untoken(tok: str) -> str:
    """Inverse of `token`."""
    if tok == "~":
        return ""
    if "~" not in tok:
        return tok
    raw = bytearray()
    pos = 0
    for match in _ESCAPE.finditer(tok):
        raw.extend(tok[pos : match.start()].encode())
        raw.append(int(match.group(1), 16))
        pos = match.end()
    raw.extend(tok[pos:].encode())
    return raw.decode()


def subject(prefix: str, event: Event) -> str:
    return f"{prefix}.{event.kind}.{token(event.venue)}.{token(event.symbol)}"


def stream_subjects(prefix: str, kinds: tuple[str, ...]) -> list[str]:
    return [f"{prefix}.{kind}.>" for kind in kinds]


def message_id(event: Event, engine_id: str, n: int) -> str | None:
    """The `Nats-Msg-Id` of a history event; None for state events. `n` is the engine's
    own publish counter, used only where the id is engine-specific."""
    if isinstance(event, Trade):
        return f"t:{event.venue}:{event.instrument}:{event.trade_id}"
    if isinstance(event, Funding):
        if event.ts_venue is not None:
            return f"f:{event.venue}:{event.instrument}:{event.feed}:{event.basis}:{event.ts_venue}"
        return f"f:{engine_id}:{n}"
    if isinstance(event, Status):
        return f"s:{engine_id}:{n}"
    if isinstance(event, Gap):
        return f"g:{engine_id}:{n}"
    return None


def decode(payload: bytes) -> AnyEvent:
    """A bus payload back to its typed event."""
    return decode_event(payload)

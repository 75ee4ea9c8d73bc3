"""The recording format, version 1: what `venuefeed run --record DIR` writes.

A recording is a directory of files named `venuefeed-<UTC start>-<number>.jsonl.zst`,
read in name order. Each file is a zstd stream (one or more frames; a file cut short by
a crash reads up to its last flushed block) of JSON lines, one record per line, each an
object whose `kind` says what it is. Times (`ns`) are wall-clock nanoseconds since the
epoch, taken when the frame or body was received. Every file starts with a `header`,
then a `venue` record per recorded venue and the venues' last start-up answers (both
repeated in every file, so each file can be read, and replayed, alone), then traffic in
the order the engine saw it:

    header       format "venuefeed-recording", version 1, run (id), file (number), ns
    venue        venue, symbols, ws_url, rest_url, options, policy: how it was set up
    open         venue, conn, url: a websocket of connection `conn` opened
    open_failed  venue, conn, error, detail: its handshake failed
    recv         venue, conn, text (a text message) or data (binary, base64)
    sent         venue, conn, text: what we sent (subscribes, pings, replies)
    close        venue, conn, error, detail: the session ended, and why (the exception's
                 class and message; CancelledError is the engine stopping)
    rest         venue, purpose (init, poll, snapshot, backfill, fallback), request
                 (name, method, path, params, json), then either status and body (text)
                 or data (binary body, base64), or error and detail (no answer);
                 carried: true on the copies of each venue's last successful start-up
                 answers that open every later file (a reader of the whole recording
                 skips them)
    gap          from_ns, lost: the recorder dropped `lost` records since from_ns
                 because the disk could not keep up; what is missing is unknown

A reader ignores fields it does not know; a new version number means records changed
meaning. `zstdcat DIR/*.zst | jq` reads a recording.
"""

from __future__ import annotations

from typing import Any

import msgspec

FORMAT = "venuefeed-recording"
VERSION = 1
SUFFIX = ".jsonl.zst"
PREFIX = "venuefeed-"


class Header(msgspec.Struct, tag="header", tag_field="kind", omit_defaults=True):
    format: str
    version: int
    run: str
    file: int
    ns: int


class Venue(msgspec.Struct, tag="venue", tag_field="kind", omit_defaults=True):
    venue: str
    symbols: list[str]
    ws_url: str
    rest_url: str
    options: dict[str, Any]
    policy: dict[str, Any]


class Open(msgspec.Struct, tag="open", tag_field="kind", omit_defaults=True):
    ns: int
    venue: str
    conn: str
    url: str


class OpenFailed(msgspec.Struct, tag="open_failed", tag_field="kind", omit_defaults=True):
    ns: int
    venue: str
    conn: str
    error: str
    detail: str


class Recv(msgspec.Struct, tag="recv", tag_field="kind", omit_defaults=True):
    ns: int
    venue: str
    conn: str
    text: str | None = None
    data: bytes | None = None


class Sent(msgspec.Struct, tag="sent", tag_field="kind", omit_defaults=True):
    ns: int
    venue: str
    conn: str
    text: str


class Close(msgspec.Struct, tag="close", tag_field="kind", omit_defaults=True):
    ns: int
    venue: str
    conn: str
    error: str
    detail: str


class Rest(msgspec.Struct, tag="rest", tag_field="kind", omit_defaults=True):
    ns: int
    venue: str
    purpose: str
    request: dict[str, Any]
    status: int | None = None
    body: str | None = None
    data: bytes | None = None
    error: str | None = None
    detail: str | None = None
    #: a copy of the venue's last start-up answer at the top of a later file, so that a
    #: file whose predecessors were deleted (`--record-max-mb`) can still be replayed
    carried: bool = False

    def raw(self) -> bytes:
        """The body as received."""
        if self.data is not None:
            return self.data
        return (self.body or "").encode()


class Gap(msgspec.Struct, tag="gap", tag_field="kind", omit_defaults=True):
    ns: int
    from_ns: int
    lost: int


Record = Header | Venue | Open | OpenFailed | Recv | Sent | Close | Rest | Gap
#: records that carry traffic, in the order the engine saw it
Traffic = Open | OpenFailed | Recv | Sent | Close | Rest | Gap


def body_record(
    ns: int, venue: str, purpose: str, call: dict[str, Any], status: int, body: bytes
) -> Rest:
    """A REST answer; a body that is not UTF-8 text is kept as bytes."""
    try:
        return Rest(ns, venue, purpose, call, status=status, body=body.decode())
    except UnicodeDecodeError:
        return Rest(ns, venue, purpose, call, status=status, data=body)


def error_name(error: BaseException | None) -> str:
    return "None" if error is None else type(error).__name__


encoder = msgspec.json.Encoder()
decoder = msgspec.json.Decoder(Record)

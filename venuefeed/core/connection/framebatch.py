"""Read what the socket already holds in one go, and decode only the snapshots that count.

A read loop that decodes every frame does, on a snapshot feed in a burst, the work of 60
books for every one a consumer sees: the publisher conflates book events per key, so a
snapshot replaced by a newer one of the same book before anybody read it was decoded,
parsed and kept for nothing. This module moves that conflation before decoding:

- `Link.next_batch` takes the frames the websocket library has already read (at most
  `BATCH_MAX`, so one venue's burst cannot hold the loop), after awaiting the first one.
  Each frame passes through it exactly once, whatever is skipped later: that is the one
  place where every raw frame can be counted or recorded.
- `SnapshotConflation.plan` finds each frame's book key with the adapter's declared
  `FrameKey` (a regular expression on the raw frame, interpreted here; no plugin scans
  bytes by hand) and keeps, per key, only the frame conflation would deliver: the newest,
  or with sequence numbers the highest (the first of equals), at its own position among
  the other frames. Everything the rule does not match (trades, deltas, control frames)
  passes in arrival order.

What makes a skip safe is that the result is the same as decoding everything: a book
feed of whole snapshots (`Continuity.SNAPSHOTS`, the only case this runs) keeps nothing
from an older snapshot once a newer one is applied, the kept frame marks the book fresh
no earlier than the skipped one would have, and if the kept frame turns out unusable
(a parse error, or results the rule did not promise) the skipped frames of its key are
decoded after all. A rule found mapping one key to two instruments is switched off for
the session and logged: `venuefeed.testing.check_frame_key` catches that before it ships.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

from venuefeed.core.adapter import BookDelta, BookSnapshot, FrameKey, Parsed
from venuefeed.core.connection.link import Frame
from venuefeed.core.errors import MalformedFrame, ParseError
from venuefeed.core.publishing.sanity import check_results, not_streamed
from venuefeed.core.venue.services import VenueServices


class SnapshotConflation:
    """One session's interpreter of a connection's `FrameKey` (None: nothing skipped)."""

    def __init__(self, rule: FrameKey | None) -> None:
        self._text: Callable[[str], re.Match[str] | None] | None = None
        self._binary: Callable[[bytes], re.Match[bytes] | None] | None = None
        if rule is not None:
            if isinstance(rule.pattern, str):
                self._text = re.compile(rule.pattern, re.DOTALL).match
            else:
                self._binary = re.compile(rule.pattern, re.DOTALL).match
        #: key -> the instrument its frames parsed to: a second one means the rule is broken
        self._instrument_of: dict[Any, str] = {}
        self.skipped = 0
        self.broken: str | None = None

    @property
    def active(self) -> bool:
        return (self._text is not None or self._binary is not None) and self.broken is None

    def key(self, frame: Frame) -> tuple[Any, int | None] | None:
        """(key, seq) of a snapshot frame the rule matches, else None."""
        m: re.Match[str] | re.Match[bytes] | None
        if isinstance(frame, str):
            text = self._text
            m = None if text is None else text(frame)
        else:
            binary = self._binary
            m = None if binary is None else binary(frame)
        if m is None:
            return None
        raw = m["seq"] if "seq" in m.re.groupindex else None
        if raw is None:
            return m["key"], None
        seq = int.from_bytes(raw, "little", signed=True) if isinstance(raw, bytes) else int(raw)
        return m["key"], seq

    def plan(self, frames: list[Frame]) -> list[tuple[Frame, Any, Sequence[Frame]]]:
        """The frames to decode, in arrival order, each with its key (None: not a snapshot
        the rule matched) and the older frames of that key it replaced (decoded only if
        it proves unusable)."""
        if len(frames) == 1 or not self.active:
            return [(frame, None, ()) for frame in frames]
        keys: list[Any] = []
        best: dict[Any, tuple[int, int | None]] = {}  # key -> (index, seq) to keep
        for i, frame in enumerate(frames):
            found = self.key(frame)
            if found is None:
                keys.append(None)
                continue
            key, seq = found
            keys.append(key)
            kept = best.get(key)
            # with numbers, the highest wins (a later equal or lower one is a duplicate
            # the book keeper would ignore); without, the newest
            if kept is None or seq is None or kept[1] is None or seq > kept[1]:
                best[key] = (i, seq)
        if not best:
            return [(frame, None, ()) for frame in frames]
        out: list[tuple[Frame, Any, Sequence[Frame]]] = []
        replaced: dict[Any, list[Frame]] = {}
        for i, frame in enumerate(frames):
            key = keys[i]
            if key is None:
                out.append((frame, None, ()))
            elif best[key][0] == i:
                older = replaced.setdefault(key, [])
                out.append((frame, key, older))  # later losers of this key join `older`
            else:
                replaced.setdefault(key, []).append(frame)
                self.skipped += 1
        return out

    def confirm(self, key: Any, results: Sequence[object] | None) -> bool:
        """True if a kept frame's results are what its rule promised: one `BookSnapshot`,
        of the instrument this key always meant. False: decode what it replaced."""
        if results is None:
            return False  # unusable (counted as a parse error): fall back to the older ones
        if len(results) != 1 or type(snap := results[0]) is not BookSnapshot:
            self.broken = f"key {key!r} matched a frame that is not one book snapshot"
            return False
        known = self._instrument_of.setdefault(key, snap.instrument)
        if known != snap.instrument:
            self.broken = f"key {key!r} matched books of {known!r} and {snap.instrument!r}"
            return False
        return True


class FrameParser:
    """A connection's frames into checked results; a bad frame is counted and logged
    (rate-limited) and gives None, never an exception: one bad frame never ends a
    session. The adapter's `parse` is looked up per batch: a test may replace it."""

    def __init__(
        self, services: VenueServices, stream: str, conflation: SnapshotConflation
    ) -> None:
        self._services = services
        self._stream = stream
        self._instruments = frozenset(services.symbols)
        self._conflation = conflation

    def __call__(self, frame: Frame, recv_ms: int) -> Sequence[Parsed] | None:
        """One frame's results (perhaps none), or None for a bad frame."""
        one = self.all((frame,), recv_ms, keep_empty=True)
        return one[0] if one else None

    def all(
        self, frames: Sequence[Frame], recv_ms: int, *, keep_empty: bool = False
    ) -> list[Sequence[Parsed]]:
        """Every good frame's results, in order (a delta feed's batch: every frame is
        decoded); without `keep_empty`, only those with results. One loop, no call per
        frame but the adapter's: on a delta feed the parser's own work was ~10% of
        the engine's, half of it calls."""
        parse = self._services.adapter.parse
        instruments = self._instruments
        out: list[Sequence[Parsed]] = []
        for frame in frames:
            try:
                results = parse(frame, recv_ms)
                # a delta feed's every frame is one delta: its instrument is checked here,
                # its levels by the book keeper as it applies them
                if len(results) != 1 or type(one := results[0]) is not BookDelta:
                    check_results(results, instruments, delta_levels=False)
                elif one.instrument not in instruments:
                    raise not_streamed(one.instrument)
            except ParseError as exc:
                self._bad_frame(exc, frame)
                continue
            except RecursionError:
                self._bad_frame(MalformedFrame("nested too deeply"), frame)
                continue
            if results or keep_empty:
                out.append(results)
        return out

    def fall_back(
        self, older: Sequence[Frame], results: Sequence[Parsed] | None, recv_ms: int
    ) -> Sequence[Parsed]:
        """A kept snapshot frame proved unusable: decode the frames it replaced, oldest
        first, as if nothing had been skipped (rare: a bad frame or a broken key rule)."""
        broken = self._conflation.broken
        services = self._services
        if broken is not None:
            services.log.log(
                logging.ERROR,
                f"framekey:{self._stream}",
                "%s: %s snapshot_key rule switched off: %s",
                services.name,
                self._stream,
                broken,
            )
        merged: list[Parsed] = []
        for frame in older:
            merged.extend(self(frame, recv_ms) or ())
        merged.extend(results or ())
        return merged

    def _bad_frame(self, exc: ParseError, frame: Frame) -> None:
        services = self._services
        kind = type(exc).__name__
        services.metrics.inc("parse_errors", venue=services.name, kind=kind)
        snippet = frame[:120] if isinstance(frame, str) else f"<{len(frame)} binary bytes>"
        services.log.log(
            logging.WARNING,
            f"parse:{self._stream}:{kind}",
            "%s: %s %s: %s; frame: %r",
            services.name,
            self._stream,
            kind,
            exc,
            snippet,
        )

"""The recorder's disk side: a thread that compresses records into rotated files.

The event loop only appends to a bounded in-memory queue (`put`, a deque append and two
counter checks); the thread drains it every few milliseconds, encodes JSON lines,
compresses them with zstd and writes. So a slow disk never reaches a socket reader: when
the queue is full (`queue_records` records or `queue_mb` of frames waiting), records are
dropped, counted, logged once, and a `gap` record is queued in their place as soon as
there is room again, so the recording says where it is incomplete.

Files rotate when they reach `rotate_mb` (compressed) or `rotate_s` of age; with
`max_mb`, the oldest files are deleted after each rotation until the recording fits.
Every file starts with the header, the venue set-ups and each venue's last successful
start-up answers (`carried`), so any file can be read, and replayed, alone.
A write error (a full disk) stops the recording, never the engine: `error` says why,
and the recorder reports it as a status event (`recorder.py`).
"""

from __future__ import annotations

import collections
import logging
import os
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import BinaryIO

import msgspec
import zstandard

from venuefeed.core.errors import ConfigError
from venuefeed.core.transport.tap import request_key
from venuefeed.record.format import (
    FORMAT,
    PREFIX,
    SUFFIX,
    VERSION,
    Gap,
    Header,
    Record,
    Rest,
    encoder,
)

logger = logging.getLogger(__name__)

#: the writer thread wakes this often to drain the queue
_DRAIN_S = 0.02
#: records encoded per call: msgspec holds the GIL while it encodes, so a small batch
#: keeps the event loop's waits for it short (about a millisecond)
_BATCH = 256
#: compressed blocks are flushed this often, so a crash loses at most this much
_FLUSH_S = 1.0
#: how long closing waits for the writer to write what is queued
_JOIN_S = 30.0
#: free space below this at start-up is a start-up error
MIN_FREE_BYTES = 64 * 1024 * 1024
_MB = 1024 * 1024


class RecordWriter:
    def __init__(
        self,
        directory: Path,
        *,
        rotate_mb: float = 256.0,
        rotate_s: float = 3600.0,
        max_mb: float | None = None,
        queue_records: int = 200_000,
        queue_mb: float = 256.0,
        level: int = 3,
    ) -> None:
        self.directory = directory
        self.run = uuid.uuid4().hex[:12]
        self._rotate_bytes = int(rotate_mb * _MB)
        self._rotate_s = rotate_s
        self._max_bytes = None if max_mb is None else int(max_mb * _MB)
        self._queue_records = queue_records
        self._queue_bytes = int(queue_mb * _MB)
        self._level = level
        self._queue: collections.deque[tuple[Record, int]] = collections.deque()
        self._in_bytes = 0  # written by the loop thread only
        self._out_bytes = 0  # written by the writer thread only
        self._lost = 0  # dropped since the last gap record (loop thread only)
        self._lost_from = 0
        #: records dropped in all (the disk could not keep up, or the recording stopped)
        self.dropped = 0
        #: records written
        self.written = 0
        #: why the recording stopped (a write error), None while it runs
        self.error: str | None = None
        self._heads: list[Record] = []  # venue set-ups, at the top of every file
        #: each venue's last successful start-up answers (writer thread only)
        self._inits: dict[tuple[str, str], Rest] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._number = 0
        self._raw: BinaryIO | None = None
        self._zst: zstandard.ZstdCompressionWriter | None = None
        self._opened_at = 0.0
        self.files: list[Path] = []

    # -- start-up (caller's thread) ----------------------------------------------------

    def start(self) -> None:
        """Check the directory and open the first file: any problem is a `ConfigError`
        naming the directory, before anything connects."""
        where = f"--record {self.directory}"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"config error: {where}: cannot create it: {exc.strerror}") from None
        if not self.directory.is_dir() or not os.access(self.directory, os.W_OK | os.X_OK):
            raise ConfigError(f"config error: {where}: not a writable directory")
        if any(self.directory.glob(f"{PREFIX}*{SUFFIX}")):
            raise ConfigError(
                f"config error: {where} already holds a recording; record each run into a "
                "directory of its own"
            )
        free = shutil.disk_usage(self.directory).free
        if free < MIN_FREE_BYTES:
            raise ConfigError(
                f"config error: {where}: only {free / _MB:.0f} MB free on its disk "
                f"(at least {MIN_FREE_BYTES // _MB} MB needed)"
            )
        try:
            self._open_file()
        except OSError as exc:
            raise ConfigError(f"config error: {where}: cannot write: {exc.strerror}") from None
        self._thread = threading.Thread(target=self._run, name="venuefeed-recorder", daemon=True)
        self._thread.start()

    def head(self, record: Record) -> None:
        """A venue set-up: queued now, and written again at the top of every later file."""
        self._heads.append(record)
        self.put(record, 256)

    # -- the loop's side: never blocks -------------------------------------------------

    def put(self, record: Record, size: int) -> bool:
        """Queue a record (`size`: roughly its bytes); False when it was dropped."""
        queue = self._queue
        if (
            self.error is not None
            or len(queue) >= self._queue_records
            or self._in_bytes - self._out_bytes + size > self._queue_bytes
        ):
            self._drop(record)
            return False
        if self._lost:
            queue.append((Gap(time.time_ns(), self._lost_from, self._lost), 64))
            self._lost = 0
            self._in_bytes += 64
        queue.append((record, size))
        self._in_bytes += size
        return True

    def _drop(self, record: Record) -> None:
        if not self._lost:
            self._lost_from = getattr(record, "ns", 0) or time.time_ns()
        self._lost += 1
        self.dropped += 1
        if self.dropped == 1:
            logger.warning(
                "recording to %s: %s; dropping records (a gap mark says where; counted as "
                "venuefeed_record_dropped_total)",
                self.directory,
                self.error or "the disk cannot keep up",
            )

    # -- the writer thread -------------------------------------------------------------

    def _run(self) -> None:
        last_flush = time.monotonic()
        try:
            while True:
                stopping = self._stop.is_set()  # read first: what is queued now is written
                self._write_pending()
                now = time.monotonic()
                if now - last_flush >= _FLUSH_S:
                    assert self._zst is not None
                    self._zst.flush(zstandard.FLUSH_BLOCK)
                    last_flush = now
                self._rotate_if_due(now)
                if stopping:
                    break
                self._stop.wait(_DRAIN_S)
            self._close_file()
        except OSError as exc:
            self.error = f"cannot write ({exc.strerror or exc}); recording stopped"
            logger.error("recording to %s: %s", self.directory, self.error)
            self._queue.clear()
            self._abandon_file()

    def _write_pending(self) -> None:
        queue = self._queue
        while queue:
            batch: list[Record] = []
            size = 0
            while queue and len(batch) < _BATCH:
                record, weight = queue.popleft()
                batch.append(record)
                size += weight
                if type(record) is Rest and record.purpose == "init":
                    self._keep_init(record)
            assert self._zst is not None
            self._zst.write(encoder.encode_lines(batch))
            self.written += len(batch)
            self._out_bytes += size

    def _keep_init(self, record: Rest) -> None:
        if record.error is None and (record.status or 0) < 400:
            key = (record.venue, request_key(record.purpose, record.request))
            self._inits[key] = msgspec.structs.replace(record, carried=True)

    def _rotate_if_due(self, now: float) -> None:
        assert self._raw is not None
        if self._raw.tell() < self._rotate_bytes and now - self._opened_at < self._rotate_s:
            return
        self._close_file()
        self._open_file()
        self._apply_cap()

    def _open_file(self) -> None:
        self._number += 1
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        path = self.directory / f"{PREFIX}{stamp}-{self._number:06d}{SUFFIX}"
        self._raw = open(path, "xb")  # noqa: SIM115 (closed by _close_file)
        self._zst = zstandard.ZstdCompressor(level=self._level).stream_writer(
            self._raw, closefd=False
        )
        self._opened_at = time.monotonic()
        self.files.append(path)
        header = Header(FORMAT, VERSION, self.run, self._number, time.time_ns())
        self._zst.write(encoder.encode_lines([header, *self._heads, *self._inits.values()]))
        self._zst.flush(zstandard.FLUSH_BLOCK)

    def _close_file(self) -> None:
        if self._zst is not None and self._raw is not None:
            self._zst.flush(zstandard.FLUSH_FRAME)
            self._zst.close()  # type: ignore[no-untyped-call]  # (zstandard leaves it unannotated)
            self._raw.close()
        self._zst = self._raw = None

    def _abandon_file(self) -> None:
        """After a write error: let go of the file without writing more to it."""
        if self._raw is not None:
            try:
                self._raw.close()
            except OSError as exc:
                logger.debug("recording: closing %s after an error: %s", self.files[-1], exc)
        self._zst = self._raw = None

    def _apply_cap(self) -> None:
        """Delete the oldest files (never the one being written) past `max_mb`."""
        if self._max_bytes is None:
            return
        files = sorted(self.directory.glob(f"{PREFIX}*{SUFFIX}"))
        sizes = {path: path.stat().st_size for path in files}
        total = sum(sizes.values())
        for path in files[:-1]:
            if total <= self._max_bytes:
                break
            path.unlink()
            total -= sizes[path]
            logger.info("recording: deleted %s (over --record-max-mb)", path.name)

    # -- shutdown ----------------------------------------------------------------------

    def close(self) -> None:
        """Write what is queued, close the file, join the thread."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join(_JOIN_S)
        if thread.is_alive():  # a disk that hangs (a dead network mount) cannot hold us
            logger.error(
                "recording to %s: the writer did not finish within %.0fs; what it had not "
                "written is lost",
                self.directory,
                _JOIN_S,
            )
            return
        if not self.written and self.error is None:
            for path in self.files:  # the engine never started: leave the directory empty
                path.unlink(missing_ok=True)
        if self._lost:
            logger.warning(
                "recording to %s: %d records dropped at the end (no gap record written)",
                self.directory,
                self._lost,
            )
        if self.dropped:
            logger.warning(
                "recording to %s: %d records dropped in all", self.directory, self.dropped
            )

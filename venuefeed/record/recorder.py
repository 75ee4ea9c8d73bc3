"""`venuefeed run --record DIR`: every venue's raw traffic, written as it arrives.

    with Recorder(Path("rec")) as recorder:               # checks DIR, starts the writer
        async with Engine(settings, network=recorder.network) as engine:
            ...

`Recorder.network` is the engine's `NetworkFactory`: each venue gets the live network
(`LiveIO`) with a `RecordTap`, which turns what the link and REST client report into
records (`format.py`) and hands them to the writer thread (`writer.py`) without waiting.
A record the writer cannot take is counted in `venuefeed_record_dropped_total{venue}`;
once the writer has stopped for good (a full disk), each venue says so once in a
`record` status event with state `error`, and streams on.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType
from typing import Any

from venuefeed.core.adapter import RestRequest
from venuefeed.core.transport.network import LiveIO, Report, VenueIO, VenueSetup
from venuefeed.core.transport.tap import Purpose, request_call
from venuefeed.record.format import (
    Close,
    Open,
    OpenFailed,
    Recv,
    Rest,
    Sent,
    Venue,
    body_record,
    error_name,
)
from venuefeed.record.writer import RecordWriter

logger = logging.getLogger(__name__)


class RecordTap:
    """One venue's `Tap`: records, never a wait."""

    def __init__(self, writer: RecordWriter, setup: VenueSetup) -> None:
        self._writer = writer
        self._venue = setup.name
        self._metrics = setup.metrics
        self._dropped = setup.metrics.key("record_dropped", venue=setup.name)
        self.report: Report | None = None
        self._reported = False

    def opened(self, conn: str, url: str, ns: int) -> None:
        self._put(Open(ns, self._venue, conn, url), 64)

    def open_failed(self, conn: str, error: BaseException, ns: int) -> None:
        self._put(OpenFailed(ns, self._venue, conn, error_name(error), str(error)), 128)

    def received(self, conn: str, data: str | bytes, ns: int) -> None:
        if isinstance(data, str):
            record = Recv(ns, self._venue, conn, text=data)
        else:
            record = Recv(ns, self._venue, conn, data=data)
        if not self._writer.put(record, len(data) + 64):
            self._lost()

    def sent(self, conn: str, text: str, ns: int) -> None:
        self._put(Sent(ns, self._venue, conn, text), len(text) + 64)

    def closed(self, conn: str, reason: BaseException | None, ns: int) -> None:
        self._put(Close(ns, self._venue, conn, error_name(reason), str(reason or "")), 128)

    def answered(
        self, purpose: Purpose, request: RestRequest, status: int, body: bytes, ns: int
    ) -> None:
        record = body_record(ns, self._venue, purpose, request_call(request), status, body)
        self._put(record, len(body) + 128)

    def failed(self, purpose: Purpose, request: RestRequest, error: BaseException, ns: int) -> None:
        record = Rest(
            ns,
            self._venue,
            purpose,
            request_call(request),
            error=error_name(error),
            detail=str(error),
        )
        self._put(record, 256)

    def _put(self, record: Any, size: int) -> None:
        if not self._writer.put(record, size):
            self._lost()

    def _lost(self) -> None:
        self._metrics.bump(self._dropped)
        error = self._writer.error
        if error is not None and not self._reported and self.report is not None:
            self._reported = True
            self.report("record", "error", f"recording to {self._writer.directory}: {error}")


class RecordedIO(LiveIO):
    """The live network, with a tap; it reports a stopped recording as a status."""

    def __init__(self, setup: VenueSetup, tap: RecordTap) -> None:
        super().__init__(setup, tap)
        self._record_tap = tap

    def attach(self, report: Report) -> None:
        self._record_tap.report = report


class Recorder:
    """Owns the writer thread; `network` is the factory to hand to `Engine`."""

    def __init__(
        self,
        directory: Path,
        *,
        rotate_mb: float = 256.0,
        rotate_s: float = 3600.0,
        max_mb: float | None = None,
    ) -> None:
        self.writer = RecordWriter(directory, rotate_mb=rotate_mb, rotate_s=rotate_s, max_mb=max_mb)

    def start(self) -> None:
        """Check the directory and start the writer (`ConfigError` when unusable)."""
        self.writer.start()
        logger.info("recording to %s (run %s)", self.writer.directory, self.writer.run)

    def __enter__(self) -> Recorder:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Write what is queued and join the writer thread (after the engine stopped)."""
        self.writer.close()

    def network(self, setup: VenueSetup) -> VenueIO:
        ctx = setup.adapter.ctx
        options = ctx.options
        dumped = (
            dict(options) if not hasattr(options, "model_dump") else options.model_dump(mode="json")
        )
        self.writer.head(
            Venue(
                setup.name,
                list(ctx.symbols),
                ctx.ws_url,
                ctx.rest_url,
                dumped,
                setup.policy.model_dump(mode="json"),
            )
        )
        return RecordedIO(setup, RecordTap(self.writer, setup))

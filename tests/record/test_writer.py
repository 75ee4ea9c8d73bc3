"""The recorder's writer: rotation, the size cap, gap marks when the disk falls behind,
start-up errors as one line, and a write error mid-run as a status, never a crash."""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from venuefeed.core.errors import ConfigError
from venuefeed.core.observe.metrics import Metrics
from venuefeed.core.transport.network import VenueSetup
from venuefeed.record.format import FORMAT, Gap, Header, Recv, Venue
from venuefeed.record.reader import read_setup, recording_files, records, traffic
from venuefeed.record.recorder import RecordTap
from venuefeed.record.writer import RecordWriter


def frame(i: int, size: int = 64) -> Recv:
    payload = os.urandom(size).hex()  # incompressible, so files grow as written
    return Recv(i, "v", "main", text=f'{{"i":{i},"p":"{payload}"}}')


def wait_until(condition: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_records_come_back_in_order_with_a_header_and_the_venues_in_every_file(
    tmp_path: Path,
):
    writer = RecordWriter(tmp_path, rotate_mb=0.05)
    writer.start()
    writer.head(Venue("v", ["BTC"], "wss://x", "https://x", {}, {}))
    for i in range(60):
        assert writer.put(frame(i, 10_000), 20_000)
    writer.close()
    files = recording_files(tmp_path)
    assert len(files) > 1  # rotated by size
    for path in files:
        first, second, *_ = records(path)
        assert isinstance(first, Header) and first.format == FORMAT and first.run == writer.run
        assert isinstance(second, Venue) and second.venue == "v"
    assert [r.ns for r in traffic(tmp_path)] == list(range(60))
    assert set(read_setup(tmp_path)) == {"v"}


def test_files_rotate_by_age_and_the_cap_deletes_the_oldest(tmp_path: Path):
    writer = RecordWriter(tmp_path, rotate_mb=0.05, max_mb=0.2)
    writer.start()
    for i in range(200):
        writer.put(frame(i, 10_000), 20_000)
    wait_until(lambda: writer.written == 200)
    writer.close()
    left = recording_files(tmp_path)
    assert len(left) < len(writer.files)  # the oldest went
    assert left == writer.files[-len(left) :]
    assert sum(p.stat().st_size for p in left[:-1]) <= 0.2 * 1024 * 1024
    aged = RecordWriter(tmp_path / "aged", rotate_s=0.05)
    aged.start()
    aged.put(frame(0), 100)
    wait_until(lambda: len(aged.files) >= 2)
    aged.close()


def test_a_disk_that_falls_behind_leaves_a_gap_mark_and_a_count(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    writer = RecordWriter(tmp_path, queue_records=5)
    slow_disk = threading.Event()
    write = writer._write_pending
    writer._write_pending = lambda: (slow_disk.wait(10), write())[1]  # type: ignore[method-assign]
    writer.start()
    kept = [writer.put(frame(i), 100) for i in range(8)]
    assert kept == [True] * 5 + [False] * 3 and writer.dropped == 3
    slow_disk.set()
    wait_until(lambda: writer.written == 5)
    assert writer.put(frame(8), 100)
    writer.close()
    got = list(traffic(tmp_path))
    assert [type(r).__name__ for r in got] == ["Recv"] * 5 + ["Gap", "Recv"]
    gap = got[5]
    assert isinstance(gap, Gap) and gap.lost == 3 and gap.from_ns == 5
    assert sum("dropping records" in r.message for r in caplog.records) == 1  # logged once


def test_an_unusable_directory_is_one_clear_line(tmp_path: Path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="cannot create it"):
        RecordWriter(tmp_path / "file" / "rec").start()
    used = RecordWriter(tmp_path / "used")
    used.start()
    used.put(frame(0), 100)
    used.close()
    with pytest.raises(ConfigError, match="already holds a recording"):
        RecordWriter(tmp_path / "used").start()


def test_a_run_that_never_started_leaves_no_file(tmp_path: Path):
    writer = RecordWriter(tmp_path)
    writer.start()
    writer.close()
    assert not list(tmp_path.iterdir())


class FullDisk:
    def write(self, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    def flush(self, mode: int = 0) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_mid_run_is_a_status_and_a_count_not_a_crash(tmp_path: Path):
    writer = RecordWriter(tmp_path)
    writer.start()
    metrics = Metrics()
    setup = VenueSetup("v", None, None, None, metrics)  # type: ignore[arg-type]
    tap = RecordTap(writer, setup)
    reports: list[tuple[str, str, str]] = []
    tap.report = lambda stream, state, reason: reports.append((stream, state, reason))
    writer._zst = FullDisk()  # type: ignore[assignment]
    tap.received("main", "first", 1)
    wait_until(lambda: writer.error is not None)
    for i in range(3):
        tap.received("main", "more", i)
    writer.close()
    assert metrics.value("record_dropped", venue="v") == 3
    assert len(reports) == 1
    stream, state, reason = reports[0]
    assert (stream, state) == ("record", "error") and "No space left" in reason


def test_a_recording_of_another_format_version_is_refused(tmp_path: Path):
    import zstandard

    from venuefeed.record.format import encoder

    (tmp_path / "venuefeed-x-000001.jsonl.zst").write_bytes(
        zstandard.ZstdCompressor().compress(encoder.encode_lines([Header(FORMAT, 99, "run", 1, 0)]))
    )
    with pytest.raises(ConfigError, match="version 99"):
        read_setup(tmp_path)

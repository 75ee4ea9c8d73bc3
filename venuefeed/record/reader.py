"""Reading a recording: its files in order, the venues' set-ups, then its traffic.

`recording_files(DIR)` lists the files, `read_setup(DIR)` returns how each venue was set
up (the `venue` records at the top of the files), and `traffic(DIR)` yields the traffic
records in recorded order. A file from another format version, or files of two runs in
one directory, are a `ConfigError` naming the file. A file cut short (a crash, a disk
that filled) ends at its last complete line, with a warning.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import msgspec
import zstandard

from venuefeed.core.errors import ConfigError
from venuefeed.record.format import (
    FORMAT,
    PREFIX,
    SUFFIX,
    VERSION,
    Header,
    Record,
    Traffic,
    Venue,
    decoder,
)

logger = logging.getLogger(__name__)


def recording_files(directory: Path) -> list[Path]:
    """The recording's files in order; a `ConfigError` when there are none."""
    if not directory.is_dir():
        raise ConfigError(f"config error: {directory}: not a directory")
    files = sorted(directory.glob(f"{PREFIX}*{SUFFIX}"))
    if not files:
        raise ConfigError(f"config error: {directory}: no recording ({PREFIX}*{SUFFIX}) in it")
    return files


def records(path: Path) -> Iterator[Record]:
    """Every record of one file, header first."""
    with open(path, "rb") as raw:
        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        lines = io.BufferedReader(reader, buffer_size=1 << 20)
        first = True
        while True:
            try:
                line = lines.readline()
            except zstandard.ZstdError as exc:
                logger.warning("%s: cut short (%s); read up to there", path.name, exc)
                return
            if not line:
                return
            if not line.endswith(b"\n"):
                logger.warning("%s: ends inside a record; read up to there", path.name)
                return
            try:
                record = decoder.decode(line)
            except msgspec.ValidationError as exc:
                raise ConfigError(f"config error: {path}: not a record: {exc}") from None
            if first:
                _check_header(path, record)
                first = False
            yield record


def _check_header(path: Path, record: Record) -> None:
    if not isinstance(record, Header) or record.format != FORMAT:
        raise ConfigError(f"config error: {path}: not a venuefeed recording")
    if record.version != VERSION:
        raise ConfigError(
            f"config error: {path}: recording format version {record.version}; this venuefeed "
            f"reads version {VERSION}"
        )


def read_setup(directory: Path) -> dict[str, Venue]:
    """Each recorded venue's set-up, from the top of the files; one run per directory."""
    setups: dict[str, Venue] = {}
    runs: set[str] = set()
    for path in recording_files(directory):
        for record in records(path):
            if isinstance(record, Header):
                runs.add(record.run)
            elif isinstance(record, Venue):
                setups.setdefault(record.venue, record)
            else:
                break
    if len(runs) > 1:
        raise ConfigError(
            f"config error: {directory} holds {len(runs)} recorded runs; replay one directory "
            "per run"
        )
    if not setups:
        raise ConfigError(f"config error: {directory}: the recording names no venue")
    return setups


def traffic(directory: Path) -> Iterator[Traffic]:
    """The traffic records of the whole recording, in recorded order."""
    for path in recording_files(directory):
        for record in records(path):
            if not isinstance(record, Header | Venue):
                yield record

"""The engine's throughput with and without `--record` (issue 11), rows of `make bench`.

The same loopback server and frames as `bench/throughput.py`'s snapshot feed: the full
engine path through the Hyperliquid plugin, once as is and once with a `Recorder` writing
every frame to a temporary directory, interleaved so machine noise hits both alike. Also:
how large the recording is per frame, and whether the writer dropped anything.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.table import Row
from venuefeed.core.engine import Engine
from venuefeed.core.events import Book, Status
from venuefeed.core.plugins import PluginHost
from venuefeed.record import Recorder


async def _engine_fps(port: int, recorder: Recorder | None) -> float:
    from bench.throughput import settings_for

    host = PluginHost(builtin_modules=("venuefeed.plugins.hyperliquid",), load_entry_points=False)
    options: dict[str, Any] = {} if recorder is None else {"network": recorder.network}
    books = 0
    t0 = 0.0
    async with Engine(settings_for("hyperliquid", port), plugins=host, **options) as engine:
        async for event in engine.events():
            if isinstance(event, Book):
                if books == 0:
                    t0 = time.perf_counter()
                books += 1
            elif isinstance(event, Status) and event.state == "backoff" and books:
                break
        elapsed = time.perf_counter() - t0
        frames = engine.metrics.value("frames", venue="hyperliquid")
    return frames / elapsed


def rows(port: int, n: int, runs: int = 3) -> list[Row]:
    """The server at `port` sends `n` frames per connection."""
    plain: list[float] = []
    recorded: list[float] = []
    sizes: list[int] = []
    dropped = 0
    for _ in range(runs):
        plain.append(asyncio.run(_engine_fps(port, None)))
        with tempfile.TemporaryDirectory() as tmp:
            with Recorder(Path(tmp) / "rec") as recorder:
                recorded.append(asyncio.run(_engine_fps(port, recorder)))
            dropped += recorder.writer.dropped
            sizes.append(sum(p.stat().st_size for p in (Path(tmp) / "rec").iterdir()))
    without, with_record = statistics.median(plain), statistics.median(recorded)
    size = statistics.median(sizes)
    return [
        Row("venuefeed, snapshot feed, without --record", f"{without:,.0f} frames/s"),
        Row(
            "venuefeed, snapshot feed, with --record",
            f"{with_record:,.0f} frames/s",
            f"{with_record / without:.2f}x without",
            note=f"{size / n:,.0f} bytes/frame compressed; dropped {dropped}",
        ),
    ]

"""(e) The engine's throughput with and without `--record` (issue 11), for `make bench`.

The same loopback server and frames as `bench/throughput.py`'s (b): the full engine path
through the Hyperliquid plugin, once as is and once with a `Recorder` writing every frame
to a temporary directory, interleaved so machine noise hits both alike. Also: how large
the recording is per frame, and whether the writer dropped anything.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

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
    async with Engine(settings_for(port), plugins=host, **options) as engine:
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


def main(port: int, n: int, runs: int = 3) -> None:
    """Print row (e); the server at `port` sends `n` frames per connection."""
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
    print(
        f"(e) engine path without --record:       {without:,.0f} frames/s (median of {runs})\n"
        f"    engine path with --record:          {with_record:,.0f} frames/s "
        f"(median of {runs}; ratio {with_record / without:.2f})\n"
        f"    recording: {statistics.median(sizes) / n:,.0f} bytes per frame compressed "
        f"({statistics.median(sizes) / 1e6:.1f} MB for {n} frames); dropped {dropped}"
    )

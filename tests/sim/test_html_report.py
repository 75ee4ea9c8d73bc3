"""The soak report as an HTML page: a timeline per venue and the recovery distribution,
drawn from the JSON report alone; the timeline recorded from the venue's statuses."""

from __future__ import annotations

import asyncio
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from venuefeed.core.events import Status
from venuefeed.sim.chaos import FaultSpan
from venuefeed.sim.html_report import render_html
from venuefeed.sim.timeline import Timeline

T0 = 1_754_560_000_000


def status(stream: str, state: str, at_s: float) -> Status:
    return Status(
        venue="aster", symbol="*", instrument="*", ts_recv=T0 + int(at_s * 1000),
        stream=stream, state=state,
    )  # fmt: skip


def test_the_timeline_records_stale_streams_reconnects_and_not_live_intervals():
    timeline = Timeline()
    timeline.status(status("book:BTCUSDT", "stale", 10))
    timeline.status(status("ws:main", "backoff", 10.1))
    timeline.status(status("init", "init_failed", 11))  # not a connection: no reconnect mark
    timeline.down(T0 + 10_000)
    timeline.up(T0 + 12_500)
    timeline.down(T0 + 20_000)  # still down at the end
    out = timeline.to_report([FaultSpan("stall", T0 + 7_000, T0 + 9_000)], [], T0, T0 + 30_000)
    assert out["faults"] == [["stall", T0 + 7_000, T0 + 9_000]]
    assert out["stale"] == [T0 + 10_000]
    assert out["reconnects"] == [T0 + 10_100]
    assert out["not_live"] == [[T0 + 10_000, T0 + 12_500], [T0 + 20_000, T0 + 30_000]]


def venue_report(ok: bool, faults: list[list[Any]], samples: list[list[Any]]) -> dict[str, Any]:
    return {
        "ok": ok,
        "problems": [] if ok else ["recovery over its bound after stall"],
        "faults_injected": {"stall": len(faults)},
        "recoveries": len(samples),
        "fault_to_fresh_data_s": {
            "count": len(samples),
            "median": 1.5 if samples else None,
            "max": 12.9 if samples else None,
            "first_attempt_bound_s": 11.6,
            "samples": samples,
        },
        "seconds_not_live": 14.0,
        "trades_lost": 0,
        "reconnects": 3,
        "timeline": {
            "start_ms": T0,
            "end_ms": T0 + 60_000,
            "faults": faults,
            "stay_live_windows": [],
            "not_live": [[T0 + 10_000, T0 + 12_000], [T0 + 40_000, T0 + 52_000]],
            "stale": [T0 + 9_000],
            "reconnects": [T0 + 10_000, T0 + 41_000, T0 + 45_000],
        },
    }


REPORT: dict[str, Any] = {
    "ok": False,
    "duration_s": 60.0,
    "peak_rss_mb": 80.5,
    "venues": {
        "aster": venue_report(
            False,
            [["stall", T0 + 5_000, T0 + 8_000], ["disconnect", T0 + 40_000, T0 + 40_000]],
            [["stall", 1.5, 11.6], ["disconnect", 12.9, 11.6]],
        ),
        "lighter": venue_report(True, [], []),
    },
}


class Shapes(HTMLParser):
    """The page's SVG shapes by class, per venue, and its embedded JSON report."""

    def __init__(self) -> None:
        super().__init__()
        self.venue = ""
        self.shapes: dict[tuple[str, str], int] = {}
        self.data = ""
        self._in_data = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "svg":
            self.venue = f"{a.get('data-venue')}/{a.get('class')}"
        elif tag in ("rect", "line") and a.get("class"):
            key = (self.venue, a["class"] or "")
            self.shapes[key] = self.shapes.get(key, 0) + 1
        elif tag == "script" and a.get("id") == "report":
            self._in_data = True

    def handle_endtag(self, tag: str) -> None:
        self._in_data = self._in_data and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_data:
            self.data += data


def test_the_page_draws_every_fault_interval_mark_and_recovery():
    page = render_html(REPORT)
    shapes = Shapes()
    shapes.feed(page)
    assert shapes.shapes[("aster/timeline", "fault")] == 2
    assert shapes.shapes[("aster/timeline", "not-live")] == 2
    assert shapes.shapes[("aster/timeline", "mark")] == 1 + 3  # stale + reconnects
    assert shapes.shapes[("aster/recovery", "bar")] == 2
    assert ("lighter/timeline", "fault") not in shapes.shapes
    assert "No disruptive fault" in page
    assert "recovery over its bound after stall" in page and "FAILED" in page
    assert json.loads(shapes.data) == REPORT  # the JSON rides along, intact


def test_the_shape_counter_sees_a_page_without_shapes():
    shapes = Shapes()
    shapes.feed("<html><svg data-venue=x class=timeline></svg></html>")
    assert shapes.shapes == {}  # so the counts above come from the page, not the parser


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium on this machine")
async def test_the_page_renders_in_a_headless_browser(tmp_path: Path):
    page = tmp_path / "report.html"
    page.write_text(render_html(REPORT))
    shot = tmp_path / "report.png"
    assert CHROMIUM is not None
    proc = await asyncio.create_subprocess_exec(
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1000,1400",
        f"--screenshot={shot}", page.as_uri(),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    async with asyncio.timeout(60):
        await proc.wait()
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a page, not a blank

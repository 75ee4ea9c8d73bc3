"""The soak report as one HTML page: a soak seen at a glance.

`render_html(report)` is a pure function of the JSON report (`SoakObserver.build`), so
the page and the JSON can never disagree. Per venue: its verdict and problems, a timeline
with one lane each for faults (coloured by kind, hover for the kind and times), intervals
the venue was not live, stale streams and failed connections, and the distribution of
recovery times (fault -> fresh data) against the first-attempt bound. The page is
self-contained (inline CSS and SVG, no code, nothing fetched; the JSON report rides
along in a data block), so it can be mailed,
archived as a CI artifact or opened from disk.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

WIDTH = 960  # SVG user units
LANE_H = 18
LABEL_W = 90
_LANES = ("faults", "not live", "stale", "failed conn.")
#: a colour per fault kind, stable between reports
_PALETTE = (  # Tableau 20: one colour per fault kind for the 20 kinds the injector knows
    "#4e79a7",
    "#a0cbe8",
    "#f28e2b",
    "#ffbe7d",
    "#59a14f",
    "#8cd17d",
    "#b6992d",
    "#f1ce63",
    "#499894",
    "#86bcb6",
    "#e15759",
    "#ff9d9a",
    "#79706e",
    "#bab0ac",
    "#d37295",
    "#fabfd2",
    "#b07aa1",
    "#d4a6c8",
    "#9d7660",
    "#d7b5a6",
)
_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 1000px; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
.ok { color: #1a7f37; font-weight: bold; } .fail { color: #c62828; font-weight: bold; }
table { border-collapse: collapse; } td, th { padding: 2px 10px; text-align: right; }
th { border-bottom: 1px solid #999; } td:first-child, th:first-child { text-align: left; }
.legend span { display: inline-block; margin-right: 1em; }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
svg text { font: 11px system-ui, sans-serif; fill: #444; }
ul.problems { color: #c62828; }
"""


def render_html(report: Mapping[str, Any]) -> str:
    """The whole page for one soak report."""
    venues: Mapping[str, Any] = report["venues"]
    kinds = sorted({f[0] for v in venues.values() for f in v.get("timeline", {}).get("faults", [])})
    colour = {kind: _PALETTE[i % len(_PALETTE)] for i, kind in enumerate(kinds)}
    verdict = "ok" if report["ok"] else "FAILED"
    body = [
        f"<h1>venuefeed soak report: <span class={_cls(report['ok'])}>{verdict}</span></h1>",
        f"<p>{report['duration_s']} s, peak RSS {report['peak_rss_mb']} MB"
        + (" (interrupted)" if report.get("interrupted") else "")
        + "</p>",
        _summary(venues),
        _legend(colour),
    ]
    for name, venue in sorted(venues.items()):
        body.append(_venue(name, venue, colour))
    data = json.dumps(report, sort_keys=True).replace("</", "<\\/")  # stays inside <script>
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>venuefeed soak report: {verdict}</title><style>{_CSS}</style></head><body>"
        + "\n".join(body)
        + f'\n<script type="application/json" id="report">{data}</script>'
        + "</body></html>\n"
    )


def _cls(ok: bool) -> str:
    return "ok" if ok else "fail"


def _summary(venues: Mapping[str, Any]) -> str:
    head = (
        "<tr><th>venue</th><th>verdict</th><th>faults</th><th>recoveries</th>"
        "<th>median s</th><th>max s</th><th>not live s</th><th>trades lost</th>"
        "<th>reconnects</th></tr>"
    )
    rows = []
    for name, v in sorted(venues.items()):
        rec = v["fault_to_fresh_data_s"]
        rows.append(
            f"<tr><td><a href='#{html.escape(name)}'>{html.escape(name)}</a></td>"
            f"<td class={_cls(v['ok'])}>{'ok' if v['ok'] else 'FAIL'}</td>"
            f"<td>{sum(v['faults_injected'].values())}</td><td>{v['recoveries']}</td>"
            f"<td>{_num(rec.get('median'))}</td><td>{_num(rec.get('max'))}</td>"
            f"<td>{v['seconds_not_live']}</td><td>{v['trades_lost']}</td>"
            f"<td>{v['reconnects']}</td></tr>"
        )
    return f"<table class=summary>{head}{''.join(rows)}</table>"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _legend(colour: Mapping[str, str]) -> str:
    items = [
        f"<span><i style='background:{c}'></i>{html.escape(k)}</span>" for k, c in colour.items()
    ]
    items += [
        "<span><i style='background:#c62828'></i>not live</span>",
        "<span><i style='background:#ef6c00'></i>stale</span>",
        "<span><i style='background:#555'></i>failed connection</span>",
    ]
    return f"<p class=legend>{''.join(items)}</p>"


def _venue(name: str, venue: Mapping[str, Any], colour: Mapping[str, str]) -> str:
    parts = [
        f"<h2 id='{html.escape(name)}'>{html.escape(name)}: "
        f"<span class={_cls(venue['ok'])}>{'ok' if venue['ok'] else 'FAIL'}</span></h2>"
    ]
    problems = venue.get("problems") or []
    if problems:
        items = "".join(f"<li>{html.escape(p)}</li>" for p in problems)
        parts.append(f"<ul class=problems>{items}</ul>")
    timeline = venue.get("timeline")
    if timeline:
        parts.append(_timeline_svg(name, timeline, colour))
    parts.append(_recovery_svg(name, venue["fault_to_fresh_data_s"]))
    return "\n".join(parts)


def _timeline_svg(name: str, t: Mapping[str, Any], colour: Mapping[str, str]) -> str:
    start: int = t["start_ms"]
    end: int = max(t["end_ms"], start + 1)
    span = WIDTH - LABEL_W - 10
    height = LANE_H * len(_LANES) + 24

    def x(ms: float) -> float:
        return LABEL_W + max(0.0, min(1.0, (ms - start) / (end - start))) * span

    def y(lane: int) -> int:
        return lane * LANE_H + 2

    out = [
        f"<svg class=timeline data-venue='{html.escape(name)}' viewBox='0 0 {WIDTH} {height}' "
        f"width='100%' role=img aria-label='timeline of {html.escape(name)}'>"
    ]
    for i, label in enumerate(_LANES):
        out.append(f"<text x=0 y={y(i) + 12}>{label}</text>")
        out.append(f"<rect x={LABEL_W} y={y(i)} width={span} height={LANE_H - 4} fill='#f4f4f4'/>")
    for kind, begin, finish in t["faults"]:
        w = max(2.0, x(finish) - x(begin))
        out.append(
            f"<rect class=fault x={x(begin):.1f} y={y(0)} width={w:.1f} height={LANE_H - 4} "
            f"fill='{colour.get(kind, '#888')}'><title>{html.escape(kind)} at "
            f"{(begin - start) / 1000:.1f}s, {(finish - begin) / 1000:.1f}s long</title></rect>"
        )
    for begin, finish in t["not_live"]:
        w = max(1.0, x(finish) - x(begin))
        out.append(
            f"<rect class=not-live x={x(begin):.1f} y={y(1)} width={w:.1f} "
            f"height={LANE_H - 4} fill='#c62828'><title>not live from "
            f"{(begin - start) / 1000:.1f}s for {(finish - begin) / 1000:.2f}s</title></rect>"
        )
    for lane, marks, fill in ((2, t["stale"], "#ef6c00"), (3, t["reconnects"], "#555")):
        for at in marks:
            out.append(
                f"<rect class=mark x={x(at):.1f} y={y(lane)} width=1.5 height={LANE_H - 4} "
                f"fill='{fill}'><title>{(at - start) / 1000:.1f}s</title></rect>"
            )
    out.extend(_axis(start, end, LANE_H * len(_LANES) + 14, x))
    out.append("</svg>")
    return "".join(out)


def _axis(start: int, end: int, at_y: int, x: Any) -> list[str]:
    """Tick labels in seconds from the start, about ten of them at round values."""
    total = (end - start) / 1000
    step = next(
        (s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800) if total / s <= 10), 3600
    )
    ticks = []
    second = 0
    while second <= total:
        ticks.append(f"<text x={x(start + second * 1000):.1f} y={at_y}>{second}s</text>")
        second += step
    return ticks


def _recovery_svg(name: str, recovery: Mapping[str, Any]) -> str:
    """A histogram of recovery times, with the first-attempt bound as a line."""
    samples: Sequence[Sequence[Any]] = recovery.get("samples") or []
    if not samples:
        return "<p>No disruptive fault: no recovery to measure.</p>"
    values = [float(s[1]) for s in samples]
    bound = float(recovery.get("first_attempt_bound_s") or 0.0)
    top = max(max(values), bound) * 1.05 or 1.0
    bins = 30
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int(v / top * bins))] += 1
    tallest = max(counts)
    height, bar_h = 110, 80
    span = WIDTH - LABEL_W - 10
    out = [
        f"<svg class=recovery data-venue='{html.escape(name)}' viewBox='0 0 {WIDTH} {height}' "
        f"width='100%' role=img aria-label='recovery times of {html.escape(name)}'>",
        "<text x=0 y=14>fault to data</text>",
        f"<text x=0 y=30>{len(values)} timed</text>",
        f"<text x=0 y=46>median {_num(recovery.get('median'))}s</text>",
    ]
    for i, c in enumerate(counts):
        if not c:
            continue
        h = c / tallest * bar_h
        out.append(
            f"<rect class=bar x={LABEL_W + i * span / bins:.1f} y={bar_h - h + 4:.1f} "
            f"width={span / bins - 1:.1f} height={h:.1f} fill='#4e79a7'>"
            f"<title>{c} between {i * top / bins:.2f}s and {(i + 1) * top / bins:.2f}s</title>"
            "</rect>"
        )
    bx = LABEL_W + bound / top * span
    # the label stands on the side of the line with room for it
    anchor, tx = ("end", bx - 3) if bx > WIDTH / 2 else ("start", bx + 3)
    out.append(
        f"<line x1={bx:.1f} x2={bx:.1f} y1=0 y2={bar_h + 4} stroke='#c62828' "
        "stroke-dasharray='4 2'/>"
        f"<text x={tx:.1f} y=12 text-anchor={anchor}>bound {bound:g}s (first attempt)</text>"
        f"<text x={LABEL_W} y={height - 6}>0s</text>"
        f"<text x={WIDTH - 60} y={height - 6}>{top:.1f}s</text></svg>"
    )
    return "".join(out)

"""Volume fuzzer for the venue parsers (`make fuzz`), never part of the tests.

Each venue's adapter is started from its recorded REST samples (`bench.samples`), so parse
reaches the fields instead of rejecting unknown instruments, then fed its recorded frames
followed by N seeded mutants of them (`bench.mutate`). Per venue it reports:

- results: market-data results produced (events, book snapshots and deltas);
- parse errors: frames rejected with the project's `ParseError`, as they should be;
- crashes: any other exception out of `parse`, or a result that breaks the adapter
  contract. In production each one restarts the connection task;
- impossible values: results the core's last gate (`venuefeed.core.publishing.sanity`) rejects. The
  gate keeps them from consumers, but a plugin that lets them through has a hole.

The first few findings of each kind are written to `--out` with the frame that caused them
(`<venue>-<kind>-<n>.txt` and `.frame.txt`/`.frame.bin`), ready to become a regression test.
The exit status is 1 when any venue has a crash or an impossible value.

    python -m bench.fuzz --frames 100000 --seed 1 --venues aster lighter
"""

from __future__ import annotations

import argparse
import math
import random
import re
import sys
import time
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bench.mutate import Mutant, Mutator, RandomChooser, SeedFrame
from bench.samples import RECV_MS, VENUES, Seed, started_adapter, ws_seeds
from venuefeed.core.adapter import (
    Ack,
    BookDelta,
    BookSnapshot,
    Pong,
    Reply,
    VenueAdapter,
    VenueNotice,
)
from venuefeed.core.errors import ParseError
from venuefeed.core.events import Event, encode_event
from venuefeed.core.publishing.sanity import ImpossibleValue, check_results

FindingKind = Literal["crash", "impossible"]

_RESULT_TYPES = (Event, BookSnapshot, BookDelta, Reply, Pong, Ack, VenueNotice)
_NUMBER = re.compile(r"-?(?:inf|nan|\d+(?:\.\d+)?(?:e[-+]?\d+)?)")


@dataclass(slots=True)
class Finding:
    """One kind of failure (its signature), with the first frame that showed it."""

    kind: FindingKind
    signature: str
    seed: str
    how: str
    frame: str | bytes
    detail: str
    count: int = 1


@dataclass(slots=True)
class VenueReport:
    venue: str
    frames: int = 0
    results: int = 0
    controls: int = 0
    parse_errors: int = 0
    crashes: int = 0
    impossible: int = 0
    seconds: float = 0.0
    findings: dict[tuple[FindingKind, str], Finding] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.crashes == 0 and self.impossible == 0

    def add(
        self, kind: FindingKind, signature: str, mutant: Mutant, seed: str, detail: str
    ) -> None:
        if kind == "crash":
            self.crashes += 1
        else:
            self.impossible += 1
        known = self.findings.get((kind, signature))
        if known is not None:
            known.count += 1
            return
        self.findings[(kind, signature)] = Finding(
            kind, signature, seed, mutant.how, mutant.frame, detail
        )


def fuzz_adapter(
    venue: str,
    adapter: VenueAdapter,
    seeds: Sequence[Seed],
    *,
    frames: int,
    seed: int | str,
    recv_ms: int = RECV_MS,
) -> VenueReport:
    """Feed `adapter` its recorded frames as they are, then `frames` mutants of them.

    The adapter keeps its state across frames, as on a live connection. The mutants are a
    function of (`seed`, `venue`) alone.
    """
    report = VenueReport(venue)
    prepared = [SeedFrame(s.name, s.frame) for s in seeds]
    if not prepared:
        raise ValueError(f"{venue}: no seed frames")
    mutator = Mutator(RandomChooser(random.Random(f"{seed}:{venue}")))
    started = time.perf_counter()
    for s in prepared:
        recorded = s.text if s.text is not None else s.raw
        assert recorded is not None
        _feed(report, adapter, s.name, Mutant(recorded, "as recorded"), recv_ms)
    count = len(prepared)
    for i in range(frames):
        s = prepared[i % count]
        _feed(report, adapter, s.name, mutator.mutate(s), recv_ms)
    report.seconds = time.perf_counter() - started
    return report


def _feed(
    report: VenueReport, adapter: VenueAdapter, seed: str, mutant: Mutant, recv_ms: int
) -> None:
    report.frames += 1
    try:
        results = adapter.parse(mutant.frame, recv_ms)
    except ParseError:
        report.parse_errors += 1
        return
    except Exception as exc:
        report.add("crash", _crash_signature(exc), mutant, seed, _traceback(exc))
        return
    problem = _contract_problem(results)
    if problem is not None:
        report.add("crash", problem, mutant, seed, f"parse returned {results!r}")
        return
    try:
        check_results(results)
    except ImpossibleValue as exc:
        report.add("impossible", _impossible_signature(results), mutant, seed, str(exc))
        return
    except Exception as exc:
        report.add("crash", "result check: " + _crash_signature(exc), mutant, seed, _traceback(exc))
        return
    for item in results:
        if isinstance(item, Event | BookSnapshot | BookDelta):
            report.results += 1
        else:
            report.controls += 1


def _contract_problem(results: object) -> str | None:
    """What breaks the adapter contract in a parse result, if anything."""
    if not isinstance(results, list | tuple):
        return f"parse returned a {type(results).__name__}, not a sequence"
    for item in results:
        if not isinstance(item, _RESULT_TYPES):
            return f"parse returned a {type(item).__name__} item"
        if isinstance(item, Event):
            try:
                encode_event(item)
            except Exception as exc:
                return f"{type(item).__name__} the JSON sink cannot encode: {exc}"
    return None


def _crash_signature(exc: BaseException) -> str:
    """The exception type and where it was raised: one line per distinct bug."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    if frames:
        last = frames[-1]
        where = f" at {Path(last.filename).name}:{last.lineno} in {last.name}"
    return f"{type(exc).__name__}{where}"


def _traceback(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)).rstrip()


def _impossible_signature(results: Sequence[object]) -> str:
    """The first offending result's type and the gate's message, numbers reduced to their
    class (non-finite, 0, <0, >0) so that one hole counts as one finding."""
    for item in results:
        try:
            check_results([item])  # type: ignore[list-item]
        except ImpossibleValue as exc:
            return f"{type(item).__name__}: {_NUMBER.sub(_number_class, str(exc))}"
    return "?"


def _number_class(match: re.Match[str]) -> str:
    value = float(match.group())
    if not math.isfinite(value):
        return "non-finite"
    if value == 0:
        return "0"
    return "<0" if value < 0 else ">0"


# -- reporting ---------------------------------------------------------------------------


def write_findings(report: VenueReport, out: Path, keep: int) -> list[Path]:
    """Write the first `keep` findings of each kind: a description and the frame itself."""
    written: list[Path] = []
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob(f"{report.venue}-*"):
        if re.fullmatch(rf"{re.escape(report.venue)}-(crash|impossible)-\d+\..*", old.name):
            old.unlink()
    numbers = {"crash": 0, "impossible": 0}
    for finding in report.findings.values():
        numbers[finding.kind] += 1
        n = numbers[finding.kind]
        if n > keep:
            continue
        stem = out / f"{report.venue}-{finding.kind}-{n}"
        binary = isinstance(finding.frame, bytes)
        frame_path = stem.with_suffix(".frame.bin" if binary else ".frame.txt")
        data = (
            finding.frame
            if isinstance(finding.frame, bytes)
            else finding.frame.encode("utf-8", "surrogatepass")
        )
        frame_path.write_bytes(data)
        shown = repr(finding.frame)
        if len(shown) > 2_000:
            shown = shown[:2_000] + f"... ({len(finding.frame)} long)"
        stem.with_suffix(".txt").write_text(
            f"venue: {report.venue}\n{finding.kind}: {finding.signature}\n"
            f"seen {finding.count} times\nseed frame: {finding.seed}\nmutation: {finding.how}\n"
            f"frame ({'bytes' if binary else 'text'}, {frame_path.name}): {shown}\n\n"
            f"{finding.detail}\n"
        )
        written += [stem.with_suffix(".txt"), frame_path]
    return written


def render(reports: Iterable[VenueReport], shown: int = 12) -> str:
    """The per-venue table, then the most frequent findings of each venue."""
    reports = list(reports)
    lines = [
        f"{'venue':<12} {'frames':>8} {'results':>8} {'parse errors':>12} "
        f"{'crashes':>8} {'impossible':>10} {'time':>7}"
    ]
    for r in reports:
        lines.append(
            f"{r.venue:<12} {r.frames:>8} {r.results:>8} {r.parse_errors:>12} "
            f"{r.crashes:>8} {r.impossible:>10} {r.seconds:>6.1f}s"
        )
    for r in reports:
        findings = sorted(r.findings.values(), key=lambda f: (f.kind, -f.count))
        for finding in findings[:shown]:
            lines.append(
                f"  {r.venue} {finding.kind} x{finding.count}: {finding.signature}"
                f"  [{finding.seed}: {finding.how}]"
            )
        if len(findings) > shown:
            lines.append(f"  {r.venue}: {len(findings) - shown} more kinds of finding")
    return "\n".join(lines)


def _venue_list(values: Sequence[str]) -> list[str]:
    names = [n for value in values for n in value.split(",") if n]
    unknown = sorted(set(names) - set(VENUES))
    if unknown:
        raise SystemExit(f"unknown venue(s) {', '.join(unknown)}; known: {', '.join(VENUES)}")
    return names


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fuzz", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--frames", type=int, default=100_000, help="mutants per venue")
    parser.add_argument("--seed", default="1", help="any string; same seed, same frames")
    parser.add_argument("--venues", nargs="+", default=list(VENUES), help="default: all")
    parser.add_argument("--out", type=Path, default=Path("fuzz-findings"))
    parser.add_argument("--keep", type=int, default=5, help="findings written per kind")
    args = parser.parse_args(argv)
    reports = []
    for venue in _venue_list(args.venues):
        adapter, _ = started_adapter(venue)
        report = fuzz_adapter(venue, adapter, ws_seeds(venue), frames=args.frames, seed=args.seed)
        reports.append(report)
        if report.findings:
            write_findings(report, args.out, args.keep)
        print(
            f"{venue}: {report.frames} frames, {report.crashes} crashes, "
            f"{report.impossible} impossible values, {report.seconds:.1f}s",
            file=sys.stderr,
            flush=True,
        )
    print(render(reports))
    bad = [r.venue for r in reports if not r.ok]
    if bad:
        print(f"\nFAIL: {', '.join(bad)}; first findings written to {args.out}/")
        return 1
    print(f"\nOK: no crash and no impossible value in {sum(r.frames for r in reports)} frames")
    return 0


if __name__ == "__main__":
    sys.exit(main())

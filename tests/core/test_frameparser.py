"""FrameParser: a batch parsed in one loop, each bad frame counted and left out, the good
ones kept in order; one frame alone gives its results, or None when it is bad."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from venuefeed.core.adapter import BookDelta, BookSnapshot, Parsed
from venuefeed.core.connection.framebatch import FrameParser, SnapshotConflation
from venuefeed.core.errors import MalformedFrame
from venuefeed.core.observe.logs import RateLimitedLog
from venuefeed.core.observe.metrics import Metrics

GOOD = BookDelta("A", [(1.0, 2.0)], [])
SNAP = BookSnapshot("A", [(1.0, 2.0)], [(2.0, 1.0)])


class Adapter:
    """Frames named by what they give."""

    def parse(self, frame: str, recv_ms: int) -> Sequence[Parsed]:
        if frame == "delta":
            return (GOOD,)
        if frame == "snapshot":
            return (SNAP,)
        if frame == "nothing":
            return ()
        if frame == "other book":  # an instrument nobody asked for
            return (BookDelta("Z", [], []),)
        if frame == "impossible":  # a snapshot's levels are the gate's to check
            return (BookSnapshot("A", [(float("nan"), 1.0)], []),)
        if frame == "deep":
            raise RecursionError
        raise MalformedFrame(f"cannot read {frame!r}")


def parser() -> tuple[FrameParser, Metrics]:
    metrics = Metrics()
    services: Any = SimpleNamespace(
        name="v",
        adapter=Adapter(),
        symbols={"A": "AAA"},
        metrics=metrics,
        log=RateLimitedLog(logging.getLogger("test")),
    )
    return FrameParser(services, "book", SnapshotConflation(None)), metrics


def errors(metrics: Metrics, kind: str) -> float:
    return metrics.value("parse_errors", venue="v", kind=kind)


def test_a_batch_keeps_the_good_frames_in_order_and_counts_each_bad_one() -> None:
    parse, metrics = parser()
    batch = ["delta", "garbage", "other book", "nothing", "deep", "impossible", "snapshot"]
    assert parse.all(batch, 1) == [(GOOD,), (SNAP,)]
    assert errors(metrics, "MalformedFrame") == 2  # garbage, nested too deeply
    assert errors(metrics, "UnknownFrame") == 1
    assert errors(metrics, "ImpossibleValue") == 1


def test_one_frame_gives_its_results_or_none_when_bad() -> None:
    parse, metrics = parser()
    assert parse("delta", 1) == (GOOD,)
    assert parse("nothing", 1) == ()  # good, with nothing in it: not a bad frame
    assert parse("garbage", 1) is None
    assert parse("other book", 1) is None
    assert errors(metrics, "MalformedFrame") == 1 and errors(metrics, "UnknownFrame") == 1

"""The fuzz harness must see what it is for: a crash and an impossible value.

A fuzzer that reports zero findings is only worth something if it would have reported a
broken parser. These adapters are broken on purpose: one crashes with a KeyError when a
field is missing, one lets a non-finite price through.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from bench.fuzz import fuzz_adapter, main, render, write_findings
from bench.mutate import Mutator, RandomChooser, SeedFrame
from bench.samples import RECV_MS, VENUES, Seed, started_adapter, ws_seeds
from venuefeed.core.adapter import Parsed, VenueAdapter, VenueContext
from venuefeed.core.codec import decode_json
from venuefeed.core.errors import MalformedFrame
from venuefeed.core.events import Trade

SEEDS = [Seed("trade.json", json.dumps({"p": "100.5", "q": "2", "id": "7"}))]


class _TradeTape(VenueAdapter):
    """Reads `{"p", "q", "id"}` trades; subclasses break it."""

    name: ClassVar[str] = "broken"

    def parse(self, frame: str | bytes, recv_ms: int) -> Sequence[Parsed]:
        doc = decode_json(frame)
        if not isinstance(doc, dict):
            raise MalformedFrame("not an object")
        return (self.trade(doc, recv_ms),)

    def trade(self, doc: dict[str, Any], recv_ms: int) -> Trade:
        raise NotImplementedError

    @staticmethod
    def event(price: float, size: float, recv_ms: int) -> Trade:
        return Trade(
            venue="broken",
            symbol="X",
            instrument="X",
            ts_recv=recv_ms,
            price=price,
            size=size,
            side="buy",
            trade_id="7",
        )


class KeyErrorTape(_TradeTape):
    """Indexes fields without checking they are there: a missing key escapes as KeyError."""

    def trade(self, doc: dict[str, Any], recv_ms: int) -> Trade:
        price, size = doc["p"], doc["q"]
        try:
            return self.event(float(price), float(size), recv_ms)
        except (TypeError, ValueError):
            raise MalformedFrame("bad number") from None


class InfinityTape(_TradeTape):
    """Rejects missing fields properly, but takes "inf" and "nan" for prices."""

    def trade(self, doc: dict[str, Any], recv_ms: int) -> Trade:
        try:
            return self.event(float(doc.get("p", "x")), 1.0, recv_ms)
        except (TypeError, ValueError, OverflowError):
            raise MalformedFrame("bad number") from None


def build(cls: type[VenueAdapter]) -> VenueAdapter:
    ctx = VenueContext(
        name="broken",
        symbols=("X",),
        ws_url="wss://127.0.0.1:1/ws",
        rest_url="http://127.0.0.1:1",
    )
    return cls(ctx)


def test_a_crashing_parser_is_reported_with_its_traceback_and_frame(tmp_path: Path):
    adapter = build(KeyErrorTape)
    report = fuzz_adapter("broken", adapter, SEEDS, frames=2_000, seed=3)
    assert report.frames == 2_001
    assert report.crashes > 0 and not report.ok
    crashes = [f for f in report.findings.values() if f.kind == "crash"]
    assert any(f.signature.startswith("KeyError at test_fuzz_harness.py") for f in crashes)
    finding = next(f for f in crashes if f.signature.startswith("KeyError"))
    assert "Traceback" in finding.detail and "KeyError" in finding.detail
    # the frame kept is the one that crashes: a regression test can start from it
    with pytest.raises(KeyError):
        adapter.parse(finding.frame, RECV_MS)
    written = write_findings(report, tmp_path, keep=5)
    text = next(p for p in written if p.name == "broken-crash-1.txt").read_text()
    assert "KeyError" in text and "mutation:" in text
    frame = next(p for p in written if p.name.startswith("broken-crash-1.frame"))
    with pytest.raises(KeyError):
        adapter.parse(frame.read_text(), RECV_MS)
    assert "broken crash" in render([report])


def test_an_impossible_price_is_reported_even_though_the_gate_would_catch_it():
    report = fuzz_adapter("broken", build(InfinityTape), SEEDS, frames=2_000, seed=3)
    assert report.crashes == 0
    assert report.impossible > 0 and not report.ok
    signatures = {f.signature for f in report.findings.values() if f.kind == "impossible"}
    assert "Trade: trade price = non-finite: a price must be finite and > 0" in signatures
    assert any("price = <0" in s or "price = 0" in s for s in signatures)


def test_a_sound_parser_passes():
    """The recorded Hyperliquid frames through the real adapter: the harness itself raises
    no false alarm on parse errors, controls or good results."""
    adapter, _ = started_adapter("hyperliquid")
    report = fuzz_adapter("hyperliquid", adapter, ws_seeds("hyperliquid"), frames=0, seed=1)
    assert report.ok and report.parse_errors == 0
    assert report.results >= 4 and report.controls >= 4


def test_runs_are_reproducible_from_the_seed():
    seeds = [SeedFrame(s.name, s.frame) for s in ws_seeds("paradex")]

    def frames(seed: str) -> list[str | bytes]:
        mutator = Mutator(RandomChooser(random.Random(seed)))
        return [mutator.mutate(seeds[i % len(seeds)]).frame for i in range(300)]

    assert frames("a") == frames("a")
    assert frames("a") != frames("b")


def test_every_venue_starts_from_its_samples():
    for venue in VENUES:
        _, instruments = started_adapter(venue)
        assert instruments


def test_command_line_on_the_recorded_frames_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    code = main(["--frames", "0", "--venues", "extended,lighter", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "extended" in out and "lighter" in out and "OK:" in out
    assert not list(tmp_path.iterdir())


def test_raw_number_tokens_and_inner_nesting_reach_the_frame():
    """Placeholders become bare JSON tokens: numbers no float holds, invalid tokens, and
    deep nesting inside a field, not strings that merely spell them."""
    seed = SeedFrame("trade.json", json.dumps({"p": "100.5", "q": "2", "x": {"y": 1}}))
    mutator = Mutator(RandomChooser(random.Random(5)))
    frames = [mutator.mutate(seed).frame for _ in range(3_000)]
    texts = [f for f in frames if isinstance(f, str)]
    assert not any("raw:" in f for f in texts)
    assert any(":1e999" in f for f in texts)
    assert any(":1" + "0" * 400 in f for f in texts)
    assert any(":NaN" in f for f in texts)
    assert any('{"p":' in f and "[" * 600 in f for f in texts)

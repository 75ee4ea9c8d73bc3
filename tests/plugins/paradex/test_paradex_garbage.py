"""Garbage, truncated and wrong-typed frames raise ParseError subclasses and nothing else."""

from __future__ import annotations

import contextlib
import json
import random
from pathlib import Path
from typing import Any

import pytest

from venuefeed.core.adapter import Instrument, VenueContext
from venuefeed.core.errors import MalformedFrame, ParseError
from venuefeed.plugins.paradex.adapter import ParadexAdapter

DATA = Path(__file__).parent / "data"
SAMPLES = sorted(p.name for p in DATA.glob("ws_*.json"))


def make(options: dict[str, Any] | None = None) -> ParadexAdapter:
    ctx = VenueContext(
        name="paradex",
        symbols=("BTC", "ETH"),
        ws_url="wss://x/ws",
        rest_url="https://x",
        options=options or {},
    )
    adapter = ParadexAdapter(ctx)
    adapter.connections([Instrument("BTC", "BTC-USD-PERP")])
    return adapter


def parse_or_parse_error(adapter: ParadexAdapter, frame: str | bytes) -> None:
    with contextlib.suppress(ParseError):
        adapter.parse(frame, 1)


@pytest.mark.parametrize(
    "frame",
    [
        "",
        " ",
        "{",
        "}",
        "[]",
        "null",
        "42",
        '"subscription"',
        "not json",
        '{"method":"subscription"}',
        '{"method":"subscription","params":[]}',
        '{"method":"subscription","params":{"channel":5,"data":{}}}',
        '{"method":"subscription","params":{"channel":"","data":{}}}',
        '{"method":"subscription","params":{"channel":"trades.X"}}',
        '{"method":"subscription","params":{"channel":"trades.X","data":null}}',
        '{"error":null,"id":1}',
        '{"error":{"message":"x"},"id":1}',
        '{"error":{"code":[1],"message":"x"},"id":1}',
        '{"error":{"code":true,"message":"x"},"id":1}',
        '{"error":"boom","id":1}',
        b"",
        b"{",
        b"\x00",
        b"\xff" * 7,
        b"\x10\x00\x28\x00\x01\x00\x01\x00",
    ],
)
def test_garbage_raises_parse_error(frame: str | bytes) -> None:
    with pytest.raises(ParseError):
        make().parse(frame, 1)


@pytest.mark.parametrize("name", SAMPLES)
def test_every_prefix_of_every_sample(name: str) -> None:
    adapter = make()
    text = (DATA / name).read_text()
    compact = json.dumps(json.loads(text), separators=(",", ":"))
    for cut in range(len(compact)):
        with pytest.raises(ParseError):
            adapter.parse(compact[:cut], 1)
        with pytest.raises(ParseError):
            adapter.parse(compact[:cut].encode(), 1)


def _mutations(value: Any) -> list[Any]:
    """The value with one leaf at a time replaced by a value of the wrong type."""
    wrong: list[Any] = [None, True, 1.5, -1, "", "x", [], {}, [1, 2], {"a": 1}]
    out: list[Any] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            for replacement in [*wrong, *_mutations(inner)]:
                out.append({**value, key: replacement})
            out.append({k: v for k, v in value.items() if k != key})
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            for replacement in [*wrong, *_mutations(inner)]:
                out.append([*value[:i], replacement, *value[i + 1 :]])
    return out


@pytest.mark.parametrize("name", SAMPLES)
@pytest.mark.parametrize("book_feed", ["snapshot", "deltas"])
def test_wrong_typed_fields_raise_only_parse_errors(name: str, book_feed: str) -> None:
    adapter = make({"book_feed": book_feed})
    sample = json.loads((DATA / name).read_text())
    for mutated in _mutations(sample):
        parse_or_parse_error(adapter, json.dumps(mutated))


def test_random_bytes_raise_only_parse_errors() -> None:
    adapter = make()
    rng = random.Random(20261126)
    for _ in range(3000):
        size = rng.randrange(0, 120)
        frame = bytes(rng.randrange(256) for _ in range(size))
        parse_or_parse_error(adapter, frame)
        # Keep a valid SBE header so the body decoders see the garbage, too.
        template = rng.choice([1, 2, 3, 4, 5, 40, 41])
        header = bytes([rng.randrange(256), 0, template, 0, 1, 0, 1, 0])
        parse_or_parse_error(adapter, header + frame)


def test_binary_text_that_is_not_utf8_json_is_malformed() -> None:
    with pytest.raises(MalformedFrame):
        make().parse(b'{"jsonrpc":"2.0","result":\xff}', 1)

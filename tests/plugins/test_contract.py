"""The adapter contract, checked over every registered built-in adapter.

parse() must be total: whatever a venue (or an attacker, or a bug) sends, it returns
results or raises the project's ParseError, never KeyError/TypeError/IndexError/...
Frames are fuzzed from each venue's recorded samples: truncated, retyped, pruned.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from venuefeed.core.adapter import (
    BookDelta,
    BookSnapshot,
    Control,
    Heartbeat,
    VenueAdapter,
    VenueContext,
)
from venuefeed.core.codec import encode_json
from venuefeed.core.errors import ParseError
from venuefeed.core.events import Event
from venuefeed.core.plugins import BUILTIN_MODULES, PluginHost
from venuefeed.core.settings import Policy

HERE = Path(__file__).parent
HOST = PluginHost(load_entry_points=False)
NAMES = sorted(HOST.venues)


def test_all_builtin_venues_are_registered():
    assert NAMES == ["aster", "extended", "hyperliquid", "lighter", "paradex"]
    assert len(BUILTIN_MODULES) == len(NAMES)


def adapter(name: str) -> VenueAdapter:
    cls = HOST.adapter(name)
    ctx = VenueContext(
        name=name,
        symbols=("BTC", "ETH"),
        ws_url="wss://127.0.0.1:1/ws",
        rest_url="http://127.0.0.1:1",
        policy=Policy(),
    )
    return cls(ctx)


def samples(name: str) -> list[Any]:
    found = []
    for path in sorted((HERE / name / "data").glob("ws_*.json")):
        try:
            found.append(json.loads(path.read_text()))
        except json.JSONDecodeError:
            continue
    return found


@pytest.mark.parametrize("name", NAMES)
def test_declarations(name: str):
    cls = HOST.adapter(name)
    assert cls.name == name and name.isidentifier()
    assert isinstance(cls.heartbeat, Heartbeat)
    if cls.heartbeat.ping is not None:
        encode_json(cls.heartbeat.ping)  # serialisable
    assert cls.default_ws_url.startswith("wss://") or cls.default_ws_url == ""
    assert samples(name), f"{name} has no recorded ws_*.json samples"


def check_results(results: Sequence[object]) -> None:
    for item in results:
        assert isinstance(item, Event | BookSnapshot | BookDelta | Control), item
        if isinstance(item, Event):
            msgspec.json.encode(item)


def parse_total(a: VenueAdapter, frame: str | bytes) -> None:
    try:
        results = a.parse(frame, 1_700_000_000_000)
    except ParseError:
        return
    check_results(results)


@pytest.mark.parametrize("name", NAMES)
def test_recorded_samples_parse(name: str):
    a = adapter(name)
    for sample in samples(name):
        parse_total(a, json.dumps(sample))


WRONG = st.sampled_from([None, True, -1, 0, 1e308, "x", "", [], {}, [[]], {"a": 1}, "NaN"])


def mutate(value: Any, data: st.DataObject, depth: int = 0) -> Any:
    if isinstance(value, dict) and value:
        key = data.draw(st.sampled_from(sorted(value)))
        out = dict(value)
        action = data.draw(st.sampled_from(["drop", "retype", "recurse"]))
        if action == "drop":
            del out[key]
        elif action == "retype" or depth > 4:
            out[key] = data.draw(WRONG)
        else:
            out[key] = mutate(value[key], data, depth + 1)
        return out
    if isinstance(value, list) and value:
        i = data.draw(st.integers(0, len(value) - 1))
        out = list(value)
        if data.draw(st.booleans()):
            out[i] = mutate(value[i], data, depth + 1)
        else:
            out[i] = data.draw(WRONG)
        return out
    return data.draw(WRONG)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_parse_never_raises_anything_but_parse_error(name: str, data: st.DataObject):
    a = adapter(name)
    pool = samples(name)
    sample = data.draw(st.sampled_from(pool))
    kind = data.draw(st.sampled_from(["mutate", "truncate", "garbage", "binary", "json"]))
    if kind == "mutate":
        frame: str | bytes = json.dumps(mutate(sample, data))
    elif kind == "truncate":
        text = json.dumps(sample)
        frame = text[: data.draw(st.integers(0, max(0, len(text) - 1)))]
    elif kind == "garbage":
        frame = data.draw(st.text(max_size=200))
    elif kind == "binary":
        frame = data.draw(st.binary(max_size=200))
    else:
        frame = json.dumps(
            data.draw(
                st.recursive(
                    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda c: (
                        st.lists(c, max_size=4)
                        | st.dictionaries(st.text(max_size=6), c, max_size=4)
                    ),
                    max_leaves=12,
                )
            )
        )
    parse_total(a, frame)

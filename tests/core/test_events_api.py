"""The event classes as a library user meets them: a literal `kind` per class (so a type
checker narrows on it), and `to_dict` / `to_json` that keep the kind."""

from __future__ import annotations

import json
import typing

import msgspec
import pytest

import venuefeed
from venuefeed.core.events import AnyEvent, Book, Status, Trade, decode_event, encode_event

EVENT_CLASSES = typing.get_args(AnyEvent)


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
def test_kind_is_a_literal_equal_to_the_json_tag(cls: type[venuefeed.Event]):
    hint = typing.get_type_hints(cls, include_extras=True)["kind"]
    (literal,) = typing.get_args(hint)  # ClassVar[Literal["book"]]
    assert typing.get_args(literal) == (cls.kind,)
    assert cls.__struct_config__.tag == cls.kind


def test_to_dict_keeps_the_kind_and_is_plain_json():
    book = Book(
        venue="aster", symbol="BTC", instrument="BTCUSDT", ts_recv=2,
        bids=[(100.0, 1.0)], asks=[(101.0, 2.0)], seq=7,
    )  # fmt: skip
    as_dict = book.to_dict()
    assert as_dict["kind"] == "book" and as_dict["bids"] == [[100.0, 1.0]]
    assert "kind" not in msgspec.structs.asdict(book)  # what the issue ran into
    assert json.loads(book.to_json()) == as_dict
    assert book.to_json().encode() == encode_event(book)
    assert decode_event(book.to_json()) == book


def test_every_event_round_trips_through_to_json():
    events: list[AnyEvent] = [
        Trade(venue="v", symbol="BTC", instrument="B", ts_recv=1, price=1.5, size=2.0,
              side="buy", trade_id="9"),
        Status(venue="v", symbol="*", instrument="*", ts_recv=1, stream="ws:main",
               state="live"),
    ]  # fmt: skip
    for event in events:
        assert decode_event(event.to_json()) == event
        assert event.to_dict()["kind"] == event.kind


def test_the_public_surface_exports_the_union_and_every_class():
    for cls in EVENT_CLASSES:
        assert getattr(venuefeed, cls.__name__) is cls
    assert venuefeed.AnyEvent is AnyEvent

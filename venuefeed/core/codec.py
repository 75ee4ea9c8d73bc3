"""Frame decoding helpers for adapters: decode once, fail with the project's ParseError."""

from __future__ import annotations

import math
from typing import Any, TypeVar

import msgspec

from venuefeed.core.errors import MalformedFrame

T = TypeVar("T")

_decoder = msgspec.json.Decoder()


def decode_json(frame: str | bytes) -> Any:
    """Decode a JSON frame; anything undecodable raises `MalformedFrame`."""
    try:
        return _decoder.decode(frame)
    except msgspec.DecodeError as exc:
        raise MalformedFrame(f"invalid JSON: {exc}") from None
    except RecursionError:
        raise MalformedFrame("invalid JSON: nested too deeply") from None


def decode_typed(decoder: msgspec.json.Decoder[T], frame: str | bytes) -> T:
    """Decode with a typed msgspec decoder (fast path for hot frames)."""
    try:
        return decoder.decode(frame)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise MalformedFrame(str(exc)) from None
    except RecursionError:
        raise MalformedFrame("nested too deeply") from None


def encode_message(message: Any) -> str:
    """Serialise an outgoing message (subscribe, ping) to text."""
    if isinstance(message, str):
        return message
    return msgspec.json.encode(message).decode()


def num(value: Any, what: str = "number") -> float:
    """A venue number (string or JSON number) as a finite float; bad values raise
    `MalformedFrame`.

    `float()` reads "nan", "inf", "Infinity" and overflows "1e999" to infinity; no price,
    size or rate is ever one of those, so they are refused here rather than by every caller.
    """
    if isinstance(value, bool):
        raise MalformedFrame(f"{what}: expected a number, got {value!r}")
    try:
        result = float(value)
    except (TypeError, ValueError, OverflowError):
        raise MalformedFrame(f"{what}: expected a number, got {value!r}") from None
    if not math.isfinite(result):
        raise MalformedFrame(f"{what}: expected a finite number, got {value!r}")
    return result


def integer(value: Any, what: str = "integer") -> int:
    """A venue integer (string or JSON number) as int; bad values raise `MalformedFrame`."""
    if isinstance(value, bool):
        raise MalformedFrame(f"{what}: expected an integer, got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: a float infinity
        raise MalformedFrame(f"{what}: expected an integer, got {value!r}") from None

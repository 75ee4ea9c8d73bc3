"""Mutations of recorded frames: what a buggy, hostile or corrupted venue could send.

One implementation serves two drivers through `Chooser`: the volume fuzzer (`bench.fuzz`)
draws from a seeded `random.Random`, the contract test draws from hypothesis, which can
then shrink a failing frame. Every choice goes through the chooser, so a run is a pure
function of its seed.

JSON frames are decoded once; a mutation copies only the path it changes. The families:
- tree: drop a key or element, retype a value, empty a container, duplicate elements,
  swap in another value of the same frame;
- number: a numeric leaf (a JSON number or a numeric string, as venues quote decimals)
  becomes inf, NaN, -1, 0, a denormal, a huge value, a non-number string...;
- nest: a value (or the whole frame) becomes thousands of nested arrays;
- text: truncation, and flipped, inserted or deleted characters of the encoded frame;
- garbage: random text or bytes, and the frame's text sent as a binary frame.
Binary (SBE) frames get bit flips, extreme int64/uint16 values at field offsets,
truncation and trailing garbage.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import msgspec

T = TypeVar("T")

Path = tuple[str | int, ...]


class Chooser(Protocol):
    """The source of every decision a mutation makes."""

    def pick(self, options: Sequence[T]) -> T:
        """One of `options` (non-empty)."""
        ...

    def below(self, n: int) -> int:
        """An integer in [0, n)."""
        ...

    def blob(self, n: int) -> bytes:
        """`n` arbitrary bytes."""
        ...


class RandomChooser:
    """Decisions from a seeded `random.Random` (the volume fuzzer)."""

    __slots__ = ("_below", "_rng")

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._below = rng.randrange

    def pick(self, options: Sequence[T]) -> T:
        return options[self._below(len(options))]

    def below(self, n: int) -> int:
        return self._below(n)

    def blob(self, n: int) -> bytes:
        return self._rng.randbytes(n)


#: placeholder strings replaced by raw tokens after encoding: JSON numbers Python cannot
#: hold as a finite float, invalid tokens, and deep nesting (cheap to splice as text).
_RAW = "\x00raw:"
#: how a placeholder looks once encoded.
_RAW_ENCODED = '"\\u0000raw:'
_NEST_DEPTHS = (600, 1_000, 3_000, 20_000)

#: what a numeric leaf may become. Venues quote decimals as strings, so most of these
#: are strings; the JSON-number ones test the other spelling.
IMPOSSIBLE_NUMBERS: tuple[Any, ...] = (
    "nan",
    "NaN",
    "-nan",
    "inf",
    "-inf",
    "Infinity",
    "-Infinity",
    "1e999",
    "-1e999",
    "0",
    "-0",
    "0.0",
    "0E-8",
    "-1",
    "-0.00000001",
    "1e-400",
    "1e308",
    "-1e308",
    "9" * 400,
    "",
    " ",
    "x",
    "1.2.3",
    "0x10",
    0,
    -1,
    -0.5,
    0.0,
    1e-320,
    1e308,
    -1e308,
    2**63,
    2**64,
    -(2**63) - 1,
    2**200,
    True,
    None,
    _RAW + "1e999",
    _RAW + "-1e999",
    _RAW + "NaN",
    _RAW + "Infinity",
    _RAW + "1" + "0" * 400,  # an integer no float can hold: float() raises OverflowError
    _RAW + "-1" + "0" * 400,
)

#: a value of the wrong kind for any field.
WRONG_VALUES: tuple[Any, ...] = (
    None,
    True,
    False,
    -1,
    0,
    1,
    1.5,
    "",
    "x",
    "BTC",
    [],
    {},
    [[]],
    [None],
    {"a": 1},
    ["1", "2"],
)

_TEXT_NOISE = '{}[]",:0123456789-+.eE ntrufalsNI\\/\x00\u00e9\ud7ff'
INT64 = (2**63 - 1, -(2**63), -(2**63) + 1, -1, 0, 1, -(10**8), 10**18, 2**62)
UINT16 = (0, 1, 7, 8, 255, 256, 0x7FFF, 0xFFFF)


@dataclass(frozen=True, slots=True)
class Mutant:
    """A mutated frame and how it was made (for reports and regression tests)."""

    frame: str | bytes
    how: str


class SeedFrame:
    """A recorded frame prepared once for mutation: its text, its decoded tree, the paths
    to every node and to every numeric leaf."""

    __slots__ = ("doc", "name", "numeric", "paths", "raw", "text")

    def __init__(self, name: str, frame: str | bytes) -> None:
        self.name = name
        self.raw: bytes | None = frame if isinstance(frame, bytes) else None
        self.text: str | None = frame if isinstance(frame, str) else None
        self.doc: Any = None
        self.paths: list[Path] = []
        self.numeric: list[Path] = []
        if self.text is not None:
            try:
                self.doc = msgspec.json.decode(self.text)
            except msgspec.DecodeError:
                self.doc = None
            else:
                self.paths = list(_walk(self.doc, ()))
                self.numeric = [p for p in self.paths if _is_numeric(_get(self.doc, p))]


def _walk(node: Any, path: Path) -> Iterator[Path]:
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, (*path, i))


def _is_numeric(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    if isinstance(value, str) and value:
        try:
            return math.isfinite(float(value))
        except ValueError:
            return False
    return False


def _get(doc: Any, path: Path) -> Any:
    """The node at `path`; `LookupError` when an earlier mutation changed the way there."""
    for step in path:
        found = (isinstance(doc, dict) and step in doc) or (
            isinstance(doc, list) and isinstance(step, int) and step < len(doc)
        )
        if not found:
            raise LookupError(path)
        doc = doc[step]
    return doc


_DROP = object()


def _replace(doc: Any, path: Path, value: Any) -> Any:
    """A copy of `doc` with the node at `path` replaced by `value` (`_DROP` removes it);
    only the containers along the path are copied."""
    if not path:
        return value
    step, rest = path[0], path[1:]
    copy: Any = dict(doc) if isinstance(doc, dict) else list(doc)
    new = _replace(doc[step], rest, value)
    if new is _DROP:
        del copy[step]
    else:
        copy[step] = new
    return copy


def _encode(doc: Any) -> str:
    text = msgspec.json.encode(doc).decode()
    if _RAW_ENCODED in text:
        text = _splice_raw(text)
    return text


def _splice_raw(text: str) -> str:
    """Turn every encoded placeholder `"\\u0000raw:TOKEN"` into the bare TOKEN."""
    marker = _RAW_ENCODED
    out: list[str] = []
    pos = 0
    while (start := text.find(marker, pos)) >= 0:
        end = text.index('"', start + len(marker))
        out.append(text[pos:start])
        out.append(_raw_token(text[start + len(marker) : end]))
        pos = end + 1
    out.append(text[pos:])
    return "".join(out)


def _raw_token(token: str) -> str:
    if token.startswith("nest"):
        depth = int(token[4:])
        return "[" * depth + "]" * depth
    return token


class Mutator:
    """Makes mutants of seed frames with one chooser."""

    __slots__ = ("_c",)

    def __init__(self, chooser: Chooser) -> None:
        self._c = chooser

    def mutate(self, seed: SeedFrame) -> Mutant:
        c = self._c
        if seed.raw is not None:
            return self._binary(seed.raw)
        assert seed.text is not None
        if seed.doc is None:
            return self._text(seed.text)
        family = c.pick(_JSON_FAMILIES)
        if family == "number" and seed.numeric:
            return self._numbers(seed)
        if family == "tree" and seed.paths:
            return self._tree(seed)
        if family == "nest":
            return self._nest(seed)
        if family == "text":
            return self._text(_encode(seed.doc) if c.below(2) else seed.text)
        if family == "garbage":
            return self._garbage(seed.text)
        return self._numbers(seed) if seed.numeric else self._tree(seed)

    # -- JSON trees ------------------------------------------------------------------------

    def _numbers(self, seed: SeedFrame) -> Mutant:
        c = self._c
        doc = seed.doc
        hows = []
        for _ in range(1 + c.below(2)):
            path = c.pick(seed.numeric)
            value = c.pick(IMPOSSIBLE_NUMBERS)
            doc = _replace(doc, path, value)
            hows.append(f"{_show(path)}={_show_value(value)}")
        return Mutant(_encode(doc), "number " + " ".join(hows))

    def _tree(self, seed: SeedFrame) -> Mutant:
        c = self._c
        doc = seed.doc
        hows = []
        repeated = False
        for _ in range(1 + c.below(3)):
            path = c.pick(seed.paths)
            op = c.pick(_TREE_OPS)
            try:
                node = _get(doc, path)
            except LookupError:
                continue  # an earlier mutation removed or retyped this path
            if op == "drop" and path:
                doc = _replace(doc, path, _DROP)
            elif op == "empty" and isinstance(node, dict | list):
                doc = _replace(doc, path, type(node)())
            elif op == "repeat" and isinstance(node, list) and node and not repeated:
                # once per mutant and at most _MAX_REPEAT elements: repeats of repeats
                # would build frames far over any venue's frame size limit
                times = min(c.pick((2, 50, 1000)), max(1, _MAX_REPEAT // len(node)))
                doc = _replace(doc, path, node * times)
                repeated = True
            elif op == "swap":
                other = _get(seed.doc, c.pick(seed.paths))
                doc = _replace(doc, path, other)
            elif op == "extra" and isinstance(node, dict):
                key = c.pick(("e", "type", "channel", "data", "error", "id", "x"))
                value = c.pick(WRONG_VALUES)
                doc = _replace(doc, path, {**node, key: value})
            else:
                op = "retype"
                value = c.pick(WRONG_VALUES)
                doc = _replace(doc, path, value)
            hows.append(f"{op}@{_show(path)}")
        return Mutant(_encode(doc), "tree " + " ".join(hows))

    def _nest(self, seed: SeedFrame) -> Mutant:
        c = self._c
        depth = c.pick(_NEST_DEPTHS)
        token = f"{_RAW}nest{depth}"
        if seed.paths and c.below(3):
            path = c.pick(seed.paths)
            doc = _replace(seed.doc, path, token)
            return Mutant(_encode(doc), f"nest {depth}@{_show(path)}")
        opener = c.pick(("[", '{"a":', '{"data":'))
        closer = "]" if opener == "[" else "}"
        text = opener * depth + "0" + closer * depth
        return Mutant(text, f"nest {depth} {opener}")

    # -- text and garbage --------------------------------------------------------------------

    def _text(self, text: str) -> Mutant:
        c = self._c
        op = c.pick(("truncate", "truncate", "flip", "insert", "delete"))
        if not text:
            return Mutant(c.pick(_TEXT_NOISE), "text insert into empty")
        at = c.below(len(text))
        if op == "truncate":
            return Mutant(text[:at], f"truncate at {at}")
        if op == "flip":
            return Mutant(text[:at] + c.pick(_TEXT_NOISE) + text[at + 1 :], f"flip {at}")
        if op == "insert":
            return Mutant(text[:at] + c.pick(_TEXT_NOISE) + text[at:], f"insert {at}")
        return Mutant(text[:at] + text[at + 1 :], f"delete {at}")

    def _garbage(self, text: str) -> Mutant:
        c = self._c
        kind = c.below(4)
        if kind == 0:
            return Mutant(text.encode(), "text as a binary frame")
        size = c.pick((0, 1, 8, 64, 300))
        blob = c.blob(size)
        if kind == 1:
            return Mutant(blob, f"random {size} bytes")
        noise = _TEXT_NOISE
        return Mutant("".join(noise[b % len(noise)] for b in blob), f"random {size} chars")

    # -- binary (SBE) ------------------------------------------------------------------------

    def _binary(self, raw: bytes) -> Mutant:
        c = self._c
        buf = bytearray(raw)
        op = c.pick(("flip", "flip", "int64", "int64", "uint16", "truncate", "extend"))
        if op == "truncate":
            at = c.below(len(raw) + 1)
            return Mutant(raw[:at], f"truncate at {at}")
        if op == "extend":
            tail = c.blob(c.pick((1, 8, 64)))
            return Mutant(raw + tail, f"extend by {len(tail)}")
        if op == "int64" and len(buf) >= 16:
            # root-block fields sit at 8-byte steps after the 8-byte header
            at = 8 + 8 * c.below((len(buf) - 8) // 8)
            value = c.pick(INT64)
            buf[at : at + 8] = value.to_bytes(8, "little", signed=True)
            return Mutant(bytes(buf), f"int64 @{at}={value}")
        if op == "uint16" and len(buf) >= 2:
            at = c.below(len(buf) - 1)
            value = c.pick(UINT16)
            buf[at : at + 2] = value.to_bytes(2, "little")
            return Mutant(bytes(buf), f"uint16 @{at}={value}")
        flips = []
        for _ in range(1 + c.below(4)):
            bit = c.below(len(buf) * 8) if buf else 0
            if buf:
                buf[bit // 8] ^= 1 << (bit % 8)
            flips.append(str(bit))
        return Mutant(bytes(buf), "bitflip " + ",".join(flips))


_JSON_FAMILIES = ("number", "number", "number", "tree", "tree", "tree", "nest", "text", "garbage")
_TREE_OPS = ("drop", "retype", "retype", "empty", "repeat", "swap", "extra")
_MAX_REPEAT = 2_000


def _show(path: Path) -> str:
    return "/" + "/".join(str(step) for step in path)


def _show_value(value: Any) -> str:
    raw = isinstance(value, str) and value.startswith(_RAW)
    text = value[len(_RAW) :] if raw else repr(value)
    return text if len(text) <= 24 else f"{text[:21]}...({len(text)} chars)"

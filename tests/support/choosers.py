"""The mutator's decisions (`bench.mutate.Chooser`) drawn from hypothesis, which can then
shrink a failure; shared by the tests that mutate recorded frames and REST bodies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from hypothesis import strategies as st

T = TypeVar("T")


class HypothesisChooser:
    def __init__(self, data: st.DataObject) -> None:
        self._data = data

    def pick(self, options: Sequence[T]) -> T:
        return self._data.draw(st.sampled_from(options))

    def below(self, n: int) -> int:
        return self._data.draw(st.integers(0, n - 1))

    def blob(self, n: int) -> bytes:
        return self._data.draw(st.binary(min_size=n, max_size=n))

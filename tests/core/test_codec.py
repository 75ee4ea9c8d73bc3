"""The shared number helpers refuse what no price, size or rate can be."""

from __future__ import annotations

import pytest

from venuefeed.core.codec import integer, num
from venuefeed.core.errors import MalformedFrame


@pytest.mark.parametrize("value", ["1", "0.5", 2, -3.25, "-0", "1e-400", "1e308"])
def test_num_reads_finite_numbers(value: object):
    assert num(value) == float(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value",
    [
        "nan",
        "NaN",
        "inf",
        "-Infinity",
        "1e999",  # overflows to infinity
        "9" * 400,
        float("nan"),
        float("-inf"),
        10**400,  # float() raises OverflowError: was a crash (make fuzz, Lighter)
        -(10**400),
        True,
        None,
        "",
        "x",
        [],
    ],
)
def test_num_refuses_non_finite_and_non_numbers(value: object):
    with pytest.raises(MalformedFrame):
        num(value, "price")


@pytest.mark.parametrize("value", ["1.5", "x", None, False, 1.5e400, float("nan")])
def test_integer_refuses_non_integers(value: object):
    with pytest.raises(MalformedFrame):
        integer(value)

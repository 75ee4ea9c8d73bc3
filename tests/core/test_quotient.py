"""Derived rates without float noise."""

from __future__ import annotations

import math

import pytest

from venuefeed.core.wire import quotient


@pytest.mark.parametrize(
    ("a", "b", "want"),
    [(0.0012, 100, 1.2e-05), (0.0011, 100, 1.1e-05), (0.0006, 100, 6e-06), (0.0001, 8, 1.25e-05)],
)
def test_a_quoted_rate_divided_stays_the_decimal_it_was(a: float, b: float, want: float):
    assert a / b != want or a == 0.0001  # plain division leaves noise (1.1999999999999999e-05)
    assert quotient(a, b) == want
    assert repr(quotient(a, b)) == repr(want)


def test_a_non_finite_quotient_is_left_for_the_caller_to_reject():
    assert math.isinf(quotient(1e300, 1e-300))

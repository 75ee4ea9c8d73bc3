from __future__ import annotations

import pytest

from venuefeed.core.errors import ConfigError
from venuefeed.sim.chaos import ALL_FAULTS, BUILTIN, DISRUPTIVE, load_profile
from venuefeed.sim.report import AFTER_FAULT, in_flight_at
from venuefeed.testing import RECONNECTING, RESETTING


def test_every_connection_resetting_fault_is_disruptive():
    # a fault that resets connections must have its recovery measured and its in-flight
    # trades accounted for, in the soak report as in the conformance kit
    assert RESETTING <= DISRUPTIVE
    assert RECONNECTING <= DISRUPTIVE
    assert AFTER_FAULT <= DISRUPTIVE
    assert set(ALL_FAULTS) >= DISRUPTIVE
    assert set(BUILTIN["heavy"].faults) == set(ALL_FAULTS)


def test_in_flight_window_direction():
    assert in_flight_at("disconnect", 10_000, 9_800)  # sent just before the reset
    assert not in_flight_at("disconnect", 10_000, 10_200)
    assert in_flight_at("poison", 10_000, 10_200)  # the poisoned frame comes after
    assert not in_flight_at("poison", 10_000, 9_800)


def test_profiles_from_toml(tmp_path):
    path = tmp_path / "chaos.toml"
    path.write_text('[profiles.mine]\ninterval_s = 2.0\nfaults = ["gap", "stall"]\nstall_s = 1.5\n')
    profile = load_profile("mine", path)
    assert (profile.interval_s, profile.faults, profile.stall_s) == (2.0, ("gap", "stall"), 1.5)
    path.write_text('[profiles.bad]\nfaults = ["gap", "meteor"]\n')
    with pytest.raises(ConfigError, match="unknown \\['meteor'\\]"):
        load_profile("bad", path)
    with pytest.raises(ConfigError, match="built-in: none, light, heavy"):
        load_profile("nope")

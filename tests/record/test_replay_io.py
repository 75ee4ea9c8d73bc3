"""A recorded session ends, in the replay, with the exception it ended with live, so the
connection loop takes the same branch (a planned rotation is not a failure; a bug is
restarted by the supervisor)."""

from __future__ import annotations

from venuefeed.core.connection.link import Rotation
from venuefeed.core.errors import StaleError, VenueClosedError, VenueConnectError
from venuefeed.record.replay_io import ReplayedFailure, recorded_error


def test_recorded_reasons_come_back_as_their_classes():
    rotation = recorded_error("Rotation", "planned rotation after 60s")
    assert type(rotation) is Rotation and str(rotation) == "planned rotation after 60s"
    assert type(recorded_error("StaleError", "no data for 10s")) is StaleError
    assert type(recorded_error("VenueClosedError", "code 1006")) is VenueClosedError
    refused = recorded_error("VenueConnectError", "handshake refused: HTTP 429")
    assert type(refused) is VenueConnectError and refused.retry_after_s is None  # no waits


def test_anything_else_is_a_failure_naming_the_recorded_class():
    failure = recorded_error("RuntimeError", "chaos: poisoned frame")
    assert isinstance(failure, ReplayedFailure)
    assert str(failure) == "RuntimeError: chaos: poisoned frame"
    assert isinstance(recorded_error("ConfigError", "x"), ReplayedFailure)  # not a VenueError

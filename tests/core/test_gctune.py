"""The collector settings an engine holds while it runs (`[engine] gc_threshold`): applied
by the first holder, given back as found by the last, never imposed when switched off."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from venuefeed.core import gctune
from venuefeed.core.engine import Engine
from venuefeed.core.settings import Settings


@pytest.fixture(autouse=True)
def collector_as_found() -> Iterator[None]:
    """Whatever a test does, the next one finds the collector as this one did."""
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    yield
    gc.set_threshold(*threshold)
    if gc.get_freeze_count() and not frozen:
        gc.unfreeze()


def test_holding_raises_the_threshold_and_freezes_what_lives_then_release_restores():
    gc.set_threshold(700, 11, 12)
    assert gc.get_freeze_count() == 0
    assert gctune.hold(20_000)
    assert gc.get_threshold() == (20_000, 11, 12)
    assert gc.get_freeze_count() > 0
    gctune.release()
    assert gc.get_threshold() == (700, 11, 12)
    assert gc.get_freeze_count() == 0


def test_the_last_of_several_holders_restores_and_a_higher_threshold_is_kept():
    gc.set_threshold(50_000, 10, 10)
    assert gctune.hold(20_000) and gctune.hold(20_000)
    assert gc.get_threshold()[0] == 50_000  # the application's own, higher: left alone
    gctune.release()
    assert gc.get_freeze_count() > 0  # one holder is left
    gctune.release()
    assert gc.get_freeze_count() == 0 and gc.get_threshold()[0] == 50_000
    with pytest.raises(RuntimeError, match="without hold"):
        gctune.release()


def test_zero_leaves_the_collector_alone_and_an_applications_freeze_stays():
    gc.set_threshold(700, 10, 10)
    assert not gctune.hold(0)
    assert gc.get_threshold() == (700, 10, 10) and gc.get_freeze_count() == 0
    gc.freeze()
    frozen = gc.get_freeze_count()
    assert gctune.hold(20_000)
    gctune.release()
    assert gc.get_freeze_count() > frozen // 2  # not undone by us (a few may die)


def _settings(threshold: int) -> Settings:
    # a venue nobody answers: start() does not wait for a connection
    venue = {"ws_url": "ws://127.0.0.1:9/ws", "rest_url": "http://127.0.0.1:9"}
    return Settings.model_validate(
        {"engine": {"gc_threshold": threshold}, "venues": {"hyperliquid": venue}}
    )


async def test_an_engine_holds_the_setting_while_it_runs():
    gc.set_threshold(700, 10, 10)
    async with Engine(_settings(15_000)):
        assert gc.get_threshold()[0] == 15_000 and gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == 700 and gc.get_freeze_count() == 0
    async with Engine(_settings(0)):
        assert gc.get_threshold()[0] == 700 and gc.get_freeze_count() == 0

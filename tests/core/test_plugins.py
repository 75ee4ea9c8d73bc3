from __future__ import annotations

import inspect
import sys
from pathlib import Path
from types import ModuleType

import fakex
import pytest

from venuefeed import VenueAdapter, hookimpl
from venuefeed.core import hookspecs
from venuefeed.core.engine import Engine
from venuefeed.core.errors import ConfigError, PluginError
from venuefeed.core.plugins import PluginHost
from venuefeed.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def plugin_module(name: str, *classes: type) -> ModuleType:
    module = ModuleType(name)

    @hookimpl
    def venuefeed_register_venues() -> list[type]:
        return list(classes)

    module.venuefeed_register_venues = venuefeed_register_venues  # type: ignore[attr-defined]
    return module


def test_duplicate_venue_names_are_rejected_naming_both():
    class Clash(VenueAdapter):
        name = "fakex"

    with pytest.raises(PluginError) as info:
        PluginHost(
            builtin_modules=(),
            extra_plugins=[fakex, plugin_module("clash", Clash)],
            load_entry_points=False,
        )
    assert "fakex.FakeAdapter" in str(info.value)
    assert "Clash" in str(info.value)


def test_non_adapter_is_rejected():
    with pytest.raises(PluginError, match="not a VenueAdapter subclass"):
        PluginHost(
            builtin_modules=(), extra_plugins=[plugin_module("bad", dict)], load_entry_points=False
        )


def test_misspelled_hook_fails_loudly():
    module = ModuleType("typo")

    @hookimpl
    def venuefeed_register_venue() -> list[type]:
        return []

    module.venuefeed_register_venue = venuefeed_register_venue  # type: ignore[attr-defined]
    with pytest.raises(PluginError, match="venuefeed_register_venue"):
        PluginHost(builtin_modules=(), extra_plugins=[module], load_entry_points=False)


def write_distribution(root: Path, module_source: str) -> None:
    """A minimal installed third-party package: one module plus its dist-info entry point."""
    (root / "thirdvenue.py").write_text(module_source)
    info = root / "thirdvenue-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdvenue\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text("[venuefeed]\nthird = thirdvenue\n")


THIRD = """
from venuefeed import VenueAdapter, hookimpl

class ThirdAdapter(VenueAdapter):
    name = "third"
    default_ws_url = "wss://third.example/ws"

@hookimpl
def venuefeed_register_venues():
    return [ThirdAdapter]
"""


def test_third_party_venue_through_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    write_distribution(tmp_path, THIRD)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "thirdvenue", raising=False)
    host = PluginHost(builtin_modules=(), load_entry_points=True)
    assert "third" in host.venues
    assert host.venues["third"].source == "entry point third (thirdvenue 1.2.3)"
    # and the user only adds a [venues.third] table:
    settings = Settings.model_validate({"venues": {"third": {"symbols": ["BTC"]}}})
    engine = Engine(settings, plugins=host)
    assert engine.adapters["third"].ctx.ws_url == "wss://third.example/ws"


def test_blocked_plugin_is_not_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    write_distribution(tmp_path, THIRD)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("VENUEFEED_BLOCK_PLUGINS", "third")
    host = PluginHost(builtin_modules=(), load_entry_points=True)
    assert "third" not in host.venues


def test_config_for_unknown_venue_names_known_ones():
    host = PluginHost(builtin_modules=(), extra_plugins=[fakex], load_entry_points=False)
    settings = Settings.model_validate({"venues": {"nosuch": {}}})
    with pytest.raises(ConfigError) as info:
        Engine(settings, plugins=host)
    assert "nosuch" in str(info.value) and "fakex, fakey" in str(info.value)


def test_every_hookspec_is_documented():
    guide = (ROOT / "docs" / "plugins.md").read_text()
    specs = [
        f
        for n, f in inspect.getmembers(hookspecs, inspect.isfunction)
        if n.startswith("venuefeed_")
    ]
    assert specs
    for spec in specs:
        assert spec.__doc__ and len(spec.__doc__.strip()) > 40, spec.__name__
        assert spec.__name__ in guide, f"{spec.__name__} missing from docs/plugins.md"

from __future__ import annotations

from pathlib import Path

import pytest

from venuefeed.core.errors import ConfigError
from venuefeed.core.settings import load_settings, value_sources

TOML = """
[defaults]
stale_after_s = 7
symbols = ["BTC"]

[venues.aster]
ws_url = "wss://example/ws"
stale_after_s = 4

[venues.lighter]
enabled = true
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "venues.toml"
    path.write_text(TOML)
    return path


def test_defaults_then_toml_then_env(config: Path, monkeypatch: pytest.MonkeyPatch):
    s = load_settings(config)
    assert s.defaults.stale_after_s == 7
    assert s.policy_for("aster").stale_after_s == 4
    assert s.policy_for("lighter").stale_after_s == 7
    assert s.policy_for("lighter").backoff_max_s == 30.0  # built-in default
    monkeypatch.setenv("VENUEFEED_VENUES__ASTER__STALE_AFTER_S", "3")
    monkeypatch.setenv("VENUEFEED_DEFAULTS__STALE_AFTER_S", "5")
    monkeypatch.setenv("VENUEFEED_VENUES__LIGHTER__ENABLED", "false")
    s = load_settings(config)
    assert s.policy_for("aster").stale_after_s == 3
    assert s.policy_for("lighter").stale_after_s == 5
    assert s.venues["lighter"].enabled is False
    assert s.venues["aster"].ws_url == "wss://example/ws"  # TOML kept beside env
    assert s.symbols_for("aster") == ("BTC",)


def test_value_sources(config: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("VENUEFEED_VENUES__ASTER__STALE_AFTER_S", "3")
    sources = value_sources(config)
    assert sources["venues.aster.stale_after_s"] == "env"
    assert sources["venues.aster.ws_url"] == "toml"
    assert sources["defaults.stale_after_s"] == "toml"
    assert "defaults.backoff_max_s" not in sources


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        (
            "[defaults]\nstale_after_s = -1\n",
            "defaults.stale_after_s = -1: Input should be greater than 0",
        ),
        ("[defaults]\nstale_aftr_s = 1\n", "defaults.stale_aftr_s = 1: unknown field"),
        ("[venues.aster]\nenabled = 'maybe'\n", "venues.aster.enabled = 'maybe'"),
        (
            "[defaults]\nbackoff_initial_s = 5\nbackoff_max_s = 1\n",
            "backoff_max_s (1.0) must be >=",
        ),
        ("[defaults\n", "venues.toml"),
    ],
)
def test_bad_toml_is_one_line_naming_field_and_value(tmp_path: Path, toml: str, needle: str):
    path = tmp_path / "venues.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert needle in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("VENUEFEED_VENUES__ASTER__STALE_AFTER_S", "abc", "venues.aster.stale_after_s = 'abc'"),
        ("VENUEFEED_VENUES__ASTER__STALE_AFTR_S", "3", "unknown field"),
        (
            "VENUEFEED_DEFAULTZ__STALE_AFTER_S",
            "3",
            "unknown environment variable VENUEFEED_DEFAULTZ__",
        ),
        ("VENUEFEED_DEFAULTS__BACKOFF_JITTER", "2", "less than or equal to 1"),
    ],
)
def test_bad_env_is_one_line_naming_variable(
    config: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, needle: str
):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    assert needle in str(info.value)
    if "unknown environment" not in needle:
        assert f"from env {name}" in str(info.value)


def test_missing_file_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_settings(tmp_path / "nope.toml")


def test_bad_venue_override_named(tmp_path: Path):
    path = tmp_path / "venues.toml"
    path.write_text("[defaults]\nbackoff_max_s = 10\n[venues.aster]\nbackoff_initial_s = 20\n")
    s = load_settings(path)
    with pytest.raises(ConfigError, match=r"venues\.aster.*backoff_max_s"):
        s.policy_for("aster")

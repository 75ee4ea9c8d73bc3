"""Configuration: `venues.toml` + `VENUEFEED_*` environment, validated once at start-up.

Precedence is env > TOML > defaults, per field. Every policy value has the same name for
every venue and carries its unit in the name. A venue table may override any policy
field; `Settings.policy_for(venue)` resolves defaults <- venue table. Which TOML file is
read (the given one, ./venues.toml, or the packaged defaults) is `config_sources.py`'s
business.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from venuefeed.core.bus_settings import NatsSettings
from venuefeed.core.config_sources import (
    ENV_DELIMITER,
    ENV_PREFIX,
    choose_config,
    explain_env_error,
)
from venuefeed.core.endpoints import HTTP_SCHEMES, WS_SCHEMES, check_url, parse_host_port
from venuefeed.core.errors import ConfigError
from venuefeed.core.policy import Policy as Policy  # where the engine's modules find it
from venuefeed.core.sharding import parse_shard

logger = logging.getLogger(__name__)


POLICY_FIELDS: tuple[str, ...] = tuple(Policy.model_fields)


class DefaultsSettings(Policy):
    """`[defaults]`: the policy plus the symbols every venue streams unless it says otherwise."""

    symbols: tuple[str, ...] = ("BTC", "ETH")


class _VenueTable(BaseModel):
    """`[venues.<name>]`: where to connect, what to stream, and any policy override."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    symbols: tuple[str, ...] | None = None
    ws_url: str | None = None
    rest_url: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    ca_file: str | None = Field(
        None,
        description="PEM file of extra certificate authorities trusted for this venue's TLS "
        "(e.g. the simulator's own); the system's trust store is always used too",
    )

    @field_validator("ws_url")
    @classmethod
    def _ws_url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value, WS_SCHEMES)

    @field_validator("rest_url")
    @classmethod
    def _rest_url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value, HTTP_SCHEMES)


def _overrides(model: type[BaseModel]) -> dict[str, Any]:
    """Every field of `model` as an optional field with the same bounds: a venue table
    overrides any policy value, and the policy's fields are declared once, in `Policy`."""
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        checked: Any = info.annotation
        if info.metadata:
            checked = Annotated[(checked, *info.metadata)]
        fields[name] = (checked | None, Field(None, description=info.description))
    return fields


if TYPE_CHECKING:

    class VenueSettings(_VenueTable):
        """`_VenueTable` plus one optional field per `Policy` field (built below)."""

else:
    VenueSettings = create_model(
        "VenueSettings", __base__=_VenueTable, __doc__=_VenueTable.__doc__, **_overrides(Policy)
    )


#: what a consumer's queue does when the consumer falls behind (see core/publisher.py)
ConsumerPolicy = Literal["gap", "evict", "lossless"]


class EngineSettings(BaseModel):
    """`[engine]`: publisher bounds, shared by all venues."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    queue_max: int = Field(10_000, ge=16, description="history events buffered per consumer")
    consumer_policy: ConsumerPolicy = Field(
        "gap",
        description="what happens when a consumer falls behind (the CLI sinks' policy): "
        "gap, evict or lossless",
    )
    slow_consumer_s: float = Field(
        30.0, gt=0, description="evict policy: a consumer that has not read this long is closed"
    )
    lossless_max: int = Field(
        1_000_000,
        ge=16,
        description="lossless policy: events a consumer may fall behind before it is closed",
    )
    log_repeat_s: float = Field(30.0, gt=0, description="repeat window for rate-limited logs")
    gc_threshold: int = Field(
        5_000,
        ge=0,
        description="while running: the garbage collector's generation-0 threshold, with "
        "the objects made at start-up frozen (no long pauses of the event loop); "
        "0 leaves the collector alone",
    )
    http_listen: str | None = Field(
        None, description="HOST:PORT for /metrics, /healthz, /readyz, /status (off when unset)"
    )
    ready_venues: tuple[str, ...] | None = Field(
        None, description="venues that must be live for /readyz (unset: every enabled venue)"
    )

    @field_validator("http_listen")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None:
            parse_host_port(value)
        return value

    # -- issue 12: sinks, sharding and the NATS bus ----------------------------------
    sinks: tuple[str, ...] = Field(
        (),
        description="where `run` sends events: jsonl:PATH, jsonl:-, nats://HOST:PORT "
        "(several allowed; `--sink` options replace this list)",
    )
    shard: str | None = Field(
        None, description="I/N: run only this engine's stable share of the (venue, symbol) pairs"
    )
    nats: NatsSettings = Field(default_factory=NatsSettings)

    @field_validator("shard")
    @classmethod
    def _shard(cls, value: str | None) -> str | None:
        return None if value is None else str(parse_shard(value))


class Settings(BaseSettings):
    """Everything venuefeed reads from `venues.toml` and `VENUEFEED_*` variables."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER,
        extra="forbid",
        frozen=True,
        toml_file=None,
    )

    defaults: DefaultsSettings = Field(default_factory=DefaultsSettings)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    venues: dict[str, VenueSettings] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @model_validator(mode="after")
    def _ready_venues_run(self) -> Settings:
        """`/readyz` waits for `ready_venues`: one that is not an enabled venue would keep
        it at 503 forever."""
        enabled = [name for name, table in self.venues.items() if table.enabled]
        for name in self.engine.ready_venues or ():
            if name not in enabled:
                raise ValueError(
                    f"engine.ready_venues: {name!r} is not an enabled venue "
                    f"(enabled: {', '.join(enabled) or 'none'})"
                )
        return self

    @property
    def default_policy(self) -> Policy:
        """`[defaults]` alone: the policy of engine-wide tasks (status board, HTTP)."""
        return Policy(**self.defaults.model_dump(include=set(POLICY_FIELDS)))

    def policy_for(self, venue: str) -> Policy:
        """Defaults overlaid with the venue table's non-null policy fields."""
        base = self.defaults.model_dump(include=set(POLICY_FIELDS))
        table = self.venues.get(venue)
        if table is not None:
            base.update(
                {
                    k: v
                    for k, v in table.model_dump(include=set(POLICY_FIELDS)).items()
                    if v is not None
                }
            )
        try:
            return Policy(**base)
        except ValidationError as exc:
            raise ConfigError(one_line(exc, prefix=f"venues.{venue}")) from None

    def symbols_for(self, venue: str) -> tuple[str, ...]:
        table = self.venues.get(venue)
        if table is not None and table.symbols is not None:
            return table.symbols
        return self.defaults.symbols


def one_line(
    exc: ValidationError, *, prefix: str = "", env: Mapping[str, str] | None = None
) -> str:
    """The first validation error as `field = value: what is allowed (source)`: the one
    line every configuration error is reported as."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    if prefix:
        loc = f"{prefix}.{loc}" if loc else prefix
    value = err.get("input")
    msg = err["msg"].removeprefix("Value error, ")
    if not loc:  # a check across fields names them itself
        return f"config error: {msg}"
    if err["type"] == "extra_forbidden":
        msg = "unknown field (check the spelling against venues.toml's documented fields)"
    source = ""
    if env is not None:
        name = env_name(loc)
        if name in env:
            source = f" (from env {name})"
    if isinstance(value, dict):
        return f"config error: {loc}: {msg}{source}"
    return f"config error: {loc} = {value!r}: {msg}{source}"


def env_name(dotted: str) -> str:
    """`venues.aster.stale_after_s` -> `VENUEFEED_VENUES__ASTER__STALE_AFTER_S`."""
    return ENV_PREFIX + ENV_DELIMITER.join(p.upper() for p in dotted.split("."))


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read `path` (default: `./venues.toml` if it exists, else the packaged defaults,
    which enable every built-in venue) and the environment.

    Raises `ConfigError` with one line naming the field, the value and what is allowed.
    """
    source = choose_config(path)
    if source.origin == "packaged":  # a file the user never chose: say so
        logger.info("%s", source.describe())
    _reject_unknown_env(os.environ)
    cls = _settings_class(source.path)
    try:
        return cls()
    except ValidationError as exc:
        raise ConfigError(one_line(exc, env=os.environ)) from None
    except SettingsError as exc:  # a VENUEFEED_* value that is not the JSON it must be
        raise ConfigError(explain_env_error(Settings, os.environ, str(exc))) from None
    except ValueError as exc:  # TOML syntax errors arrive as tomllib.TOMLDecodeError
        raise ConfigError(f"config error: {source.path}: {exc}") from None


def _settings_class(toml_path: Path | None) -> type[Settings]:
    """A Settings subclass bound to one TOML file (pydantic-settings reads it from config)."""

    class _Bound(Settings):
        model_config = SettingsConfigDict(toml_file=toml_path)

    _Bound.__name__ = "Settings"
    return _Bound


def _reject_unknown_env(environ: Mapping[str, str]) -> None:
    top = {name.upper() for name in Settings.model_fields}
    for name in environ:
        if not name.startswith(ENV_PREFIX):
            continue
        head = name[len(ENV_PREFIX) :].split(ENV_DELIMITER, 1)[0]
        if head not in top and head not in _NON_CONFIG_ENV:
            allowed = ", ".join(f"{ENV_PREFIX}{t}{ENV_DELIMITER}..." for t in sorted(top))
            raise ConfigError(
                f"config error: unknown environment variable {name}; expected {allowed}"
            )


#: VENUEFEED_* variables that are switches, not configuration values.
_NON_CONFIG_ENV = frozenset({"DISABLE_PLUGIN_AUTOLOAD", "BLOCK_PLUGINS"})


Source = Literal["default", "toml", "env"]


def value_sources(path: str | os.PathLike[str] | None = None) -> dict[str, Source]:
    """For `venuefeed config`: which source set each dotted field that is not a default."""
    cls = _settings_class(choose_config(path).path)
    out: dict[str, Source] = {}
    toml_values = TomlConfigSettingsSource(cls)()
    env_values = EnvSettingsSource(cls)()
    for values, source in ((toml_values, "toml"), (env_values, "env")):
        for dotted in _flatten(values):
            out[dotted] = source  # type: ignore[assignment]
    return out


def _flatten(values: Mapping[str, Any], prefix: str = "") -> list[str]:
    keys: list[str] = []
    for k, v in values.items():
        dotted = f"{prefix}{k}".lower()
        if isinstance(v, Mapping) and k != "options":
            keys.extend(_flatten(v, dotted + "."))
        else:
            keys.append(dotted)
    return keys

"""`venuefeed config`: every effective value, written as TOML, and where it came from.

A value is shown the way it would be written in `venues.toml` (`["BTC", "ETH"]`, `true`,
`"gap"`), not as a Python repr, so a line can be pasted into the file. Its source is one
of `default` (built in), `toml`, `env`, `--shard`, `plugin` (the venue plugin's own
default: its URLs and options), or `defaults: toml|env` for a venue's value inherited
from the `[defaults]` table, so an override is never mistaken for the shared value.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel, SecretStr

from venuefeed.core.adapter import VenueAdapter
from venuefeed.core.settings import POLICY_FIELDS, Settings

#: a value that is not set (TOML has no null; the line is informative, not pasteable)
UNSET = "(unset)"


def toml_value(value: Any) -> str:
    """`value` as it would be written in TOML."""
    if value is None:
        return UNSET
    if isinstance(value, SecretStr):
        return json.dumps(str(value))  # '**********'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, BaseModel):
        value = dict(value)
    if isinstance(value, Mapping):
        items = ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items())
        return f"{{ {items} }}" if items else "{}"
    if isinstance(value, list | tuple | set | frozenset):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def effective(
    settings: Settings,
    sources: Mapping[str, str],
    adapters: Mapping[str, type[VenueAdapter]],
    options: Mapping[str, BaseModel],
) -> Iterator[tuple[str, str, str]]:
    """(dotted key, TOML value, source) for every field of `[defaults]`, `[engine]` and
    each venue table. `adapters` and `options` (the validated options model per venue)
    supply what the plugins fill in."""
    for section in ("defaults", "engine"):
        model = getattr(settings, section)
        for field in type(model).model_fields:
            value = getattr(model, field)
            key = f"{section}.{field}"
            if isinstance(value, BaseModel):  # a nested table: [engine.nats]
                for sub in type(value).model_fields:
                    dotted = f"{key}.{sub}"
                    yield dotted, toml_value(getattr(value, sub)), sources.get(dotted, "default")
                continue
            yield key, toml_value(value), sources.get(key, "default")
    for name, table in settings.venues.items():
        yield from _venue(name, settings, table, sources, adapters.get(name), options.get(name))


def _venue(
    name: str,
    settings: Settings,
    table: Any,
    sources: Mapping[str, str],
    adapter: type[VenueAdapter] | None,
    options: BaseModel | None,
) -> Iterator[tuple[str, str, str]]:
    prefix = f"venues.{name}"
    yield (
        f"{prefix}.enabled",
        toml_value(table.enabled),
        sources.get(f"{prefix}.enabled", "default"),
    )
    for field, fallback in (
        ("ws_url", adapter.default_ws_url if adapter else ""),
        ("rest_url", adapter.default_rest_url if adapter else ""),
    ):
        key = f"{prefix}.{field}"
        value = getattr(table, field)
        if value is None and fallback:
            yield key, toml_value(fallback), "plugin"
        else:
            yield key, toml_value(value), sources.get(key, "default")
    if table.ca_file is not None:
        yield f"{prefix}.ca_file", toml_value(table.ca_file), sources.get(f"{prefix}.ca_file", "")
    given = sources.get(f"{prefix}.options", "default")
    for option, value in (dict(options) if options is not None else table.options).items():
        source = given if option in table.options else "plugin"
        yield f"{prefix}.options.{option}", toml_value(value), source
    yield (
        f"{prefix}.symbols",
        toml_value(settings.symbols_for(name)),
        _inherited(sources, prefix, "symbols"),
    )
    policy = settings.policy_for(name)
    for field in POLICY_FIELDS:
        yield (
            f"{prefix}.{field}",
            toml_value(getattr(policy, field)),
            _inherited(sources, prefix, field),
        )


def _inherited(sources: Mapping[str, str], prefix: str, field: str) -> str:
    """The venue table's own source, else `defaults: <source>` when `[defaults]` set it."""
    own = sources.get(f"{prefix}.{field}")
    if own is not None:
        return own
    shared = sources.get(f"defaults.{field}")
    return f"defaults: {shared}" if shared is not None else "default"

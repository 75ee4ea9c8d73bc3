"""Where configuration comes from: which TOML file is read, and what a bad environment
variable means.

Without `--config`, `./venues.toml` is read when it exists, else the documented default
file shipped inside the package (`venuefeed/defaults/venues.toml`: every built-in venue
enabled, every field explained), so `venuefeed run` works from any directory and
`venuefeed init` writes the same file for editing. Which one was read is said in one log
line, because "why does it connect to that?" should never need a debugger.
"""

from __future__ import annotations

import json
import logging
import os
import types
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from venuefeed.core.errors import ConfigError

logger = logging.getLogger(__name__)

#: read from the working directory when no file is named
LOCAL_CONFIG = Path("venues.toml")
ENV_PREFIX = "VENUEFEED_"
ENV_DELIMITER = "__"

Origin = Literal["given", "local", "packaged"]


@dataclass(frozen=True, slots=True)
class ConfigFile:
    """The TOML file one run reads, and why that one."""

    path: Path
    origin: Origin

    def describe(self) -> str:
        if self.origin == "packaged":
            return (
                "no ./venues.toml: using the packaged defaults "
                "(`venuefeed init` writes a copy to edit)"
            )
        return f"config: {self.path}"


def packaged_config() -> Path:
    """The default configuration shipped in the package (every field documented)."""
    return Path(str(resources.files("venuefeed").joinpath("defaults", "venues.toml")))


def choose_config(path: str | os.PathLike[str] | None) -> ConfigFile:
    """The file to read: `path` (which must exist and not be a directory; /dev/null reads
    as an empty file), else ./venues.toml, else the packaged defaults."""
    if path is not None:
        given = Path(path)
        if not given.exists():
            raise ConfigError(
                f"config error: no such config file: {given} (`venuefeed init {given}` "
                "writes the documented defaults there)"
            )
        if given.is_dir():
            raise ConfigError(f"config error: {given} is a directory, not a TOML file")
        if not os.access(given, os.R_OK):
            raise ConfigError(f"config error: {given}: permission denied")
        return ConfigFile(given, "given")
    if LOCAL_CONFIG.is_file():
        return ConfigFile(LOCAL_CONFIG, "local")
    return ConfigFile(packaged_config(), "packaged")


def explain_env_error(model: type[BaseModel], environ: Mapping[str, str], detail: str) -> str:
    """One line for a `VENUEFEED_*` value pydantic-settings could not parse.

    Lists, tuples, tables and dicts are read from the environment as JSON; a plain
    `BTC,ETH` fails with a message naming only the top-level field and the source class.
    This names the variable, its value and the JSON it should have been."""
    for name, value in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX) :].lower().split(ENV_DELIMITER)
        expected = _json_kind(_annotation(model, parts))
        if expected is None:
            continue
        try:
            json.loads(value)
        except ValueError:
            example = json.dumps([p.strip() for p in value.split(",") if p.strip()])
            hint = f"e.g. {name}='{example}'" if expected == "array" else "e.g. '{...}'"
            return f"config error: {name} = {value!r}: expected a JSON {expected} ({hint})"
    return f"config error: environment: {detail}"


def _annotation(model: type[BaseModel], parts: list[str]) -> Any:
    """The type of the field a `__`-separated environment path leads to (None: none)."""
    current: Any = model
    for part in parts:
        current = _strip_optional(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part)
            if field is None:
                return None
            current = field.annotation
        elif get_origin(current) in (dict, Mapping):
            current = get_args(current)[1]
        else:
            return None
    return current


def _strip_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _json_kind(annotation: Any) -> str | None:
    """ "array" or "object" when pydantic-settings reads the field as JSON, else None."""
    annotation = _strip_optional(annotation)
    origin = get_origin(annotation)
    if origin in (list, tuple, set, frozenset):
        return "array"
    if origin in (dict, Mapping):
        return "object"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    return None

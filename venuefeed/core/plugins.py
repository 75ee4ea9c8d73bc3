"""The plugin host: finds venue adapters and is the one typed door to them.

Built-in venues are imported from `BUILTIN_MODULES`; third-party venues arrive through the
`venuefeed` entry-point group. `VENUEFEED_DISABLE_PLUGIN_AUTOLOAD=1` skips entry points and
`VENUEFEED_BLOCK_PLUGINS=a,b` blocks named plugins (module or entry-point names).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy
from pydantic import ValidationError

from venuefeed.core import hookspecs
from venuefeed.core.adapter import AdapterOptions, VenueAdapter
from venuefeed.core.errors import ConfigError, PluginError
from venuefeed.core.settings import Settings, one_line

ENTRY_POINT_GROUP = "venuefeed"

BUILTIN_MODULES: tuple[str, ...] = (
    "venuefeed.plugins.hyperliquid",
    "venuefeed.plugins.paradex",
    "venuefeed.plugins.lighter",
    "venuefeed.plugins.extended",
    "venuefeed.plugins.aster",
)


@dataclass(frozen=True, slots=True)
class RegisteredVenue:
    """An adapter class and where it came from."""

    name: str
    adapter: type[VenueAdapter]
    source: str  # "builtin", or "entry point <name> (<dist> <version>)"


class PluginHost:
    """Owns one pluggy manager per engine or CLI run."""

    def __init__(
        self,
        builtin_modules: Iterable[str] = BUILTIN_MODULES,
        *,
        extra_plugins: Iterable[object] = (),
        load_entry_points: bool | None = None,
    ) -> None:
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self._sources: dict[object, str] = {}
        blocked = {
            b.strip() for b in os.environ.get("VENUEFEED_BLOCK_PLUGINS", "").split(",") if b.strip()
        }
        for name in blocked:
            self._pm.set_blocked(name)
        for module_name in builtin_modules:
            if module_name in blocked:
                continue
            module = _import(module_name)
            if module is not None:
                self._register(module, module_name, "builtin")
        if load_entry_points is None:
            load_entry_points = os.environ.get("VENUEFEED_DISABLE_PLUGIN_AUTOLOAD", "") in ("", "0")
        if load_entry_points:
            self._load_entry_points(blocked)
        for plugin in extra_plugins:
            self._register(plugin, getattr(plugin, "__name__", repr(plugin)), "extra")
        try:
            self._pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"plugin error: {exc}") from None
        self.venues: Mapping[str, RegisteredVenue] = self._collect()

    def _register(self, plugin: object, name: str, source: str) -> None:
        try:
            self._pm.register(plugin, name=name)
        except ValueError as exc:
            raise PluginError(f"plugin error: {name}: {exc}") from None
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"plugin error: {name}: {exc}") from None
        self._sources[plugin] = source

    def _load_entry_points(self, blocked: set[str]) -> None:
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in blocked or self._pm.get_plugin(ep.name) is not None:
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken third-party package must name itself
                raise PluginError(
                    f"plugin error: entry point {ep.name!r} ({ep.value}) failed to load: {exc!r}"
                ) from None
            dist = ep.dist
            where = f" ({dist.name} {dist.version})" if dist is not None else ""
            self._register(plugin, ep.name, f"entry point {ep.name}{where}")

    def _collect(self) -> dict[str, RegisteredVenue]:
        found: dict[str, RegisteredVenue] = {}
        for impl in self._pm.hook.venuefeed_register_venues.get_hookimpls():
            source = self._sources.get(impl.plugin, impl.plugin_name)
            classes: Iterable[object] = impl.function() or ()  # type: ignore[assignment]
            for cls in classes:
                cls = _check_adapter(cls, impl.plugin_name)
                if cls.name in found:
                    other = found[cls.name].adapter
                    raise PluginError(
                        f"plugin error: venue name {cls.name!r} is registered twice: "
                        f"{_qualname(other)} and {_qualname(cls)}"
                    )
                found[cls.name] = RegisteredVenue(cls.name, cls, source)
        return dict(sorted(found.items()))

    def adapter(self, name: str) -> type[VenueAdapter]:
        try:
            return self.venues[name].adapter
        except KeyError:
            raise ConfigError(self._unknown(name)) from None

    def _unknown(self, name: str) -> str:
        known = ", ".join(self.venues) or "none"
        return (
            f"config error: venues.{name}: no plugin provides venue {name!r}; known venues: {known}"
        )

    def check_settings(self, settings: Settings) -> None:
        """Reject config for venues no plugin provides, naming the known ones, and options
        their plugin's `Options` model refuses, naming the field."""
        for name, table in settings.venues.items():
            if name not in self.venues:
                raise ConfigError(self._unknown(name))
            self.options(name, table.options)

    def options(self, name: str, raw: Mapping[str, Any]) -> AdapterOptions:
        """`[venues.<name>.options]` validated by the plugin's `Options` model."""
        model = self.adapter(name).Options
        try:
            return model.model_validate(dict(raw))
        except ValidationError as exc:
            raise ConfigError(one_line(exc, prefix=f"venues.{name}.options")) from None


def _import(module_name: str) -> ModuleType | None:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:  # a built-in venue not shipped (yet) is simply absent
            return None
        raise PluginError(f"plugin error: importing {module_name}: {exc}") from None


def _check_adapter(cls: object, plugin_name: str) -> type[VenueAdapter]:
    if not (isinstance(cls, type) and issubclass(cls, VenueAdapter)):
        raise PluginError(
            f"plugin error: {plugin_name} returned {cls!r}, which is not a VenueAdapter subclass"
        )
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
        raise PluginError(
            f"plugin error: {_qualname(cls)}.name must be a lowercase identifier, got {name!r}"
        )
    return cls


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"

"""The `venuefeed` command: the only place that parses argv, configures logging and maps
errors to exit codes. Errors the user can fix print one line and exit 2, no traceback."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from venuefeed import __version__
from venuefeed.config_view import effective, toml_value
from venuefeed.core.config_sources import choose_config, packaged_config
from venuefeed.core.endpoints import parse_host_port
from venuefeed.core.engine import Engine
from venuefeed.core.errors import ConsumerClosedError, StartupError
from venuefeed.core.events import Status
from venuefeed.core.plugins import PluginHost
from venuefeed.core.settings import Settings, load_settings, value_sources
from venuefeed.core.sharding import assignment, owned_symbols, parse_shard
from venuefeed.sinks.jsonl import JsonlSink
from venuefeed.sinks.open import open_sinks
from venuefeed.sinks.spec import SinkSpec, parse_sink, parse_sinks
from venuefeed.tui import run_view

logger = logging.getLogger("venuefeed.cli")

EXIT_USAGE = 2
#: at the end of a run, how long sinks may take to write what the engine published
_DRAIN_S = 5.0


@dataclass(frozen=True)
class ViewOptions:
    """What `run` shows on the terminal: the live view or not, and which config it read."""

    config: str = ""
    live: bool = False


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="venuefeed")
def cli() -> None:
    """Supervised, normalized market data from crypto perpetual-futures venues."""


def log_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--log-format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="json: one JSON object per line.",
    )(func)
    return click.option(
        "--log-level",
        type=click.Choice(["debug", "info", "warning", "error"]),
        default="info",
        show_default=True,
    )(func)


config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="TOML config file (default: ./venues.toml if present).",
)


@cli.command()
@config_option
@click.option("--venues", "venue_list", default=None, help="Comma-separated venues to run.")
@click.option(
    "--sink",
    multiple=True,
    help="jsonl:PATH, jsonl:- (stdout) or nats://HOST:PORT[,nats://...]; repeat for several "
    "(replaces [engine] sinks).",
)
@click.option(
    "--shard", default=None, help="I/N: this engine's share of the (venue, symbol) pairs."
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Stop after this many seconds.",
)
@click.option("--sim", is_flag=True, help="Run against simulated venues on loopback.")
@click.option("--chaos", default="none", show_default=True, help="Chaos profile (with --sim).")
@click.option(
    "--chaos-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="TOML file with [profiles.<name>] tables.",
)
@click.option(
    "--report",
    "report_paths",
    type=click.Path(dir_okay=False, path_type=Path),
    multiple=True,
    help="Write the soak report here (with --sim): JSON, or an HTML page with a timeline "
    "per venue when PATH ends in .html; repeat for both.",
)
@click.option("--http", "http_listen", default=None, help="Serve /metrics etc. on HOST:PORT.")
@click.option(
    "--record",
    "record_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Record every venue's raw traffic into this (new or empty) directory; "
    "`venuefeed replay DIR` plays it back.",
)
@click.option(
    "--record-max-mb",
    type=click.FloatRange(min=1),
    default=None,
    help="Delete the oldest recording files past this size.",
)
@click.option(
    "--record-rotate-mb",
    type=click.FloatRange(min=1),
    default=256.0,
    show_default=True,
    help="Start a new recording file past this size (compressed).",
)
@click.option(
    "--record-rotate-s",
    type=click.FloatRange(min=1),
    default=3600.0,
    show_default=True,
    help="Start a new recording file after this many seconds.",
)
@click.option(
    "--no-tui",
    is_flag=True,
    help="Status changes as plain lines instead of the live view (which is shown when "
    "stdout is a terminal and no sink writes to it).",
)
@log_options
def run(
    config_path: Path | None,
    venue_list: str | None,
    sink: tuple[str, ...],
    shard: str | None,
    duration: float | None,
    sim: bool,
    chaos: str,
    chaos_file: Path | None,
    report_paths: tuple[Path, ...],
    http_listen: str | None,
    record_dir: Path | None,
    record_max_mb: float | None,
    record_rotate_mb: float,
    record_rotate_s: float,
    no_tui: bool,
    log_level: str,
    log_format: str,
) -> None:
    """Connect to the enabled venues and stream normalized events.

    On a terminal a live view shows each venue's connections (`--no-tui`: plain lines);
    events go to the sinks, or to stdout when it is not a terminal."""
    with _user_errors():
        if http_listen is not None:
            try:
                parse_host_port(http_listen)
            except ValueError as exc:
                raise StartupError(f"usage error: --http {http_listen!r}: {exc}") from None
        settings = _with_shard(load_settings(config_path), shard)
        target = _sinks(sink, settings)
        for spec in target:
            if spec.kind == "jsonl":
                JsonlSink(spec.target).check()  # before any log line: an error is one line
        for path in report_paths:  # not after a ten-minute soak
            if not path.parent.is_dir() or not os.access(path.parent, os.W_OK):
                raise StartupError(f"usage error: --report {path}: cannot write in {path.parent}")
        tui = sys.stdout.isatty() and not no_tui and not any(t.target == "-" for t in target)
        _setup_logging(log_level, log_format, quiet=tui)
        source = choose_config(config_path).describe()
        venues = [v.strip() for v in venue_list.split(",") if v.strip()] if venue_list else None
        if not sim and (chaos != "none" or report_paths or chaos_file is not None):
            raise StartupError("usage error: --chaos, --chaos-file and --report need --sim")
        view = ViewOptions(source, live=tui)
        recorder = None
        if record_dir is not None:
            from venuefeed.record import Recorder

            recorder = Recorder(
                record_dir,
                rotate_mb=record_rotate_mb,
                rotate_s=record_rotate_s,
                max_mb=record_max_mb,
            )
        network: dict[str, Any] = {} if recorder is None else {"network": recorder.network}
        if recorder is not None:
            recorder.start()  # an unusable directory is one line and exit 2, here
        try:
            if sim:
                options = {"http_listen": http_listen, "board": tui, **network}
                ok = asyncio.run(
                    _run_sim(
                        _sim_universe(settings),
                        venues,
                        target,
                        duration,
                        chaos,
                        chaos_file,
                        report_paths,
                        options,
                        view,
                    )
                )
                if not ok:
                    click.echo(
                        "venuefeed: soak failed: a venue ended not live, or data was lost or wrong",
                        err=True,
                    )
                    sys.exit(1)
            else:
                engine = Engine(
                    settings, venues=venues, http_listen=http_listen, board=tui, **network
                )
                _require_venues(engine)
                asyncio.run(_run(engine, target, duration, view=view))
        except KeyboardInterrupt:  # Ctrl-C before the loop's own handler was installed
            logger.info("stopped")
        finally:
            if recorder is not None:
                recorder.close()  # after the engine stopped: everything it read is written


def _require_venues(engine: Engine) -> None:
    if not engine.adapters and engine.settings.engine.shard:
        raise StartupError(
            f"config error: shard {engine.settings.engine.shard} holds none of the configured "
            "(venue, symbol) pairs; run fewer shards (see `venuefeed config --shard I/N`)"
        )
    if not engine.adapters:
        raise StartupError(
            "config error: no venue is enabled (add a [venues.<name>] table with "
            "enabled = true; `venuefeed init` writes one for every built-in venue)"
        )


async def _run_sim(
    settings: Settings,
    venues: list[str] | None,
    target: list[SinkSpec],
    duration: float | None,
    chaos: str,
    chaos_file: Path | None,
    report_paths: Sequence[Path],
    engine_options: dict[str, Any],
    view: ViewOptions,
) -> bool:
    from venuefeed.sim.chaos import load_profile
    from venuefeed.sim.run import SimRun

    profile = load_profile(chaos, chaos_file)
    simrun = SimRun(settings, PluginHost(), venues, profile, report_paths, **engine_options)
    async with simrun as engine:
        _require_venues(engine)
        await _run(
            engine,
            target,
            duration,
            view=view,
            extra=simrun.tasks(),
            before_stop=simrun.finish,
        )
    if simrun.summary:
        click.echo("\n".join(["", "soak summary:", *simrun.summary]), err=True)
    return simrun.ok


def _sinks(cli_sinks: tuple[str, ...], settings: Settings) -> list[SinkSpec]:
    """`--sink` options, else `[engine] sinks`, else stdout when it is not a terminal."""
    specs = cli_sinks or settings.engine.sinks
    if not specs:
        return [] if sys.stdout.isatty() else [SinkSpec("jsonl", "-")]
    return parse_sinks(tuple(specs))


async def _run(
    engine: Engine,
    target: list[SinkSpec],
    duration: float | None,
    *,
    view: ViewOptions | None = None,
    extra: Sequence[Callable[[], Coroutine[Any, Any, None]]] = (),
    before_stop: Callable[[bool], Coroutine[Any, Any, None]] | None = None,
) -> None:
    """Run until `duration`, a signal, or the engine or the sink ends.

    With `view.live` the live view runs beside the sinks; without it and without sinks,
    status changes are printed as lines. `view.config` (which file was read) is logged
    once everything that can fail at start-up has passed, so a start-up error stays one
    line.

    `before_stop(interrupted)` runs once before the engine stops (the soak report): at the
    end of `duration` it may take its time, bounded by its own budget; a signal at any
    moment, even during it, cuts it short so that Ctrl-C always ends the run in about a
    second (engine shutdown is bounded too)."""
    loop = asyncio.get_running_loop()
    signalled = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, signalled.set)
    sinks = await open_sinks(engine, target)  # before the engine: a bad bus is exit 2
    view = view or ViewOptions()
    if view.config:
        logger.info("%s", view.config)
    logger.info("running %s", ", ".join(engine.adapters))
    async with engine, asyncio.TaskGroup() as tg:
        consumers = [tg.create_task(job()) for job in sinks]
        writers = list(consumers)  # what must see every event before the run ends
        if view.live:
            consumers.append(tg.create_task(run_view(engine.status, caption=view.config)))
        elif not sinks:
            consumers.append(tg.create_task(_print_status(engine.events("terminal"))))
            writers = list(consumers)
        stopper = tg.create_task(_wait_stop(signalled, duration))
        engine_task = tg.create_task(engine.wait())
        helpers = [tg.create_task(job()) for job in extra]
        done, _ = await asyncio.wait(
            {*consumers, stopper, engine_task, *helpers}, return_when=asyncio.FIRST_COMPLETED
        )
        if stopper in done and before_stop is not None:
            await _unless_signalled(before_stop, signalled, tg)
        if stopper in done:
            await _drain(engine, writers, signalled)
        for task in (*consumers, stopper, engine_task, *helpers):
            task.cancel()
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    logger.info("stopped")


async def _drain(
    engine: Engine, writers: list[asyncio.Task[None]], signalled: asyncio.Event
) -> None:
    """The run ends: stop the engine (nothing more is read), then give the sinks the time
    to write what it published, so that a sink file holds every event made from what
    was received (and what `--record` recorded). Bounded: `_DRAIN_S`, a fraction of a
    second after a signal."""
    await engine.stop()
    if writers:
        await asyncio.wait(writers, timeout=0.3 if signalled.is_set() else _DRAIN_S)


async def _unless_signalled(
    before_stop: Callable[[bool], Coroutine[Any, Any, None]],
    signalled: asyncio.Event,
    tg: asyncio.TaskGroup,
) -> None:
    """Run `before_stop(False)`; if a signal arrives meanwhile (or came first), cancel it
    and run `before_stop(True)`, which must be quick."""
    if not signalled.is_set():
        finishing = tg.create_task(before_stop(False))
        interrupt = tg.create_task(signalled.wait())
        await asyncio.wait({finishing, interrupt}, return_when=asyncio.FIRST_COMPLETED)
        interrupt.cancel()
        if finishing.done():
            return
        finishing.cancel()
        await asyncio.wait({finishing})
        logger.warning("interrupted: writing what was measured so far")
    await before_stop(True)


async def _wait_stop(stop: asyncio.Event, duration: float | None) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(duration):
            await stop.wait()


async def _print_status(events: Any) -> None:
    """Terminal fallback (--no-tui): status changes as readable lines."""
    async for event in events:
        if isinstance(event, Status):
            extra = f" {event.reason}" if event.reason else ""
            click.echo(f"{event.venue:<12} {event.stream:<28} {event.state}{extra}")


@cli.command()
@config_option
def venues(config_path: Path | None) -> None:
    """List registered venue plugins, where each came from, and whether it is enabled."""
    with _user_errors():
        host = PluginHost()
        settings = load_settings(config_path)
        host.check_settings(settings)
        rows = []
        for name, reg in host.venues.items():
            table = settings.venues.get(name)
            enabled = "enabled" if table is not None and table.enabled else "disabled"
            cls = reg.adapter
            source = reg.source
            if source == "builtin":
                source = f"builtin (venuefeed {__version__})"
            rows.append((name, enabled, source, f"{cls.__module__}.{cls.__qualname__}"))
        if not rows:
            click.echo("no venue plugins registered")
        for name, enabled, source, where in rows:
            click.echo(f"{name:<14} {enabled:<9} {source:<40} {where}")


@cli.command()
@config_option
def check(config_path: Path | None) -> None:
    """Validate config and plugins without connecting (for CI pipelines); exits 2 on
    whatever would stop `run`."""
    with _user_errors():
        settings = load_settings(config_path)
        click.echo(choose_config(config_path).describe())
        engine = Engine(settings)
        _require_venues(engine)
        for name, adapter in engine.adapters.items():
            ctx = adapter.ctx
            click.echo(f"ok  {name:<12} symbols={','.join(ctx.symbols)}  ws={ctx.ws_url}")
        disabled = sorted(set(engine.plugins.venues) - set(engine.adapters))
        if disabled:
            click.echo(f"registered, not enabled: {', '.join(disabled)}")
        click.echo(f"config ok: {len(engine.adapters)} venue(s) enabled")


@cli.command()
@config_option
@click.option("--shard", default=None, help="I/N: also show the pairs this shard takes.")
def config(config_path: Path | None, shard: str | None) -> None:
    """Print every effective value as TOML, and where it came from: default, toml, env,
    plugin (the venue plugin's default) or defaults: ... (inherited from [defaults])."""
    with _user_errors():
        settings = _with_shard(load_settings(config_path), shard)
        host = PluginHost()
        host.check_settings(settings)
        sources: dict[str, str] = dict(value_sources(config_path))
        if shard is not None:
            sources["engine.shard"] = "--shard"
        adapters = {name: host.adapter(name) for name in settings.venues}
        options = {name: host.options(name, t.options) for name, t in settings.venues.items()}
        click.echo(f"# {choose_config(config_path).describe()}")
        for key, value, source in effective(settings, sources, adapters, options):
            click.echo(f"{key} = {value}  [{source}]")
        _echo_shard(settings)


@cli.command()
@click.argument(
    "path", type=click.Path(dir_okay=False, path_type=Path), default=Path("venues.toml")
)
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
def init(path: Path, force: bool) -> None:
    """Write the documented default configuration to PATH (./venues.toml) for editing.

    It is the file venuefeed reads when there is no ./venues.toml: every built-in venue
    enabled, every field explained."""
    with _user_errors():
        if path.exists() and not force:
            raise StartupError(f"usage error: {path} exists (--force overwrites it)")
        try:
            path.write_text(packaged_config().read_text())
        except OSError as exc:
            raise StartupError(f"usage error: cannot write {path}: {exc.strerror}") from None
        click.echo(f"wrote {path}: edit it, then `venuefeed check` and `venuefeed run`")


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    try:
        yield
    except StartupError as exc:
        click.echo(f"venuefeed: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except ConsumerClosedError as exc:
        click.echo(f"venuefeed: {exc}", err=True)
        sys.exit(1)
    except BaseExceptionGroup as group:
        known = group.subgroup((StartupError, ConsumerClosedError))
        if known is None:
            raise
        first = known.exceptions[0]
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        click.echo(f"venuefeed: {first}", err=True)
        sys.exit(EXIT_USAGE if isinstance(first, StartupError) else 1)


class JsonFormatter(logging.Formatter):
    """One JSON object per log line, for machines."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def _setup_logging(level: str, fmt: str = "text", *, quiet: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # under the live view, only problems reach the terminal's stderr
    root.setLevel(max(getattr(logging, level.upper()), logging.WARNING if quiet else 0))


# -- issue 12: sharding and the NATS bus ------------------------------------------------


def _with_shard(settings: Settings, shard: str | None) -> Settings:
    """`--shard I/N` over `[engine] shard` (one line and exit 2 when malformed)."""
    if shard is None:
        return settings
    try:
        spec = str(parse_shard(shard))
    except ValueError as exc:
        raise StartupError(f"usage error: --shard {shard!r}: {exc}") from None
    engine = settings.engine.model_copy(update={"shard": spec})
    return settings.model_copy(update={"engine": engine})


def _sim_universe(settings: Settings) -> Settings:
    """`run --sim --shard I/N`: simulate only this shard's pairs (the soak report checks
    every simulated book, so a pair of another shard would count as wrong)."""
    if settings.engine.shard is None:
        return settings
    shard = parse_shard(settings.engine.shard)
    data = settings.model_dump()
    for name, table in data["venues"].items():
        owned = owned_symbols(name, settings.symbols_for(name), shard)
        table["symbols"] = list(owned)
        table["enabled"] = table["enabled"] and bool(owned)
    return Settings.model_validate(data)


def _echo_shard(settings: Settings) -> None:
    """`venuefeed config --shard I/N`: the (venue, symbol) pairs this shard takes."""
    if settings.engine.shard is None:
        return
    shard = parse_shard(settings.engine.shard)
    universe = {
        name: settings.symbols_for(name) for name, table in settings.venues.items() if table.enabled
    }
    mine = assignment(universe, shard)
    total = sum(len(symbols) for symbols in universe.values())
    taken = sum(len(symbols) for symbols in mine.values())
    click.echo(f"shard {shard} takes {taken} of {total} (venue, symbol) pairs:")
    for name, symbols in mine.items():
        click.echo(f"shard.{name} = {toml_value(symbols)}")


@cli.command()
@click.argument("url")
@config_option
@click.option(
    "--kinds", default=None, help="Comma-separated: trade,funding,status,gap,book,bbo,mark."
)
@click.option("--venues", "venue_list", default=None, help="Comma-separated venues.")
@click.option("--symbols", default=None, help="Comma-separated symbols (BTC,ETH).")
@click.option(
    "--from",
    "start",
    type=click.Choice(["start", "now"]),
    default="now",
    show_default=True,
    help="History from the stream's start or from now (books: always the current ones).",
)
@click.option("--durable", default=None, help="Resume where the consumer NAME left off.")
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Stop after this many seconds.",
)
@click.option("--sink", default="jsonl:-", show_default=True, help="jsonl:PATH or jsonl:-.")
@log_options
def tail(
    url: str,
    config_path: Path | None,
    kinds: str | None,
    venue_list: str | None,
    symbols: str | None,
    start: str,
    durable: str | None,
    duration: float | None,
    sink: str,
    log_level: str,
    log_format: str,
) -> None:
    """Print the events on the NATS bus at URL as the JSON lines `run` writes."""
    with _user_errors():
        settings = load_settings(config_path)
        _setup_logging(log_level, log_format)  # after the config: its error is one line
        target = parse_sink(sink)
        if target.kind != "jsonl":
            raise StartupError(f"usage error: --sink {sink!r}: tail writes jsonl:PATH or jsonl:-")
        from venuefeed.bus.tail import TailOptions, run_tail
        from venuefeed.bus.url import parse_nats_url

        options = TailOptions(
            url=parse_nats_url(url, where="tail"),
            kinds=_csv(kinds),
            venues=_csv(venue_list),
            symbols=_csv(symbols),
            start="start" if start == "start" else "now",
            durable=durable,
            duration=duration,
            target=target.target,
        )
        try:
            asyncio.run(run_tail(options, settings.engine.nats))
        except KeyboardInterrupt:  # Ctrl-C before the loop's own handler was installed
            logger.info("stopped")


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--speed",
    default="max",
    show_default=True,
    help="N: N times the recorded pace; max: as fast as the engine goes.",
)
@click.option("--venues", "venue_list", default=None, help="Comma-separated venues to replay.")
@click.option(
    "--from",
    "start",
    default=None,
    help="Publish only events received from T on (ISO 8601 UTC, or epoch ms).",
)
@click.option("--to", "end", default=None, help="Stop at T (ISO 8601 UTC, or epoch ms).")
@click.option("--sink", multiple=True, help="jsonl:PATH or jsonl:- (default); repeat for several.")
@log_options
def replay(
    directory: Path,
    speed: str,
    venue_list: str | None,
    start: str | None,
    end: str | None,
    sink: tuple[str, ...],
    log_level: str,
    log_format: str,
) -> None:
    """Play a recording (`run --record DIR`) through the engine: the same parsers, books,
    trade deduplication and publisher, fed the recorded frames and REST answers."""
    with _user_errors():
        target = parse_sinks(sink) if sink else [SinkSpec("jsonl", "-")]
        for spec in target:
            if spec.kind != "jsonl":
                raise StartupError(f"usage error: --sink {spec}: replay writes jsonl:PATH or -")
            JsonlSink(spec.target).check()
        pace = None if speed == "max" else _number("--speed", speed)
        from_ms = None if start is None else _when("--from", start)
        to_ms = None if end is None else _when("--to", end)
        _setup_logging(log_level, log_format)
        from venuefeed.record.replay import Replay

        player = Replay(directory, speed=pace, venues=_csv(venue_list), to_ms=to_ms)
        try:
            asyncio.run(_replay(player, target, from_ms))
        except KeyboardInterrupt:
            logger.info("stopped")


async def _replay(player: Any, target: list[SinkSpec], from_ms: int | None) -> None:
    from venuefeed.record.replay import Since

    engine: Engine = player.engine
    source = None if from_ms is None else (lambda name: Since(engine.events(name), from_ms))
    sinks = await open_sinks(engine, target, source=source)
    async with engine, asyncio.TaskGroup() as tg:
        writers = [tg.create_task(job()) for job in sinks]
        await player.play()
        await engine.stop()  # the publisher ends each sink once it wrote everything
        await asyncio.wait(writers, timeout=_DRAIN_S * 6)
        for task in writers:
            task.cancel()
    tape = player.tape
    skipped = ", ".join(f"{n} {kind}" for kind, n in sorted(tape.skipped.items())) or "none"
    logger.info(
        "replayed %d records of %s; skipped: %s; gap marks: %d",
        tape.played,
        ", ".join(player.venues),
        skipped,
        tape.gaps,
    )


def _number(option: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise StartupError(f"usage error: {option} {text!r}: a number or max") from None


def _when(option: str, text: str) -> int:
    """Epoch ms, or an ISO 8601 time (UTC unless it says otherwise), as epoch ms."""
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise StartupError(
            f"usage error: {option} {text!r}: ISO 8601 (2025-01-31T12:00:00Z) or epoch ms"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return int(moment.timestamp() * 1000)


@cli.command("sim")
@config_option
@click.option(
    "--write-config",
    "config_out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Write a venues.toml pointing engines at the simulator here.",
)
@click.option("--venues", "venue_list", default=None, help="Comma-separated venues to simulate.")
@click.option("--chaos", default="none", show_default=True, help="Chaos profile.")
@click.option(
    "--chaos-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="TOML file with [profiles.<name>] tables.",
)  # fmt: skip
@click.option(
    "--duration", type=click.FloatRange(min=0, min_open=True), default=None,
    help="Stop after this many seconds (default: until SIGINT or SIGTERM).",
)  # fmt: skip
@click.option(
    "--port-base", type=click.IntRange(0, 65535), default=0,
    help="Serve the venues on consecutive ports from here (0: free ports).",
)  # fmt: skip
@click.option(
    "--trades", "trades_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="On exit, write every trade each market made (ids, times) as JSON.",
)  # fmt: skip
@log_options
def sim_command(
    config_path: Path | None,
    config_out: Path,
    venue_list: str | None,
    chaos: str,
    chaos_file: Path | None,
    duration: float | None,
    port_base: int,
    trades_out: Path | None,
    log_level: str,
    log_format: str,
) -> None:
    """Serve the simulated venues on loopback until stopped, for any number of engines
    in other processes; they all see the same books and the same trades."""
    with _user_errors():
        from venuefeed.sim.chaos import load_profile
        from venuefeed.sim.standalone import SimOptions, StandaloneSim, serve_until_signalled

        options = SimOptions(
            config_out, load_profile(chaos, chaos_file), _csv(venue_list), duration, port_base,
            trades_out,
        )  # fmt: skip
        standalone = StandaloneSim(load_settings(config_path), PluginHost(), options)
        _setup_logging(log_level, log_format)
        with contextlib.suppress(KeyboardInterrupt):  # before the loop's handler is set
            asyncio.run(serve_until_signalled(standalone, lambda line: click.echo(line)))


def _csv(text: str | None) -> tuple[str, ...] | None:
    return tuple(p.strip() for p in text.split(",") if p.strip()) if text else None


def main() -> None:
    """The entry point: a usage error (a bad option value, a missing argument) is one
    line and exit 2 like every other error the user can fix, not click's usage block."""
    try:
        code = cli.main(prog_name="venuefeed", standalone_mode=False)
    except click.UsageError as exc:
        where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
        click.echo(f"venuefeed: usage error: {exc.format_message()}{where}", err=True)
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        click.echo(f"venuefeed: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.Abort:  # Ctrl-C outside a run (which stops cleanly by itself)
        sys.exit(130)
    if isinstance(code, int) and code:
        sys.exit(code)

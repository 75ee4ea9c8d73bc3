"""The two JetStream streams the bus uses, created or checked when a client starts.

- history (`trade`, `funding`, `status`, `gap`): every message kept, by age
  (`history_max_age_s`) and size (`history_max_bytes`, oldest dropped first), with the
  `duplicate_window_s` in which the server drops a message whose `Nats-Msg-Id` it stored.
- state (`book`, `bbo`, `mark`): `max_msgs_per_subject = 1`, so the stream holds the
  latest value per `<kind>.<venue>.<symbol>` and a consumer that starts late reads the
  whole current board at once.

Both have `replicas` copies (3 on a three-node JetStream cluster). An engine creates a
missing stream and brings an existing one to its configuration (a warning says what
changed); a consumer (`tail`, `venuefeed.bus.subscribe`) only creates a missing one, and
never changes one an engine made.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_delay,
    wait_random_exponential,
)

from venuefeed.bus.wire import HISTORY_KINDS, STATE_KINDS, stream_subjects
from venuefeed.core.bus_settings import NatsSettings
from venuefeed.core.errors import StartupError

if TYPE_CHECKING:
    from nats.js import JetStreamContext
    from nats.js.api import StreamConfig

logger = logging.getLogger(__name__)

#: the fields an engine keeps equal to its configuration
_CHECKED = (
    "subjects",
    "max_age",
    "max_bytes",
    "max_msgs_per_subject",
    "duplicate_window",
    "num_replicas",
    "discard",
)


class StreamsUnansweredError(StartupError):
    """JetStream could not serve a stream request yet: busy, a cluster electing a leader
    after losing a node, or one still forming (a node's /healthz answers before the meta
    leader has seen every peer: "no suitable peers for placement"). `ensure_streams`
    asks again until `connect_timeout_s` has passed; then start-up fails like any
    StartupError. A reconnecting sink publishes on meanwhile (publishes are answered by
    the stream's own leader) and checks again."""


#: JetStream API errors a cluster gives while it forms or elects (nats-server
#: errors.json): JSClusterNoPeersErrF, JSClusterNotAvailErr, JSClusterNotLeaderErr
_CLUSTER_NOT_READY = frozenset({10005, 10008, 10009})


@dataclass(frozen=True, slots=True)
class StreamNames:
    history: str
    state: str


def names(settings: NatsSettings) -> StreamNames:
    return StreamNames(settings.history_stream, settings.state_stream)


def stream_configs(settings: NatsSettings) -> list[StreamConfig]:
    from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

    prefix = settings.subject_prefix
    storage = StorageType.FILE if settings.storage == "file" else StorageType.MEMORY
    history = StreamConfig(
        name=settings.history_stream,
        description="venuefeed trades, funding, status and gap events",
        subjects=stream_subjects(prefix, HISTORY_KINDS),
        retention=RetentionPolicy.LIMITS,
        max_age=settings.history_max_age_s,
        max_bytes=settings.history_max_bytes,
        discard=DiscardPolicy.OLD,
        duplicate_window=settings.duplicate_window_s,
        num_replicas=settings.replicas,
        storage=storage,
    )
    state = StreamConfig(
        name=settings.state_stream,
        description="venuefeed book, bbo and mark: the latest value per subject",
        subjects=stream_subjects(prefix, STATE_KINDS),
        retention=RetentionPolicy.LIMITS,
        max_msgs_per_subject=1,
        max_bytes=-1,
        discard=DiscardPolicy.OLD,
        duplicate_window=settings.duplicate_window_s,  # unused: state carries no ids
        num_replicas=settings.replicas,
        storage=storage,
    )
    return [history, state]


async def ensure_streams(js: JetStreamContext, settings: NatsSettings, *, update: bool) -> None:
    """Create each missing stream; with `update`, bring an existing one to the config.

    A cluster not ready yet (`StreamsUnansweredError`) is asked again, with jittered
    backoff, until `connect_timeout_s` has passed. A server without JetStream, a subject
    already owned by another stream, or a change the server refuses (storage type) is a
    `StartupError` naming the stream at once."""
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(StreamsUnansweredError),
        wait=wait_random_exponential(multiplier=0.2, max=1.0),
        stop=stop_after_delay(settings.connect_timeout_s),
        before_sleep=_say_not_ready,
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            await _ensure_once(js, settings, update=update)


def _say_not_ready(state: RetryCallState) -> None:
    assert state.outcome is not None
    logger.info("%s; asking again", state.outcome.exception())


async def _ensure_once(js: JetStreamContext, settings: NatsSettings, *, update: bool) -> None:
    from nats.errors import Error as NatsError
    from nats.js.errors import APIError, NotFoundError, ServiceUnavailableError

    for config in stream_configs(settings):
        name = config.name
        assert name is not None
        try:
            try:
                info = await js.stream_info(name)
            except NotFoundError:
                await js.add_stream(config)
                logger.info("nats: created stream %s (%s)", name, ", ".join(config.subjects or ()))
                continue
            current = info.config
            changed = _differences(current, config)
            if changed and update:
                if current.storage != config.storage:
                    raise StartupError(
                        f"nats: stream {name} uses {_text(current.storage)} storage, the "
                        f"config asks {_text(config.storage)}: the server cannot change it"
                    )
                await js.update_stream(config)
                logger.warning("nats: stream %s updated: %s", name, "; ".join(changed))
            elif changed:
                logger.info("nats: stream %s differs from this config: %s", name, changed)
        except NatsError as exc:
            if isinstance(exc, TimeoutError):
                raise StreamsUnansweredError(
                    f"nats: stream {name}: no answer (JetStream busy, or electing a leader)"
                ) from None
            if isinstance(exc, ServiceUnavailableError) or (
                isinstance(exc, APIError) and exc.err_code in _CLUSTER_NOT_READY
            ):
                raise StreamsUnansweredError(
                    f"nats: stream {name}: the cluster is not ready ({_describe(exc)})"
                ) from None
            raise StartupError(f"nats: stream {name}: {_describe(exc)}") from None


def _differences(current: StreamConfig, wanted: StreamConfig) -> list[str]:
    out = []
    for field in _CHECKED:
        have: Any = getattr(current, field)
        want: Any = getattr(wanted, field)
        if field == "subjects":
            have, want = sorted(have or ()), sorted(want or ())
        if field in ("max_age", "duplicate_window"):
            have, want = float(have or 0), float(want or 0)
        if _text(have) != _text(want) and not (field == "max_age" and want == 0 and have == 0):
            out.append(f"{field} {_text(have)} -> {_text(want)}")
    return out


def _text(value: Any) -> str:
    return str(getattr(value, "value", value))


def _describe(exc: BaseException) -> str:
    description = getattr(exc, "description", None)
    return str(description or exc or type(exc).__name__)

"""`[engine.nats]`: the NATS JetStream bus (sink, `venuefeed tail`, `venuefeed.bus`).

Kept apart from `settings.py` so the bus is one table the engine carries without knowing
about it. Secrets are `SecretStr`: `venuefeed config`, logs and `/status` show them as
`**********`. Credentials are never taken from a sink URL (see `venuefeed/sinks/spec.py`):
a URL is printed in too many places.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


class NatsSettings(BaseModel):
    """How the engine publishes to NATS JetStream, and how consumers read it back."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    subject_prefix: str = Field(
        "venuefeed", description="first subject token: <prefix>.<kind>.<venue>.<symbol>"
    )
    history_stream: str = Field(
        "VENUEFEED_HISTORY", description="stream of trade, funding, status and gap events"
    )
    state_stream: str = Field(
        "VENUEFEED_STATE", description="stream of book, bbo and mark (latest value per subject)"
    )
    history_max_age_s: float = Field(
        86_400.0, gt=0, description="history older than this is removed by the server"
    )
    history_max_bytes: int = Field(
        1 << 30, ge=-1, description="history stream size cap, oldest removed first (-1: none)"
    )
    duplicate_window_s: float = Field(
        120.0,
        gt=0,
        description="the server drops a history message whose Nats-Msg-Id it stored this "
        "recently (a trade published twice, by one engine or by two)",
    )
    replicas: int = Field(
        1, ge=1, le=5, description="stream replicas (3 on a three-node JetStream cluster)"
    )
    storage: Literal["file", "memory"] = Field("file", description="stream storage")
    queue_max: int = Field(
        100_000,
        ge=16,
        description="history events the sink holds while NATS is slow or unreachable; "
        "past that the oldest are dropped, counted, logged and replaced by a gap event",
    )
    max_in_flight: int = Field(
        1_000, ge=1, le=100_000, description="published messages awaiting the server's ack"
    )
    ack_timeout_s: float = Field(
        5.0, gt=0, description="an unacknowledged publish is sent again after this long"
    )
    connect_timeout_s: float = Field(
        5.0, gt=0, description="start-up: NATS must be reachable this fast, or exit 2"
    )
    reconnect_wait_s: float = Field(0.5, gt=0, description="delay between reconnect attempts")
    user: str | None = Field(None, description="user name (with password)")
    password: SecretStr | None = Field(None, description="password (prefer the env variable)")
    token: SecretStr | None = Field(None, description="authentication token")
    creds_file: str | None = Field(None, description="NATS .creds file (JWT + NKey seed)")
    tls_ca_file: str | None = Field(
        None, description="PEM file of certificate authorities trusted for the server's TLS"
    )

    @field_validator("subject_prefix", "history_stream", "state_stream")
    @classmethod
    def _token(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("letters, digits, '-' and '_' only (one NATS subject token)")
        return value

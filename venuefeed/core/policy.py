"""The connectivity policy: one set of field names, units in the names, for every venue.

`[defaults]` sets it for all venues and any `[venues.<name>]` table may override a field
(`settings.py` derives that table's optional fields from this class, so each field and
its bounds are declared once, here).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Policy(BaseModel):
    """Connectivity policy, identical field names for every venue."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stale_after_s: float = Field(
        10.0, gt=0, description="a stream without data this long is recycled"
    )
    connect_timeout_s: float = Field(10.0, gt=0, description="bound on one websocket handshake")
    request_timeout_s: float = Field(10.0, gt=0, description="bound on one REST request")
    backoff_initial_s: float = Field(0.5, gt=0, description="first reconnect delay")
    backoff_max_s: float = Field(30.0, gt=0, description="reconnect delay cap")
    backoff_multiplier: float = Field(2.0, ge=1, description="growth per failed attempt")
    backoff_jitter: float = Field(0.2, ge=0, le=1, description="+/- fraction of randomness")
    stable_after_s: float = Field(
        30.0, gt=0, description="healthy with data this long resets the backoff"
    )
    heartbeat_interval_s: float = Field(20.0, gt=0, description="app-level ping period")
    funding_poll_s: float = Field(60.0, gt=0, description="REST funding poll period")
    init_retry_max_s: float = Field(30.0, gt=0, description="cap on the init retry delay")
    breaker_failures: int = Field(8, ge=1, description="failures that open the breaker")
    breaker_window_s: float = Field(120.0, gt=0, description="window counting those failures")
    breaker_cooldown_s: float = Field(60.0, gt=0, description="time the breaker stays open")
    ws_client: Literal["picows", "aiohttp"] = Field(
        "picows",
        description="websocket client: picows (frames by callback, a batch per socket "
        "read: the fast one) or aiohttp",
    )
    max_frame_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, description="larger frames are an error and a reconnect"
    )
    book_depth: int = Field(20, ge=1, le=1000, description="levels per side in book events")
    subscribe_timeout_s: float = Field(
        5.0,
        gt=0,
        description="a venue that acknowledges subscriptions must do so this fast, "
        "or the connection is recycled",
    )
    quiet_stale_after_s: float = Field(
        120.0,
        gt=0,
        description="a connection whose every stream is quiet by nature must still deliver "
        "market data this often, or it is recycled",
    )
    rest_max_connections: int = Field(
        4, ge=1, le=100, description="REST sockets per venue, apart from its websockets"
    )
    trade_memory: int = Field(
        2048,
        ge=64,
        le=1_000_000,
        description="trades remembered per instrument, so a repeat is published only once",
    )
    fallback_poll_s: float = Field(
        2.0,
        ge=0,
        description="while a socket carrying books is down, poll them over REST this often "
        "(never faster than the venue's rate limits allow; 0 turns the fallback off)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError(
                f"backoff_max_s ({self.backoff_max_s}) must be >= "
                f"backoff_initial_s ({self.backoff_initial_s})"
            )
        return self

"""`--sink` values and `[engine] sinks` entries: what kind of sink, and where.

    jsonl:PATH      JSON lines appended to PATH
    jsonl:-         JSON lines on stdout
    nats://H:P      NATS JetStream (tls://H:P for TLS); see venuefeed/sinks/nats.py
    nats://H:P,nats://H2:P2,...   the servers of one NATS cluster (failover)

Parsing imports nothing optional, so a bad spec is one clear line before anything starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from venuefeed.bus.url import SCHEMES, parse_nats_url
from venuefeed.core.errors import ConfigError

SinkKind = Literal["jsonl", "nats"]


@dataclass(frozen=True, slots=True)
class SinkSpec:
    kind: SinkKind
    target: str  # a path, "-", or a normalized nats:// URL

    def __str__(self) -> str:
        return self.target if self.kind == "nats" else f"jsonl:{self.target}"


def parse_sink(spec: str) -> SinkSpec:
    scheme = spec.partition("://")[0]
    if "://" in spec and scheme in SCHEMES:
        return SinkSpec("nats", parse_nats_url(spec, where="--sink"))
    kind, _, where = spec.partition(":")
    if kind != "jsonl" or not where:
        shown = spec if "@" not in spec else "(a value with credentials)"
        raise ConfigError(
            f"usage error: --sink {shown!r}: expected jsonl:PATH, jsonl:- or nats://HOST:PORT"
        )
    return SinkSpec("jsonl", where)


def parse_sinks(specs: tuple[str, ...]) -> list[SinkSpec]:
    """Each spec once, in order; two sinks to the same place are a usage error."""
    out: list[SinkSpec] = []
    for spec in specs:
        sink = parse_sink(spec)
        if sink in out:
            raise ConfigError(f"usage error: --sink {sink} given twice")
        out.append(sink)
    return out

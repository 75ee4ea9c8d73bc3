"""A venue's start-up: the adapter's init requests, retried until they succeed, then
the configured symbols resolved to the venue's instruments.

Init uses the one retry model (`core/retry.py`): a failed request is reported as an
`init_failed` status naming the attempt, the cause and when the next try is, and tried
again for as long as the engine runs. A symbol the venue does not list is an error for
that symbol only.
"""

from __future__ import annotations

from venuefeed.core.adapter import Instrument
from venuefeed.core.errors import UnknownSymbolError
from venuefeed.core.events import Event
from venuefeed.core.retry import Retry, retry_until_done
from venuefeed.core.venue.services import VenueServices


async def initialise(services: VenueServices) -> None:
    """Run every init request in order, all of them again until one round succeeds."""
    requests = services.adapter.init_requests()
    if not requests:
        return
    policy = services.policy
    cap = max(policy.init_retry_max_s, policy.backoff_initial_s)

    async def one_round() -> None:
        for request in requests:
            for item in await services.rest.fetch(request, "init"):
                if isinstance(item, Event):
                    services.publisher.offer(item)

    def failed(error: BaseException, wait_s: float, attempt: int) -> None:
        services.metrics.inc("init_failures", venue=services.name)
        services.status("init", "init_failed", f"attempt {attempt}: {error}", delay_s=wait_s)

    await retry_until_done(one_round, Retry(policy, max_s=cap), on_failure=failed)
    services.succeeded("init", f"{len(requests)} requests")


def resolve_symbols(services: VenueServices) -> list[Instrument]:
    """The configured symbols the venue lists; each one it does not is an error status."""
    found: list[Instrument] = []
    for symbol in services.adapter.ctx.symbols:
        try:
            found.append(services.adapter.resolve(symbol))
        except UnknownSymbolError as exc:
            services.metrics.inc("unknown_symbols", venue=services.name)
            services.status(f"symbol:{symbol}", "error", str(exc), symbol=symbol)
    return found

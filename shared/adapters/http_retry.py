"""HTTP with retries, shared by the Asana and link-back clients: what to retry lives here once."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry: 5xx, 429 and unanswered requests are worth it."""

    max_attempts: int
    backoff_cap_seconds: float
    retry_after_cap_seconds: float  # a longer wait is better spent by Pub/Sub redelivery
    backoff_base_seconds: float = 0.5
    sleep: Callable[[float], None] = field(default=time.sleep)
    #: No retry starts later than this after the first attempt (None: attempts alone bound
    #: it), so one call takes at most this plus one request timeout, whatever the waits.
    deadline_seconds: float | None = None
    clock: Callable[[], float] = field(default=time.monotonic)

    def out_of_time(self, started: float, wait: float) -> bool:
        """Tell whether a retry after ``wait`` would start past the deadline."""
        return (self.deadline_seconds is not None
                and self.clock() - started + wait > self.deadline_seconds)

    def backoff(self, attempt: int) -> float:
        """Return the wait before retry ``attempt``, with full jitter."""
        # Jitter spreads the retries of instances that failed together.
        ceiling = min(self.backoff_cap_seconds, self.backoff_base_seconds * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    def retry_after(self, response: requests.Response) -> float | None:
        """Return the capped ``Retry-After`` seconds, or None when absent or an HTTP date."""
        try:
            seconds = float(response.headers.get("Retry-After", "").strip())
        except ValueError:
            return None
        return min(max(seconds, 0.0), self.retry_after_cap_seconds)


def send_with_retries(
    session: requests.Session,
    method: str,
    url: str,
    *,
    where: str,
    policy: RetryPolicy,
    error_text: Callable[[requests.Response], str],
    rejected: Callable[[str, int], Exception],
    unavailable: Callable[[str, int | None], Exception],
    recover: Callable[[], Any] | None = None,
    **request: Any,
) -> Any:
    """Send one request, retrying what a retry can fix; return the first answer below 400.

    Other 4xx raise ``rejected(message, status)``; running out of attempts raises
    ``unavailable(message, last status or None)``. ``where`` names the call in messages.
    ``recover`` makes a non-idempotent request safe to retry: it is called before each retry
    whose previous attempt may have been carried out (no answer, or a 5xx), and whatever it
    finds (not None) is returned instead of sending the request again.
    """
    attempts = max(1, policy.max_attempts)
    started = policy.clock()
    for attempt in range(1, attempts + 1):
        status: int | None = None
        try:
            response = session.request(method, url, **request)
        except (requests.ConnectionError, requests.Timeout) as exc:
            failure, wait = type(exc).__name__, policy.backoff(attempt)
        else:
            status = response.status_code
            if status < 400:
                return response
            if status != 429 and status < 500:
                raise rejected(f"{where}: {status} {error_text(response)}", status)
            failure = f"{status} {error_text(response)}"
            retry_after = policy.retry_after(response)
            wait = policy.backoff(attempt) if retry_after is None else retry_after
        if recover is not None and status != 429:
            found = recover()
            if found is not None:
                log.warning("%s: %s, but it was carried out; not sending it again",
                            where, failure)
                return found
        if attempt == attempts:
            raise unavailable(f"{where}: {failure} after {attempt} attempts", status)
        if policy.out_of_time(started, wait):
            raise unavailable(f"{where}: {failure} after {attempt} attempts; retrying would "
                              f"pass {policy.deadline_seconds:.0f} s", status)
        log.warning("%s: %s; retry %d in %.2fs", where, failure, attempt, wait)
        policy.sleep(wait)
    raise AssertionError("unreachable")  # the loop returns or raises


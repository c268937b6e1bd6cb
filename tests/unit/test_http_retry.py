"""send_with_retries: attempts and a deadline bound one call, whatever the waits."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from shared.adapters.http_retry import RetryPolicy, send_with_retries
from shared.core.errors import Permanent, Transient


class Clock:
    """Time that passes only when the policy sleeps or a request takes ``each`` seconds."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Unanswered:
    """A session whose every request times out after ``each`` seconds, or gets a 429."""

    def __init__(self, clock: Clock, each: float, retry_after: str | None = None) -> None:
        self.clock, self.each, self.retry_after = clock, each, retry_after
        self.sent = 0

    def request(self, method: str, url: str, **_: Any) -> requests.Response:
        self.sent += 1
        self.clock.now += self.each
        if self.retry_after is None:
            raise requests.ReadTimeout("no answer")
        response = requests.Response()
        response.status_code = 429
        response.headers["Retry-After"] = self.retry_after
        return response


# (id, seconds per request, Retry-After, deadline, requests sent)
CASES = [
    ("no-deadline-uses-every-attempt", 10.0, None, None, 5),
    ("black-hole-stops-at-the-deadline", 10.0, None, 40.0, 4),
    ("retry-after-waits-stop-at-the-deadline", 0.1, "30", 40.0, 2),
    ("retry-after-waits-without-deadline", 0.1, "30", None, 5),
]


@pytest.mark.parametrize(("each", "retry_after", "deadline", "sent"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_a_call_gives_up_after_its_attempts_or_its_deadline(
        each: float, retry_after: str | None, deadline: float | None, sent: int) -> None:
    clock = Clock()
    session = Unanswered(clock, each, retry_after)
    policy = RetryPolicy(5, 4.0, 30.0, 0.5, clock.sleep, deadline, clock)
    with pytest.raises(Transient) as error:
        send_with_retries(session, "GET", "http://x/", where="x GET /", policy=policy,  # type: ignore[arg-type]
                          error_text=lambda r: "", rejected=lambda m, s: Permanent(m),
                          unavailable=lambda m, s: Transient(m))
    assert session.sent == sent
    assert f"after {sent} attempts" in str(error.value)
    if deadline is not None:
        assert clock.now <= deadline + each

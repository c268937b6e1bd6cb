"""What the vendor worlds share: a vendor's own clock, a prepared webhook, and an outbox of
the webhooks a vendor sends by itself.

A vendor's clock is not ours: its timestamps (Sentry's ``Sentry-Hook-Timestamp`` and event
times, Datadog's ``date``, the ``Date`` of its answers) come from its own clock, which here runs
minutes behind real time and moves at least a second between two actions on one alert, so no
two actions share a second and nothing the service does can line it up with Asana's
``modified_at``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import requests


class WorldClock:
    """One timeline of a vendor's clock: ``lag`` behind real time, moving only forward, and
    at least ``least`` seconds at each action (Sentry's timestamps have one-second steps)."""

    def __init__(self, lag: timedelta, *, least: float = 1.0,
                 real: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._lag, self._least, self._real = lag, timedelta(seconds=least), real
        self._last: datetime | None = None
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Return the vendor's time now."""
        with self._lock:
            behind = self._real() - self._lag
            return behind if self._last is None else max(self._last, behind)

    def tick(self) -> datetime:
        """Return the time of a new action: now, yet ``least`` after the previous action."""
        with self._lock:
            moment = self._real() - self._lag
            if self._last is not None:
                moment = max(moment, self._last + self._least)
            self._last = moment
            return moment


#: How far the vendors' clocks are behind ours: outside reconciliation's grace (5 min), inside
#: its lookback (60 min), and far enough that comparing them with Asana's clock misleads.
SENTRY_LAG = timedelta(minutes=10)
DATADOG_LAG = timedelta(minutes=8)
#: Asana's: less than the 5 minutes of skew the service allows for with Asana's ``modified_at``
#: (shared/ledger.py LOOKUP_SLACK, shared/asana_health.py COMPARE_SLACK).
ASANA_LAG = timedelta(minutes=4)


def http_date(moment: datetime) -> str:
    """Return ``moment`` as an HTTP Date header (RFC 9110, whole seconds, GMT)."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def iso(moment: datetime) -> str:
    """Return ``moment`` the way Sentry and Datadog write times in JSON (UTC, microseconds, Z)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Webhook:
    """One HTTP delivery a vendor prepared: where, what, and a readable label for the logs."""

    source: str  # "sentry", "datadog"
    alert: str  # the issue or monitor it is about
    label: str  # e.g. "issue.resolved by Chloé Martin"
    url: str
    body: bytes
    headers: Mapping[str, str]

    def payload(self) -> Any:
        """Return the decoded body."""
        return json.loads(self.body)


@dataclass(frozen=True)
class Posted:
    """What came back from one POST of a webhook."""

    status: int | None  # None: no answer (refused, reset, timed out)
    ids: tuple[str, ...] = ()  # the Pub/Sub message ids ingest published
    error: str = ""

    def describe(self) -> str:
        """Return the answer in a few words."""
        return str(self.status) if self.status is not None else f"no answer ({self.error})"


def post(webhook: Webhook, timeout: float = 5.0,
         session: requests.Session | None = None) -> Posted:
    """POST ``webhook`` to its URL and return what came back."""
    sender = session or requests
    try:
        response = sender.post(webhook.url, data=webhook.body, headers=dict(webhook.headers),
                               timeout=timeout)
    except requests.RequestException as error:
        return Posted(None, error=type(error).__name__)
    return Posted(response.status_code, published_ids(response))


def published_ids(response: requests.Response) -> tuple[str, ...]:
    """Return the message ids of an ingest answer (``id``, or ``ids`` for Asana deliveries)."""
    try:
        answer = response.json()
    except ValueError:
        return ()
    if not isinstance(answer, dict):
        return ()
    ids = answer.get("ids") or ([answer["id"]] if answer.get("id") else [])
    return tuple(str(i) for i in ids)


@dataclass
class Outbox:
    """Webhooks a vendor sends by itself (an echo of an API change), each in its own thread.

    ``send`` posts one and is set by whoever runs the world (it may count what came back);
    ``pending()`` tells how many are still on their way, per alert.
    """

    send: Callable[[Webhook], object] = post
    sent: list[tuple[Webhook, object]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._pending: dict[str, int] = {}
        self._lock = threading.Lock()

    def deliver(self, webhook: Webhook) -> None:
        """Send ``webhook`` in the background."""
        with self._lock:
            self._pending[webhook.alert] = self._pending.get(webhook.alert, 0) + 1
        threading.Thread(target=self._run, args=(webhook,), daemon=True).start()

    def pending(self, alert: str | None = None) -> int:
        """Return how many webhooks (of ``alert``) are still being sent."""
        with self._lock:
            if alert is None:
                return sum(self._pending.values())
            return self._pending.get(alert, 0)

    def _run(self, webhook: Webhook) -> None:
        result: object = None
        try:
            result = self.send(webhook)
        except Exception as error:  # a thread has nobody to raise to: keep it for the log
            result = error
        finally:
            with self._lock:
                self.sent.append((webhook, result))
                self._pending[webhook.alert] -= 1

"""What the vendor worlds share: a vendor's own clock, a prepared webhook, and a server whose
answers may carry the vendor's ``Date``.

A vendor's clock is not ours: its timestamps (Sentry's ``Sentry-Hook-Timestamp`` and event
times, Datadog's ``date``) come from its own clock, which here starts minutes behind real time
and moves forward by a whole number of seconds or more at every action, so two actions never
share a second and nothing the service does can line it up with Asana's ``modified_at``.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import ThreadingHTTPServer
from typing import Any

import requests

from tests.fakes.json_server import LocalServer, handler_for


class WorldClock:
    """One timeline of a vendor's clock: starts at ``start``, moves forward at each action."""

    def __init__(self, start: datetime, seed: int, *, least: float = 1.0,
                 most: float = 15.0) -> None:
        self._now = start
        self._rng = random.Random(seed)
        self._least, self._most = least, most
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Return the vendor's time now."""
        with self._lock:
            return self._now

    def tick(self) -> datetime:
        """Move forward by one action's worth (at least ``least`` seconds); return the new time."""
        with self._lock:
            step = self._rng.uniform(self._least, self._most)
            self._now += timedelta(seconds=step)
            return self._now


def lagging_clock(seed: int, *, lag_minutes: tuple[float, float] = (20.0, 40.0)) -> WorldClock:
    """Return a clock that starts a random 20-40 minutes behind real time (seeded)."""
    rng = random.Random(seed)
    lag = timedelta(minutes=rng.uniform(*lag_minutes))
    start = (datetime.now(UTC) - lag).replace(microsecond=rng.randrange(1000) * 1000)
    return WorldClock(start, rng.randrange(2**32))


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


class DatedServer(LocalServer):
    """LocalServer whose answers may set their own ``Date`` (the vendor's clock): the last
    Date header sent wins over the one the HTTP server adds from the real clock."""

    def start(self) -> None:
        """Start serving."""
        base: Any = handler_for(self._handle)

        class Handler(base):
            _date: str | None = None

            def send_header(self, keyword: str, value: str) -> None:
                if keyword.lower() == "date":
                    self._date = value
                    return
                super().send_header(keyword, value)

            def end_headers(self) -> None:
                if self._date is not None:
                    super().send_header("Date", self._date)
                    self._date = None
                super().end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()


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

"""FakeAsana with people in it: they complete and reopen tasks, Asana delivers the change to
each webhook of the task's project (at most once, unless ``attempts`` says otherwise), and may
delete a webhook.

Every delivery attempt is reported to ``observe`` (the tasks it was about, and what ingest
answered), and ``in_flight()`` tells how many are still being sent, so a test can wait for a
person's action to have reached the service instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from requests import Response

from tests.fakes.asana_server import FakeAsana
from tests.fakes.vendor_world import Posted, published_ids

#: Statuses after which Asana stops retrying a delivery (success, or the target is gone).
_FINAL = frozenset({200, 201, 202, 204, 410})


@dataclass
class PeopleAsana(FakeAsana):
    """Asana where people act (see module doc)."""

    observe: Callable[[list[str], Posted], None] | None = None
    on_created: Callable[[dict[str, Any]], None] | None = None  # each new task
    #: Tries per delivery. 1: at most once, as the fake Asana (and the issue) model Asana's;
    #: more: a failed delivery is retried with exponential backoff.
    attempts: int = 1
    backoff_seconds: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        self._in_flight: dict[str, int] = {}  # task gid -> deliveries still being sent
        self._started: dict[str, int] = {}  # task gid -> deliveries ever started
        self._flight_lock = threading.Lock()

    def act(self, task_gid: str, completed: bool, person_gid: str) -> int:
        """A person completes or reopens a task in Asana's app; return how many webhook
        deliveries that starts (none when the task already was in that state)."""
        with self._lock:
            before = self._started.get(task_gid, 0)
            self._update_task(task_gid, {"completed": completed}, person_gid)
            return self._started.get(task_gid, 0) - before

    def in_flight(self, task_gid: str | None = None) -> int:
        """Return how many deliveries (about ``task_gid``) are still being sent."""
        with self._flight_lock:
            if task_gid is None:
                return sum(self._in_flight.values())
            return self._in_flight.get(task_gid, 0)

    def delete_project_webhooks(self, project_gid: str) -> list[str]:
        """Delete the project's webhooks, as Asana does after a day of failed deliveries."""
        gone = [hook["gid"] for hook in self.webhooks_of(project_gid)]
        for gid in gone:
            self.drop_webhook(gid)
        return gone

    def webhook_count(self, project_gid: str) -> int:
        """Return how many webhooks the project has."""
        with self._lock:
            return sum(1 for hook in self.webhooks.values()
                       if hook["resource"]["gid"] == project_gid)

    def _create_task(self, data: dict[str, Any]) -> dict[str, Any]:
        task = super()._create_task(data)
        if self.on_created is not None:
            self.on_created(task)
        return task

    def _emit(self, task: dict[str, Any], user_gid: str, changed: str) -> None:
        before = len(self._delivering)
        super()._emit(task, user_gid, changed)
        started = len(self._delivering) - before
        if started:
            with self._flight_lock:
                gid = task["gid"]
                self._in_flight[gid] = self._in_flight.get(gid, 0) + started
                self._started[gid] = self._started.get(gid, 0) + started

    def deliver(self, webhook_gid: str, events: list[dict[str, Any]],
                secret: str | None = None) -> Response:
        """Deliver, retrying as Asana does; report each attempt to ``observe``."""
        if secret is not None or not events:  # a forged delivery or a heartbeat: as is
            return super().deliver(webhook_gid, events, secret)
        tasks = [str(e["resource"]["gid"]) for e in events if isinstance(e.get("resource"), dict)]
        response: Response | None = None
        try:
            for attempt in range(self.attempts):
                try:
                    response = super().deliver(webhook_gid, events)
                    posted = Posted(response.status_code, published_ids(response))
                except KeyError:
                    break  # the webhook was deleted meanwhile: nothing more is sent
                except requests.RequestException as error:
                    posted = Posted(None, error=type(error).__name__)
                if self.observe is not None:
                    self.observe(tasks, posted)
                if posted.status in _FINAL or (posted.status or 500) < 500:
                    break
                time.sleep(self.backoff_seconds * 2 ** attempt)
        finally:
            with self._flight_lock:
                for task in tasks:
                    self._in_flight[task] = self._in_flight.get(task, 1) - 1
        if response is None:  # never answered: the thread that called us has nobody to tell
            response = Response()
            response.status_code = 599
        return response

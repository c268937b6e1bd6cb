"""Asana webhooks at ingest: the handshake, the signature check and what gets published.

Asana posts to the URL given at registration, so the service registers
``<ASANA_WEBHOOK_TARGET_URL>?source=asana&project=<project gid>``: the query names the
source and the webhook's resource, whose secret signs every later delivery.

The handshake itself is unsigned (a POST with ``X-Hook-Secret`` and no body): it is accepted
only while a registration this service started for that project is in flight (a pending
registration written before ``POST /webhooks``), and it consumes that registration, so a
second or unsolicited handshake is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import urlencode

from shared.errors import Rejected, Unauthorized

SOURCE = "asana"
PENDING_SECONDS = 60  # Asana answers POST /webhooks only after the handshake it sends
KEY_PREFIX = "asana:task:"
#: Only completion changes of tasks: what the two-way sync acts on.
TASK_FILTERS: tuple[Mapping[str, object], ...] = (
    {"resource_type": "task", "action": "changed", "fields": ["completed"]},
)


@dataclass(frozen=True)
class Hook:
    """What the service remembers about the webhook of one project (Firestore document)."""

    project_gid: str
    pending_until: datetime | None = None  # a registration is in flight until then
    secret: str | None = None  # the X-Hook-Secret of the handshake
    webhook_gid: str | None = None

    def pending(self, now: datetime) -> bool:
        """Tell whether a registration started by this service awaits its handshake."""
        return self.pending_until is not None and self.pending_until > now


class HookStore(Protocol):
    """Where the webhooks' secrets live (Firestore); writes are conditional on ``version``."""

    def get(self, project_gid: str) -> tuple[Hook | None, object]:
        """Return the project's hook (None if absent) and its version."""
        ...

    def replace(self, hook: Hook, version: object) -> bool:
        """Store ``hook`` unless it changed since ``version``; tell whether it did."""
        ...


def target_url(base_url: str, project_gid: str) -> str:
    """Return the URL Asana posts a project's events to."""
    return f"{base_url}?{urlencode({'source': SOURCE, 'project': project_gid})}"


def is_asana(query: Mapping[str, str]) -> bool:
    """Tell whether a request was sent to the URL registered with Asana."""
    return query.get("source") == SOURCE


def signature(secret: str, body: bytes) -> str:
    """Return the lowercase hex HMAC-SHA256 of the raw body, as Asana computes it."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(body: bytes, given: str | None, secret: str | None) -> bool:
    """Tell whether ``given`` signs ``body`` with the webhook's secret, in constant time."""
    if not given or not secret:
        return False
    expected = signature(secret, body).encode("ascii")
    return hmac.compare_digest(expected, given.strip().lower().encode("ascii", "replace"))


def confirm_handshake(project_gid: str, secret: str, store: HookStore, now: datetime) -> None:
    """Accept a handshake only for a registration in flight, and keep its secret."""
    hook, version = store.get(project_gid)
    if hook is None or not hook.pending(now):
        raise Unauthorized(f"asana handshake for project {project_gid} nobody registered")
    confirmed = Hook(project_gid, pending_until=None, secret=secret,
                     webhook_gid=hook.webhook_gid)
    if not store.replace(confirmed, version):
        raise Unauthorized(f"asana handshake for project {project_gid} raced another one")


def project_secret(project_gid: str, store: HookStore) -> str | None:
    """Return the secret that signs the project's deliveries, if it was ever confirmed."""
    hook, _ = store.get(project_gid)
    return hook.secret if hook is not None else None


def task_gids(body: bytes) -> list[str]:
    """Return the gids of the tasks a delivery's events name, in order, once each."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise Rejected(f"asana delivery is not JSON: {error!r}", reason="malformed") from None
    events = payload.get("events") if isinstance(payload, dict) else None
    if not isinstance(events, list):
        raise Rejected("asana delivery has no events list", reason="malformed")
    gids: dict[str, None] = {}
    for event in events:
        resource = event.get("resource") if isinstance(event, dict) else None
        if isinstance(resource, dict) and resource.get("resource_type") == "task":
            gid = str(resource.get("gid") or "")
            if gid.isdigit():
                gids[gid] = None
    return list(gids)


def attributes(task_gid: str, project_gid: str, received_at: datetime,
               request_id: str) -> dict[str, str]:
    """Return the Pub/Sub attributes of one task's change."""
    return {"source": SOURCE, "resource": "task", "action": "changed",
            "alert_key": KEY_PREFIX + task_gid, "task_gid": task_gid,
            "project": project_gid, "received_at": received_at.isoformat(timespec="milliseconds"),
            "request_id": request_id}


def task_events(body: bytes, task_gid: str) -> Sequence[Mapping[str, object]]:
    """Return the events of a delivery that concern one task."""
    payload = json.loads(body)
    return [event for event in payload.get("events", [])
            if isinstance(event, dict) and isinstance(event.get("resource"), dict)
            and str(event["resource"].get("gid")) == task_gid]


def pending_until(now: datetime) -> datetime:
    """Return until when a registration started now may be confirmed."""
    return now + timedelta(seconds=PENDING_SECONDS)

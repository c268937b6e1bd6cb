"""Asana webhooks at ingest: the handshake, the token and signature checks, and what gets
published.

Asana posts to the URL given at registration, so the service registers
``<ASANA_WEBHOOK_TARGET_URL>?source=asana&project=<project gid>&token=<token>``: the query
names the source, the webhook's resource, and a fresh unguessable token of this one
registration (32 random bytes). Only the token's SHA-256 is stored, next to the secret of the
handshake, which signs every later delivery.

The handshake itself is unsigned (a POST with ``X-Hook-Secret`` and no body): it is accepted
only at the exact URL of a registration this service started (a pending registration, written
with the token's hash just before ``POST /webhooks``, still in flight), and it consumes that
registration, so a second, unsolicited or tokenless handshake is refused. Project gids are in
every task URL; the token is not, so nobody can race Asana's handshake. Every later delivery
needs the token *and* a valid ``X-Hook-Signature``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import parse_qs, urlencode, urlsplit

from shared.core.errors import Rejected, Unauthorized

SOURCE = "asana"
PENDING_SECONDS = 60  # Asana answers POST /webhooks only after the handshake it sends
TOKEN_BYTES = 32
#: A verified delivery or heartbeat is recorded at most this often per project, so ingest
#: stays fast; reconciliation's "silent" threshold has a margin much larger than this.
DELIVERY_RECORD_INTERVAL = timedelta(minutes=10)
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
    token_hash: str | None = None  # SHA-256 (hex) of the target URL's token, never the token
    last_delivery_at: datetime | None = None  # last verified delivery or heartbeat (throttled)
    compared_at: datetime | None = None  # tasks changed before this were compared (reconcile)

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

    def touch(self, project_gid: str, at: datetime) -> bool:
        """Record a verified delivery at ``at``; tell whether the project's hook still existed."""
        ...


def new_token() -> str:
    """Return a fresh unguessable token for one registration's target URL."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """Return what is stored of a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def token_matches(token: str | None, stored_hash: str | None) -> bool:
    """Tell whether ``token`` is the one whose hash was stored, in constant time."""
    if not token or not stored_hash:
        return False
    return hmac.compare_digest(token_hash(token).encode("ascii"),
                               stored_hash.encode("ascii", "replace"))


def target_url(base_url: str, project_gid: str, token: str) -> str:
    """Return the URL Asana posts a project's events to, for one registration."""
    query = urlencode({"source": SOURCE, "project": project_gid, "token": token})
    return f"{base_url}?{query}"


def parse_target(target: object, base_url: str) -> tuple[str, str | None] | None:
    """Return (project gid, token) of a webhook target this service registered, else None.

    Targets of an older version carry no token; they are still ours (to replace).
    """
    if not isinstance(target, str):
        return None
    parts, base = urlsplit(target), urlsplit(base_url)
    if (parts.scheme, parts.netloc, parts.path.rstrip("/")) != (
            base.scheme, base.netloc, base.path.rstrip("/")):
        return None
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    project = query.get("project", "")
    if query.get("source") != SOURCE or not project.isdigit():
        return None
    return project, query.get("token")


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


def confirm_handshake(project_gid: str, token: str | None, secret: str, store: HookStore,
                      now: datetime) -> None:
    """Accept a handshake only at the URL of a registration in flight, and keep its secret."""
    hook, version = store.get(project_gid)
    if hook is None or not hook.pending(now):
        raise Unauthorized(f"asana handshake for project {project_gid} nobody registered")
    if not token_matches(token, hook.token_hash):
        raise Unauthorized(f"asana handshake for project {project_gid} without the token of "
                           "its pending registration")
    if not store.replace(replace(hook, pending_until=None, secret=secret), version):
        raise Unauthorized(f"asana handshake for project {project_gid} raced another one")


def authentic(hook: Hook | None, token: str | None, body: bytes, given: str | None) -> bool:
    """Tell whether a delivery came to the hook's URL (token) signed with its secret."""
    if hook is None:
        return False
    # Both checks run every time, so the answer's timing does not tell which one failed.
    token_ok = token_matches(token, hook.token_hash)
    signed = verify(body, given, hook.secret)
    return token_ok and signed


def delivery_record_due(hook: Hook, now: datetime) -> bool:
    """Tell whether a verified delivery should be written down (throttled per project)."""
    last = hook.last_delivery_at
    return last is None or now - last >= DELIVERY_RECORD_INTERVAL or last > now


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


def changed_by(body: bytes, task_gid: str) -> list[str | None]:
    """Return the gid of the user who made each change of a delivery to one task."""
    return [_gid_of(event.get("user")) for event in task_events(body, task_gid)]


def _gid_of(value: object) -> str | None:
    return str(value.get("gid")) if isinstance(value, dict) and value.get("gid") else None


def pending_until(now: datetime) -> datetime:
    """Return until when a registration started now may be confirmed."""
    return now + timedelta(seconds=PENDING_SECONDS)

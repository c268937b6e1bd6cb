"""Link a new Asana task back to the Sentry issue it was created for (an external issue)."""

from __future__ import annotations

import re

from shared.core.alert import Alert
from shared.core.errors import Permanent
from shared.core.links import LinkRequest

# Sentry resources whose webhooks name an issue; a metric-alert incident has none to link.
SENTRY_ISSUE_RESOURCES = ("event_alert", "issue", "error")
_DIGITS = re.compile(r"^\d+$")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


def sentry_external_issue(alert: Alert, task_gid: str, url: str, team: str) -> LinkRequest | None:
    """Return Sentry's "create or update an external issue" request for an issue alert."""
    issue_id = alert.external_id or ""
    if alert.resource not in SENTRY_ISSUE_RESOURCES or not _DIGITS.match(issue_id):
        return None
    if not alert.installation_id:
        return None
    if not _UUID.fullmatch(alert.installation_id):
        # It comes from the webhook body and goes into an API path: only a UUID may.
        raise Permanent(f"installation.uuid {alert.installation_id[:40]!r} is not a UUID",
                        reason="bad_installation_uuid")
    path = f"/sentry-app-installations/{alert.installation_id.lower()}/external-issues/"
    # Sentry shows the link as "<project>#<identifier>": "Payments#1209…".
    body = {"issueId": int(issue_id), "webUrl": url, "project": team, "identifier": task_gid}
    return LinkRequest("sentry", "POST", path, body)

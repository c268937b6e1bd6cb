"""Two-way sync to Sentry: a task completed or reopened in Asana (un)resolves its issue."""

from __future__ import annotations

from urllib.parse import quote

from shared.core.ledger import Record, Step
from shared.core.links import LinkRequest
from shared.core.settings import Settings
from shared.sources.base import Untold
from shared.sources.sentry.keys import ISSUE_PREFIX


def sync_request(record: Record, step: Step, task_gid: str,
                 settings: Settings) -> LinkRequest | None:
    """Return the request that tells Sentry, or None when there is nothing to tell.

    Raises Untold for an issue when SENTRY_ORG is not set: Sentry has the API, but the
    request needs the organization.
    """
    if not record.key.startswith(ISSUE_PREFIX):
        return None  # a metric incident follows its metric; Sentry has no API to resolve it
    org = settings.sentry_org
    if not org:
        raise Untold("SENTRY_ORG is not set",
                     "SENTRY_ORG is not set: the Sentry issue cannot be told")
    if not record.external_id:
        return None
    path = f"/organizations/{quote(org, safe='')}/issues/{quote(record.external_id, safe='')}/"
    status = "resolved" if step is Step.RESOLVE else "unresolved"
    return LinkRequest("sentry", "PUT", path, {"status": status})

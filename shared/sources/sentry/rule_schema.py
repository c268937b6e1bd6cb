"""The "Create an Asana task" action of Sentry alert rules: its UI-component schema, as data.

Sentry renders this form in issue and metric alert rules (docs.sentry.io, Integration Platform
→ UI Components → Alert Rule Action and FormField). Shapes checked against Sentry's source:

- ``src/sentry/sentry_apps/api/parsers/schema.py``: an ``alert-rule-action`` element needs
  ``title`` and ``settings`` (``type`` "alert-rule-settings", ``uri`` starting with ``/``,
  ``required_fields``; ``description`` 1–140 characters); a select has exactly one of ``uri``
  and ``options``, and ``options`` are ``[value, label]`` pairs; one element per type.
- ``src/sentry/sentry_apps/external_requests/alert_rule_action_requester.py``: ``uri`` replaces
  the *path* of the integration's webhook URL (same host, query kept), so both paths below must
  reach the ingest function on the webhook URL's host.
- ``src/sentry/sentry_apps/external_requests/select_requester.py``: a select's ``uri`` gets a
  GET on the same host, its query replaced by ``installationId``, ``projectSlug``, ``query``.
"""

from __future__ import annotations

from typing import Any

from shared.sources.sentry.ingest import RULE_PATHS

#: Every request under this path is a UI-component request, never a webhook.
PATH_PREFIX = RULE_PATHS
#: Sentry POSTs the saved form here when a rule is saved; a 4xx's ``message`` is shown.
ACTION_PATH = "/sentry/alert-rule-action"
#: Sentry GETs the team select's options here (answered from teams.yaml).
TEAMS_PATH = "/sentry/alert-rule-action/teams"

TITLE = "Create an Asana task"
DESCRIPTION = ("alert-bridge opens one Asana task per Sentry issue or metric incident. "
               "Empty fields follow teams.yaml.")
MAX_DESCRIPTION_CHARS = 140  # Sentry refuses a longer description

def schema() -> dict[str, Any]:
    """Return the integration's UI-component schema: one alert-rule-action element."""
    # Imported here: ingest imports this module for its paths on every cold start.
    from shared.routing.rule_settings import (
        ASSIGNEE,
        BOARD,
        BOARD_CHOICES,
        FOLLOWERS,
        PRIORITY,
        PRIORITY_CHOICES,
        TEAM,
        UPDATE_ONLY,
        UPDATE_ONLY_CHOICES,
    )

    return {"elements": [{
        "type": "alert-rule-action",
        "title": TITLE,
        "settings": {
            "type": "alert-rule-settings",
            "uri": ACTION_PATH,
            "description": DESCRIPTION,
            "required_fields": [
                # async false: Sentry asks once when the form opens; teams are few.
                {"type": "select", "name": TEAM, "label": "Team (from teams.yaml)",
                 "uri": TEAMS_PATH, "async": False},
            ],
            "optional_fields": [
                _select(BOARD, "Board", BOARD_CHOICES),
                _select(PRIORITY, "Priority", PRIORITY_CHOICES),
                {"type": "text", "name": ASSIGNEE, "label": "Assignee (Asana user e-mail)"},
                {"type": "text", "name": FOLLOWERS,
                 "label": "Followers (Asana user e-mails, comma-separated)"},
                _select(UPDATE_ONLY, "Update only: never create a task", UPDATE_ONLY_CHOICES),
            ],
        },
    }]}


def _select(name: str, label: str, choices: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    return {"type": "select", "name": name, "label": label,
            "options": [[value, text] for value, text in choices]}

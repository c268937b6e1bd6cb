"""Ingest's answers to Sentry's alert-rule UI component: the form check when a rule is saved,
and the team select's options. Verified first; nothing is published or stored.

What Sentry sends (its source, ``src/sentry/sentry_apps/external_requests/``):

- ``alert_rule_action_requester.py``: ``POST <uri>`` with ``{"fields": [{"name", "value"}],
  "installationId"}``, headers ``Request-ID`` and ``Sentry-App-Signature`` = hex HMAC-SHA256 of
  that body keyed with the integration's client secret (``SentryApp.build_signature``). Any
  answer of 400 or more fails the save and shows "<integration name>: <message>", ``message``
  read from a JSON answer;
- ``select_requester.py``: ``GET <uri>?installationId=…&projectSlug=…&query=…`` signed like a
  body-less request: HMAC of the empty string, so the signature proves the caller knows the
  secret but does not cover the query. It expects ``[{"label", "value", "default"?}]``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

from shared.core.errors import ConfigError, Rejected, Unauthorized, http_status
from shared.core.payload import json_object
from shared.core.settings import checked_against
from shared.routing.ownership import route
from shared.routing.rule_settings import InvalidSetting, RuleSettings
from shared.routing.rules import BOARD_WORDS
from shared.routing.teams import TeamsConfig
from shared.sources.base import Answer, IngestContext, Webhook
from shared.sources.sentry.rule_checks import Lookups, check_form
from shared.sources.sentry.rule_schema import ACTION_PATH, TEAMS_PATH
from shared.sources.sentry.verify import verify_sentry

log = logging.getLogger(__name__)

#: path -> the method Sentry uses on it.
_METHODS = {ACTION_PATH: "POST", TEAMS_PATH: "GET"}
_PUBLIC = {"unauthorized": "unauthorized", "not_found": "not found",
           "method_not_allowed": "method not allowed", "malformed": "malformed request body"}


@dataclass(frozen=True)
class RuleDeps:
    """What the form check needs beyond ingest's own dependencies."""

    teams: Callable[[], TeamsConfig]  # raises ConfigError while teams.yaml is invalid
    lookups: Lookups | None  # Asana; None in a dry-run deployment (teams.yaml checked only)
    today: Callable[[], date]


def answer(hook: Webhook, context: IngestContext) -> Answer:
    """Answer one UI-component request; a refusal carries the ``message`` Sentry shows."""
    try:
        return _answer(hook, context)
    except Rejected as error:
        if error.reason == "invalid_settings":
            return Answer(http_status(error), {"message": str(error)})
        log.warning("sentry alert-rule request rejected: %s", error,
                    extra={"event": "webhook_rejected", "reason": error.reason,
                           "source": "sentry", "request_id": hook.request_id})
        body = {"message": _PUBLIC.get(error.reason, error.reason)}
        if error.reason == "malformed":
            body["message"] += f": {error}"
        return Answer(http_status(error), body)


def _answer(hook: Webhook, context: IngestContext) -> Answer:
    path = hook.path.rstrip("/")
    method = _METHODS.get(path)
    if method is None:
        raise Rejected(f"no alert-rule endpoint at {path[:100]}", reason="not_found", status=404)
    if hook.method != method:
        raise Rejected(f"method {hook.method} not allowed on {path}",
                       reason="method_not_allowed", status=405)
    # A GET has no body: Sentry signs the empty string for it.
    signed = hook.body if method == "POST" else b""
    if not verify_sentry(signed, hook.headers.get("sentry-app-signature"),
                         context.secret("SENTRY_CLIENT_SECRET")):
        raise Unauthorized("sentry-app-signature missing or wrong: checked against "
                           + checked_against("SENTRY_CLIENT_SECRET"))
    rules: RuleDeps | None = context.service("sentry")
    if rules is None:
        raise ConfigError("the Sentry alert-rule action is not wired into this ingest")
    if path == TEAMS_PATH:
        return _options(hook, rules.teams())
    return _check(hook, rules)


def _check(hook: Webhook, rules: RuleDeps) -> Answer:
    try:
        form = json_object(hook.body)
    except ValueError as error:
        raise Rejected(str(error), reason="malformed") from error
    if not isinstance(form.get("fields"), list):
        raise Rejected("no 'fields' list", reason="malformed")
    installation = str(form.get("installationId") or "")[:64]
    try:
        settings = check_form(form["fields"], rules.teams(), rules.lookups, rules.today())
    except InvalidSetting as error:
        log.info("alert rule refused: %s", error,
                 extra={"event": "rule_settings_checked", "accepted": False,
                        "field": error.field, "installation": installation,
                        "request_id": hook.request_id})
        raise Rejected(str(error), reason="invalid_settings") from error
    log.info("alert rule accepted: team %s", settings.team,
             extra={"event": "rule_settings_checked", "accepted": True, "field": None,
                    "team": settings.team, "installation": installation,
                    "request_id": hook.request_id})
    checked = "" if rules.lookups is not None else " (Asana not checked: dry-run)"
    return Answer(200, {"message": _summary(settings) + checked})


def _summary(settings: RuleSettings) -> str:
    text = f"Tasks go to team {settings.team}, board {BOARD_WORDS[settings.board]}"
    if settings.priority:
        text += f", priority {settings.priority}"
    return text + (" (update only)." if settings.update_only else ".")


def _options(hook: Webhook, config: TeamsConfig) -> Answer:
    wanted = hook.query.get("query", "").strip().casefold()
    suggested = _owner(config, hook.query.get("projectSlug", "").strip())
    options: list[Mapping[str, object]] = []
    for team in config.teams:
        if wanted and wanted not in team.name.casefold():
            continue
        option: dict[str, object] = {"label": team.name, "value": team.name}
        if team.name == suggested:
            option["default"] = True
        options.append(option)
    log.info("alert rule team options served", extra={
        "event": "rule_options_served", "count": len(options), "request_id": hook.request_id})
    return Answer(200, options)


def _owner(config: TeamsConfig, project: str) -> str | None:
    """Return the team teams.yaml gives a project's alerts, when a matcher names it."""
    if not project:
        return None
    chosen = route({"project": project, "source": "sentry"}, config)
    return None if chosen.is_default else chosen.team.name

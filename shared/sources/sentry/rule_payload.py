"""Where a Sentry webhook carries its alert rule's "Create an Asana task" settings. No I/O.

- issue alerts: ``data.issue_alert.settings``, a list of ``{"name", "value"}`` objects, next to
  the rule's ``title`` (``notify_sentry_app`` in ``src/sentry/sentry_apps/tasks/sentry_apps.py``
  attaches ``issue_alert`` only when the action has settings);
- metric alerts: each trigger's actions in ``data.metric_alert.alert_rule.triggers[]``; an action
  of ``type`` "sentry_app" carries its own ``settings`` (``AlertRuleTriggerActionSerializer``,
  converted to snake_case keys by ``build_incident_attachment``). A rule may set one action per
  trigger, so the trigger named like the webhook's ``action`` (critical, warning) wins;
- the form Sentry POSTs when a rule is saved: ``{"fields": [...], "installationId"}`` with the
  same list (``alert_rule_action_requester.py``).
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.core.payload import clean_text
from shared.routing.rule_settings import TEAM, Pairs


def setting_pairs(items: object) -> Pairs:
    """Return ``[{"name", "value"}, ...]`` as (name, text) pairs; empty values are left out."""
    if not isinstance(items, list):
        return ()
    pairs = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        name, value = clean_text(item.get("name")), clean_text(item.get("value"))
        if name and value:
            pairs.append((name, value))
    return tuple(pairs)


def from_payload(resource: str, payload: Mapping[str, object]) -> Pairs:
    """Return the settings a webhook carries from its alert rule's action; () when none."""
    data = payload.get("data")
    if not isinstance(data, Mapping):
        return ()
    if resource == "event_alert":
        issue_alert = data.get("issue_alert")
        return setting_pairs(issue_alert.get("settings")) if isinstance(
            issue_alert, Mapping) else ()
    if resource == "metric_alert":
        return _metric_settings(data.get("metric_alert"), clean_text(payload.get("action")))
    return ()


def _metric_settings(incident: object, action: str | None) -> Pairs:
    """Return the settings of this app's action, preferring the trigger the webhook is for."""
    rule = incident.get("alert_rule") if isinstance(incident, Mapping) else None
    triggers = rule.get("triggers") if isinstance(rule, Mapping) else None
    if not isinstance(triggers, list):
        return ()
    found: list[tuple[bool, Pairs]] = []
    for trigger in triggers:
        if not isinstance(trigger, Mapping) or not isinstance(trigger.get("actions"), list):
            continue
        for candidate in trigger["actions"]:
            if not isinstance(candidate, Mapping) or candidate.get("type") != "sentry_app":
                continue
            pairs = setting_pairs(candidate.get("settings"))
            # Another integration's alert-rule action has settings too: ours name a team.
            if pairs and any(name == TEAM for name, _ in pairs):
                found.append((clean_text(trigger.get("label")) == action, pairs))
    preferred = [pairs for matches, pairs in found if matches]
    return (preferred or [pairs for _, pairs in found] or [()])[0]

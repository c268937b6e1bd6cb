"""A rule's settings: where each webhook carries them, and one refusal per bad field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.routing.rule_settings import MAX_FOLLOWERS, InvalidSetting, RuleSettings, parse_settings
from shared.sources.sentry.rule_payload import from_payload, setting_pairs

DATA = Path(__file__).resolve().parent.parent / "data"
GOOD = [("team", "Payments")]


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        (GOOD, RuleSettings("r", "Payments")),
        ([("team", "Payments"), ("board", "Sprint"), ("priority", "high"),
          ("assignee", "Ana.Silva@Example.com"), ("followers", "li@example.com, mo@example.com;"
                                                                " li@example.com"),
          ("update_only", "yes")],
         RuleSettings("r", "Payments", "sprint", "High", "ana.silva@example.com",
                      ("li@example.com", "mo@example.com"), True)),
        ([("team", "Payments"), ("board", "default"), ("priority", "default"),
          ("update_only", "no")], RuleSettings("r", "Payments")),
    ],
    ids=["team-only", "everything", "explicit-defaults"],
)
def test_settings_parse(pairs: list[tuple[str, str]], expected: RuleSettings) -> None:
    assert parse_settings(pairs, "r") == expected


@pytest.mark.parametrize(
    ("pairs", "field", "message"),
    [
        ([], "team", "Team is required: pick the team that owns this rule's alerts."),
        ([("team", "  ")], "team", "Team is required: pick the team that owns this rule's "
                                   "alerts."),
        (GOOD + [("board", "weekly")], "board",
         "Board 'weekly' is not one of default, sprint, backlog, sandbox."),
        (GOOD + [("priority", "Urgent")], "priority",
         "Priority 'Urgent' is not one of default, High, Medium, Low."),
        (GOOD + [("assignee", "ana")], "assignee", "Assignee 'ana' is not an e-mail address."),
        (GOOD + [("followers", "li@example.com, bob")], "followers",
         "Followers 'bob' is not an e-mail address."),
        (GOOD + [("followers", ",".join(f"p{i}@example.com" for i in range(MAX_FOLLOWERS + 1)))],
         "followers", "Followers lists 21 addresses; at most 20 are allowed."),
        (GOOD + [("update_only", "maybe")], "update_only",
         "Update only 'maybe' is not one of no, yes."),
        (GOOD + [("color", "red")], "color",
         "Setting 'color' is not a field of this action (fields: team, board, priority, "
         "assignee, followers, update_only)."),
        (GOOD + [("team", "Growth")], "team", "Team is set twice."),
    ],
    ids=["no-team", "blank-team", "board", "priority", "assignee", "follower",
         "too-many-followers", "update-only", "unknown-field", "duplicate"],
)
def test_each_bad_field_is_refused_with_one_sentence_naming_it(
        pairs: list[tuple[str, str]], field: str, message: str) -> None:
    with pytest.raises(InvalidSetting) as caught:
        parse_settings(pairs, "r")
    assert caught.value.field == field
    assert str(caught.value) == message


def test_setting_pairs_skip_empty_values_and_odd_items() -> None:
    items = [{"name": "team", "value": "Payments", "label": "Payments"},
             {"name": "assignee", "value": ""}, {"name": "board", "value": None},
             "junk", {"value": "x"}]
    assert setting_pairs(items) == (("team", "Payments"),)
    assert setting_pairs({"team": "Payments"}) == ()


def _metric(action: str, triggers: list[dict[str, Any]]) -> dict[str, Any]:
    return {"action": action, "data": {"metric_alert": {"id": "1", "alert_rule": {
        "name": "Checkout", "triggers": triggers}}}}


def _trigger(label: str, *actions: dict[str, Any]) -> dict[str, Any]:
    return {"label": label, "actions": list(actions)}


def _app(team: str, **more: str) -> dict[str, Any]:
    settings = [{"name": "team", "value": team}]
    settings += [{"name": k, "value": v} for k, v in more.items()]
    return {"type": "sentry_app", "sentry_app_id": 19, "settings": settings}


SLACK = {"type": "slack", "target_identifier": "#alerts"}
OTHER_APP = {"type": "sentry_app", "sentry_app_id": 7,
             "settings": [{"name": "channel", "value": "#general"}]}


@pytest.mark.parametrize(
    ("resource", "payload", "expected"),
    [
        ("event_alert", {"data": {"event": {}, "issue_alert": {"title": "r", "settings": [
            {"name": "team", "value": "Payments"}]}}}, (("team", "Payments"),)),
        ("event_alert", {"data": {"event": {}, "triggered_rule": "r"}}, ()),
        ("metric_alert", _metric("critical", [_trigger("critical", SLACK, _app("Payments")),
                                              _trigger("warning", _app("Growth"))]),
         (("team", "Payments"),)),
        ("metric_alert", _metric("warning", [_trigger("critical", _app("Payments")),
                                             _trigger("warning", _app("Growth"))]),
         (("team", "Growth"),)),
        ("metric_alert", _metric("resolved", [
            _trigger("critical", _app("Payments", board="sprint")),
            _trigger("warning", _app("Growth"))]),
         (("team", "Payments"), ("board", "sprint"))),
        ("metric_alert", _metric("critical", [_trigger("critical", OTHER_APP, SLACK)]), ()),
        ("metric_alert", _metric("critical", []), ()),
        ("issue", {"data": {"issue": {"id": "1"}}}, ()),
    ],
    ids=["issue-alert", "issue-alert-without-settings", "metric-critical-trigger",
         "metric-warning-trigger", "metric-resolved-first-found", "another-integration-only",
         "metric-no-triggers", "issue-webhook"],
)
def test_settings_are_found_where_each_webhook_carries_them(
        resource: str, payload: dict[str, Any], expected: tuple[tuple[str, str], ...]) -> None:
    assert from_payload(resource, payload) == expected


@pytest.mark.parametrize(("fixture", "resource", "team"), [
    ("sentry_rule_event_alert.json", "event_alert", "Payments"),
    ("sentry_rule_metric_alert.json", "metric_alert", "Payments"),
])
def test_the_samples_carry_valid_settings(fixture: str, resource: str, team: str) -> None:
    payload = json.loads((DATA / fixture).read_text())
    assert parse_settings(from_payload(resource, payload), "r").team == team

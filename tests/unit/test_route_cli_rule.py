"""make explain-route --payload on webhooks carrying a Sentry alert rule's settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.cli.route import main

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
TEAMS = str(ROOT / "teams.yaml")
RULE = "Checkout errors in the web shop"


def explain(capsys: pytest.CaptureFixture[str], payload: Path, *extra: str) -> list[str]:
    assert main(["explain", "--teams", TEAMS, "--environment", "prod", "--payload",
                 str(payload), *extra]) == 0
    return capsys.readouterr().out.splitlines()


def with_settings(tmp_path: Path, settings: list[dict[str, str]]) -> Path:
    payload: dict[str, Any] = json.loads((DATA / "sentry_rule_event_alert.json").read_text())
    payload["data"]["issue_alert"]["settings"] = settings
    path = tmp_path / "alert.json"
    path.write_text(json.dumps(payload))
    return path


def test_the_event_alert_sample_is_explained_by_its_rule(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert explain(capsys, DATA / "sentry_rule_event_alert.json") == [
        "team:      Payments",
        f"why:       from alert rule '{RULE}': team Payments, board current sprint, priority "
        "High, assignee ana.silva@example.com, followers li.wei@example.com",
        "overrides: teams.yaml's team Platform (no team matched; default team 'Platform')",
        f"priority:  High (alert rule '{RULE}' sets High (Sentry level 'warning' → Medium))",
        "board:     sprint: current sprint of portfolio 1209000000002002",
        f"board why: alert rule '{RULE}' asks for the current sprint",
    ]


def test_the_metric_alert_sample_follows_its_firing_triggers_action(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    lines = explain(capsys, DATA / "sentry_rule_metric_alert.json")
    assert lines[1].startswith("why:       from alert rule 'Checkout error rate in the web "
                               "shop': team Payments, board current sprint, priority High")
    warning: dict[str, Any] = json.loads((DATA / "sentry_rule_metric_alert.json").read_text())
    warning["action"] = "warning"
    path = tmp_path / "warning.json"
    path.write_text(json.dumps(warning))
    lines = explain(capsys, path)
    assert "board backlog, priority Medium" in lines[1]
    assert lines[-2] == "board:     backlog: backlog project 1209000000002001"


@pytest.mark.parametrize(("settings", "expected"), [
    ([{"name": "team", "value": "Payments"}, {"name": "update_only", "value": "yes"}],
     f"task:      none opened: alert rule '{RULE}' is update only: it only updates the task "
     "another alert opened"),
    ([{"name": "team", "value": "Fraud"}],
     f"why:       alert rule '{RULE}' names team 'Fraud', which is not in teams.yaml: routed "
     "by teams.yaml instead: no team matched; default team 'Platform'"),
    ([{"name": "board", "value": "sprint"}],
     f"why:       alert rule '{RULE}': its settings are ignored (Team is required: pick the "
     "team that owns this rule's alerts.); routed by teams.yaml: no team matched; default "
     "team 'Platform'"),
], ids=["update-only", "team-gone", "invalid"])
def test_rules_not_followed_say_why(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                    settings: list[dict[str, str]], expected: str) -> None:
    assert expected in explain(capsys, with_settings(tmp_path, settings))

"""The check / explain command line, run in-process on the repository's and test files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.cli.route import alert_from_pairs, guess_source, main

ROOT = Path(__file__).resolve().parents[2]
TEAMS = str(ROOT / "teams.yaml")
BROKEN = str(ROOT / "tests" / "data" / "teams_broken.yaml")

# Shaped after Sentry's "event_alert" integration webhook (issue alert triggered).
SENTRY_EVENT_ALERT = {
    "action": "triggered",
    "installation": {"uuid": "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"},
    "actor": {"type": "application", "id": "sentry", "name": "Sentry"},
    "data": {
        "triggered_rule": "Errors in panther",
        "event": {
            "event_id": "0ad1a6f5a0e44d2aa1a0b77b8bd4f1f5",
            "issue_id": "1170820242",
            "title": "KeyError: 'dossier'",
            "level": "warning",
            "environment": "production",
            "datetime": "2026-11-20T09:14:27.418000Z",
            "web_url": "https://acme.sentry.io/issues/1170820242/events/0ad1a6f5a0e44d2aa1a0b77b8bd4f1f5/",
            "url": "https://sentry.io/api/0/projects/acme/panther-alerts-api/events/"
                   "0ad1a6f5a0e44d2aa1a0b77b8bd4f1f5/",
            "project": 1,
            "tags": [["environment", "production"], ["level", "warning"],
                     ["server_name", "panther-alerts-api"]],
        },
    },
}

# Shaped after Datadog's webhook integration payload with the $-variables most users send.
DATADOG_TRIGGERED = {
    "id": "7460311123456789012",
    "alert_cycle_key": "7460311123456789012",
    "alert_transition": "Triggered",
    "alert_id": "123456789",
    "alert_priority": "P3",
    "alert_title": "Taux d'erreur élevé sur payments-api",
    "title": "[P3] Taux d'erreur élevé sur payments-api",
    "link": "https://app.datadoghq.com/event/event?id=7460311123456789012",
    "tags": "env:prod,service:payments-api",
    "date": "1795166067000",
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_check_summarises_the_repository_file(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "check", "--teams", TEAMS)
    assert status == 0
    assert out == (f"{TEAMS}: 4 teams, 9 matcher groups\n"
                   "default team: 'Platform' (settings.default_team names it)\n")


def test_check_reads_teams_file_from_the_environment(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEAMS_FILE", str(ROOT / "tests" / "data" / "teams_legacy.yaml"))
    status, out, _ = run(capsys, "check")
    assert status == 0
    assert "teams_legacy.yaml: 4 teams, 6 matcher groups" in out
    assert "default team: 'Default' (it is named 'Default' and neither" in out


@pytest.mark.parametrize(
    ("env_default", "expected"),
    [(None, "default team: 'Observability and Performance' (it is named 'Observability and "
            "Performance' and neither settings.default_team nor DEFAULT_TEAM is set)"),
     ("payments", "default team: 'Payments' (DEFAULT_TEAM names it)")],
    ids=["older-service-name", "DEFAULT_TEAM"],
)
def test_check_says_which_team_is_the_default_and_why(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        env_default: str | None, expected: str) -> None:
    if env_default:
        monkeypatch.setenv("DEFAULT_TEAM", env_default)
    legacy = str(ROOT / "tests" / "data" / "teams_legacy_observability.yaml")
    status, out, _ = run(capsys, "check", "--teams", legacy)
    assert status == 0
    assert out.splitlines()[1] == expected


def test_check_fails_with_every_problem(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "check", "--teams", BROKEN)
    assert status == 1
    assert out == ""
    assert "team 'Payments': entity #1: matcher 'url:/(/': bad regex" in err
    assert "settings: default_team: no team named 'Nobody'" in err


def test_explain_pairs(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "explain", "--teams", TEAMS, "--environment", "prod",
                         "server_name=panther-alerts-api", "url=/investigate/x")
    assert status == 0
    assert out.splitlines() == [
        "team:      Investigations",
        "why:       team 'Investigations': matched server_name:panther-alerts-api (group 1 of 2)",
        "priority:  High (no Sentry level → High (default))",
        "board:     sprint: current sprint of portfolio 1209000000003002",
        "board why: High priority in no environment goes to the current sprint",
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["level=warning", "environment=production", "service=payments-api"],
         ["team:      Payments", "priority:  Medium (Sentry level 'warning' → Medium)",
          "board:     backlog: backlog project 1209000000002001"]),
        (["--environment", "dev", "team=growth"],
         ["team:      Growth",
          "board:     sandbox: backlog project 1209000000004001 "
          "(team 'Growth' has no sandbox portfolio)"]),
        (["priority=p4", "service=unknown"],
         ["team:      Platform", "why:       no team matched; default team 'Platform'",
          "priority:  Low (Datadog priority P4 → Low)"]),
        (["environment=staging", "level=info", "zap_server_name=panther-alerts-api"],
         ["team:      Investigations",
          "board:     sprint: current sprint of portfolio 1209000000003002"]),
    ],
    ids=["backlog-for-medium", "dev-deployment-without-sandbox", "datadog-default-team",
         "staging-and-zap"],
)
def test_explain_cases(capsys: pytest.CaptureFixture[str], args: list[str],
                       expected: list[str]) -> None:
    status, out, _ = run(capsys, "explain", "--teams", TEAMS, "--environment", "prod", *args)
    assert status == 0
    lines = out.splitlines()
    for line in expected:
        assert line in lines


@pytest.mark.parametrize(
    ("payload", "extra", "expected"),
    [
        (SENTRY_EVENT_ALERT, [],
         ["team:      Investigations", "priority:  Medium (Sentry level 'warning' → Medium)",
          "board:     backlog: backlog project 1209000000003001"]),
        (DATADOG_TRIGGERED, [],
         ["team:      Payments", "priority:  Medium (Datadog priority P3 → Medium)"]),
        (DATADOG_TRIGGERED, ["--source", "datadog"], ["team:      Payments"]),
        (json.loads((ROOT / "tests" / "data" / "sentry_issue_created.json").read_text()), [],
         ["task:      none opened: 'issue' webhooks do not open tasks (settings."
          "create_tasks_from: event_alert, metric_alert, datadog, azure, alertmanager, grafana, "
          "gcm_incident, cloudwatch): it only updates the task an alert rule or monitor opened "
          "for it"]),
        (json.loads((ROOT / "tests" / "data" / "sentry_issue_resolved.json").read_text()), [],
         ["task:      none opened: a 'resolved' webhook never opens a task: it only updates "
          "the task an earlier alert opened"]),
    ],
    ids=["sentry-event-alert", "datadog-guessed", "datadog-explicit", "issue-created-no-task",
         "resolved-no-task"],
)
def test_explain_payload(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                         payload: dict[str, object], extra: list[str],
                         expected: list[str]) -> None:
    path = tmp_path / "payload.json"
    path.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    status, out, err = run(capsys, "explain", "--teams", TEAMS, "--environment", "prod",
                           "--payload", str(path), *extra)
    assert (status, err) == (0, "")
    lines = out.splitlines()
    for line in expected:
        assert line in lines
    assert any(line.startswith("board:") for line in lines) != any(
        line.startswith("task:") for line in lines)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["explain", "--teams", TEAMS], "nothing to explain"),
        (["explain", "--teams", TEAMS, "server_name"], "expected key=value, got 'server_name'"),
        (["explain", "--teams", TEAMS, "--payload", "x.json", "a=b"], "not both"),
        (["explain", "--teams", BROKEN, "a=b"], "bad regex"),
        (["check", "--teams", "/nonexistent/teams.yaml"], "cannot read teams file"),
    ],
    ids=["no-input", "not-key-value", "payload-and-pairs", "broken-teams", "missing-file"],
)
def test_errors_exit_1_with_a_message(capsys: pytest.CaptureFixture[str], args: list[str],
                                      message: str) -> None:
    status, _, err = run(capsys, *args)
    assert status == 1
    assert message in err


def test_unparseable_payload_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "payload.json"
    path.write_text("{not json", encoding="utf-8")
    status, _, err = run(capsys, "explain", "--teams", TEAMS, "--payload", str(path))
    assert status == 1
    assert "not JSON" in err


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (SENTRY_EVENT_ALERT, ("sentry", "event_alert")),
        ({"action": "created", "data": {"issue": {"id": "1"}}}, ("sentry", "issue")),
        ({"action": "critical", "data": {"metric_alert": {"id": "7"}}},
         ("sentry", "metric_alert")),
        ({"action": "created", "data": {"error": {"issue_id": "1"}}}, ("sentry", "error")),
        (DATADOG_TRIGGERED, ("datadog", "datadog")),
        ([], ("datadog", "datadog")),
    ],
    ids=["event-alert", "issue", "metric-alert", "error", "datadog", "not-a-mapping"],
)
def test_guess_source(payload: object, expected: tuple[str, str]) -> None:
    assert guess_source(payload) == expected


def test_alert_from_pairs_sets_fields_and_tags() -> None:
    alert = alert_from_pairs(["level=ERROR", "environment=prod", "title=Boom",
                              "url=https://x.example/a=b", "équipe=paiements"])
    assert (alert.source, alert.level, alert.environment, alert.title) == (
        "sentry", "error", "prod", "Boom")
    assert alert.tags == (("url", "https://x.example/a=b"), ("équipe", "paiements"))
    assert alert_from_pairs(["priority=p2"]).source == "datadog"


# Sentry's documented bodies (docs.sentry.io, Integration Platform → Webhooks).
SENTRY_INSTALLATION = {
    "action": "created", "actor": {"type": "user", "id": 1, "name": "Meredith"},
    "data": {"installation": {"app": {"uuid": "64bf2cf4-37ca-4365-8dd3-6b6e56d741b8",
                                      "slug": "app"},
                              "organization": {"slug": "example"},
                              "uuid": "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"}},
    "installation": {"uuid": "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"}}
SENTRY_COMMENT = {
    "action": "created",
    "data": {"comment": "adding a comment", "project_slug": "sentry", "comment_id": 1234,
             "issue_id": 100, "timestamp": "2022-03-02T21:51:44.118160Z"},
    "installation": {"uuid": "eac5a0ae-60ec-418f-9318-46dc5e7e52ec"},
    "actor": {"type": "user", "id": 1, "name": "colleen"}}


@pytest.mark.parametrize(("payload", "resource", "why"), [
    (SENTRY_INSTALLATION, "installation", "the integration is installed or uninstalled"),
    (SENTRY_COMMENT, "comment", "someone comments on an issue"),
], ids=["installation", "comment"])
def test_a_sentry_body_that_carries_no_alert_is_named_as_ignored(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, payload: dict[str, object],
        resource: str, why: str) -> None:
    path = tmp_path / "payload.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    status, out, err = run(capsys, "explain", "--teams", TEAMS, "--payload", str(path))
    assert (status, err) == (0, "")
    assert out.splitlines() == [
        f"source:    sentry {resource} webhook",
        f"task:      none: ingest answers it 200 and publishes nothing (Sentry sends it when "
        f"{why}; it carries no alert)"]
    assert guess_source(payload) == ("sentry", resource)

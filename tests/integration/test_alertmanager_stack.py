"""End to end: an Alertmanager notification of two alerts → two tasks; the resolve of one
completes its task only."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import requests

from scripts.localstack import LOCAL_DEFAULTS, Stack
from shared.routing.teams_file import load_teams
from tests.fakes.asana_server import FakeAsana
from tests.polling import eventually

DATA = Path(__file__).resolve().parent.parent / "data"
CONFIG = load_teams(str(DATA.parent.parent / "teams.yaml"))


def _send(stack: Stack, payload: dict[str, Any]) -> requests.Response:
    return requests.post(stack.url("ingest").rstrip("/") + "/alertmanager",
                         data=json.dumps(payload).encode(), timeout=10,
                         headers={"Authorization":
                                  f"Bearer {LOCAL_DEFAULTS['ALERTMANAGER_TOKEN']}",
                                  "Content-Type": "application/json",
                                  "User-Agent": "Alertmanager/0.27.0"})


def _named(payload: dict[str, Any], run: str) -> dict[str, Any]:
    for alert in payload["alerts"]:
        alert["fingerprint"] = f"{run}{alert['fingerprint'][:8]}"
        alert["annotations"]["summary"] += f" #{run}"
    return payload


def _tasks(asana: FakeAsana, needle: str) -> list[dict[str, Any]]:
    return [t for t in list(asana.tasks.values()) if needle in t["name"]]


def test_a_group_opens_one_task_per_alert_and_a_resolve_completes_its_own(
        stack: Stack, asana: FakeAsana) -> None:
    run = uuid.uuid4().hex[:8]
    firing = _named(json.loads((DATA / "alertmanager" / "firing.json").read_text()), run)
    assert _send(stack, firing).status_code == 202
    tasks = eventually(lambda: found if len(found := _tasks(asana, f"#{run}")) == 2 else None,
                       what="two tasks, one per alert")
    backlog = CONFIG.team("Payments").backlog_project_gid
    assert all([p["gid"] for p in t["projects"]] == [backlog] for t in tasks)
    assert all("https://alertmanager.example.com" in t["html_notes"] for t in tasks)

    wrong = requests.post(stack.url("ingest").rstrip("/") + "/alertmanager",
                          data=json.dumps(firing).encode(), timeout=10,
                          headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401

    resolved = _named(json.loads((DATA / "alertmanager" / "resolved.json").read_text()), run)
    assert _send(stack, resolved).status_code == 202
    [done] = [t for t in tasks if resolved["alerts"][0]["annotations"]["summary"] in t["name"]]
    eventually(lambda: asana.tasks[done["gid"]]["completed"], what="the resolved alert's task")
    [other] = [t for t in tasks if t["gid"] != done["gid"]]
    assert not asana.tasks[other["gid"]]["completed"]
    assert len(_tasks(asana, f"#{run}")) == 2

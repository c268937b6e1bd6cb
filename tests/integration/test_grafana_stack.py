"""End to end: a Grafana notification signed over timestamp:body → a task on the owning team's
board; the same request replayed outside the window is refused; the resolve completes it."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from scripts.localstack import LOCAL_DEFAULTS, Stack
from shared.routing.teams_file import load_teams
from shared.sources.grafana.verify import signature
from tests.fakes.asana_server import FakeAsana
from tests.polling import eventually

DATA = Path(__file__).resolve().parent.parent / "data"
CONFIG = load_teams(str(DATA.parent.parent / "teams.yaml"))
STAMP = LOCAL_DEFAULTS["GRAFANA_TIMESTAMP_HEADER"]


def _post(stack: Stack, body: bytes, stamp: int) -> requests.Response:
    sig = signature(LOCAL_DEFAULTS["GRAFANA_WEBHOOK_SECRET"], body, str(stamp))
    return requests.post(stack.url("ingest").rstrip("/") + "/grafana", data=body, timeout=10,
                         headers={"Content-Type": "application/json",
                                  "X-Grafana-Alerting-Signature": sig, STAMP: str(stamp)})


def _body(name: str, run: str) -> bytes:
    payload: dict[str, Any] = json.loads((DATA / "grafana" / name).read_text())
    for alert in payload["alerts"]:
        alert["fingerprint"] = f"{run}{alert['fingerprint'][:8]}"
        alert["annotations"]["summary"] += f" #{run}"
    return json.dumps(payload).encode()


def test_a_signed_firing_opens_a_task_a_replay_is_refused_and_the_resolve_completes_it(
        stack: Stack, asana: FakeAsana) -> None:
    run = uuid.uuid4().hex[:8]
    firing = _body("firing.json", run)
    assert _post(stack, firing, int(time.time())).status_code == 202
    [task] = eventually(lambda: [t for t in list(asana.tasks.values()) if f"#{run}" in t["name"]],
                        what="the alert's task")
    assert [p["gid"] for p in task["projects"]] == [CONFIG.team("Payments").backlog_project_gid]
    assert "viewPanel=4" in task["html_notes"] and "Silence" in task["html_notes"]

    assert _post(stack, firing, int(time.time()) - 3600).status_code == 401

    assert _post(stack, _body("resolved.json", run), int(time.time())).status_code == 202
    eventually(lambda: asana.tasks[task["gid"]]["completed"], what="the task completed")
    assert len([t for t in list(asana.tasks.values()) if f"#{run}" in t["name"]]) == 1

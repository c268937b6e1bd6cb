"""Azure Monitor end to end: an action group's webhook → ingest → Pub/Sub → worker → (fake)
Asana, and Secure Webhook tokens checked against a local fake of Entra's keys."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from scripts.localstack import LOCAL_DEFAULTS, Stack, free_port, start_function
from shared.routing.teams_file import load_teams
from tests.fakes.asana_server import FakeAsana
from tests.fakes.entra_keys import AUDIENCE, EntraKeys
from tests.polling import eventually

from .pubsub_helpers import pull, tap

DATA = Path(__file__).resolve().parent.parent / "data" / "azure"
CONFIG = load_teams(str(DATA.parents[2] / "teams.yaml"))
TOKEN = LOCAL_DEFAULTS["AZURE_WEBHOOK_TOKEN"]


def alert_body(name: str, alert_guid: str, rule: str) -> bytes:
    payload = json.loads((DATA / name).read_text())
    essentials = payload["data"]["essentials"]
    subscription = essentials["alertId"].split("/")[2]
    essentials["alertId"] = (f"/subscriptions/{subscription}/providers/"
                             f"Microsoft.AlertsManagement/alerts/{alert_guid}")
    essentials["alertRule"] = rule  # lets the test find its task
    payload["data"]["customProperties"]["service"] = "payments-api"  # Payments' matcher
    return json.dumps(payload).encode()


def post(url: str, body: bytes, **kwargs: Any) -> requests.Response:
    return requests.post(f"{url}/azure", data=body, timeout=10,
                         headers={"Content-Type": "application/json", **kwargs.pop("headers", {})},
                         **kwargs)


def tasks_named(asana: FakeAsana, needle: str) -> list[dict[str, Any]]:
    return [t for t in list(asana.tasks.values()) if needle in t["name"]]


def test_fired_then_resolved_is_one_task_on_the_owning_team_completed(
        stack: Stack, asana: FakeAsana) -> None:
    guid, rule = str(uuid.uuid4()), f"cpu-high-{uuid.uuid4().hex[:8]}"
    fired = post(stack.url("ingest"), alert_body("metric_fired.json", guid, rule),
                 params={"token": TOKEN})
    assert fired.status_code == 202, fired.text
    [task] = eventually(lambda: tasks_named(asana, rule), what="the alert's task")
    backlog = CONFIG.team("Payments").backlog_project_gid
    assert [p["gid"] for p in task["projects"]] == [backlog]
    assert "portal.azure.com" in task["html_notes"]
    resolved = post(stack.url("ingest"), alert_body("metric_resolved.json", guid, rule),
                    params={"token": TOKEN})
    assert resolved.status_code == 202, resolved.text
    eventually(lambda: asana.tasks[task["gid"]]["completed"], what="the task completed")
    assert len(tasks_named(asana, rule)) == 1


def test_a_forged_url_token_is_401_and_never_published(stack: Stack, subscriber: Any) -> None:
    events = tap(subscriber, stack.env["GOOGLE_CLOUD_PROJECT"], stack.env["EVENTS_TOPIC"])
    body = alert_body("metric_fired.json", str(uuid.uuid4()), "forged")
    answers = [post(stack.url("ingest"), body, params={"token": "forged"}),
               post(stack.url("ingest"), body),
               post(stack.url("ingest"), body, headers={"Authorization": "Bearer x.y.z"})]
    assert [a.status_code for a in answers] == [401, 401, 401]
    assert pull(subscriber, events, timeout=2.0) == []


@pytest.fixture
def entra() -> Iterator[EntraKeys]:
    fake = EntraKeys().start()
    yield fake
    fake.stop()


def test_secure_webhook_tokens_are_checked_against_the_tenant_s_keys(
        stack: Stack, subscriber: Any, entra: EntraKeys, tmp_path: Path) -> None:
    events = tap(subscriber, stack.env["GOOGLE_CLOUD_PROJECT"], stack.env["EVENTS_TOPIC"])
    env = {**stack.env, "ENVIRONMENT": "dev", "AZURE_TENANT_ID": entra.tenant,
           "AZURE_AUDIENCES": AUDIENCE, "AZURE_ENTRA_KEYS_URL": entra.keys_url}
    env.pop("AZURE_WEBHOOK_TOKEN", None)  # Secure Webhook alone
    ingest = start_function("ingest", "ingest", free_port(), env, tmp_path)
    body = alert_body("metric_fired.json", str(uuid.uuid4()), "secure")
    try:
        entra.status = 503  # Entra down before ingest has read the keys: Azure retries 503
        down = post(ingest.url, body, headers={"Authorization": f"Bearer {entra.token()}"})
        entra.status = 200
        good = post(ingest.url, body, headers={"Authorization": f"Bearer {entra.token()}"})
        refused = [
            post(ingest.url, body, headers={"Authorization":
                                            f"Bearer {entra.token(audience='api://other')}"}),
            post(ingest.url, body, headers={"Authorization":
                                            f"Bearer {entra.token(roles=['Reader'])}"}),
            post(ingest.url, body, params={"token": TOKEN}),  # no URL tokens configured
        ]
        # A kid the tenant does not publish: refused, without asking Entra again so soon.
        reads = len(entra.requests)
        refused.append(post(ingest.url, body, headers={
            "Authorization": f"Bearer {entra.token(kid=entra.rotate())}"}))
        assert len(entra.requests) == reads
    finally:
        ingest.stop()
    assert good.status_code == 202, good.text
    assert [r.status_code for r in refused] == [401, 401, 401, 401]
    assert down.status_code == 503
    [message] = pull(subscriber, events)
    assert message.data == body and message.attributes["source"] == "azure"
    lines = [json.loads(line) for line in ingest.log_path.read_text().splitlines()
             if line.startswith("{")]
    rejected = [line for line in lines if line.get("event") == "webhook_rejected"
                and line.get("source") == "azure"]  # not the readiness probe's GET
    assert len(rejected) == 4, rejected
    assert any(line.get("event") == "publish_failed" for line in lines)  # the 503, logged


def test_pubsub_unreachable_answers_503_which_azure_retries(stack: Stack,
                                                           tmp_path: Path) -> None:
    # Azure retries a webhook only on 408, 429, 503 and 504: nothing stored must be a 503.
    env = {**stack.env, "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{free_port()}"}  # nobody listens
    ingest = start_function("ingest", "ingest", free_port(), env, tmp_path)
    try:
        response = post(ingest.url, alert_body("metric_fired.json", str(uuid.uuid4()), "down"),
                        params={"token": TOKEN})
    finally:
        ingest.stop()
    assert response.status_code == 503
    assert response.json() == {"error": "temporarily unavailable, retry later"}

"""End to end on the emulators: a task completed in Asana resolves its Sentry issue, once.

This module runs its own stack: a teams file with ``sync_back: true`` and the ingest URL the
worker registers with the fake Asana, which then performs the handshake against it and signs
its deliveries, like Asana.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from scripts.localstack import (
    LOCAL_DEFAULTS,
    REPO,
    Stack,
    Topology,
    free_port,
    sentry_headers,
    start_stack,
)
from shared import asana_webhooks
from shared.adapters.asana_hooks import FirestoreHooks
from shared.asana_webhooks import Hook
from tests.fakes.asana_server import FakeAsana
from tests.fakes.link_target_servers import FakeSentryApi

from .conftest import ASANA_TOKEN, PROJECT, SENTRY_TOKEN
from .test_worker_stack import DATA, eventually, send_sentry, tasks_named

BACKLOG = "1209000000003001"  # Investigations, which the Sentry fixtures route to
PERSON = "1209990000000042"  # someone on call, completing the task in Asana's app


@pytest.fixture(scope="module")
def sync_asana() -> Iterator[FakeAsana]:
    fake = FakeAsana(token=ASANA_TOKEN)
    fake.add_project(BACKLOG, "Investigations backlog")
    with fake:
        yield fake


@pytest.fixture(scope="module")
def sync_sentry() -> Iterator[FakeSentryApi]:
    with FakeSentryApi(token=SENTRY_TOKEN, org="acme") as fake:
        yield fake


@pytest.fixture(scope="module")
def sync_stack(tmp_path_factory: pytest.TempPathFactory, sync_asana: FakeAsana,
               sync_sentry: FakeSentryApi) -> Iterator[Stack]:
    log_dir = tmp_path_factory.mktemp("sync-stack")
    teams = (REPO / "teams.yaml").read_text().replace(
        '    team_field_option_gid: "1209000000000113"\n',
        '    team_field_option_gid: "1209000000000113"\n    sync_back: true\n')
    assert "sync_back: true" in teams
    (log_dir / "teams.yaml").write_text(teams)
    suffix = uuid.uuid4().hex[:8]
    topology = Topology(PROJECT, f"sync-{suffix}", f"sync-dead-{suffix}", f"sync-{suffix}-push",
                        f"sync-dead-{suffix}-pull", max_delivery_attempts=5)
    ports = {name: free_port() for name in ("ingest", "worker", "pubsub", "firestore")}
    env = {k: v for k, v in os.environ.items() if not k.endswith("_EMULATOR_HOST")}
    env.update(LOCAL_DEFAULTS)
    env.update({"GOOGLE_CLOUD_PROJECT": PROJECT, "ENVIRONMENT": "prod",
                "DRY_RUN_FILE": str(log_dir / "dry-run.jsonl"),
                "ASANA_API_URL": sync_asana.url, "ASANA_PAT": ASANA_TOKEN,
                "ASANA_MAX_ATTEMPTS": "2", "SENTRY_API_URL": sync_sentry.url,
                "SENTRY_AUTH_TOKEN": SENTRY_TOKEN, "SENTRY_ORG": "acme",
                "ASANA_WEBHOOK_TARGET_URL": f"http://127.0.0.1:{ports['ingest']}/",
                "TEAMS_FILE": str(log_dir / "teams.yaml")})
    started = start_stack(env=env, ports=ports, log_dir=Path(log_dir), topology=topology)
    try:
        yield started
    finally:
        started.stop()


def send_now(stack: Stack, fixture: str, resource: str, issue_id: str) -> None:
    """Send a Sentry issue webhook that happened now (later than the Asana change)."""
    payload = json.loads((DATA / fixture).read_text())
    issue = payload["data"]["issue"]
    issue["id"] = issue_id
    issue["lastSeen"] = datetime.now(UTC).isoformat()
    body = json.dumps(payload).encode()
    response = requests.post(stack.url("ingest"), data=body, timeout=10,
                             headers=sentry_headers(body, resource))
    assert response.status_code == 202, response.text


def worker_logged(stack: Stack, text: str) -> bool:
    [worker] = [s for s in stack.services if s.name == "worker"]
    return text in Path(worker.log_path).read_text(errors="replace")


def sentry_puts(sentry: FakeSentryApi, issue_id: str) -> list[object]:
    return [r.body for r in list(sentry.requests)
            if r.method == "PUT" and r.path.endswith(f"/issues/{issue_id}/")]


def comments(asana: FakeAsana, task_gid: str) -> int:
    return len(asana.stories.get(task_gid, []))


def test_task_completed_in_asana_resolves_the_sentry_issue_once(
        sync_stack: Stack, sync_asana: FakeAsana, sync_sentry: FakeSentryApi) -> None:
    issue_id = str(uuid.uuid4().int % 10**12)
    sync_sentry.add_org_issue(issue_id)
    send_sentry(sync_stack, "sentry_event_alert.json", "event_alert", issue_id)
    [task] = eventually(lambda: tasks_named(sync_asana, f"#{issue_id}"))
    # The first task in the project registered its webhook, handshake included.
    [hook] = eventually(lambda: list(sync_asana.webhooks.values()))
    assert hook["resource"]["gid"] == BACKLOG
    assert hook["filters"] == [{"resource_type": "task", "action": "changed",
                                "fields": ["completed"]}]

    sync_asana.complete_as(task["gid"], True, PERSON)
    eventually(lambda: sync_sentry.issues[issue_id]["status"] == "resolved")
    assert sentry_puts(sync_sentry, issue_id) == [{"status": "resolved"}]

    # Sentry's own "resolved" webhook that follows is a SKIP: no comment, no second completion.
    before = comments(sync_asana, task["gid"])
    send_now(sync_stack, "sentry_issue_resolved.json", "issue", issue_id)
    eventually(lambda: worker_logged(sync_stack, f"alert sentry:issue:{issue_id}: skip "
                                                 "(task already completed)"))
    assert comments(sync_asana, task["gid"]) == before
    assert not [r for r in list(sync_asana.requests)
                if r.method == "PUT" and r.path == f"/tasks/{task['gid']}"]

    # Sentry says the issue regressed: the worker reopens the task with a comment.
    send_now(sync_stack, "sentry_issue_unresolved_regressed.json", "issue", issue_id)
    eventually(lambda: comments(sync_asana, task["gid"]) > before)

    # The worker reopened the task itself: Asana's event for that must not unresolve Sentry.
    sync_asana.wait_for_deliveries()
    assert sync_asana.tasks[task["gid"]]["completed"] is False
    eventually(lambda: worker_logged(sync_stack, f"task {task['gid']}: skip "
                                                 "(changed by alert-bridge itself)"))
    assert [status for _, status in sync_asana.deliveries] == [202, 202]
    assert sentry_puts(sync_sentry, issue_id) == [{"status": "resolved"}]

    # A person reopens after completing again: Sentry follows.
    sync_asana.complete_as(task["gid"], True, PERSON)
    eventually(lambda: len(sentry_puts(sync_sentry, issue_id)) == 2)
    sync_asana.complete_as(task["gid"], False, PERSON)
    eventually(lambda: sync_sentry.issues[issue_id]["status"] == "unresolved")


def test_heartbeat_forged_and_unsolicited_requests(
        sync_stack: Stack, sync_asana: FakeAsana, sync_sentry: FakeSentryApi) -> None:
    hook_gid = eventually(lambda: next(iter(sync_asana.webhooks), None))
    assert sync_asana.heartbeat(hook_gid).status_code == 200
    forged = sync_asana.deliver(hook_gid, [{"resource": {"gid": "1", "resource_type": "task"}}],
                                secret="not-the-secret")
    assert forged.status_code == 401
    target = asana_webhooks.target_url(sync_stack.url("ingest").rstrip("/"), BACKLOG)
    unsolicited = requests.post(target, headers={"X-Hook-Secret": "attacker"}, timeout=10)
    assert (unsolicited.status_code, unsolicited.headers.get("X-Hook-Secret")) == (401, None)


def test_operators_list_register_and_delete_webhooks(
        sync_stack: Stack, sync_asana: FakeAsana, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from shared import asana_webhooks_cli

    for name in ("GOOGLE_CLOUD_PROJECT", "FIRESTORE_EMULATOR_HOST", "ASANA_API_URL",
                 "ASANA_PAT", "TEAMS_FILE", "ASANA_WEBHOOK_TARGET_URL"):
        monkeypatch.setenv(name, sync_stack.env[name])
    project = "1209000000009001"
    sync_asana.add_project(project, "Ops board")

    assert asana_webhooks_cli.main(["register", "--project", project]) == 0
    [gid] = [g for g, h in sync_asana.webhooks.items() if h["resource"]["gid"] == project]
    assert f"project {project}: webhook {gid}" in capsys.readouterr().out
    assert asana_webhooks_cli.main(["register", "--project", project]) == 0  # known: no call
    assert len([h for h in sync_asana.webhooks.values()
                if h["resource"]["gid"] == project]) == 1

    assert asana_webhooks_cli.main(["list"]) == 0
    listed = capsys.readouterr().out
    assert f"{gid}  project {project} (Ops board)  active  secret stored" in listed

    assert asana_webhooks_cli.main(["delete", gid]) == 0
    assert f"deleted webhook {gid} of project {project}" in capsys.readouterr().out
    assert gid not in sync_asana.webhooks
    assert FirestoreHooks(PROJECT, "asana_webhooks").get(project) == (None, None)
    assert asana_webhooks_cli.main(["list"]) == 0
    assert project not in capsys.readouterr().out


@pytest.fixture(params=["memory", "firestore"])
def hooks(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> object:
    if request.param == "memory":
        from tests.unit.test_asana_webhooks import MemoryHooks

        return MemoryHooks()
    stack: Stack = request.getfixturevalue("sync_stack")
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", stack.env["FIRESTORE_EMULATOR_HOST"])
    return FirestoreHooks(PROJECT, f"hooks-{uuid.uuid4().hex[:8]}")


def test_hook_store_contract(hooks: FirestoreHooks) -> None:
    now = datetime.now(UTC)
    pending = Hook("1209", pending_until=now)
    assert hooks.get("1209") == (None, None)
    assert hooks.create(pending) is True
    assert hooks.create(pending) is False  # a second registration loses
    stored, version = hooks.get("1209")
    assert stored == pending
    assert hooks.replace(Hook("1209", secret="s"), version) is True
    assert hooks.replace(Hook("1209", secret="other"), version) is False  # replayed handshake
    assert hooks.get("1209")[0] == Hook("1209", secret="s")


def test_ledger_index_finds_the_alert_of_a_task(sync_stack: Stack,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.adapters.firestore_ledger import FirestoreLedger
    from shared.adapters.ledger_queries import LedgerQueries
    from shared.ledger import Action, Delivery, Step, after, claim

    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", sync_stack.env["FIRESTORE_EMULATOR_HOST"])
    collection = f"ledger-{uuid.uuid4().hex[:8]}"
    store, index = FirestoreLedger(PROJECT, collection), LedgerQueries(PROJECT, collection)
    now = datetime.now(UTC)
    for n in (1, 2):
        opened = after(claim(f"sentry:issue:{n}", now, project_gid="p"), Step.CREATE,
                       Delivery(Action.TRIGGERED, f"d{n}"), now, task_gid=f"120{n}")
        assert store.create(opened) is not None
    found = index.find_by_task("1202")
    assert found is not None and found.key == "sentry:issue:2"
    assert index.find_by_task("1203") is None

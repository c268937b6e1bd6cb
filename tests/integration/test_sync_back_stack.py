"""End to end on the emulators: a task completed in Asana resolves its Sentry issue, once.

This module runs its own stack: a teams file with ``sync_back: true`` and the ingest URL the
worker registers with the fake Asana, which then performs the handshake against it and signs
its deliveries, like Asana. Reconciliation runs in this process against the same emulators.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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
from shared.core.settings import load_settings
from shared.sources.asana.hooks_store import FirestoreHooks
from shared.sources.asana.registration import Registrar
from shared.sources.asana.sync_client import AsanaSyncClient
from shared.sources.asana.webhooks import Hook
from tests.fakes.asana_server import FakeAsana
from tests.fakes.link_target_servers import FakeSentryApi

from .conftest import ASANA_TOKEN, PROJECT, SENTRY_TOKEN
from .test_worker_stack import DATA, eventually, send_sentry, tasks_named

BACKLOG = "1209000000003001"  # Investigations, which the Sentry fixtures route to
PERSON = "1209990000000042"  # someone on call, completing the task in Asana's app
HOOKS_DATABASE = "alert-bridge-hooks"  # ASANA_HOOKS_DATABASE's default


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


def hooks_store(stack: Stack, monkeypatch: pytest.MonkeyPatch,
                collection: str = "asana_webhooks") -> FirestoreHooks:
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", stack.env["FIRESTORE_EMULATOR_HOST"])
    return FirestoreHooks(PROJECT, collection, HOOKS_DATABASE)


def backlog_webhook(asana: FakeAsana) -> str:
    return str(eventually(lambda: next((gid for gid, h in list(asana.webhooks.items())
                                         if h["resource"]["gid"] == BACKLOG), None)))


def test_heartbeat_forged_and_unsolicited_requests(
        sync_stack: Stack, sync_asana: FakeAsana, sync_sentry: FakeSentryApi,
        monkeypatch: pytest.MonkeyPatch) -> None:
    hook_gid = backlog_webhook(sync_asana)
    assert sync_asana.heartbeat(hook_gid).status_code == 200
    # The heartbeat was written down on the project's hook document, in the hooks database.
    recorded = hooks_store(sync_stack, monkeypatch).get(BACKLOG)[0]
    assert recorded is not None and recorded.last_delivery_at is not None
    forged = sync_asana.deliver(hook_gid, [{"resource": {"gid": "1", "resource_type": "task"}}],
                                secret="not-the-secret")
    assert forged.status_code == 401
    bare = f"{sync_stack.url('ingest').rstrip('/')}?source=asana&project={BACKLOG}"
    for url in (bare, bare + "&token=guessed"):
        unsolicited = requests.post(url, headers={"X-Hook-Secret": "attacker"}, timeout=10)
        assert (unsolicited.status_code, unsolicited.headers.get("X-Hook-Secret")) == (401, None)
    # Rightly signed, but without the target's token or with another one: refused too.
    target = sync_asana.webhooks[hook_gid]["target"]
    bare = target.split("&token=")[0]
    try:
        for url in (bare, bare + "&token=" + "A" * 43):
            sync_asana.webhooks[hook_gid]["target"] = url
            assert sync_asana.heartbeat(hook_gid).status_code == 401
    finally:
        sync_asana.webhooks[hook_gid]["target"] = target


def test_operators_list_register_and_delete_webhooks(
        sync_stack: Stack, sync_asana: FakeAsana, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from shared.sources.asana import webhooks_cli as asana_webhooks_cli

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
    assert f"{gid}  project {project} (Ops board)  active  secret stored  health ok" in listed
    assert "token=" not in listed  # the target's token is never printed

    sync_asana.deactivate_webhook(gid, failure="500 Server Error\n\nowner john.doe@example.com")
    assert asana_webhooks_cli.main(["list"]) == 0
    listed = capsys.readouterr().out
    assert f"{gid}  project {project} (Ops board)  INACTIVE  secret stored  health inactive" \
        in listed
    assert "last failure: 500 Server Error" in listed and "john.doe" not in listed

    assert asana_webhooks_cli.main(["register", "--renew", "--project", project]) == 0
    [renewed] = [g for g, h in sync_asana.webhooks.items() if h["resource"]["gid"] == project]
    assert renewed != gid and f"project {project}: webhook {renewed}" in capsys.readouterr().out

    assert asana_webhooks_cli.main(["delete", renewed]) == 0
    assert f"deleted webhook {renewed} of project {project}" in capsys.readouterr().out
    assert renewed not in sync_asana.webhooks
    assert FirestoreHooks(PROJECT, "asana_webhooks", HOOKS_DATABASE).get(project) == (None, None)
    assert asana_webhooks_cli.main(["list"]) == 0
    assert f"project {project}" not in capsys.readouterr().out


@pytest.fixture(params=["memory", "firestore"])
def hooks(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> object:
    if request.param == "memory":
        from tests.unit.sources.asana.test_asana_webhooks import MemoryHooks

        return MemoryHooks()
    stack: Stack = request.getfixturevalue("sync_stack")
    return hooks_store(stack, monkeypatch, f"hooks-{uuid.uuid4().hex[:8]}")


def test_hook_store_contract(hooks: FirestoreHooks) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    pending = Hook("1209", pending_until=now, token_hash="ab" * 32)
    assert hooks.get("1209") == (None, None)
    assert hooks.touch("1209", now) is False  # nothing to record a delivery on
    assert hooks.create(pending) is True
    assert hooks.create(pending) is False  # a second registration loses
    stored, version = hooks.get("1209")
    assert stored == pending
    confirmed = Hook("1209", secret="s", token_hash="ab" * 32)
    assert hooks.replace(confirmed, version) is True
    assert hooks.replace(Hook("1209", secret="other"), version) is False  # replayed handshake
    assert hooks.touch("1209", now) is True
    hooks.compared("1209", now)
    hooks.compared("1300", now)  # a project without a registration yet
    assert hooks.get("1209")[0] == Hook("1209", secret="s", token_hash="ab" * 32,
                                        last_delivery_at=now, compared_at=now)
    assert sorted(h.project_gid for h in hooks.all()) == ["1209", "1300"]


def test_the_hooks_live_in_their_own_database(sync_stack: Stack,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from google.cloud import firestore

    collection = f"hooks-{uuid.uuid4().hex[:8]}"
    hooks_store(sync_stack, monkeypatch, collection).create(Hook("1209", secret="s"))
    ledger_database = firestore.Client(project=PROJECT).collection(collection)
    assert not ledger_database.document("1209").get().exists
    hooks_database = firestore.Client(project=PROJECT, database=HOOKS_DATABASE)
    assert hooks_database.collection(collection).document("1209").get().exists


def test_ledger_index_finds_the_alert_of_a_task(sync_stack: Stack,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.adapters.firestore_ledger import FirestoreLedger
    from shared.adapters.ledger_queries import LedgerQueries
    from shared.core.ledger import Action, Delivery, Step, after, claim

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


class Hijacker:
    """Asana's webhook calls, with an attacker racing the handshake of every registration.

    Project gids are in every task URL, so the attacker knows the target's project; it posts
    its own X-Hook-Secret while the registration is pending, without the token and with a
    guessed one, before Asana's real handshake.
    """

    def __init__(self, client: AsanaSyncClient) -> None:
        self.client, self.answers = client, list[int]()

    def webhooks(self, workspace_gid: str, resource: str | None = None) -> list[dict[str, Any]]:
        return self.client.webhooks(workspace_gid, resource)

    def delete_webhook(self, webhook_gid: str) -> None:
        self.client.delete_webhook(webhook_gid)

    def create_webhook(self, workspace_gid: str, resource: str, target: str,
                       filters: Sequence[Mapping[str, object]]) -> str:
        bare = target.split("&token=")[0]
        for url in (bare, bare + "&token=" + "A" * 43):
            answer = requests.post(url, headers={"X-Hook-Secret": "attacker-secret"}, timeout=10)
            self.answers.append(answer.status_code)
        return self.client.create_webhook(workspace_gid, resource, target, filters)


def test_an_attacker_in_the_pending_window_is_refused_and_the_real_handshake_succeeds(
        sync_stack: Stack, sync_asana: FakeAsana, monkeypatch: pytest.MonkeyPatch) -> None:
    project = "1209000000009101"
    sync_asana.add_project(project, "Attacked board")
    hooks = hooks_store(sync_stack, monkeypatch)
    hijacker = Hijacker(AsanaSyncClient(sync_asana.url, ASANA_TOKEN, max_attempts=1))
    registrar = Registrar(hooks, hijacker, sync_stack.env["ASANA_WEBHOOK_TARGET_URL"].rstrip("/"),
                          lambda gid: "1209000000000001", lambda team: True,
                          lambda: datetime.now(UTC))
    gid = registrar.ensure(project)
    assert hijacker.answers == [401, 401]
    assert gid is not None and gid in sync_asana.webhooks
    # Asana's secret was stored, not the attacker's: Asana's deliveries verify, the attacker's
    # do not.
    assert sync_asana.heartbeat(gid).status_code == 200
    assert sync_asana.deliver(gid, [], secret="attacker-secret").status_code == 401


def run_reconcile(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """One reconciliation run in this process, wired like the reconcile function."""
    from shared.adapters.ledger_queries import LedgerQueries
    from shared.adapters.pubsub import Publisher
    from shared.adapters.secrets import SecretSource
    from shared.flows.reconcile import ReconcileDeps, reconcile
    from shared.sources.asana.build import reconciler
    from shared.sources.build import Build, ReconcileParts

    for name in ("FIRESTORE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT"):
        monkeypatch.setenv(name, stack.env[name])
    settings = load_settings(stack.env)
    ledger = LedgerQueries(PROJECT, settings.ledger_collection)
    publish = Publisher(PROJECT, stack.env["EVENTS_TOPIC"]).publish
    check = reconciler(Build(settings, SecretSource(stack.env, PROJECT, "x-", 60),
                             lambda: datetime.now(UTC)),
                       ReconcileParts(ledger, publish, ledger.by_task_gids))
    deps = ReconcileDeps(ledger=ledger, publish=publish, now=lambda: datetime.now(UTC),
                         lookback_minutes=60, grace_minutes=5, reconcilers=[check])
    return reconcile(deps, f"it-{uuid.uuid4().hex[:8]}").counts()


def test_a_completion_made_while_the_webhook_was_deleted_reaches_sentry_after_one_run(
        sync_stack: Stack, sync_asana: FakeAsana, sync_sentry: FakeSentryApi,
        monkeypatch: pytest.MonkeyPatch) -> None:
    issue_id = str(uuid.uuid4().int % 10**12)
    sync_sentry.add_org_issue(issue_id)
    send_sentry(sync_stack, "sentry_event_alert.json", "event_alert", issue_id)
    [task] = eventually(lambda: tasks_named(sync_asana, f"#{issue_id}"))
    old = backlog_webhook(sync_asana)
    eventually(lambda: (hooks_store(sync_stack, monkeypatch).get(BACKLOG)[0] or Hook("")
                        ).webhook_gid == old)

    sync_asana.drop_webhook(old)  # Asana gave up on it after 24 h of failed deliveries
    sync_asana.complete_as(task["gid"], True, PERSON)  # ... so this change is never delivered
    # It happened a while ago, outside the grace left to webhooks still on their way.
    sync_asana.tasks[task["gid"]]["modified_at"] = (
        datetime.now(UTC) - timedelta(minutes=10)).isoformat().replace("+00:00", "Z")
    sync_asana.wait_for_deliveries()
    assert sync_sentry.issues[issue_id]["status"] != "resolved"

    counts = run_reconcile(sync_stack, monkeypatch)
    assert counts["asana_webhooks_unhealthy"] >= 1 and counts["asana_webhooks_registered"] >= 1
    assert counts["asana_task_completed"] == 1
    eventually(lambda: sync_sentry.issues[issue_id]["status"] == "resolved",
               what="the Sentry issue resolved by the synthetic Asana message")
    assert sentry_puts(sync_sentry, issue_id) == [{"status": "resolved"}]
    # The webhook healed: a new one, with a new token, whose deliveries verify.
    new = backlog_webhook(sync_asana)
    assert new != old
    assert sync_asana.heartbeat(new).status_code == 200

    # The next run finds everything agreeing: nothing passed on twice.
    assert run_reconcile(sync_stack, monkeypatch).get("asana_published", 0) == 0

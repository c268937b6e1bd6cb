"""Reconciliation's sync direction over in-memory doubles: webhooks healed, missed changes
passed on as synthetic Asana messages, one failure never stopping the rest."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest

from shared.core.errors import Transient
from shared.flows.reconcile import ReconcileDeps, reconcile
from shared.routing.teams_file import parse_teams
from shared.sources.asana import reconcile as asana_reconcile
from shared.sources.asana import webhooks as asana_webhooks
from shared.sources.asana.reconcile import SyncCheckDeps
from shared.sources.asana.registration import Registrar
from shared.sources.drift import Reconciler
from tests.unit.sources.asana.test_asana_registration import BASE, PROJECT, WORKSPACE, Webhooks
from tests.unit.sources.asana.test_asana_webhooks import NOW, MemoryHooks
from tests.unit.test_ingest import FakeTopic

TEAMS = f"""settings:
  default_team: Payments
teams:
  - name: Payments
    asana_backlog_id: "{PROJECT}"
    sync_back: true
  - name: Growth
    asana_backlog_id: "1300"
"""
TASK = "1201"
PERSON = "1209990000000042"


class Asana(Webhooks):
    """Asana's webhooks (with the handshake through ingest) and its paged task lists."""

    def __init__(self, hooks: MemoryHooks) -> None:
        super().__init__(hooks)
        self.tasks: dict[str, dict[str, Any]] = {}  # by gid; all in PROJECT
        self.listings: list[tuple[str, datetime | None]] = []
        self.failing: set[str] = set()  # "webhooks", or a project gid

    def webhooks(self, workspace_gid: str, resource: str | None = None) -> list[dict[str, Any]]:
        if "webhooks" in self.failing and resource is None:
            raise Transient("asana GET /webhooks: 503")
        return super().webhooks(workspace_gid, resource)

    def project_tasks(self, project_gid: str, modified_since: datetime | None
                      ) -> Iterable[dict[str, Any]]:
        self.listings.append((project_gid, modified_since))
        if project_gid in self.failing:
            raise Transient(f"asana GET /tasks?project={project_gid}: 503")
        tasks = self.tasks.values() if project_gid == PROJECT else []
        return [dict(t) for t in tasks if modified_since is None
                or datetime.fromisoformat(t["modified_at"]) >= modified_since]

    def complete(self, gid: str, completed: bool, at: datetime) -> None:
        """A person completes or reopens the task in Asana."""
        self.tasks[gid] = {"gid": gid, "completed": completed, "modified_at": at.isoformat(),
                           "completed_by": {"gid": PERSON} if completed else None}


class World:
    """Hook documents, Asana, the ledger's records and the events topic of one test."""

    def __init__(self, teams: str = TEAMS) -> None:
        self.hooks = MemoryHooks()
        self.asana = Asana(self.hooks)
        self.records: dict[str, dict[str, Any]] = {}
        self.topic = FakeTopic()
        self.now = NOW
        self.config = parse_teams(teams)
        tokens = iter(f"token-{n}" for n in range(1, 100))
        self.registrar = Registrar(self.hooks, self.asana, BASE, lambda project: WORKSPACE,
                                   lambda team: True, lambda: self.now,
                                   new_token=lambda: next(tokens))

    def deps(self) -> SyncCheckDeps:
        return SyncCheckDeps(config=lambda: self.config, hooks=self.hooks, asana=self.asana,
                             registrar=self.registrar, workspace_of=lambda p: WORKSPACE,
                             records_by_task=self.by_task, publish=self.topic.publish,
                             now=lambda: self.now, target_base_url=BASE)

    def by_task(self, gids: Sequence[str]) -> Mapping[str, Mapping[str, Any]]:
        return {gid: self.records[gid] for gid in gids if gid in self.records}

    def run(self, dry_run: bool = False) -> dict[str, int]:
        return asana_reconcile.run(self.deps(), "run-1", dry_run)

    def registered(self) -> str:
        """Register the project's webhook as the worker would on its first task."""
        self.registrar.ensure(PROJECT)
        [webhook] = self.asana.listed
        webhook["last_success_at"] = (NOW - timedelta(minutes=30)).isoformat()
        webhook["created_at"] = (NOW - timedelta(days=2)).isoformat()
        return str(webhook["gid"])

    def open_alert(self, state: str = "open", team: str = "Payments") -> None:
        self.records[TASK] = {"key": "sentry:issue:4711", "state": state, "team": team,
                              "task_gid": TASK, "project_gid": PROJECT,
                              "expires_at": NOW + timedelta(days=180)}


def unhealthy(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.__dict__["project"], r.__dict__["health"]) for r in caplog.records
            if r.__dict__.get("event") == "asana_webhook_unhealthy"]


def test_a_webhook_asana_deleted_is_registered_again_with_a_new_token(
        caplog: pytest.LogCaptureFixture) -> None:
    world = World()
    old = world.registered()
    world.asana.listed.clear()  # deleted after 24 h of failed deliveries
    caplog.set_level(logging.INFO)
    counts = world.run()
    assert unhealthy(caplog) == [(PROJECT, "deleted")]
    assert (counts["asana_webhooks_unhealthy"], counts["asana_webhooks_registered"]) == (1, 1)
    [new] = world.asana.listed
    assert new["gid"] != old and new["target"] == asana_webhooks.target_url(BASE, PROJECT,
                                                                            "token-2")
    stored = world.hooks.hooks[PROJECT]
    assert (stored.webhook_gid, stored.secret) == (new["gid"], "secret-2")
    assert any(r.__dict__.get("event") == "asana_webhook_reregistered" for r in caplog.records)


def test_a_webhook_marked_inactive_is_replaced(caplog: pytest.LogCaptureFixture) -> None:
    world = World()
    old = world.registered()
    world.asana.listed[0].update(active=False, last_failure_content="410 Gone")
    counts = world.run()
    assert unhealthy(caplog) == [(PROJECT, "inactive")]
    assert world.asana.deleted == [old] and counts["asana_webhooks_registered"] == 1
    assert [h["active"] for h in world.asana.listed] == [True]


def test_a_silent_webhook_is_flagged_not_replaced(caplog: pytest.LogCaptureFixture) -> None:
    world = World()
    world.registered()
    world.asana.listed[0]["last_success_at"] = (NOW - timedelta(hours=10)).isoformat()
    counts = world.run()
    assert unhealthy(caplog) == [(PROJECT, "silent")]
    assert counts.get("asana_webhooks_registered", 0) == 0 and world.asana.deleted == []
    [line] = [r for r in caplog.records if r.__dict__.get("event") == "asana_webhook_unhealthy"]
    assert line.__dict__["last_success"] == (NOW - timedelta(hours=10)).isoformat()


def test_a_healthy_webhook_is_left_alone(caplog: pytest.LogCaptureFixture) -> None:
    world = World()
    world.registered()
    counts = world.run()
    assert unhealthy(caplog) == [] and world.asana.deleted == []
    assert counts["asana_webhooks_checked"] == 1


def test_an_opted_in_backlog_without_a_webhook_gets_one() -> None:
    # The legacy teams.yaml format could never register one: reconciliation does.
    world = World()
    counts = world.run()
    assert counts["asana_webhooks_registered"] == 1 and world.hooks.hooks[PROJECT].secret


def test_a_completion_made_while_the_webhook_was_gone_reaches_the_worker() -> None:
    world = World()
    world.registered()
    world.open_alert()
    world.asana.listed.clear()  # the webhook is gone: the completion's event is never sent
    world.asana.complete(TASK, True, NOW - timedelta(hours=2))
    counts = world.run()
    [(body, attributes)] = world.topic.messages
    # Shaped exactly like ingest's publication of a real delivery, plus reconcile's marks.
    assert json.loads(body) == {"events": []}
    assert attributes == {**asana_webhooks.attributes(TASK, PROJECT, NOW, "run-1"),
                          "source_reason": "reconcile", "delivery_id": "reconcile:run-1"}
    assert (counts["asana_task_completed"], counts["asana_published"]) == (1, 1)


def test_a_reopen_made_while_the_webhook_was_gone_reaches_the_worker() -> None:
    world = World()
    world.open_alert("resolved")
    world.asana.complete(TASK, False, NOW - timedelta(hours=2))
    assert world.run()["asana_task_reopened"] == 1 and len(world.topic.messages) == 1


def test_tasks_that_agree_or_belong_to_other_teams_are_not_passed_on() -> None:
    world = World()
    world.open_alert(team="Growth")  # has not opted in
    world.asana.complete(TASK, True, NOW - timedelta(hours=2))
    world.asana.complete("1202", True, NOW - timedelta(hours=2))  # no alert has this task
    counts = world.run()
    assert world.topic.messages == [] and counts["asana_tasks_read"] == 2


def test_each_comparison_asks_only_for_tasks_changed_since_the_last_one() -> None:
    world = World()
    world.registered()
    world.run()
    world.now = NOW + timedelta(minutes=10)
    world.run()
    until = NOW - timedelta(minutes=5)
    assert world.asana.listings == [(PROJECT, None), (PROJECT, until - timedelta(minutes=5))]
    assert world.hooks.hooks[PROJECT].compared_at == world.now - timedelta(minutes=5)


def test_a_change_within_the_grace_is_compared_by_the_next_run() -> None:
    world = World()
    world.registered()
    world.open_alert()
    world.asana.complete(TASK, True, NOW - timedelta(minutes=1))  # its webhook may be on its way
    world.run()
    assert world.topic.messages == []
    world.now = NOW + timedelta(minutes=10)
    world.run()
    assert len(world.topic.messages) == 1


def test_a_failed_webhook_list_renews_nothing() -> None:
    world = World()
    world.registered()
    world.asana.failing.add("webhooks")
    counts = world.run()
    assert world.asana.deleted == [] and len(world.asana.created) == 1
    assert counts["asana_failed"] == 1


def test_a_failed_task_list_is_counted_and_compared_again_from_the_same_point() -> None:
    teams = TEAMS.replace('asana_backlog_id: "1300"', 'asana_backlog_id: "1300"\n'
                          '    sync_back: true')
    world = World(teams)
    world.open_alert()
    world.asana.complete(TASK, True, NOW - timedelta(hours=2))
    world.asana.failing.add("1300")
    counts = world.run()
    assert counts["asana_failed"] == 1 and len(world.topic.messages) == 1  # PROJECT still done
    assert world.hooks.hooks["1300"].compared_at is None


def test_a_dry_run_changes_nothing() -> None:
    world = World()
    world.registered()
    world.asana.listed.clear()
    world.open_alert()
    world.asana.complete(TASK, True, NOW - timedelta(hours=2))
    before = dict(world.hooks.hooks)
    counts = world.run(dry_run=True)
    assert (counts["asana_webhooks_unhealthy"], counts["asana_task_completed"]) == (1, 1)
    assert "asana_published" not in counts and world.topic.messages == []
    assert world.hooks.hooks == before and len(world.asana.created) == 1


def test_without_opted_in_teams_nothing_is_asked() -> None:
    world = World(TEAMS.replace("    sync_back: true\n", ""))
    assert world.run() == {} and world.asana.listings == [] and world.asana.workspaces == []


def test_the_reconcile_run_carries_the_sync_directions_counts() -> None:
    class Ledger:
        def by_keys(self, keys: Iterable[str]) -> Mapping[str, Any]:
            return {}

        def by_external_id(self, source: str, external_id: str) -> Sequence[Any]:
            return []

        def page(self, prefix: str, after: str | None, limit: int) -> list[Any]:
            return []

    calls: list[tuple[str, bool]] = []

    def check(request_id: str, dry_run: bool) -> Mapping[str, int]:
        calls.append((request_id, dry_run))
        return {"asana_published": 2}

    deps = ReconcileDeps(ledger=Ledger(), publish=FakeTopic().publish, now=lambda: NOW,
                         lookback_minutes=60, grace_minutes=5,
                         reconcilers=[Reconciler("asana", after=check)])
    assert reconcile(deps, "run-7").counts() == {
        "planned": 0, "published": 0, "records_visited": 0, "records_skipped": 0,
        "read_failures": 0, "asana_published": 2}
    assert reconcile(deps, "run-8", dry_run=True).dry_run
    assert calls == [("run-7", False), ("run-8", True)]

"""Reconciliation's decisions: which alerts are missing, what is published, and the run."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.cli import reconcile as reconcile_cli
from shared.core.alert import Action
from shared.core.errors import ConfigError, Transient
from shared.core.settings import load_settings
from shared.flows.reconcile import ReconcileDeps, handle_run, reconcile
from shared.routing.teams import DEFAULT_CREATE_TASKS_FROM
from shared.sources import parse_alert
from shared.sources.datadog.reconcile import alerting_monitors, datadog_app_url, missing_datadog
from shared.sources.datadog.reconcile import reconciler as datadog_reconciler
from shared.sources.drift import Publication, Window, window
from shared.sources.sentry.reconcile import (
    Observed,
    SentryFinding,
    fired_in_window,
    missing_sentry,
)
from shared.sources.sentry.reconcile import reconciler as sentry_reconciler

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
WIN = window(NOW, lookback_minutes=60, grace_minutes=5)
IN = NOW - timedelta(minutes=30)
BEFORE = NOW - timedelta(hours=3)
TOO_RECENT = NOW - timedelta(minutes=2)
API = "https://sentry.io/api/0"
APP = "https://app.datadoghq.com"


def issue(issue_id: str = "4567890123", *, first: datetime = IN, last: datetime | None = None,
          status: str = "unresolved", substatus: str = "new") -> dict[str, Any]:
    return {"id": issue_id, "title": "KeyError: 'owner'", "culprit": "views in get",
            "permalink": f"https://acme.sentry.io/issues/{issue_id}/", "level": "error",
            "status": status, "substatus": substatus, "firstSeen": first.isoformat(),
            "lastSeen": (last or first).isoformat(), "metadata": {"type": "KeyError"},
            "project": {"id": "42", "slug": "panther-alerts-api", "name": "panther"}}


def fired(issue_id: str = "4567890123", at: datetime = IN, rule: str = "7") -> SentryFinding:
    return SentryFinding("panther-alerts-api", issue(issue_id), rule, at, "abc")


def searched(**kwargs: Any) -> SentryFinding:
    return SentryFinding("panther-alerts-api", issue(**kwargs))


def record(key: str, state: str = "open", expires: datetime = NOW + timedelta(days=9),
           updated: datetime = BEFORE, **extra: Any) -> dict[str, Any]:
    task = {} if state == "creating" else {"task_gid": "1201"}  # as the worker writes them
    return {"key": key, "state": state, "expires_at": expires, "updated_at": updated,
            **task, **extra}


def monitor(monitor_id: int = 9001, *, state: str = "Alert", changed: datetime = IN,
            message: str = "Disk full @webhook-alert-bridge", priority: int | None = 2
            ) -> dict[str, Any]:
    return {"id": monitor_id, "name": "Disk almost full", "overall_state": state,
            "overall_state_modified": changed.isoformat(), "message": message,
            "tags": ["team:payments", "env:prod"], "priority": priority}


def parsed(item: Publication) -> Any:
    return parse_alert(item.body, item.attributes(NOW, "req-1"))


@pytest.mark.parametrize("finding, expected", [
    (fired(at=IN), True),
    (fired(at=BEFORE), False),
    (fired(at=TOO_RECENT), False),
    (searched(first=IN), True),
    (searched(first=TOO_RECENT), False),
    (searched(first=BEFORE, last=IN, substatus="regressed"), True),
    (searched(first=BEFORE, last=IN, substatus="ongoing"), False),
], ids=["rule-fired-in-window", "rule-fired-before", "rule-fired-in-grace", "search-new-issue",
        "search-new-in-grace", "search-regressed", "search-ongoing-old-issue"])
def test_what_counts_as_fired_in_the_window(finding: SentryFinding, expected: bool) -> None:
    assert fired_in_window(finding, WIN) is expected


@pytest.mark.parametrize("records, expected", [
    ({}, ["sentry:issue:4567890123"]),
    ({"sentry:issue:4567890123": record("sentry:issue:4567890123")}, []),
    ({"sentry:issue:4567890123": record("sentry:issue:4567890123", state="resolved")}, []),
    ({"sentry:issue:4567890123": record("sentry:issue:4567890123", expires=BEFORE)},
     ["sentry:issue:4567890123"]),
    ({"sentry:issue:4567890123": record("sentry:issue:4567890123", state="resolved",
                                        task_gid=None)}, ["sentry:issue:4567890123"]),
], ids=["no-record", "open-record", "resolved-record", "expired-record",
        "resolve-remembered-without-task"])
def test_a_sentry_issue_is_missing_only_without_a_live_ledger_record(
        records: Mapping[str, Any], expected: list[str]) -> None:
    planned = missing_sentry([fired()], records, WIN, NOW, org="acme", api_url=API)
    assert [p.alert_key for p in planned] == expected


def test_a_missing_alert_sentry_already_resolved_is_published_with_its_resolve() -> None:
    finding = SentryFinding("panther-alerts-api",
                            issue(status="resolved", first=BEFORE, last=IN), "7", IN, "abc")
    planned = missing_sentry([finding], {}, WIN, NOW, org="acme", api_url=API)
    assert [(p.action, p.reason) for p in planned] == [("triggered", "missing"),
                                                       ("resolved", "resolved")]
    firing, resolve = (parsed(p) for p in planned)
    # Never older than the firing on Sentry's clock, or the ordering rule would drop it.
    assert planned[1].source_time is not None and firing.occurred_at is not None
    assert planned[1].source_time >= firing.occurred_at
    assert (resolve.key, resolve.action) == (firing.key, Action.RESOLVED)


def test_an_issue_two_rules_fired_for_is_published_once() -> None:
    planned = missing_sentry([fired(rule="7"), fired(rule="8")], {}, WIN, NOW, org="acme",
                             api_url=API)
    assert len(planned) == 1


def test_the_synthetic_sentry_alert_parses_like_the_webhook_and_may_open_a_task() -> None:
    [item] = missing_sentry([fired()], {}, WIN, NOW, org="acme", api_url=API)
    alert = parsed(item)
    assert (alert.key, alert.action, alert.resource) == (
        "sentry:issue:4567890123", Action.TRIGGERED, "event_alert")
    assert alert.resource in DEFAULT_CREATE_TASKS_FROM
    assert (alert.project, alert.level, alert.title) == (
        "panther-alerts-api", "error", "KeyError: 'owner'")
    assert alert.url == "https://acme.sentry.io/issues/4567890123/"
    attributes = item.attributes(NOW, "req-1")
    assert attributes["source_reason"] == "reconcile"
    assert attributes["alert_key"] == alert.key


def test_a_missing_alert_has_no_delivery_id_and_the_same_body_in_every_run() -> None:
    [first] = missing_sentry([fired()], {}, WIN, NOW, org="acme", api_url=API)
    [again] = missing_sentry([fired()], {}, WIN, NOW + timedelta(minutes=10), org="acme",
                             api_url=API)
    assert first.body == again.body
    assert "delivery_id" not in first.attributes(NOW, "run-1")
    [monitor_first] = missing_datadog([monitor()], {}, {}, NOW, app_url=APP)
    [monitor_again] = missing_datadog([monitor()], {}, {}, NOW, app_url=APP)
    assert monitor_first.body == monitor_again.body
    assert "delivery_id" not in monitor_first.attributes(NOW, "run-1")


@pytest.mark.parametrize("candidate, chosen", [
    (monitor(), True),
    (monitor(state="OK"), False),
    (monitor(state="Warn"), False),
    (monitor(message="Disk full @slack-ops"), False),
    (monitor(message="Disk full @webhook-alert-bridge-staging"), False),
    (monitor(changed=BEFORE), False),
    (monitor(changed=TOO_RECENT), False),
], ids=["alert-notifying-us", "ok", "warn", "other-channel", "longer-webhook-name",
        "alerting-since-before-window", "alerting-in-grace"])
def test_which_monitors_are_reconciled(candidate: dict[str, Any], chosen: bool) -> None:
    assert bool(alerting_monitors([candidate], "alert-bridge", WIN)) is chosen


@pytest.mark.parametrize("by_monitor, expected", [
    ([], 1),
    ([record("datadog:cycle:real", source="datadog", external_id="9001")], 0),
    ([record("datadog:cycle:real", state="creating")], 0),
    ([record("datadog:cycle:real", state="resolved")], 1),
    ([record("datadog:cycle:real", expires=BEFORE)], 1),
    ([record("datadog:cycle:real", task_gid=None)], 1),
], ids=["no-record", "open-record", "record-being-created", "previous-cycle-resolved",
        "expired-record", "remembered-without-task"])
def test_a_monitor_is_missing_without_a_live_task(by_monitor: list[Any], expected: int) -> None:
    planned = missing_datadog([monitor()], {"9001": by_monitor}, {}, NOW, app_url=APP)
    assert len(planned) == expected


def test_the_synthetic_cycle_key_is_stable_so_a_second_run_publishes_nothing() -> None:
    [first] = missing_datadog([monitor()], {}, {}, NOW, app_url=APP)
    [again] = missing_datadog([monitor()], {}, {}, NOW + timedelta(minutes=10), app_url=APP)
    assert first.alert_key == again.alert_key
    seen = {first.alert_key: record(first.alert_key)}
    assert missing_datadog([monitor()], {}, seen, NOW, app_url=APP) == []


def test_the_synthetic_datadog_alert_parses_like_the_webhook_and_may_open_a_task() -> None:
    [item] = missing_datadog([monitor()], {}, {}, NOW, app_url=APP)
    alert = parsed(item)
    assert alert.key == item.alert_key == f"datadog:cycle:reconcile-9001-{int(IN.timestamp())}"
    assert alert.resource in DEFAULT_CREATE_TASKS_FROM
    assert (alert.action, alert.monitor_id, alert.priority) == (Action.TRIGGERED, "9001", "P2")
    assert (alert.title, alert.environment) == ("Disk almost full", "prod")
    assert alert.url == "https://app.datadoghq.com/monitors/9001"
    template = json.loads((Path(__file__).parents[2] / "docs" /
                           "datadog-webhook-template.json").read_text())
    assert set(json.loads(item.body)) == set(template)


@pytest.mark.parametrize("api, app", [
    ("https://api.datadoghq.com", "https://app.datadoghq.com"),
    ("https://api.datadoghq.eu/", "https://app.datadoghq.eu"),
], ids=["us1", "eu"])
def test_datadog_app_url_follows_the_site(api: str, app: str) -> None:
    assert datadog_app_url(api) == app


# --- the run over in-memory doubles -----------------------------------------------------------

class Ledger:
    def __init__(self, records: Iterable[dict[str, Any]] = ()) -> None:
        self.records = {r["key"]: r for r in records}
        self.pages: list[tuple[str, str | None, int]] = []

    def by_keys(self, keys: Iterable[str]) -> Mapping[str, Any]:
        return {k: self.records[k] for k in keys if k in self.records}

    def by_external_id(self, source: str, external_id: str) -> Sequence[Any]:
        return [r for r in self.records.values()
                if (r.get("source"), r.get("external_id")) == (source, external_id)]

    def page(self, prefix: str, after: str | None, limit: int) -> Sequence[Any]:
        self.pages.append((prefix, after, limit))
        keys = sorted(k for k in self.records if k.startswith(prefix)
                      and (after is None or k > after))
        return [self.records[k] for k in keys[:limit]]


class Sentry:
    def __init__(self, findings: list[SentryFinding], issues: Mapping[str, Any],
                 fail: Exception | None = None) -> None:
        self._findings, self._issues, self._fail = findings, issues, fail
        self.reads: list[list[str]] = []

    def findings(self, start: datetime, end: datetime) -> list[SentryFinding]:
        assert (start, end) == (WIN.start, WIN.end)
        if self._fail:
            raise self._fail
        return self._findings

    def issues(self, ids: Sequence[str]) -> Observed:
        self.reads.append(list(ids))
        if self._fail:
            raise self._fail
        return Observed({i: self._issues[i] for i in ids if i in self._issues}, NOW)


class Cursors:
    def __init__(self, **saved: str | None) -> None:
        self.saved: dict[str, str | None] = dict(saved)

    def load(self, name: str) -> str | None:
        return self.saved.get(name)

    def save(self, name: str, after: str | None) -> None:
        self.saved[name] = after


class Topic:
    def __init__(self) -> None:
        self.messages: list[tuple[bytes, Mapping[str, str]]] = []

    def publish(self, data: bytes, attributes: Mapping[str, str]) -> str:
        self.messages.append((data, attributes))
        return str(len(self.messages))


def deps(topic: Topic, ledger: Ledger, sentry: Sentry | None = None,
         monitors: list[Any] | None = None, issues_per_read: int | None = None,
         **more: Any) -> ReconcileDeps:
    reads = {} if issues_per_read is None else {"issues_per_read": issues_per_read}
    reconcilers = []
    if sentry is not None:
        reconcilers.append(sentry_reconciler(sentry, org="acme", api_url=API, **reads))
    if monitors is not None:
        reconcilers.append(datadog_reconciler(lambda: monitors, webhook="alert-bridge",
                                              app_url=APP))
    return ReconcileDeps(ledger=ledger, publish=topic.publish, now=lambda: NOW,
                         lookback_minutes=60, grace_minutes=5, reconcilers=reconcilers, **more)


def scenario() -> tuple[Ledger, Sentry, list[Any]]:
    ledger = Ledger([record("sentry:issue:2"), record("sentry:issue:3")])
    sentry = Sentry([fired("1"), fired("2")], {"3": issue("3", status="resolved")})
    return ledger, sentry, [monitor()]


def test_a_run_publishes_each_missing_and_resolved_alert_with_its_attributes() -> None:
    topic = Topic()
    ledger, sentry, monitors = scenario()
    report = reconcile(deps(topic, ledger, sentry, monitors), "req-1")
    keys = sorted(attrs["alert_key"] for _, attrs in topic.messages)
    assert keys == ["datadog:cycle:reconcile-9001-" + str(int(IN.timestamp())),
                    "sentry:issue:1", "sentry:issue:3"]
    assert all(a["source_reason"] == "reconcile" and a["request_id"] == "req-1"
               for _, a in topic.messages)
    assert report.counts() == {"planned": 3, "published": 3, "records_visited": 2,
                               "records_skipped": 0, "read_failures": 0, "sentry_missing": 1,
                               "sentry_resolved": 1, "datadog_missing": 1}
    [resolve] = [a for _, a in topic.messages if a["alert_key"] == "sentry:issue:3"]
    assert (resolve["delivery_id"], resolve["source_time"]) == (
        "reconcile:req-1", NOW.isoformat(timespec="milliseconds"))


def test_a_dry_run_publishes_nothing() -> None:
    topic = Topic()
    ledger, sentry, monitors = scenario()
    report = reconcile(deps(topic, ledger, sentry, monitors), "req-1", dry_run=True)
    assert topic.messages == [] and len(report.planned) == 3 and report.published == 0


def test_failed_sentry_reads_are_counted_and_the_rest_of_the_run_goes_on() -> None:
    topic = Topic()
    ledger, _, monitors = scenario()
    sentry = Sentry([fired("1")], {}, fail=Transient("sentry: 503"))
    report = reconcile(deps(topic, ledger, sentry, monitors), "req-1")
    # The findings and the one issue read failed; Datadog was still reconciled.
    assert report.read_failures == 2
    assert [a["alert_key"] for _, a in topic.messages] == [
        f"datadog:cycle:reconcile-9001-{int(IN.timestamp())}"]


def test_a_failed_monitor_list_is_counted_and_sentry_still_reconciled() -> None:
    topic = Topic()
    ledger, sentry, _ = scenario()

    def monitors() -> list[Any]:
        raise Transient("datadog: 503")

    run = ReconcileDeps(ledger=ledger, publish=topic.publish, now=lambda: NOW,
                        lookback_minutes=60, grace_minutes=5,
                        reconcilers=[sentry_reconciler(sentry, org="acme", api_url=API),
                                     datadog_reconciler(monitors, webhook="alert-bridge",
                                                        app_url="")])
    report = reconcile(run, "req-1")
    assert (report.read_failures, len(topic.messages)) == (1, 2)


def test_a_refused_read_fails_the_run_before_anything_is_published() -> None:
    topic = Topic()
    ledger, _, monitors = scenario()
    sentry = Sentry([fired("1")], {}, fail=ConfigError("SENTRY_AUTH_TOKEN: not set"))
    with pytest.raises(ConfigError):
        reconcile(deps(topic, ledger, sentry, monitors), "req-1")
    assert topic.messages == []


def test_unconfigured_sources_are_not_read() -> None:
    topic = Topic()
    assert reconcile(deps(topic, Ledger()), "req-1").counts() == {
        "planned": 0, "published": 0, "records_visited": 0, "records_skipped": 0,
        "read_failures": 0}


def test_the_cursor_moves_on_only_once_the_run_has_published() -> None:
    ledger = Ledger([record(f"sentry:issue:{n}") for n in range(10, 20)])
    sentry = Sentry([], {str(n): issue(str(n), status="resolved") for n in range(10, 20)})
    cursors = Cursors()

    class Down(Topic):
        def publish(self, data: bytes, attributes: Mapping[str, str]) -> str:
            raise Transient("pubsub: unavailable")

    with pytest.raises(Transient):
        reconcile(deps(Down(), ledger, sentry, cursors=cursors, records_per_run=4), "run-1")
    assert cursors.saved == {}
    reconcile(deps(Topic(), ledger, sentry, cursors=cursors, records_per_run=4), "run-1",
              dry_run=True)
    assert cursors.saved == {}
    reconcile(deps(Topic(), ledger, sentry, cursors=cursors, records_per_run=4), "run-1")
    assert cursors.saved == {"sentry": "sentry:issue:13"}


def test_runs_bounded_by_the_cursor_visit_every_record_then_start_over() -> None:
    ledger = Ledger([record(f"sentry:issue:{n}") for n in range(10, 20)])
    sentry = Sentry([], {str(n): issue(str(n), status="resolved") for n in range(10, 20)})
    cursors, topic = Cursors(), Topic()
    run = deps(topic, ledger, sentry, cursors=cursors, records_per_run=4, issues_per_read=3)
    visits = [reconcile(run, f"run-{n}").visited for n in range(4)]
    assert visits == [4, 4, 2, 4]
    published = [a["alert_key"] for _, a in topic.messages]
    assert sorted(published[:10]) == [f"sentry:issue:{n}" for n in range(10, 20)]
    # Each correction is its run's delivery; the fourth run started over from the first key.
    assert {a["delivery_id"] for _, a in topic.messages[:4]} == {"reconcile:run-0"}
    assert published[10:] == [f"sentry:issue:{n}" for n in range(10, 14)]
    assert [len(ids) for ids in sentry.reads[:2]] == [3, 1]


@pytest.mark.parametrize("method, failure, status", [
    ("GET", None, 405),
    ("POST", None, 200),
    ("POST", Transient("firestore down"), 503),
    ("POST", ConfigError("SENTRY_AUTH_TOKEN: not set"), 500),
], ids=["not-post", "ok", "transient", "config"])
def test_the_scheduler_sees_a_failed_run_as_a_failure(method: str, failure: Exception | None,
                                                      status: int) -> None:
    def build() -> ReconcileDeps:
        if failure is not None:
            raise failure
        return deps(Topic(), Ledger())

    assert handle_run(method, build, "req-1")[0] == status


def test_the_cli_dry_run_prints_what_it_would_publish(capsys: pytest.CaptureFixture[str]) -> None:
    topic = Topic()
    ledger, sentry, monitors = scenario()
    assert reconcile_cli.main(["--dry-run"], lambda: deps(topic, ledger, sentry, monitors)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["action"] for line in lines[:-1]] == ["would publish"] * 3
    assert lines[-1].startswith("would publish: planned 3, published 0, records_visited 2")
    assert topic.messages == []


def test_a_dry_run_says_which_sources_it_read_and_what_to_set_for_the_others(
        capsys: pytest.CaptureFixture[str]) -> None:
    topic = Topic()
    ledger, sentry, _ = scenario()

    def run() -> ReconcileDeps:
        return dataclasses.replace(
            deps(topic, ledger, sentry),
            off=[("datadog", "RECONCILE_DATADOG_WEBHOOK (the webhook's name in Datadog)")])

    assert reconcile_cli.main(["--dry-run"], run) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == ["sentry: reconciled: configured",
                   "datadog: not reconciled: set RECONCILE_DATADOG_WEBHOOK (the webhook's name "
                   "in Datadog)"]


def test_a_dry_run_with_nothing_configured_names_what_to_set(
        capsys: pytest.CaptureFixture[str]) -> None:
    def run() -> ReconcileDeps:
        return dataclasses.replace(deps(Topic(), Ledger()), off=[("sentry", "SENTRY_ORG")])

    assert reconcile_cli.main(["--dry-run"], run) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "sentry: not reconciled: set SENTRY_ORG",
        "no source's lost alerts are looked for: set the settings named above"]
    assert captured.out.startswith("would publish: planned 0, published 0")


# --- settings ---------------------------------------------------------------------------------

def test_reconcile_settings_parse() -> None:
    settings = load_settings({"GOOGLE_CLOUD_PROJECT": "p", "SENTRY_ORG": "acme",
                              "RECONCILE_SENTRY_RULES": "panther-alerts-api:7, checkout:12",
                              "RECONCILE_SENTRY_PROJECTS": "growth",
                              "RECONCILE_DATADOG_WEBHOOK": "@webhook-alert-bridge"})
    assert settings.reconcile_sentry_rules == (("panther-alerts-api", "7"), ("checkout", "12"))
    assert settings.reconcile_sentry_projects == ("growth",)
    assert settings.reconcile_datadog_webhook == "alert-bridge"
    assert (settings.reconcile_interval_minutes, settings.reconcile_lookback_minutes,
            settings.reconcile_grace_minutes) == (10, 60, 5)


@pytest.mark.parametrize("env, key", [
    ({"RECONCILE_SENTRY_RULES": "panther:seven", "SENTRY_ORG": "acme"}, "RECONCILE_SENTRY_RULES"),
    ({"RECONCILE_SENTRY_PROJECTS": "Not A Slug", "SENTRY_ORG": "acme"},
     "RECONCILE_SENTRY_PROJECTS"),
    ({"RECONCILE_SENTRY_PROJECTS": "growth"}, "SENTRY_ORG"),
    ({"RECONCILE_INTERVAL_MINUTES": "60"}, "RECONCILE_LOOKBACK_MINUTES"),
    ({"RECONCILE_GRACE_MINUTES": "0"}, "RECONCILE_GRACE_MINUTES"),
], ids=["rule-without-numeric-id", "bad-project-slug", "no-org", "lookback-shorter-than-gap",
        "zero-grace"])
def test_bad_reconcile_settings_name_their_key(env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        load_settings({"GOOGLE_CLOUD_PROJECT": "p", **env})


def test_window_ends_a_grace_before_now() -> None:
    assert window(NOW, 60, 5) == Window(NOW - timedelta(minutes=60), NOW - timedelta(minutes=5))

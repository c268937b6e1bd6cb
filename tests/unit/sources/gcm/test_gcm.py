"""Cloud Monitoring: the key, the states, severity, matcher fields, the webhook channels' checks
and the pubsub channel's messages adopted by the worker."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared.core import logs
from shared.core.alert import Action
from shared.core.errors import ConfigError, Permanent, Rejected, Unauthorized
from shared.core.ledger import State
from shared.flows.ingest import IngestDeps, handle_webhook
from shared.flows.worker import Outcome, PortfolioCache, WorkerDeps, handle_request
from shared.routing.priority import explain_priority, priority_for
from shared.routing.teams_file import load_teams
from shared.sources import SOURCES
from shared.sources.base import Webhook
from shared.sources.gcm import incident, ingest, keys
from tests.fakes.ledger import MemoryLedger
from tests.fakes.tracker import MemoryTracker

REPO = Path(__file__).resolve().parents[4]
DATA = REPO / "tests" / "data"
OPEN = (DATA / "gcm" / "incident_open.json").read_bytes()
CLOSED = (DATA / "gcm" / "incident_closed.json").read_bytes()
VENDOR = (DATA / "vendor" / "gcp_monitoring" / "pubsub-test-incident-closed-v1.2.json").read_bytes()
NOW = datetime(2025, 12, 3, 14, 0, tzinfo=UTC)
TOKENS = ("new-token-7f3a", "old-token-19c2")
CONFIG = load_teams(str(REPO / "teams.yaml"))


def _incident(**fields: object) -> dict[str, object]:
    return {"incident": {"state": "open", "started_at": 1764765000, **fields}, "version": "1.2"}


# --- the key ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("payload", "key"), [
    pytest.param(json.loads(OPEN), "gcm:incident:0.nxt7s3bqzx1c", id="incident_id"),
    pytest.param(json.loads(CLOSED), "gcm:incident:0.nxt7s3bqzx1c", id="same-on-close"),
    pytest.param(json.loads(VENDOR), "gcm:incident:0.m2d61b3s6d5d", id="vendor-no-id-url"),
    pytest.param(_incident(url="https://app.google.stackdriver.com/incidents/0.abc?project=p"),
                 "gcm:incident:0.abc", id="old-console-url"),
    pytest.param(_incident(), None, id="nothing"),
    pytest.param(_incident(url="https://example.com/x"), None, id="url-without-id"),
    pytest.param({"incident": "open"}, None, id="incident-not-object"),
    pytest.param([], None, id="not-object"),
])
def test_the_key_is_the_incident_id(payload: object, key: str | None) -> None:
    assert keys.alert_key(keys.RESOURCE, payload) == key


def test_without_any_id_the_key_is_policy_condition_and_resource() -> None:
    resource = {"type": "gce_instance", "labels": {"instance_id": "1", "zone": "z"}}
    first = keys.alert_key(keys.RESOURCE, _incident(policy_name="CPU", condition_name="c",
                                                    resource=resource))
    again = keys.alert_key(keys.RESOURCE, _incident(policy_name="CPU", condition_name="c",
                                                    resource=resource, state="closed"))
    other = keys.alert_key(keys.RESOURCE, _incident(policy_name="CPU", condition_name="c",
                                                    resource={**resource, "labels": {}}))
    assert first is not None and first.startswith(keys.POLICY_PREFIX)
    assert first == again != other


# --- parsing -----------------------------------------------------------------------------------

def test_an_open_incident_triggers_with_its_fields() -> None:
    alert = incident.parse_message(OPEN, {"received_at": "2025-12-03T14:00:00.000+00:00"})
    assert (alert.source, alert.resource, alert.key, alert.action) == (
        "gcm", "gcm_incident", "gcm:incident:0.nxt7s3bqzx1c", Action.TRIGGERED)
    assert alert.title == "Checkout latency p99 on checkout-api"
    assert alert.url is not None and "/incidents/0.nxt7s3bqzx1c" in alert.url
    assert (alert.level, alert.environment, alert.project) == ("critical", "prod",
                                                              "shop-prod-4711")
    assert alert.occurred_at == datetime.fromtimestamp(1764765000, UTC)
    fields = alert.match_fields()
    assert {k: fields[k] for k in ("gcp_project", "policy", "condition", "resource_type",
                                   "resource.service_name", "resource.location", "metric_type",
                                   "metric.response_code_class", "team", "env", "severity",
                                   "source", "rule")} == {
        "gcp_project": "shop-prod-4711", "policy": "Checkout latency p99",
        "condition": "p99 latency above 1.5 s", "resource_type": "cloud_run_revision",
        "resource.service_name": "checkout-api", "resource.location": "europe-west1",
        "metric_type": "run.googleapis.com/request_latencies",
        "metric.response_code_class": "2xx", "team": "payments", "env": "prod",
        "severity": "critical", "source": "gcm", "rule": "Checkout latency p99"}
    assert alert.description is not None and "Runbook" in alert.description


def test_a_closed_incident_resolves_at_its_end_time() -> None:
    alert = incident.parse_message(CLOSED, {"received_at": "2025-12-03T14:00:00.000+00:00"})
    assert (alert.key, alert.action) == ("gcm:incident:0.nxt7s3bqzx1c", Action.RESOLVED)
    assert alert.occurred_at == datetime.fromtimestamp(1764766260, UTC)


def test_the_vendor_sample_without_incident_id_parses() -> None:
    alert = incident.parse_message(VENDOR, {})
    assert (alert.key, alert.action) == ("gcm:incident:0.m2d61b3s6d5d", Action.RESOLVED)
    assert alert.title.startswith("CPU usage for tf-test VM Instance")
    assert alert.level is None and alert.occurred_at == datetime.fromtimestamp(1620754533, UTC)


def test_a_time_later_than_receipt_is_clamped() -> None:
    body = json.dumps(_incident(incident_id="x", started_at=4102444800)).encode()
    alert = incident.parse_message(body, {"received_at": NOW.isoformat()})
    assert alert.occurred_at == NOW


def test_a_policy_label_does_not_hide_the_services_own_fields() -> None:
    found = {"policy_name": "P", "policy_user_labels": {"source": "x", "policy": "y", "t": "1"}}
    tags = dict(incident.match_tags(found))
    assert (tags["policy"], tags["t"], "source" in tags) == ("P", "1", False)


@pytest.mark.parametrize(("payload", "problem"), [
    pytest.param(_incident(incident_id="1", state="acknowledged"), "incident.state",
                 id="unknown-state"),
    pytest.param(_incident(incident_id="1", state=None), "incident.state", id="no-state"),
    pytest.param(_incident(), "none of", id="no-key"),
    pytest.param({"version": "1.2"}, "no 'incident'", id="no-incident"),
    pytest.param(_incident(incident_id="x" * 2000), "longer than", id="id-too-long"),
    pytest.param(_incident(incident_id="\udc00"), "surrogate", id="lone-surrogate"),
])
def test_what_can_never_be_an_alert_is_permanent(payload: object, problem: str) -> None:
    with pytest.raises(Permanent, match=problem):
        incident.parse_message(json.dumps(payload).encode(), {})


@pytest.mark.parametrize(("severity", "labels", "priority"), [
    ("Critical", {}, "High"), ("Error", {}, "High"), ("Warning", {}, "Medium"),
    ("No severity", {}, "High"), (None, {"severity": "warning"}, "Medium"),
    (None, {}, "High"),
])
def test_severity_gives_the_priority(severity: str | None, labels: dict[str, str],
                                     priority: str) -> None:
    body = json.dumps(_incident(incident_id="1", severity=severity,
                                policy_user_labels=labels)).encode()
    alert = incident.parse_message(body, {})
    assert priority_for(alert, CONFIG.priority) == priority
    assert "Cloud Monitoring severity" in explain_priority(alert, CONFIG.priority) \
        or alert.level is None


# --- the webhook channels through ingest --------------------------------------------------------

def _send(body: bytes, query: Mapping[str, str], headers: Mapping[str, str] | None = None,
          tokens: tuple[str, ...] | None = TOKENS) -> tuple[int, list[dict[str, str]]]:
    published: list[dict[str, str]] = []

    def secret(name: str) -> tuple[str, ...]:
        if tokens is None or name != "GCM_WEBHOOK_TOKEN":
            raise ConfigError(f"secret {name}: not set in the environment")
        return tokens

    def publish(data: bytes, attributes: Mapping[str, str]) -> str:
        published.append(dict(attributes))
        return f"m-{len(published)}"

    deps = IngestDeps(secret=secret, publish=publish, now=lambda: NOW, max_body_bytes=64 * 1024)
    answer = handle_webhook(Webhook("POST", dict(headers or {}), body, "req-1", dict(query)),
                            deps)
    return answer.status, published


def _basic(user: str, password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.mark.parametrize(("query", "headers"), [
    pytest.param({"auth_token": TOKENS[0]}, {}, id="token-current"),
    pytest.param({"auth_token": TOKENS[1]}, {}, id="token-previous"),
    pytest.param({}, _basic("cloud-monitoring", TOKENS[0]), id="basic-current"),
    pytest.param({}, _basic("anyone", TOKENS[1]), id="basic-previous"),
])
def test_a_webhook_with_an_active_secret_is_published(query: dict[str, str],
                                                      headers: dict[str, str]) -> None:
    status, [attributes] = _send(OPEN, {"source": "gcm", **query}, headers)
    assert status == 202
    assert {k: attributes[k] for k in ("source", "resource", "action", "alert_key",
                                       "source_time")} == {
        "source": "gcm", "resource": "gcm_incident", "action": "open",
        "alert_key": "gcm:incident:0.nxt7s3bqzx1c",
        "source_time": "2025-12-03T12:30:00.000+00:00"}


@pytest.mark.parametrize(("query", "headers"), [
    pytest.param({}, {}, id="nothing"),
    pytest.param({"auth_token": "wrong"}, {}, id="token-wrong"),
    pytest.param({"auth_token": ""}, {}, id="token-empty"),
    pytest.param({"auth_token": TOKENS[0][:-1]}, {}, id="token-prefix"),
    pytest.param({"auth_token": "wrong"}, _basic("u", TOKENS[0]), id="bad-token-good-basic"),
    pytest.param({}, _basic("u", "wrong"), id="basic-wrong"),
    pytest.param({}, {"authorization": "Basic !!!"}, id="basic-not-base64"),
    pytest.param({}, {"authorization": "Basic " + base64.b64encode(b"nocolon").decode()},
                 id="basic-no-colon"),
    pytest.param({}, {"authorization": f"Bearer {TOKENS[0]}"}, id="bearer"),
])
def test_a_webhook_without_an_active_secret_is_401_and_nothing_published(
        query: dict[str, str], headers: dict[str, str], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert _send(OPEN, {"source": "gcm", **query}, headers) == (401, [])
    [record] = [r for r in caplog.records if getattr(r, "event", "") == "webhook_rejected"]
    assert record.__dict__["source"] == "gcm"
    assert all(token not in caplog.text for token in TOKENS)  # never a secret in the logs


def test_with_the_webhook_channels_off_a_request_is_401_not_503() -> None:
    assert _send(OPEN, {"source": "gcm", "auth_token": "guess"}, tokens=None) == (401, [])


@pytest.mark.parametrize(("body", "detail"), [
    pytest.param(b"{", "not JSON", id="not-json"),
    pytest.param(b"[]", "not a JSON object", id="not-object"),
    pytest.param(json.dumps(_incident()).encode(), "carries no alert id", id="no-key"),
    pytest.param(json.dumps(_incident(incident_id="1", state="x")).encode(), "incident.state",
                 id="bad-state"),
])
def test_a_malformed_incident_is_400(body: bytes, detail: str) -> None:
    status, published = _send(body, {"source": "gcm", "auth_token": TOKENS[0]})
    assert (status, published) == (400, [])


def test_the_claim_is_the_urls_source_parameter() -> None:
    assert ingest.claims(Webhook("POST", {}, b"", "r", {"source": "gcm"}))
    assert not ingest.claims(Webhook("POST", {}, b"", "r", {"auth_token": "x"}))
    assert SOURCES.named("gcm") is not None


def test_given_secret_reads_token_then_basic() -> None:
    hook = Webhook("POST", _basic("u", "p:w"), b"", "r", {})
    assert ingest.given_secret(hook) == "p:w"  # only the first colon splits user and password


# --- the pubsub channel: pushed straight to the worker --------------------------------------------

def _push(body: bytes, message_id: str, attributes: Mapping[str, str] | None = None) -> bytes:
    return json.dumps({"subscription": "projects/p/subscriptions/alert-bridge-gcm-incidents",
                       "message": {"data": base64.b64encode(body).decode(),
                                   "attributes": dict(attributes or {}),
                                   "messageId": message_id,
                                   "publishTime": "2025-12-03T13:59:59.123Z"}}).encode()


def _handle(body: bytes, deps: WorkerDeps, query: Mapping[str, str] | None = None) -> Outcome:
    # Isolated as in the worker's entry point: the bound request id ends with the message.
    return logs.isolated(handle_request, "POST", body, deps, query)


def _worker(dead: list[tuple[bytes, dict[str, str]]]) -> tuple[WorkerDeps, MemoryTracker,
                                                                  MemoryLedger]:
    tracker, ledger = MemoryTracker(), MemoryLedger()

    def dead_letter(data: bytes, attributes: Mapping[str, str]) -> str:
        dead.append((data, dict(attributes)))
        return "dead-1"

    deps = WorkerDeps(config=lambda: CONFIG, environment="prod", tracker=tracker, ledger=ledger,
                      portfolios=PortfolioCache(tracker.portfolio_items),
                      dead_letter=dead_letter, now=lambda: NOW, wait_seconds=0)
    return deps, tracker, ledger


def test_an_incident_the_channel_publishes_opens_then_completes_one_task() -> None:
    dead: list[Any] = []
    deps, tracker, ledger = _worker(dead)
    query = {"source": "gcm"}
    assert _handle(_push(OPEN, "1"), deps, query).body["step"] == "create"
    assert _handle(_push(OPEN, "2"), deps, query).status == 200  # renotified
    assert _handle(_push(CLOSED, "3"), deps, query).body["step"] == "resolve"
    [(gid, task)] = tracker.tasks.items()
    assert "Checkout latency p99" in task.name and tracker.completed[gid] is True
    record, _ = ledger.get("gcm:incident:0.nxt7s3bqzx1c")
    assert record is not None and record.state is State.RESOLVED and dead == []


def test_a_replayed_vendor_message_is_recognised_without_the_query() -> None:
    dead: list[Any] = []
    deps, tracker, _ = _worker(dead)
    replayed = _push(OPEN, "9", {"replay_count": "1"})
    assert _handle(replayed, deps).body["step"] == "create"
    assert len(tracker.tasks) == 1


def test_a_channel_message_that_is_no_incident_dead_letters_under_its_source() -> None:
    dead: list[tuple[bytes, dict[str, str]]] = []
    deps, tracker, _ = _worker(dead)
    outcome = _handle(_push(b"not json", "5"), deps, {"source": "gcm"})
    assert (outcome.status, outcome.body["status"]) == (200, "dead-lettered")
    [(_, attributes)] = dead
    assert (attributes["source"], attributes["channel"]) == ("gcm", "pubsub")
    assert tracker.tasks == {}


def test_an_ingest_message_is_not_adopted() -> None:
    dead: list[Any] = []
    deps, _, _ = _worker(dead)
    attributes = {"source": "datadog", "resource": "datadog", "alert_key": "datadog:event:1",
                  "received_at": NOW.isoformat()}
    outcome = _handle(_push(OPEN, "6", attributes), deps, {"source": "gcm"})
    # Taken as the Datadog message its attributes say it is, not re-labelled.
    assert outcome.status == 200


def test_unauthorized_and_rejected_are_the_ingest_errors() -> None:
    assert issubclass(Unauthorized, Rejected)


def test_teams_yaml_overrides_cloud_monitoring_severities() -> None:
    from shared.core.alert import Alert
    from shared.core.errors import ConfigError
    from shared.routing.teams_file import parse_teams

    config = parse_teams("""
settings:
  default_team: P
  priority: {gcm: {warning: Low, Critical: Medium}, default: Low}
teams: [{name: P, asana_backlog_id: "1"}]
""")

    def gcm(level: str | None) -> Alert:
        return Alert(source="gcm", resource="gcm_incident", key="k", action=Action.TRIGGERED,
                     title="t", level=level)

    assert [priority_for(gcm(level), config.priority)
            for level in ("warning", "critical", "error", None)] == ["Low", "Medium", "High",
                                                                     "Low"]
    with pytest.raises(ConfigError, match="gcm: unknown priority level 'fatal'"):
        parse_teams("""
settings: {default_team: P, priority: {gcm: {fatal: High}}}
teams: [{name: P, asana_backlog_id: "1"}]
""")

"""The Azure Monitor slice through ingest and the worker: who gets in (URL token, Secure
Webhook), what is published, what the worker makes of it, and what routing sees."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.core import logs
from shared.core.alert import Action
from shared.core.envelope import PushMessage
from shared.core.errors import ConfigError, Permanent, Transient
from shared.core.ledger import State
from shared.core.settings import load_settings
from shared.flows.ingest import IngestDeps, handle_webhook
from shared.flows.linkback import LinkBack
from shared.flows.worker import PortfolioCache, WorkerDeps, handle_push
from shared.routing.priority import explain_priority, priority_for
from shared.routing.teams import PriorityMap
from shared.routing.teams_file import load_teams
from shared.sources import SOURCES
from shared.sources.azure.build import AzureIngest, SecureWebhook, ingest_service
from shared.sources.azure.entra import EntraPolicy, SigningKeys
from shared.sources.azure.parse import parse_message, resource_type_and_name
from shared.sources.base import Webhook
from shared.sources.build import Build
from tests.fakes.ledger import MemoryLedger
from tests.fakes.tracker import MemoryTracker
from tests.unit.sources.azure.test_entra import (
    CLIENT_ID,
    KEY,
    NEXT_KEY,
    STRANGER_KEY,
    TENANT,
    Jwks,
    claims,
    jwk,
    token,
)
from tests.unit.sources.azure.test_entra import NOW as TOKEN_TIME

REPO = Path(__file__).resolve().parents[4]
DATA = REPO / "tests" / "data" / "azure"
VENDOR = REPO / "tests" / "data" / "vendor" / "azure"
FIRED = (DATA / "metric_fired.json").read_bytes()
RESOLVED = (DATA / "metric_resolved.json").read_bytes()
TOKENS = ("current-azure-token", "previous-azure-token")
RECEIVED = datetime(2026, 11, 25, 12, 30, tzinfo=UTC)  # after both samples' times
ALERT_ID = ("/subscriptions/5f4e3d2c-1b0a-4f9e-8d7c-6b5a49382716/providers/"
            "Microsoft.AlertsManagement/alerts/3c1e5a0b-7d2f-4e8a-9b61-0f2d8c4a7e19")
KEY_NAME = f"azure:alert:{ALERT_ID}"
POLICY = EntraPolicy(tenant_id=TENANT, audiences=frozenset({CLIENT_ID}))


class Topic:
    """Pub/Sub as ingest sees it: what it published, or the outage it raises."""

    def __init__(self, failure: Exception | None = None) -> None:
        self.published: list[tuple[bytes, dict[str, str]]] = []
        self.failure = failure

    def __call__(self, data: bytes, attributes: Mapping[str, str]) -> str:
        if self.failure is not None:
            raise self.failure
        self.published.append((data, dict(attributes)))
        return f"m-{len(self.published)}"


def _secret(values: tuple[str, ...] | None) -> Any:
    def secret(name: str) -> tuple[str, ...]:
        if name != "AZURE_WEBHOOK_TOKEN" or values is None:
            raise ConfigError(f"secret {name}: not set")
        return values

    return secret


def ingest(body: bytes = FIRED, *, query: Mapping[str, str] | None = None,
           headers: Mapping[str, str] | None = None, path: str = "/azure",
           tokens: tuple[str, ...] | None = TOKENS, secure: SecureWebhook | None = None,
           topic: Topic | None = None, now: datetime | None = None) -> tuple[int, Any, Topic]:
    topic = topic or Topic()
    # A Secure Webhook token is checked at the time it was issued for.
    at = now or (TOKEN_TIME if "authorization" in (headers or {}) else RECEIVED)
    deps = IngestDeps(secret=_secret(tokens), publish=topic, now=lambda: at,
                      max_body_bytes=1024 * 1024,
                      services={"azure": lambda: AzureIngest(secure)})
    hook = Webhook("POST", dict(headers or {}), body, "req-az", dict(query or {}), path)
    answer = handle_webhook(hook, deps)
    return answer.status, answer.body, topic


def secure(source: Jwks | None = None) -> SecureWebhook:
    return SecureWebhook(POLICY, SigningKeys(source or Jwks([jwk(KEY, "key-1")])))


def bearer(value: str) -> dict[str, str]:
    return {"authorization": f"Bearer {value}"}


# --- who gets in ----------------------------------------------------------------------------

@pytest.mark.parametrize("value", TOKENS, ids=["current", "previous"])
def test_a_url_token_of_either_active_value_publishes(value: str) -> None:
    status, body, topic = ingest(query={"token": value})
    assert (status, body["status"]) == (202, "accepted")
    [(data, attributes)] = topic.published
    assert data == FIRED
    assert attributes["source"] == attributes["resource"] == "azure"
    assert (attributes["alert_key"], attributes["action"]) == (KEY_NAME, "Fired")
    # firedDateTime, on Azure's clock (here before the receipt).
    assert attributes["source_time"] == "2026-11-25T11:58:03.512+00:00"
    assert "delivery_id" not in attributes  # Azure sends no id of a delivery


def test_source_time_is_never_later_than_the_receipt() -> None:
    now = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)  # before firedDateTime: a skewed clock
    _, _, topic = ingest(query={"token": TOKENS[0]}, now=now)
    assert topic.published[0][1]["source_time"] == now.isoformat(timespec="milliseconds")


@pytest.mark.parametrize(("query", "headers"), [
    ({}, {}),
    ({"token": "wrong"}, {}),
    ({"token": ""}, {}),
    ({"token": TOKENS[0] + "x"}, {}),
    ({"Token": TOKENS[0]}, {}),
    ({"token": TOKENS[0]}, {"authorization": "Bearer not-a-jwt"}),  # the header decides
], ids=["none", "wrong", "empty", "longer", "other-name", "bad-bearer-beside-good-token"])
def test_a_wrong_or_missing_url_token_is_401_and_nothing_is_published(
        query: dict[str, str], headers: dict[str, str], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        status, body, topic = ingest(query=query, headers=headers, secure=secure())
    assert (status, body) == (401, {"error": "unauthorized"})
    assert topic.published == []
    [record] = [r for r in caplog.records if getattr(r, "event", "") == "webhook_rejected"]
    assert record.__dict__["source"] == "azure"
    assert TOKENS[0] not in caplog.text


def test_without_the_token_secret_a_url_token_is_401_never_a_5xx(
        caplog: pytest.LogCaptureFixture) -> None:
    # Azure Monitor not configured at all: a forged request is refused, not a config error.
    with caplog.at_level(logging.WARNING):
        status, _, topic = ingest(query={"token": "anything"}, tokens=None)
    assert status == 401 and topic.published == []
    assert "AZURE_WEBHOOK_TOKEN is not set and neither is AZURE_TENANT_ID" in caplog.text
    assert not any(getattr(r, "event", "") == "config_error" for r in caplog.records)


def test_secret_manager_unreachable_is_503() -> None:
    def secret(name: str) -> tuple[str, ...]:
        raise Transient("secret manager: reading alert-bridge-azure-webhook-token failed")

    deps = IngestDeps(secret=secret, publish=Topic(), now=lambda: RECEIVED, max_body_bytes=4096,
                      services={"azure": lambda: AzureIngest(None)})
    hook = Webhook("POST", {}, FIRED, "req-az", {"token": TOKENS[0]}, "/azure")
    assert handle_webhook(hook, deps).status == 503


def test_with_secure_webhook_alone_a_url_token_is_401_not_503() -> None:
    status, _, topic = ingest(query={"token": "forged"}, tokens=None, secure=secure())
    assert status == 401 and topic.published == []


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_a_secure_webhook_token_publishes(version: str) -> None:
    status, _, topic = ingest(headers=bearer(token(claims(version, aud=CLIENT_ID))),
                              secure=secure(), tokens=None)
    assert status == 202
    assert topic.published[0][1]["alert_key"] == KEY_NAME


def test_a_token_signed_by_the_next_key_is_found_by_one_refetch() -> None:
    source = Jwks([jwk(KEY, "key-1")], [jwk(KEY, "key-1"), jwk(NEXT_KEY, "key-2")])
    gate = secure(source)
    assert ingest(headers=bearer(token(kid="key-1")), secure=gate)[0] == 202
    later = TOKEN_TIME + timedelta(minutes=6)  # a refetch on an unknown kid: once per 5 minutes
    assert ingest(headers=bearer(token(key=NEXT_KEY, kid="key-2")), secure=gate,
                  now=later)[0] == 202
    assert source.calls == 2


FORGED = {
    "stranger-key": lambda: token(key=STRANGER_KEY),
    "stranger-key-known-kid": lambda: token(key=STRANGER_KEY, kid="key-1"),
    "other-tenant": lambda: token(claims(
        iss="https://login.microsoftonline.com/aaaabbbb-0000-cccc-1111-dddd2222eeee/v2.0")),
    "other-audience": lambda: token(claims(aud="api://someone-else")),
    "no-role": lambda: token(claims(roles=["Reader"])),
    "other-client": lambda: token(claims(azp="00000000-0000-0000-0000-000000000000")),
    "expired": lambda: token(claims(exp=int((TOKEN_TIME - timedelta(hours=1)).timestamp()))),
    "hs256": lambda: token(key="a-shared-secret-of-32-bytes-long!", algorithm="HS256"),  # type: ignore[arg-type]
    "not-bearer": lambda: "Basic dXNlcjpwYXNz",
}


@pytest.mark.parametrize("make", list(FORGED.values()), ids=list(FORGED))
def test_a_forged_secure_webhook_token_is_401(make: Any, caplog: pytest.LogCaptureFixture) -> None:
    value = make()
    headers = {"authorization": value} if value.startswith("Basic") else bearer(value)
    with caplog.at_level(logging.WARNING):
        status, _, topic = ingest(headers=headers, secure=secure())
    assert status == 401 and topic.published == []
    assert any(getattr(r, "event", "") == "webhook_rejected" for r in caplog.records)


def test_a_bearer_token_without_secure_webhook_configured_is_401() -> None:
    status, _, topic = ingest(headers=bearer(token()), secure=None)
    assert status == 401 and topic.published == []


def test_the_tenant_s_keys_unreachable_is_503_which_azure_retries() -> None:
    def down() -> dict[str, Any]:
        raise Transient("login.microsoftonline.com: connection refused")

    status, _, topic = ingest(headers=bearer(token()), secure=secure(down))  # type: ignore[arg-type]
    assert status == 503 and topic.published == []


def test_pubsub_down_is_503_which_azure_retries() -> None:
    # Azure retries a webhook only on 408, 429, 503 and 504.
    status, body, _ = ingest(query={"token": TOKENS[0]},
                             topic=Topic(Transient("publish failed: unavailable")))
    assert (status, body) == (503, {"error": "temporarily unavailable, retry later"})


def test_verification_comes_before_the_body_is_read() -> None:
    assert ingest(b"not json", query={"token": "wrong"})[0] == 401


@pytest.mark.parametrize("body", [
    b"not json", b"[]", b'{"schemaId": "Microsoft.Insights/activityLogs", "data": {}}',
    FIRED.replace(b'"Fired"', b'"Acknowledged"'), b"[" * 100_000,
    json.dumps({"schemaId": "azureMonitorCommonAlertSchema",
                "data": {"essentials": {"alertId": "x" * 2000,
                                        "monitorCondition": "Fired"}}}).encode(),
], ids=["not-json", "array", "other-schema", "unknown-condition", "deep", "huge-alert-id"])
def test_a_verified_malformed_body_is_400(body: bytes) -> None:
    status, answer, topic = ingest(body, query={"token": TOKENS[0]})
    assert status == 400 and answer["error"] == "malformed request body"
    assert topic.published == []


def test_only_the_azure_path_is_claimed() -> None:
    assert SOURCES.named("azure") is not None
    assert ingest(query={"token": TOKENS[0]}, path="/")[0] == 401  # no source claims it
    assert ingest(query={"token": TOKENS[0]}, path="/azure/")[0] == 202


# --- the worker ----------------------------------------------------------------------------

def test_parse_fired() -> None:
    alert = parse_message(FIRED, {"received_at": "2026-11-25T12:00:00.000+00:00"})
    assert (alert.source, alert.resource, alert.key) == ("azure", "azure", KEY_NAME)
    assert (alert.action, alert.transition) == (Action.TRIGGERED, "Fired")
    assert alert.title == "checkout-vm-cpu-high on checkout-vm-01"
    assert alert.priority == "Sev1" and alert.rule == "checkout-vm-cpu-high"
    assert alert.occurred_at == datetime(2026, 11, 25, 11, 58, 3, 512000, tzinfo=UTC)
    assert alert.environment == "prod"
    assert alert.url == ("https://portal.azure.com/#view/Microsoft_Azure_Monitoring_Alerts/"
                         "AlertDetails.ReactView/alertId~/%2Fsubscriptions%2F5f4e3d2c-1b0a-"
                         "4f9e-8d7c-6b5a49382716%2Fproviders%2FMicrosoft.AlertsManagement%2F"
                         "alerts%2F3c1e5a0b-7d2f-4e8a-9b61-0f2d8c4a7e19")
    fields = alert.match_fields()
    assert {k: fields[k] for k in ("subscription", "resource_group", "resource_type",
                                   "target_resource", "monitoring_service", "alert_rule",
                                   "severity", "signal_type", "service", "rule")} == {
        "subscription": "5f4e3d2c-1b0a-4f9e-8d7c-6b5a49382716",
        "resource_group": "payments-prod",
        "resource_type": "microsoft.compute/virtualmachines",
        "target_resource": "checkout-vm-01", "monitoring_service": "Platform",
        "alert_rule": "checkout-vm-cpu-high", "severity": "Sev1", "signal_type": "Metric",
        "service": "checkout", "rule": "checkout-vm-cpu-high"}


def test_parse_resolved_shares_the_key() -> None:
    fired, resolved = parse_message(FIRED, {}), parse_message(RESOLVED, {})
    assert resolved.key == fired.key and resolved.action is Action.RESOLVED
    assert resolved.occurred_at == datetime(2026, 11, 25, 12, 21, 47, 93000, tzinfo=UTC)


def test_a_resolve_without_a_resolve_time_falls_back_to_the_receipt() -> None:
    payload = json.loads(RESOLVED)
    del payload["data"]["essentials"]["resolvedDateTime"]
    alert = parse_message(json.dumps(payload).encode(),
                          {"received_at": "2026-11-25T12:30:00.000+00:00"})
    assert alert.occurred_at == datetime(2026, 11, 25, 12, 30, tzinfo=UTC)


def test_the_vendors_samples_parse() -> None:
    for path in sorted(VENDOR.glob("*.json")):
        alert = parse_message(path.read_bytes(), {})
        assert alert.key.startswith("azure:alert:/subscriptions/"), path.name


def test_custom_properties_cannot_hide_the_scope() -> None:
    payload = json.loads(FIRED)
    payload["data"]["customProperties"] = {"resource_group": "spoofed", "team": "core"}
    fields = parse_message(json.dumps(payload).encode(), {}).match_fields()
    assert (fields["resource_group"], fields["team"]) == ("payments-prod", "core")


def test_a_malformed_published_body_is_permanent() -> None:
    with pytest.raises(Permanent):
        parse_message(b"{}", {})


@pytest.mark.parametrize(("resource_id", "expected"), [
    ("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1",
     ("microsoft.compute/virtualmachines", "vm1")),
    ("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Sql/servers/s1/databases/db1",
     ("microsoft.sql/servers/databases", "db1")),
    ("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/"
     "providers/Microsoft.Insights/diagnosticSettings/d1",
     ("microsoft.insights/diagnosticsettings", "d1")),
    ("/subscriptions/s/resourceGroups/rg", (None, None)),
    ("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites", (None, None)),
    (None, (None, None)),
], ids=["vm", "nested", "extension", "group", "no-name", "none"])
def test_resource_type_and_name(resource_id: str | None,
                                expected: tuple[str | None, str | None]) -> None:
    assert resource_type_and_name(resource_id) == expected


@pytest.mark.parametrize(("severity", "priority"), [
    ("Sev0", "High"), ("Sev1", "High"), ("Sev2", "Medium"), ("Sev3", "Low"), ("Sev4", "Low"),
    ("SEV2", "Medium"), (None, "High")])
def test_severity_to_priority(severity: str | None, priority: str) -> None:
    payload = json.loads(FIRED)
    payload["data"]["essentials"]["severity"] = severity
    alert = parse_message(json.dumps(payload).encode(), {})
    if severity and severity != "SEV2":
        assert priority_for(alert, PriorityMap()) == priority
        assert f"Azure severity {severity}" in explain_priority(alert, PriorityMap())
    else:  # not Azure's spelling: the alert has no severity, and the default applies
        assert alert.priority is None
        assert priority_for(alert, PriorityMap()) == "High"


def test_teams_yaml_may_override_the_azure_table(tmp_path: Path) -> None:
    teams = tmp_path / "teams.yaml"
    teams.write_text("settings:\n  default_team: Ops\n  priority:\n    azure:\n      sev3: High\n"
                     "teams:\n  - name: Ops\n    asana_backlog_id: '1'\n")
    config = load_teams(str(teams))
    assert config.priority.azure["Sev3"] == "High"
    assert config.priority.azure["Sev2"] == "Medium"


def test_fired_then_resolved_is_one_task_opened_then_completed() -> None:
    config = load_teams(str(REPO / "teams.yaml"))
    assert "azure" in config.create_tasks_from
    tracker, ledger = MemoryTracker(), MemoryLedger()
    deps = WorkerDeps(config=lambda: config, environment="prod", tracker=tracker, ledger=ledger,
                      portfolios=PortfolioCache(tracker.portfolio_items),
                      dead_letter=lambda data, attributes: "dead", now=lambda: TOKEN_TIME,
                      link_back=LinkBack({}), wait_seconds=0)
    for n, body in enumerate((FIRED, FIRED, RESOLVED)):
        _, _, topic = ingest(body, query={"token": TOKENS[0]})
        [(data, attributes)] = topic.published
        outcome = logs.isolated(handle_push, PushMessage(f"m-{n}", data, attributes), deps)
        assert outcome.status == 200, outcome.body
    [(gid, task)] = tracker.tasks.items()
    assert "checkout-vm-cpu-high on checkout-vm-01" in task.name
    assert "portal.azure.com" in task.notes
    assert tracker.completed[gid] is True
    record, _ = ledger.get(KEY_NAME)
    assert record is not None and record.state is State.RESOLVED and record.source == "azure"


# --- settings and the built verifier ----------------------------------------------------------

BASE_ENV = {"GOOGLE_CLOUD_PROJECT": "p", "ENVIRONMENT": "dev"}


def test_settings_read_the_tenant_and_audiences() -> None:
    s = load_settings({**BASE_ENV, "AZURE_TENANT_ID": TENANT.upper(),
                       "AZURE_AUDIENCES": f"{CLIENT_ID}, api://alert-bridge"})
    assert s.azure_tenant_id == TENANT
    assert s.azure_audiences == (CLIENT_ID, "api://alert-bridge")


@pytest.mark.parametrize(("env", "problem"), [
    ({"AZURE_TENANT_ID": "contoso.onmicrosoft.com", "AZURE_AUDIENCES": "x"}, "AZURE_TENANT_ID"),
    ({"AZURE_TENANT_ID": TENANT}, "AZURE_AUDIENCES: required"),
    ({"AZURE_ENTRA_KEYS_URL": "http://127.0.0.1:1/keys", "ENVIRONMENT": "prod"},
     "AZURE_ENTRA_KEYS_URL: test-only"),
    ({"AZURE_ENTRA_KEYS_URL": "http://127.0.0.1:1/keys", "ENVIRONMENT": "staging"},
     "AZURE_ENTRA_KEYS_URL: test-only"),
], ids=["tenant-not-a-guid", "no-audience", "keys-url-in-prod", "keys-url-in-staging"])
def test_settings_refuse(env: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_settings({**BASE_ENV, **env})


class _NoSecrets:
    def optional(self, name: str) -> None:
        return None


def test_the_built_service_follows_the_settings() -> None:
    off = load_settings(BASE_ENV)
    assert ingest_service(Build(off, _NoSecrets(), lambda: TOKEN_TIME)).secure is None  # type: ignore[arg-type]
    on = load_settings({**BASE_ENV, "AZURE_TENANT_ID": TENANT, "AZURE_AUDIENCES": CLIENT_ID})
    built = ingest_service(Build(on, _NoSecrets(), lambda: TOKEN_TIME))  # type: ignore[arg-type]
    assert built.secure is not None
    assert built.secure.policy.tenant_id == TENANT
    assert built.secure.policy.audiences == frozenset({CLIENT_ID})


def test_explain_route_recognises_an_azure_body() -> None:
    from shared.cli.route import guess_source

    assert guess_source(json.loads(FIRED)) == ("azure", "azure")
    assert guess_source({"alert_transition": "Triggered"})[0] == "datadog"


# --- the tenant's keys over HTTP (a local fake of Entra) ----------------------------------------

@pytest.fixture
def entra() -> Any:
    from tests.fakes.entra_keys import EntraKeys

    server = EntraKeys().start()
    yield server
    server.stop()


def _built(entra: Any) -> AzureIngest:
    from tests.fakes.entra_keys import AUDIENCE

    settings = load_settings({**BASE_ENV, "AZURE_TENANT_ID": entra.tenant,
                              "AZURE_AUDIENCES": AUDIENCE,
                              "AZURE_ENTRA_KEYS_URL": entra.keys_url})
    return ingest_service(Build(settings, _NoSecrets(), lambda: RECEIVED))  # type: ignore[arg-type]


def test_fetch_keys_reads_the_tenant_s_jwks(entra: Any) -> None:
    from shared.sources.azure.build import fetch_keys

    assert [k["kid"] for k in fetch_keys(entra.keys_url)["keys"]] == ["fake-key-1"]
    entra.status = 503
    with pytest.raises(Transient):
        fetch_keys(entra.keys_url)
    entra.status = 200
    with pytest.raises(ConfigError, match="AZURE_TENANT_ID"):  # Entra: unknown tenant
        fetch_keys(entra.keys_url.replace(entra.tenant, "00000000-0000-0000-0000-000000000000"))
    with pytest.raises(Transient):
        fetch_keys("http://127.0.0.1:9/keys")  # nothing listens


def test_a_token_of_the_fake_tenant_opens_the_built_service(entra: Any) -> None:
    built = _built(entra)
    now = datetime.now(UTC)
    status, _, topic = ingest(headers=bearer(entra.token()), secure=built.secure, now=now)
    assert status == 202 and len(topic.published) == 1
    # A rotation: the next key is published, then signs; one refetch finds it.
    kid = entra.rotate()
    later = now + timedelta(minutes=6)
    assert ingest(headers=bearer(entra.token(kid=kid)), secure=built.secure, now=later)[0] == 202
    entra.status = 503  # Entra down: an unknown kid cannot be checked now, Azure retries
    assert ingest(headers=bearer(entra.token(kid=entra.rotate())), secure=built.secure,
                  now=later + timedelta(minutes=6))[0] == 503


def test_make_explain_route_reads_a_saved_azure_body(capsys: pytest.CaptureFixture[str]) -> None:
    from shared.cli.route import main

    assert main(["explain", "--teams", str(REPO / "teams.yaml"),
                 "--payload", str(DATA / "metric_fired.json")]) == 0
    assert "priority:  High (Azure severity Sev1 → High)" in capsys.readouterr().out
    assert main(["explain", "--teams", str(REPO / "teams.yaml"), "source=azure",
                 "priority=sev3", "service=payments-api"]) == 0
    out = capsys.readouterr().out
    assert "team:      Payments" in out and "Low (Azure severity Sev3 → Low)" in out

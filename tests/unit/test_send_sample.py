"""The samples `make send-sample` posts tell one coherent story on the local stack."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scripts.send_sample import SAMPLES, SNS, ingest_url, sample_body, sample_url, signed_headers
from scripts.sns_sample import local_settings
from shared.core.settings import load_settings
from shared.sources import SOURCES, alert_key, parse_alert


@pytest.fixture(autouse=True)
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # The CloudWatch samples are signed with a key made in the run directory.
    monkeypatch.setenv("RUN_DIR", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_sample_parses(name: str) -> None:
    resource = {None: "datadog", SNS: "cloudwatch"}.get(SAMPLES[name][1], SAMPLES[name][1])
    source = next(s.name for s in SOURCES if resource in s.resources)
    body = sample_body(name)
    alert = parse_alert(body, {"source": source, "resource": resource})
    assert alert.key == alert_key(source, resource, json.loads(body))


def test_cloudwatch_samples_verify_with_the_local_key_and_are_one_alarm(run_dir: Path) -> None:
    from shared.sources.build import Build
    from shared.sources.cloudwatch.build import sns_ingest

    env = {"GOOGLE_CLOUD_PROJECT": "p", "ENVIRONMENT": "dev", **local_settings(run_dir)}
    verifier = sns_ingest(Build(load_settings(env), None, lambda: datetime.now(UTC))).verifier  # type: ignore[arg-type]
    names = ("cloudwatch", "cloudwatch-insufficient-data", "cloudwatch-ok")
    bodies = [sample_body(name) for name in names]
    for body in bodies:
        verifier.handle(body, signed_headers("cloudwatch", body, {}), datetime.now(UTC))
    alerts = [parse_alert(body, {"source": "cloudwatch"}) for body in bodies]
    assert len({alert.key for alert in alerts}) == 1
    assert [alert.transition for alert in alerts] == ["ALARM", "INSUFFICIENT_DATA", "OK"]


@pytest.mark.parametrize("name", ["sentry-resolved", "sentry-regressed"])
def test_issue_samples_update_the_task_of_the_sentry_sample(name: str) -> None:
    opened = alert_key("sentry", "event_alert", json.loads(sample_body("sentry")))
    assert alert_key("sentry", "issue", json.loads(sample_body(name))) == opened


@pytest.mark.parametrize("name", ["sentry-resolved", "sentry-regressed"])
def test_issue_samples_link_to_the_issue_of_the_sentry_sample(name: str) -> None:
    event = json.loads(sample_body("sentry"))["data"]["event"]
    issue = json.loads(sample_body(name))["data"]["issue"]
    assert issue["id"] == event["issue_id"]
    assert issue["title"] == event["title"]
    assert event["issue_id"] in issue["url"] and event["issue_id"] in issue["web_url"]
    assert issue["project"]["id"] == str(event["project"])


def test_datadog_samples_are_one_alert_cycle() -> None:
    keys = {alert_key("datadog", "datadog", json.loads(sample_body(name)))
            for name in ("datadog", "datadog-recovered")}
    assert len(keys) == 1


@pytest.mark.parametrize("env, url", [
    ({}, "http://127.0.0.1:8080/"),
    ({"INGEST_PORT": "9090"}, "http://127.0.0.1:9090/"),
    ({"INGEST_PORT": "9090", "INGEST_URL": "http://10.0.0.5:8080/"}, "http://10.0.0.5:8080/"),
], ids=["default", "ingest-port", "explicit-url-wins"])
def test_ingest_url(env: dict[str, str], url: str) -> None:
    assert ingest_url(env) == url


def test_the_again_sample_is_a_new_firing_of_the_same_issue() -> None:
    first, again = sample_body("sentry"), sample_body("sentry-again")
    assert first != again  # an identical body would be recognised as a replay and skipped
    assert alert_key("sentry", "event_alert", json.loads(again)) == alert_key(
        "sentry", "event_alert", json.loads(first))


def test_azure_samples_are_one_alert_posted_with_the_url_token() -> None:
    keys = {alert_key("azure", "azure", json.loads(sample_body(name)))
            for name in ("azure", "azure-resolved")}
    assert len(keys) == 1
    assert sample_url("azure", "http://127.0.0.1:8080/", {}) == (
        "http://127.0.0.1:8080/azure?token=local-azure-token")
    assert sample_url("azure", "http://h/", {"AZURE_WEBHOOK_TOKEN": "new\nold"}) == (
        "http://h/azure?token=new")
    assert sample_url("datadog", "http://h/", {}) == "http://h/"
    assert signed_headers("azure", b"{}", {}) == {"Content-Type": "application/json"}


def test_alertmanager_samples_are_one_alert_firing_and_resolved() -> None:
    keys = {alert_key("alertmanager", "alertmanager", json.loads(sample_body(name)))
            for name in ("alertmanager", "alertmanager-resolved")}
    assert len(keys) == 1


def test_path_samples_go_to_their_source_path() -> None:
    assert sample_url("alertmanager", "http://127.0.0.1:8080/", {}) \
        == "http://127.0.0.1:8080/alertmanager"
    assert sample_url("datadog", "http://127.0.0.1:8080/", {}) == "http://127.0.0.1:8080/"


def test_grafana_samples_are_one_alert_signed_as_grafana_signs() -> None:
    from scripts.send_sample import grafana_headers
    from shared.sources.grafana.verify import Signing, why_refused

    keys = {alert_key("grafana", "grafana", json.loads(sample_body(name)))
            for name in ("grafana", "grafana-resolved")}
    assert len(keys) == 1
    body = sample_body("grafana")
    headers = {k.lower(): v for k, v in grafana_headers(body, {}).items()}
    signing = Signing(timestamp_header="X-Grafana-Alerting-Timestamp")
    from datetime import UTC, datetime

    assert why_refused(body, headers, ("local-grafana-secret",), signing,
                       datetime.now(UTC)) is None


def test_gcm_samples_are_one_incident_sent_with_the_token_in_the_url() -> None:
    keys = {alert_key("gcm", "gcm_incident", json.loads(sample_body(name)))
            for name in ("gcm", "gcm-closed", "gcm-pubsub", "gcm-pubsub-closed")}
    assert len(keys) == 1
    url = sample_url("gcm", "http://127.0.0.1:8080/", {"GCM_WEBHOOK_TOKEN": "t1\nt0"})
    assert url == "http://127.0.0.1:8080/?source=gcm&auth_token=t1"
    assert sample_url("datadog", "http://x/", {}) == "http://x/"
    assert "authorization" not in {k.lower() for k in signed_headers("gcm", b"{}", {})}

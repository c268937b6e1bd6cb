"""Link-back requests built from alerts, and the best-effort sending around them."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

from shared.core.alert import Action, Alert
from shared.core.errors import AlertBridgeError, Permanent, Transient
from shared.core.links import LinkRequest, task_url
from shared.flows.linkback import LinkBack, link_request
from shared.sources import parse_alert

DATA = Path(__file__).resolve().parents[1] / "data"
INSTALLATION = "7a485448-a9e2-4c85-8a3c-4f44175783c9"  # installation.uuid of the fixtures
TASK = "1209000000000042"
URL = "https://app.asana.com/0/1201/1209000000000042"


def parsed(fixture: str, source: str, resource: str) -> Alert:
    return parse_alert((DATA / fixture).read_bytes(), {"source": source, "resource": resource})


def datadog(**changes: object) -> Alert:
    alert = parsed("datadog_triggered.json", "datadog", "datadog")
    return dataclasses.replace(alert, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(("project", "expected"), [
    ("1201", "https://app.asana.com/0/1201/1209000000000042"),
    (None, "https://app.asana.com/0/0/1209000000000042"),
    ("12/01", "https://app.asana.com/0/12%2F01/1209000000000042"),
], ids=["project", "no-project", "odd-gid-quoted"])
def test_task_url(project: str | None, expected: str) -> None:
    assert task_url(TASK, project) == expected


@pytest.mark.parametrize(("fixture", "resource", "issue_id"), [
    ("sentry_event_alert.json", "event_alert", 4567890123),
    ("sentry_error.json", "error", 5123456789),
    ("sentry_issue_created.json", "issue", 5123456789),
], ids=["event-alert", "error", "issue"])
def test_sentry_issue_alert_links_an_external_issue(fixture: str, resource: str,
                                                    issue_id: int) -> None:
    request = link_request(parsed(fixture, "sentry", resource), TASK, URL, "Payments")
    assert request is not None
    assert request.service == "sentry" and request.method == "POST"
    assert request.path == f"/sentry-app-installations/{INSTALLATION}/external-issues/"
    assert request.body == {"issueId": issue_id, "webUrl": URL, "project": "Payments",
                            "identifier": TASK}


def test_sentry_parsers_keep_the_installation_uuid() -> None:
    assert parsed("sentry_metric_alert_critical.json", "sentry",
                  "metric_alert").installation_id == INSTALLATION


@pytest.mark.parametrize("change", [
    {"resource": "metric_alert"},
    {"installation_id": None},
    {"external_id": None},
    {"external_id": "PROJ-12"},
], ids=["metric-alert-has-no-issue", "no-installation", "no-issue-id", "non-numeric-issue-id"])
def test_sentry_alert_without_a_linkable_issue_is_skipped(change: dict[str, object]) -> None:
    alert = dataclasses.replace(parsed("sentry_event_alert.json", "sentry", "event_alert"),
                                **change)  # type: ignore[arg-type]
    assert link_request(alert, TASK, URL, "Payments") is None


@pytest.mark.parametrize("installation", [
    "../../organizations", "7a485448-a9e2-4c85-8a3c-4f44175783c9/../../x",
    "7a485448a9e24c858a3c4f44175783c9", "{7a485448-a9e2-4c85-8a3c-4f44175783c9}",
    "7a485448-a9e2-4c85-8a3c-4f44175783cz", "7a485448-a9e2-4c85-8a3c-4f44175783c9\n",
], ids=["dot-dot", "uuid-then-path", "no-dashes", "braces", "not-hex", "trailing-newline"])
def test_installation_that_is_not_a_uuid_is_a_permanent_error(installation: str) -> None:
    alert = dataclasses.replace(parsed("sentry_event_alert.json", "sentry", "event_alert"),
                                installation_id=installation)
    with pytest.raises(Permanent) as error:
        link_request(alert, TASK, URL, "Payments")
    assert error.value.reason == "bad_installation_uuid"


def test_installation_uuid_goes_into_the_path_in_lower_case() -> None:
    alert = dataclasses.replace(parsed("sentry_event_alert.json", "sentry", "event_alert"),
                                installation_id=INSTALLATION.upper())
    request = link_request(alert, TASK, URL, "Payments")
    assert request is not None
    assert request.path == f"/sentry-app-installations/{INSTALLATION}/external-issues/"


def test_bad_installation_skips_the_link_back_with_a_log_line(
        caplog: pytest.LogCaptureFixture) -> None:
    sentry = Sender()
    alert = dataclasses.replace(parsed("sentry_event_alert.json", "sentry", "event_alert"),
                                installation_id="../../organizations")
    LinkBack({"sentry": sentry})(alert, TASK, URL, "Payments")
    assert sentry.sent == []
    [record] = [r for r in caplog.records if getattr(r, "event", "") == "link_back_failed"]
    assert record.__dict__["reason"] == "bad_installation_uuid"


def test_datadog_alert_posts_an_event_next_to_the_alert() -> None:
    request = link_request(datadog(), TASK, URL, "Payments")
    assert request is not None
    assert (request.service, request.method, request.path) == ("datadog", "POST",
                                                               "/api/v1/events")
    body = request.body
    assert body["title"] == "Asana task for Paiements : taux d'erreur élevé — 支払い"
    assert body["text"].startswith("%%%\n") and body["text"].endswith("\n%%%")
    assert f"]({URL})" in body["text"] and "**Payments**" in body["text"]
    assert body["aggregation_key"] == "7460311123456789012"
    assert body["related_event_id"] == 7460311123456789012
    assert body["alert_type"] == "info"
    assert body["host"] == "gke-prod-pool-1-8f2c"
    assert body["tags"] == [
        "env:prod", "kube_namespace:payments", "canary", "service:payments-api",
        "team:payments", "url:https://pay.example.com/checkout/confirm",
        "alert_cycle_key:7460311123456789012", f"asana_task:{TASK}", "source:alert-bridge"]


@pytest.mark.parametrize(("change", "absent"), [
    ({"key": "datadog:event:55"}, "aggregation_key"),
    ({"url": None}, "related_event_id"),
    ({"url": "https://app.datadoghq.com/monitors/123"}, "related_event_id"),
    ({"url": "https://app.datadoghq.com/event/event?id=abc"}, "related_event_id"),
    ({"host": None}, "host"),
], ids=["no-cycle-key", "no-link", "link-without-event-id", "non-numeric-event-id", "no-host"])
def test_datadog_event_leaves_out_what_the_alert_lacks(change: dict[str, object],
                                                       absent: str) -> None:
    request = link_request(datadog(**change), TASK, URL, "Payments")
    assert request is not None and absent not in request.body


def test_datadog_event_respects_the_api_limits() -> None:
    title = "Ω" * 300
    request = link_request(datadog(title=title, tags=(("note", "x" * 500),)), TASK, URL, "T")
    assert request is not None
    assert len(request.body["title"]) == 100 and request.body["title"].endswith("…")
    assert len(request.body["text"]) <= 4000
    assert max(len(tag) for tag in request.body["tags"]) == 200


def test_datadog_markdown_link_survives_brackets_in_the_title() -> None:
    request = link_request(datadog(title="[prod] cache (eu) down %%% now"), TASK, URL, "T")
    assert request is not None
    text = request.body["text"]
    assert r"\[prod\] cache \(eu\) down % now" in text
    assert text.count("%%%") == 2  # only the markdown fences


def test_other_sources_link_nothing() -> None:
    alert = Alert(source="pagerduty", resource="x", key="pd:1", action=Action.TRIGGERED,
                  title="t")
    assert link_request(alert, TASK, URL, "T") is None


class Sender:
    """A link sender double: records requests, or raises / reports no credential."""

    def __init__(self, error: AlertBridgeError | None = None, configured: bool = True) -> None:
        self.sent: list[LinkRequest] = []
        self.error = error
        self.configured = configured

    def send(self, request: LinkRequest) -> bool:
        if self.error:
            raise self.error
        if self.configured:
            self.sent.append(request)
        return self.configured


def events(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, getattr(r, "event", "")) for r in caplog.records
            if r.name == "shared.flows.linkback"]


def test_link_back_sends_to_the_alert_source(caplog: pytest.LogCaptureFixture) -> None:
    sentry, dd = Sender(), Sender()
    caplog.set_level(logging.DEBUG)
    LinkBack({"sentry": sentry, "datadog": dd})(datadog(), TASK, URL, "Payments")
    assert sentry.sent == [] and [r.path for r in dd.sent] == ["/api/v1/events"]
    assert events(caplog) == [(logging.INFO, "linked_back")]


@pytest.mark.parametrize("error", [
    Permanent("datadog POST /api/v1/events: 403 Forbidden", reason="link_http_403"),
    Transient("datadog POST /api/v1/events: 503 after 3 attempts"),
], ids=["rejected", "unavailable"])
def test_link_back_failure_is_logged_not_raised(error: AlertBridgeError,
                                                caplog: pytest.LogCaptureFixture) -> None:
    LinkBack({"datadog": Sender(error)})(datadog(), TASK, URL, "Payments")
    [record] = [r for r in caplog.records if getattr(r, "event", "") == "link_back_failed"]
    assert record.levelno == logging.WARNING
    assert (record.__dict__["source"], record.__dict__["alert_key"]) == (
        "datadog", "datadog:cycle:7460311123456789012")


@pytest.mark.parametrize(("senders", "alert"), [
    ({"datadog": Sender(configured=False)}, "datadog"),
    ({}, "datadog"),
    ({"sentry": Sender()}, "metric"),
], ids=["no-credential", "no-sender", "nothing-to-link"])
def test_link_back_skips_quietly(senders: dict[str, Sender], alert: str,
                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    subject = datadog() if alert == "datadog" else parsed(
        "sentry_metric_alert_critical.json", "sentry", "metric_alert")
    LinkBack(senders)(subject, TASK, URL, "Payments")
    assert events(caplog) == [(logging.DEBUG, "link_back_skipped")]
    assert all(sender.sent == [] for sender in senders.values())

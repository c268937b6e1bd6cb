"""The link-back HTTP client against the local fake Sentry and Datadog APIs, and dry-run."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared.adapters.link_targets import DryRunLinks, LinkClient, LinkRejected, LinkUnavailable
from shared.core.errors import is_retryable
from shared.core.links import LinkRequest
from shared.sources.datadog.build import datadog_auth
from shared.sources.sentry.build import sentry_auth
from tests.fakes.link_target_servers import FakeDatadogApi, FakeSentryApi

SENTRY_TOKEN = "sntrys-secret-0123456789abcdef"
DD_KEY = "dd-api-key-0123456789abcdef"
INSTALLATION = "7a485448-a9e2-4c85-8a3c-4f44175783c9"
TASK_URL = "https://app.asana.com/0/1201/1209000000000042"
SENTRY_LINK = LinkRequest(
    "sentry", "POST", f"/sentry-app-installations/{INSTALLATION}/external-issues/",
    {"issueId": 4567890123, "webUrl": TASK_URL, "project": "Paiements — 支払い",
     "identifier": "1209000000000042"})
DD_EVENT = LinkRequest("datadog", "POST", "/api/v1/events", {
    "title": "Asana task for Paiements : taux d'erreur élevé — 支払い",
    "text": f"%%%\nAsana task [Paiements]({TASK_URL})\n%%%",
    "tags": ["env:prod", "alert_cycle_key:746", "source:alert-bridge"],
    "alert_type": "info", "aggregation_key": "746", "related_event_id": 746})


class Sleeps(list[float]):
    """Record waits instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sentry() -> Iterator[FakeSentryApi]:
    with FakeSentryApi(token=SENTRY_TOKEN) as fake:
        fake.add_installation(INSTALLATION)
        yield fake


@pytest.fixture
def datadog() -> Iterator[FakeDatadogApi]:
    with FakeDatadogApi(api_key=DD_KEY) as fake:
        yield fake


def sentry_client(fake: FakeSentryApi, sleeps: Sleeps, token: str | None = SENTRY_TOKEN,
                  **kwargs: Any) -> LinkClient:
    return LinkClient("sentry", fake.url, sentry_auth(lambda: token), sleep=sleeps, **kwargs)


def datadog_client(fake: FakeDatadogApi, sleeps: Sleeps, key: str | None = DD_KEY) -> LinkClient:
    return LinkClient("datadog", fake.url, datadog_auth(lambda: key), sleep=sleeps)


def test_sentry_link_creates_an_external_issue(sentry: FakeSentryApi) -> None:
    assert sentry_client(sentry, Sleeps()).send(SENTRY_LINK) is not None
    issue = sentry.external_issues[(INSTALLATION, 4567890123)]
    assert issue["webUrl"] == TASK_URL
    assert issue["displayName"] == "Paiements — 支払い#1209000000000042"
    assert sentry.requests[0].headers["authorization"] == f"Bearer {SENTRY_TOKEN}"


def test_datadog_event_is_posted_with_the_api_key(datadog: FakeDatadogApi) -> None:
    assert datadog_client(datadog, Sleeps()).send(DD_EVENT) is not None
    [event] = datadog.events
    assert event["title"] == DD_EVENT.body["title"] and event["related_event_id"] == 746
    assert datadog.requests[0].headers["dd-api-key"] == DD_KEY


@pytest.mark.parametrize("status", [500, 502, 503, 429], ids=str)
def test_overload_is_retried_then_succeeds(sentry: FakeSentryApi, status: int) -> None:
    sleeps = Sleeps()
    sentry.fail_next(2, status)
    assert sentry_client(sentry, sleeps).send(SENTRY_LINK) is not None
    assert len(sentry.requests) == 3 and len(sleeps) == 2
    assert (INSTALLATION, 4567890123) in sentry.external_issues


def test_retry_after_is_honoured_but_capped(datadog: FakeDatadogApi) -> None:
    sleeps = Sleeps()
    datadog.fail_next(1, 429, retry_after=2)
    datadog.fail_next(1, 429, retry_after=3600)
    datadog_client(datadog, sleeps).send(DD_EVENT)
    assert sleeps == [2.0, 5.0]


def test_persistent_outage_gives_up_after_three_attempts(datadog: FakeDatadogApi) -> None:
    datadog.fail_next(5, 503)
    with pytest.raises(LinkUnavailable) as caught:
        datadog_client(datadog, Sleeps()).send(DD_EVENT)
    assert caught.value.status == 503 and is_retryable(caught.value)
    assert len(datadog.requests) == 3 and datadog.events == []
    assert "after 3 attempts" in str(caught.value)


def test_unreachable_service_is_retried_then_reported() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the client connects
    sleeps = Sleeps()
    client = LinkClient("sentry", f"http://127.0.0.1:{port}/api/0",
                        sentry_auth(lambda: SENTRY_TOKEN), sleep=sleeps, timeout=(0.5, 0.5))
    with pytest.raises(LinkUnavailable, match="ConnectionError") as caught:
        client.send(SENTRY_LINK)
    assert caught.value.status is None and len(sleeps) == 2


@pytest.mark.parametrize(("request_", "token", "status", "message"), [
    (SENTRY_LINK, "wrong-token", 401, "Invalid token"),
    (LinkRequest("sentry", "POST", SENTRY_LINK.path, {**SENTRY_LINK.body, "issueId": "x"}),
     SENTRY_TOKEN, 400, "A valid integer is required"),
    (LinkRequest("sentry", "POST", SENTRY_LINK.path, {"issueId": 1, "webUrl": TASK_URL}),
     SENTRY_TOKEN, 400, "This field is required"),
    (LinkRequest("sentry", "POST", "/sentry-app-installations/unknown/external-issues/",
                 SENTRY_LINK.body), SENTRY_TOKEN, 404, "does not exist"),
], ids=["wrong-token", "bad-issue-id", "missing-fields", "unknown-installation"])
def test_sentry_refusal_is_permanent_and_not_retried(
        sentry: FakeSentryApi, request_: LinkRequest, token: str, status: int,
        message: str) -> None:
    sleeps = Sleeps()
    with pytest.raises(LinkRejected, match=message) as caught:
        sentry_client(sentry, sleeps, token=token).send(request_)
    assert caught.value.status == status and not is_retryable(caught.value)
    assert len(sentry.requests) == 1 and sleeps == []


@pytest.mark.parametrize(("body", "key", "status", "message"), [
    (DD_EVENT.body, "wrong-key", 403, "Forbidden"),
    ({"text": "no title"}, DD_KEY, 400, "title is required"),
    ({**DD_EVENT.body, "related_event_id": "746"}, DD_KEY, 400, "related_event_id"),
    ({**DD_EVENT.body, "text": "x" * 4001}, DD_KEY, 400, "4000"),
], ids=["wrong-key", "no-title", "string-event-id", "text-too-long"])
def test_datadog_refusal_is_permanent_and_not_retried(
        datadog: FakeDatadogApi, body: dict[str, Any], key: str, status: int,
        message: str) -> None:
    with pytest.raises(LinkRejected, match=message) as caught:
        datadog_client(datadog, Sleeps(), key=key).send(
            LinkRequest("datadog", "POST", "/api/v1/events", body))
    assert caught.value.status == status and len(datadog.requests) == 1


@pytest.mark.parametrize("status", [400, 503], ids=["rejected", "unavailable"])
def test_no_credential_in_error_messages(sentry: FakeSentryApi, status: int) -> None:
    # Without "Bearer" in front, only the live token's value identifies it as a credential.
    sentry.fail_next(3, status, body={"detail": f"bad header {SENTRY_TOKEN}"})
    with pytest.raises((LinkRejected, LinkUnavailable)) as caught:
        sentry_client(sentry, Sleeps()).send(SENTRY_LINK)
    assert SENTRY_TOKEN not in str(caught.value)
    assert "[redacted]" in str(caught.value)


@pytest.mark.parametrize("credential", [None, ""], ids=["unset", "empty"])
def test_no_credential_sends_nothing(sentry: FakeSentryApi, datadog: FakeDatadogApi,
                                     credential: str | None) -> None:
    assert sentry_client(sentry, Sleeps(), token=credential).send(SENTRY_LINK) is None
    assert datadog_client(datadog, Sleeps(), key=credential).send(DD_EVENT) is None
    assert sentry.requests == [] and datadog.requests == []


def test_a_sent_request_says_when_the_service_made_it(sentry: FakeSentryApi) -> None:
    sent = sentry_client(sentry, Sleeps()).send(SENTRY_LINK)
    # The two-way sync keeps the service's own clock of our change (shared/core/ledger.py).
    assert sent is not None and sent.at is not None
    assert abs((sent.at - datetime.now(UTC)).total_seconds()) < 5


def test_credential_is_read_on_every_send(datadog: FakeDatadogApi) -> None:
    keys = iter([None, DD_KEY])  # e.g. the secret was created while the instance ran
    client = LinkClient("datadog", datadog.url, datadog_auth(lambda: next(keys)),
                        sleep=Sleeps())
    assert client.send(DD_EVENT) is None
    assert client.send(DD_EVENT) is not None


def test_dry_run_records_the_request(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "dry-run.jsonl"
    recorder = DryRunLinks(str(path), clock=lambda: datetime(2026, 11, 25, tzinfo=UTC))
    assert recorder.send(SENTRY_LINK) is not None
    [line] = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(line) == {"service": "sentry", "method": "POST", "path": SENTRY_LINK.path,
                                "body": dict(SENTRY_LINK.body),
                                "at": "2026-11-25T00:00:00+00:00"}
    assert "支払い" in line  # readable, not \u-escaped

"""Reconciliation's Sentry and Datadog readers against the local fake APIs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.api_reads import ReadRejected, ReadUnavailable
from shared.core.errors import ConfigError, Permanent, is_retryable
from shared.sources.datadog.reconcile_reader import DatadogReader
from shared.sources.sentry.reconcile_reader import SentryReader
from tests.fakes.link_target_servers import FakeDatadogApi, FakeSentryApi

TOKEN = "sntrys-reconcile-token"
DD_KEY, DD_APP = "dd-api-key", "dd-app-key"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
START, END = NOW - timedelta(hours=1), NOW - timedelta(minutes=5)
PROJECT = "panther-alerts-api"


@pytest.fixture
def sentry() -> Iterator[FakeSentryApi]:
    with FakeSentryApi(token=TOKEN) as fake:
        yield fake


@pytest.fixture
def datadog() -> Iterator[FakeDatadogApi]:
    with FakeDatadogApi(api_key=DD_KEY, app_key=DD_APP) as fake:
        yield fake


def reader(fake: FakeSentryApi, *, rules: tuple[tuple[str, str], ...] = ((PROJECT, "7"),),
           projects: tuple[str, ...] = (), token: str | None = TOKEN) -> SentryReader:
    return SentryReader(fake.url, "acme", lambda: token, rules, projects, sleep=lambda _: None)


def test_group_history_is_read_over_every_page_within_the_window(sentry: FakeSentryApi) -> None:
    for n in range(150):  # two pages of 100
        sentry.add_issue(PROJECT, str(1000 + n), first_seen=START)
        sentry.fire_rule(PROJECT, "7", str(1000 + n), NOW - timedelta(minutes=30))
    sentry.add_issue(PROJECT, "1", first_seen=START)
    sentry.fire_rule(PROJECT, "7", "1", NOW - timedelta(hours=2))  # before the window
    found = reader(sentry).findings(START, END)
    assert sorted(f.issue["id"] for f in found) == [str(1000 + n) for n in range(150)]
    assert {f.rule_id for f in found} == {"7"}
    assert found[0].fired_at == NOW - timedelta(minutes=30)
    cursors = [r for r in sentry.requests if r.path.endswith("/group-history/")]
    assert len(cursors) == 2


def test_without_group_history_the_issue_search_stands_in(sentry: FakeSentryApi) -> None:
    sentry.group_history = False
    sentry.add_issue(PROJECT, "11", first_seen=NOW - timedelta(minutes=20))
    sentry.add_issue(PROJECT, "12", first_seen=NOW - timedelta(days=3),
                     last_seen=NOW - timedelta(days=2))  # not seen in the window
    sentry.add_issue(PROJECT, "13", first_seen=NOW - timedelta(minutes=20), status="resolved")
    found = reader(sentry).findings(START, END)
    assert [(f.issue["id"], f.rule_id) for f in found] == [("11", None)]


def test_projects_are_searched_without_rules(sentry: FakeSentryApi) -> None:
    sentry.add_issue("growth", "21", first_seen=NOW - timedelta(minutes=20))
    found = reader(sentry, rules=(), projects=("growth",)).findings(START, END)
    assert [f.issue["id"] for f in found] == ["21"]


ISSUES = "/organizations/acme/issues/"


def test_a_hundred_issues_are_read_in_one_request_timed_by_sentry_s_date(
        sentry: FakeSentryApi) -> None:
    sentry.clock = lambda: datetime(2026, 12, 1, 11, 59, 58, 750000, tzinfo=UTC)
    ids = [str(5000 + n) for n in range(100)]
    for n, issue_id in enumerate(ids):
        sentry.add_issue(PROJECT, issue_id, first_seen=START,
                         status="resolved" if n % 2 else "unresolved")
    observed = reader(sentry).issues([*ids[:99], "404404"])  # one deleted
    assert sentry.count("GET", ISSUES) == 1
    assert sorted(observed.issues) == sorted(ids[:99])
    assert observed.issues["5001"]["status"] == "resolved"
    assert observed.at == datetime(2026, 12, 1, 11, 59, 58, tzinfo=UTC)  # whole seconds
    [request] = sentry.requests
    assert request.query["project"] == ["-1"]  # every project the token may see
    assert len(request.query["group"]) == 100
    assert set(request.query["collapse"]) == {"stats", "lifetime", "filtered", "unhandled"}


def test_an_answer_that_ignored_the_ids_is_refused(sentry: FakeSentryApi) -> None:
    sentry.fail_next(1, 200, body=[{"id": "777", "status": "unresolved"}])  # a search's answer
    with pytest.raises(Permanent, match="group parameter was not honoured"):
        reader(sentry).issues(["41"])


def test_more_than_a_hundred_ids_are_refused_before_sending(sentry: FakeSentryApi) -> None:
    with pytest.raises(ValueError, match="at most 100"):
        reader(sentry).issues([str(n) for n in range(101)])
    assert sentry.requests == []


def test_rate_limits_are_waited_out(sentry: FakeSentryApi) -> None:
    sentry.add_issue(PROJECT, "41", first_seen=START)
    sentry.fail_next(2, 429, retry_after=1)
    assert reader(sentry).issues(["41"]).issues["41"]["id"] == "41"
    assert sentry.count("GET", ISSUES) == 3


def test_a_read_that_keeps_failing_is_transient(sentry: FakeSentryApi) -> None:
    sentry.add_issue(PROJECT, "51", first_seen=START)
    sentry.add_issue(PROJECT, "52", first_seen=START)
    sentry.failing_issues = {"52"}
    with pytest.raises(ReadUnavailable) as raised:
        reader(sentry).issues(["51", "52"])
    assert is_retryable(raised.value)
    assert sentry.count("GET", ISSUES) == 4  # every attempt
    assert reader(sentry).issues(["51"]).issues.keys() == {"51"}


@pytest.mark.parametrize("token, error, retryable", [
    (None, ConfigError, True), ("wrong", ReadRejected, False),
], ids=["no-token", "wrong-token"])
def test_credential_problems_are_named(sentry: FakeSentryApi, token: str | None,
                                       error: type[Exception], retryable: bool) -> None:
    sentry.add_issue(PROJECT, "1", first_seen=START)
    sentry.fire_rule(PROJECT, "7", "1", NOW)
    with pytest.raises(error) as raised:
        reader(sentry, token=token).findings(START, END)
    assert is_retryable(raised.value) is retryable
    assert TOKEN not in str(raised.value)
    if token is None:
        assert "SENTRY_AUTH_TOKEN" in str(raised.value)


def test_every_monitor_page_is_read_with_both_keys(datadog: FakeDatadogApi) -> None:
    for n in range(450):  # three pages of 200
        datadog.add_monitor(n + 1, f"monitor {n}", changed=NOW, tags=["team:payments"])
    datadog.add_monitor(999, "other", changed=NOW, tags=["team:growth"])
    monitors = DatadogReader(datadog.url, lambda: DD_KEY, lambda: DD_APP, "team:payments",
                             sleep=lambda _: None).monitors()
    assert len(monitors) == 450
    assert [r.headers["dd-application-key"] for r in datadog.requests] == [DD_APP] * 3


@pytest.mark.parametrize("app_key, error, text", [
    (None, ConfigError, "DATADOG_APP_KEY"), ("wrong", ReadRejected, "403"),
], ids=["no-app-key", "wrong-app-key"])
def test_datadog_credential_problems_are_named(datadog: FakeDatadogApi, app_key: str | None,
                                               error: type[Exception], text: str) -> None:
    with pytest.raises(error, match=text):
        DatadogReader(datadog.url, lambda: DD_KEY, lambda: app_key,
                      sleep=lambda _: None).monitors()


def test_the_fakes_refuse_malformed_reads(sentry: FakeSentryApi, datadog: FakeDatadogApi) -> None:
    import requests

    sentry.add_issue(PROJECT, "1", first_seen=START)
    sentry.fire_rule(PROJECT, "7", "1", NOW)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    base = f"{sentry.url}/projects/acme/{PROJECT}"
    assert requests.get(f"{base}/rules/7/group-history/", headers=auth,
                        timeout=5).status_code == 400  # start and end are required
    assert requests.get(f"{base}/issues/", params={"query": "bogus:1"}, headers=auth,
                        timeout=5).status_code == 400
    assert requests.get(f"{base}/issues", headers=auth, timeout=5).status_code == 404
    assert requests.get(f"{datadog.url}/api/v1/monitor", params={"page_size": "0"},
                        headers={"DD-API-KEY": DD_KEY, "DD-APPLICATION-KEY": DD_APP},
                        timeout=5).status_code == 400
    org_issues = f"{sentry.url}/organizations/acme/issues/"
    for params, status in (({"group": ["1", "x"]}, 400), ({"project": "abc", "group": "1"}, 400),
                           ({"project": "77", "group": "1"}, 403),
                           ({"collapse": "stat", "group": "1"}, 400)):
        assert requests.get(org_issues, params=params, headers=auth,
                            timeout=5).status_code == status, params
    answer = requests.get(org_issues, params={"group": "1"}, headers=auth, timeout=5)
    assert answer.status_code == 200 and "Link" not in answer.headers  # one list, not paged

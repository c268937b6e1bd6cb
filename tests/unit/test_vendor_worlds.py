"""The vendor worlds send what Sentry and Datadog send: signed, timestamped, shaped as theirs."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
import requests

from shared.core.alert import Action
from shared.sources import parse_alert
from shared.sources.datadog import parse as alerts_datadog
from shared.sources.sentry import verify as signatures
from tests.fakes.datadog_world import DatadogWorld
from tests.fakes.sentry_world import Person, SentryWorld
from tests.fakes.vendor_world import Webhook, WorldClock

REPO = Path(__file__).resolve().parents[2]
SECRET = "world-secret"
CHLOE = Person("2740133", "Chloé Martin")
ISSUE = "9000000011"


def clock() -> WorldClock:
    """Sentry's clock 10 minutes behind a real time that stands still: every action a second on."""
    standing = datetime(2026, 11, 20, 10, 10, tzinfo=UTC)
    return WorldClock(timedelta(minutes=10), real=lambda: standing)


@pytest.fixture
def sentry() -> Iterator[SentryWorld]:
    world = SentryWorld(token="t", client_secret=SECRET, ingest_url="http://ingest/")
    sent: list[Webhook] = []
    world.outbox.send = sent.append
    with world:
        world.open_issue(ISSUE, "hist-sync", "KeyError: 'owner' (h1-a1)", clock(), "101")
        yield world


def test_sentry_webhooks_are_signed_and_each_request_has_its_own_id(sentry: SentryWorld) -> None:
    hooks = [*sentry.new_event(ISSUE), *sentry.resolve(ISSUE, CHLOE), *sentry.new_event(ISSUE)]
    assert [h.headers["Sentry-Hook-Resource"] for h in hooks] == [
        "event_alert", "issue", "issue", "event_alert"]  # the last event is a regression
    for hook in hooks:
        assert signatures.verify_sentry(hook.body, hook.headers["Sentry-Hook-Signature"],
                                        (SECRET,))
    assert len({h.headers["Request-ID"] for h in hooks}) == len(hooks)
    stamps = [int(h.headers["Sentry-Hook-Timestamp"]) for h in hooks]
    assert stamps == sorted(stamps) and stamps[0] < stamps[1] < stamps[2]  # an action a second+


def test_the_bodies_parse_as_the_service_reads_them(sentry: SentryWorld) -> None:
    [resolved] = sentry.resolve(ISSUE, CHLOE)
    [regressed, fired] = sentry.new_event(ISSUE)
    actions = [parse_alert(h.body, {"source": "sentry",
                                    "resource": h.headers["Sentry-Hook-Resource"]}).action
               for h in (resolved, regressed, fired)]
    assert actions == [Action.RESOLVED, Action.REOPENED, Action.TRIGGERED]
    assert regressed.payload()["data"]["issue"]["substatus"] == "regressed"
    assert sentry.status(ISSUE) == "unresolved"


def test_resolving_twice_with_nothing_between_sends_the_same_bytes(sentry: SentryWorld) -> None:
    [first] = sentry.resolve(ISSUE, CHLOE)
    assert sentry.resolve(ISSUE, CHLOE) == []  # already resolved: Sentry sends nothing
    [reopened] = sentry.unresolve(ISSUE, CHLOE)
    [again] = sentry.resolve(ISSUE, CHLOE)
    assert again.body == first.body  # what fools a body digest
    assert again.headers["Request-ID"] != first.headers["Request-ID"]
    assert reopened.payload()["action"] == "unresolved"


def test_the_services_change_is_echoed_with_sentrys_clock(sentry: SentryWorld) -> None:
    sent: list[Webhook] = []
    sentry.outbox.send = sent.append
    answer = requests.put(f"{sentry.url}/organizations/acme/issues/{ISSUE}/",
                          json={"status": "resolved"}, timeout=5,
                          headers={"Authorization": "Bearer t"})
    assert answer.status_code == 200
    deadline = time.monotonic() + 5
    while not sent and time.monotonic() < deadline:
        time.sleep(0.01)
    [echo] = sent
    said = parsedate_to_datetime(answer.headers["Date"])
    assert said == sentry.clocks[ISSUE].now().replace(microsecond=0)
    assert said.year == 2026 and said.month == 11  # Sentry's clock, not ours
    assert int(echo.headers["Sentry-Hook-Timestamp"]) == int(said.timestamp())
    assert echo.payload()["actor"]["type"] == "application"
    assert [c.by for c in sentry.changed_by_service(ISSUE)] == ["alert-bridge"]
    read = requests.get(f"{sentry.url}/organizations/acme/issues/{ISSUE}/", timeout=5,
                        headers={"Authorization": "Bearer t"})
    assert read.json()["status"] == "resolved" and read.headers["Date"] == answer.headers["Date"]


def test_datadog_transitions_fill_the_documented_template() -> None:
    template = json.loads((REPO / "docs" / "datadog-webhook-template.json").read_text())
    world = DatadogWorld(api_key="k", app_key="a", ingest_url="http://ingest/",
                         secret_token="tok")
    world.add_world_monitor(8000000013, "Checkout latency (h1-a3)", clock(),
                            ["team:monitors"])
    [triggered] = world.trigger(8000000013)
    assert world.trigger(8000000013) == []  # already alerting
    [recovered] = world.recover(8000000013)
    [again] = world.trigger(8000000013)
    for hook in (triggered, recovered, again):
        assert set(hook.payload()) == set(template)
        assert hook.headers["datadog-secret-token"] == "tok"
    first, end, second = (alerts_datadog.parse(h.payload(), None)
                          for h in (triggered, recovered, again))
    assert (first.key, first.action) == (end.key, Action.TRIGGERED)
    assert end.action is Action.RESOLVED and second.key != first.key  # a new alert cycle
    assert first.external_id == "8000000013" and first.title == "Checkout latency (h1-a3)"
    assert world.state(8000000013) == "Alert"
    moments = [int(h.payload()["date"]) for h in (triggered, recovered, again)]
    assert moments == sorted(set(moments))


def test_a_world_clock_moves_forward_by_at_least_a_second_per_action() -> None:
    timeline = clock()
    moments = [timeline.tick() for _ in range(50)]
    assert all(later - earlier >= timedelta(seconds=1)
               for earlier, later in zip(moments, moments[1:], strict=False))
    assert moments[0] == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # 10 minutes behind
    assert timeline.now() == moments[-1]


def test_the_outbox_counts_what_is_still_being_sent() -> None:
    from tests.fakes.vendor_world import Outbox

    release = threading.Event()
    outbox = Outbox(send=lambda hook: release.wait(5))
    hook = Webhook("sentry", ISSUE, "echo", "http://ingest/", b"{}", {})
    outbox.deliver(hook)
    assert outbox.pending(ISSUE) == 1
    release.set()
    deadline = time.monotonic() + 5
    while outbox.pending() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert outbox.pending() == 0 and len(outbox.sent) == 1

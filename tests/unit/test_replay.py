"""Dead-letter replay: what is republished, what is picked, and that nothing is ever lost."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import pytest

from shared.adapters.dead_letters import Unreachable
from shared.cli.replay import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_UNREACHABLE,
    exit_status,
    subscription_name,
)
from shared.core.envelope import DeadLetter, Pulled
from shared.core.errors import AlertBridgeError, ConfigError, Permanent, Transient
from shared.flows.replay import (
    EXHAUSTED,
    MAX_CONSECUTIVE_FAILURES,
    Selection,
    count_by_reason,
    peek,
    plan_republish,
    reason_of,
    replay,
    summary,
)

NOW = datetime(2026, 11, 22, 9, 30, 0, tzinfo=UTC)
RUN = "run-7"
ORIGINAL = {"source": "sentry", "resource": "event_alert", "action": "triggered",
            "alert_key": "sentry:issue:88001", "received_at": "2026-11-21T08:00:00.000+00:00",
            "request_id": "req-1"}
BY_WORKER = {"dead_letter_reason": "asana_http_400",
             "dead_letter_error": "Asana 400 on POST /tasks: project 1200 not found",
             "dead_letter_source_message_id": "m-17",
             "dead_lettered_at": "2026-11-21T08:00:05+00:00"}
BY_PUBSUB = {"CloudPubSubDeadLetterSourceDeliveryCount": "5",
             "CloudPubSubDeadLetterSourceSubscription": "alert-events-push",
             "CloudPubSubDeadLetterSourceSubscriptionProject": "acme-alerts",
             "CloudPubSubDeadLetterSourceTopicPublishTime": "2026-11-21T08:00:00.100+00:00"}
BODY = '{"data": {"event": {"title": "Ошибка: 支払い失敗 — café"}}}'.encode()


def letter(message_id: str = "d-1", published_at: str = "2026-11-21T08:00:06+00:00",
           **attributes: str) -> DeadLetter:
    return DeadLetter(message_id, BODY, attributes, published_at)


def worker_letter(message_id: str, reason: str = "asana_http_400", source: str = "sentry",
                  key: str = "sentry:issue:88001") -> DeadLetter:
    return letter(message_id, **{**ORIGINAL, **BY_WORKER, "dead_letter_reason": reason,
                                 "source": source, "alert_key": key})


@pytest.mark.parametrize("extra, replay_count", [
    (BY_WORKER, "1"),
    (BY_PUBSUB, "1"),
    ({**BY_WORKER, "replay_count": "1", "replayed_at": "2026-11-21T09:00:00+00:00"}, "2"),
    ({**BY_PUBSUB, "replay_count": "two"}, "1"),
], ids=["dead-lettered-by-worker", "retries-exhausted-in-pubsub", "replayed-before",
        "garbled-count-restarts"])
def test_republish_restores_the_original_attributes(extra: Mapping[str, str],
                                                    replay_count: str) -> None:
    plan = plan_republish(letter(**{**ORIGINAL, **extra}), NOW, RUN)
    assert plan.data == BODY
    assert plan.attributes == {**ORIGINAL, "replay_count": replay_count,
                               "replayed_at": "2026-11-22T09:30:00+00:00",
                               "replay_run_id": RUN}


@pytest.mark.parametrize("attributes, reason", [
    ({**ORIGINAL, **BY_WORKER}, "asana_http_400"),
    ({**ORIGINAL, **BY_PUBSUB}, EXHAUSTED),
    (ORIGINAL, "unknown"),
], ids=["worker-reason", "pubsub-gave-up", "no-bookkeeping"])
def test_reason(attributes: Mapping[str, str], reason: str) -> None:
    assert reason_of(attributes) == reason


@pytest.mark.parametrize("selection, wanted", [
    (Selection(), True),
    (Selection(reason="asana_http_400"), True),
    (Selection(reason="bad_payload"), False),
    (Selection(source="sentry"), True),
    (Selection(source="datadog"), False),
    (Selection(key="issue:88"), True),
    (Selection(key="issue:99"), False),
    (Selection(reason="asana_http_400", source="datadog"), False),
    (Selection(reason="asana_http_400", source="sentry", key="88001"), True),
], ids=["no-filter", "reason-matches", "reason-differs", "source-matches", "source-differs",
        "key-substring", "key-absent", "one-of-two-differs", "all-three-match"])
def test_selection(selection: Selection, wanted: bool) -> None:
    assert selection.matches(worker_letter("d-1")) is wanted


def test_selection_by_reason_picks_pubsub_exhausted_messages() -> None:
    assert Selection(reason=EXHAUSTED).matches(letter(**{**ORIGINAL, **BY_PUBSUB}))


@pytest.mark.parametrize("dead, line", [
    (letter(**{**ORIGINAL, **BY_WORKER}),
     "2026-11-21T08:00:05+00:00  asana_http_400  sentry  sentry:issue:88001  "
     "Asana 400 on POST /tasks: project 1200 not found"),
    (letter(**{**ORIGINAL, **BY_PUBSUB}),
     "2026-11-21T08:00:06+00:00  max_delivery_attempts  sentry  sentry:issue:88001  "
     "not acknowledged after 5 deliveries from alert-events-push"),
    (letter(**{**ORIGINAL, **BY_WORKER, "dead_letter_error": "bad title «Ошибка: 支払い失敗»"}),
     "2026-11-21T08:00:05+00:00  asana_http_400  sentry  sentry:issue:88001  "
     "bad title «Ошибка: 支払い失敗»"),
    (letter(**{**ORIGINAL, **BY_WORKER, "dead_letter_error": "line one\nline\ttwo\x1b[31m red"}),
     "2026-11-21T08:00:05+00:00  asana_http_400  sentry  sentry:issue:88001  "
     "line one line two [31m red"),
    (letter(published_at=""), "-  unknown  -  -  -"),
], ids=["worker", "pubsub-exhausted", "non-ascii", "newlines-and-escapes", "bare-message"])
def test_summary_line(dead: DeadLetter, line: str) -> None:
    assert summary(dead) == line


def test_summary_shortens_long_errors_to_one_line() -> None:
    line = summary(letter(**{**BY_WORKER, "dead_letter_error": "é" * 1000}))
    assert "\n" not in line
    assert line.endswith("é…")
    assert len(line) < 250


def test_count_by_reason_most_frequent_first() -> None:
    letters = [worker_letter("a", "bad_payload"), worker_letter("b"), worker_letter("c"),
               letter("d", **BY_PUBSUB)]
    assert list(count_by_reason(letters).items()) == [
        ("asana_http_400", 2), ("bad_payload", 1), (EXHAUSTED, 1)]


@pytest.mark.parametrize("flag, env, name", [
    (None, {}, "alert-events-dead-letter-pull"),
    (None, {"DEAD_LETTER_SUBSCRIPTION": "acme-dlq-replay"}, "acme-dlq-replay"),
    ("mine", {"DEAD_LETTER_SUBSCRIPTION": "acme-dlq-replay"}, "mine"),
    ("  ", {"DEAD_LETTER_SUBSCRIPTION": " "}, "alert-events-dead-letter-pull"),
], ids=["local-default", "deployment-env", "flag-wins", "blank-means-unset"])
def test_subscription_name(flag: str | None, env: Mapping[str, str], name: str) -> None:
    assert subscription_name(flag, env, "alert-events-dead-letter") == name


class FakeSubscription:
    """An in-memory pull subscription: leased messages are invisible until acked or released."""

    def __init__(self, letters: Sequence[DeadLetter], failing_acks: Sequence[str] = ()) -> None:
        self.waiting = {dead.message_id: dead for dead in letters}
        self.leased: dict[str, str] = {}  # ack id -> message id
        self.acked: list[str] = []
        self._failing_acks = set(failing_acks)
        self._ids = itertools.count()

    def pull(self, max_messages: int) -> list[Pulled]:
        free = [m for m in self.waiting if m not in self.leased.values()][:max_messages]
        batch = []
        for message_id in free:
            ack_id = f"{message_id}#{next(self._ids)}"
            self.leased[ack_id] = message_id
            batch.append(Pulled(ack_id, self.waiting[message_id]))
        return batch

    def ack(self, ack_id: str) -> None:
        message_id = self.leased.pop(ack_id)
        if message_id in self._failing_acks:
            self.leased[ack_id] = message_id
            raise Transient(f"ack {ack_id} timed out")
        del self.waiting[message_id]
        self.acked.append(message_id)

    def release(self, ack_ids: Sequence[str]) -> None:
        for ack_id in ack_ids:
            self.leased.pop(ack_id)

    def left(self) -> list[str]:
        """Return the ids still in the subscription, checking none is left leased."""
        assert self.leased == {}, "a message was left leased instead of released"
        return sorted(self.waiting)


class FakeTopic:
    """The events topic; refuses messages whose alert key is listed in ``refuse``."""

    def __init__(self, refuse: Sequence[str] = ()) -> None:
        self.published: list[tuple[bytes, dict[str, str]]] = []
        self._refuse = set(refuse)

    def publish(self, data: bytes, attributes: Mapping[str, str]) -> str:
        if attributes["alert_key"] in self._refuse:
            raise Transient(f"publish of {attributes['alert_key']} failed: 503")
        self.published.append((data, dict(attributes)))
        return f"e-{len(self.published)}"

    def alert_keys(self) -> list[str]:
        return [attributes["alert_key"] for _, attributes in self.published]


def mixed() -> list[DeadLetter]:
    return [worker_letter("d-1", key="sentry:issue:1"),
            worker_letter("d-2", "bad_payload", key="sentry:issue:2"),
            worker_letter("d-3", key="sentry:issue:3"),
            worker_letter("d-4", "bad_payload", "datadog", key="datadog:4")]


def test_replay_republishes_and_acks_only_the_selected() -> None:
    inbox, topic = FakeSubscription(mixed()), FakeTopic()
    report = replay(inbox, topic.publish, Selection(reason="asana_http_400"), 10, lambda: NOW, RUN)
    assert (report.replayed, report.skipped, report.failed) == (2, 2, 0)
    assert topic.alert_keys() == ["sentry:issue:1", "sentry:issue:3"]
    assert topic.published[0] == (BODY, {**ORIGINAL, "alert_key": "sentry:issue:1",
                                         "replay_count": "1",
                                         "replayed_at": "2026-11-22T09:30:00+00:00",
                                         "replay_run_id": RUN})
    assert inbox.acked == ["d-1", "d-3"]
    assert inbox.left() == ["d-2", "d-4"]


def test_a_failed_publish_leaves_the_message_in_the_subscription() -> None:
    inbox, topic = FakeSubscription(mixed()), FakeTopic(refuse=["sentry:issue:1"])
    report = replay(inbox, topic.publish, Selection(), 10, lambda: NOW, RUN)
    assert (report.replayed, report.skipped, report.failed) == (3, 0, 1)
    assert report.failures[0][0].message_id == "d-1"
    assert report.failures[0][1].startswith("not republished: publish of sentry:issue:1 failed")
    assert inbox.left() == ["d-1"]


def test_an_unconfirmed_ack_counts_as_failed_but_loses_nothing() -> None:
    inbox, topic = FakeSubscription(mixed(), failing_acks=["d-2"]), FakeTopic()
    report = replay(inbox, topic.publish, Selection(), 10, lambda: NOW, RUN)
    assert (report.replayed, report.failed) == (3, 1)
    assert "sentry:issue:2" in topic.alert_keys()  # published, and will be again: the worker dedups
    assert report.failures[0][1].startswith("republished but not acknowledged")
    assert inbox.left() == ["d-2"]


def test_limit_bounds_the_replays() -> None:
    inbox, topic = FakeSubscription(mixed()), FakeTopic()
    report = replay(inbox, topic.publish, Selection(), 3, lambda: NOW, RUN)
    assert report.replayed == 3
    assert len(inbox.left()) == 1


def test_replay_stops_when_publishing_keeps_failing() -> None:
    letters = [worker_letter(f"d-{n}", key=f"k{n}") for n in range(10)]
    inbox = FakeSubscription(letters)
    topic = FakeTopic(refuse=[f"k{n}" for n in range(10)])
    report = replay(inbox, topic.publish, Selection(), 100, lambda: NOW, RUN)
    assert report.failed == MAX_CONSECUTIVE_FAILURES
    assert report.stopped_early
    assert inbox.left() == sorted(d.message_id for d in letters)


def test_a_crash_mid_replay_releases_what_was_held() -> None:
    inbox = FakeSubscription(mixed())

    def explode(data: bytes, attributes: Mapping[str, str]) -> str:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        replay(inbox, explode, Selection(reason="bad_payload"), 10, lambda: NOW, RUN)
    assert inbox.left() == ["d-1", "d-2", "d-3", "d-4"]


@pytest.mark.parametrize("selection, limit, found", [
    (Selection(), 10, ["d-1", "d-2", "d-3", "d-4"]),
    (Selection(), 2, ["d-1", "d-2"]),
    (Selection(source="datadog"), 10, ["d-4"]),
], ids=["everything", "limited", "filtered"])
def test_peek_acks_nothing(selection: Selection, limit: int, found: list[str]) -> None:
    inbox = FakeSubscription(mixed())
    assert [d.message_id for d in peek(inbox, selection, limit)] == found
    assert inbox.acked == []
    assert inbox.left() == ["d-1", "d-2", "d-3", "d-4"]


class BouncingTopic(FakeTopic):
    """The events topic of a still-broken worker: every message it takes comes straight back
    to the dead-letter subscription with a new id, its attributes kept, as Pub/Sub does."""

    def __init__(self, inbox: FakeSubscription) -> None:
        super().__init__()
        self._inbox = inbox

    def publish(self, data: bytes, attributes: Mapping[str, str]) -> str:
        message_id = super().publish(data, attributes)
        back = DeadLetter(f"back-{message_id}", data, {**attributes, **BY_WORKER})
        self._inbox.waiting[back.message_id] = back
        return message_id


def test_a_letter_dead_lettered_again_during_the_run_is_reported_not_replayed_again() -> None:
    inbox = FakeSubscription([worker_letter("d-1", key="sentry:issue:1")])
    topic = BouncingTopic(inbox)
    report = replay(inbox, topic.publish, Selection(), 20, lambda: NOW, RUN)
    assert topic.alert_keys() == ["sentry:issue:1"]
    assert (report.replayed, report.failed) == (1, 0)
    assert [dead.message_id for dead in report.returned] == ["back-e-1"]
    assert inbox.left() == ["back-e-1"]


def test_a_letter_replayed_by_an_earlier_run_is_replayed_again() -> None:
    earlier = letter("d-1", **{**ORIGINAL, **BY_WORKER, "replay_run_id": "run-6",
                               "replay_count": "1"})
    inbox, topic = FakeSubscription([earlier]), FakeTopic()
    report = replay(inbox, topic.publish, Selection(), 20, lambda: NOW, RUN)
    assert (report.replayed, report.returned) == (1, [])
    assert topic.published[0][1]["replay_count"] == "2"


def test_progress_is_reported_after_each_replayed_letter() -> None:
    seen: list[tuple[int, int]] = []
    inbox, topic = FakeSubscription(mixed()), FakeTopic(refuse=["sentry:issue:2"])
    replay(inbox, topic.publish, Selection(), 10, lambda: NOW, RUN,
           progress=lambda report: seen.append((report.replayed, report.failed)))
    assert seen == [(1, 0), (1, 1), (2, 1), (3, 1)]


@pytest.mark.parametrize("error, status", [
    (ConfigError("GOOGLE_CLOUD_PROJECT: required"), EXIT_CONFIG),
    (Unreachable("cannot reach Pub/Sub at 127.0.0.1:9"), EXIT_UNREACHABLE),
    (Transient("pull failed"), EXIT_UNREACHABLE),
    (Permanent("odd"), EXIT_FAILED),
], ids=["config", "unreachable", "pubsub-failing", "other"])
def test_exit_status(error: AlertBridgeError, status: int) -> None:
    assert exit_status(error) == status

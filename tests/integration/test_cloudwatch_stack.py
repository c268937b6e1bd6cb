"""End to end for CloudWatch: a local SNS (HTTPS, test CA) → the real ingest (dev, trusting that
CA only) → Pub/Sub emulator → the worker → (fake) Asana: a subscription confirmed, an alarm
opened, noted and resolved; a forged or unsubscribe message changes nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from scripts.localstack import Service, Stack, free_port, start_function
from tests.fakes.asana_server import FakeAsana
from tests.fakes.sns import FakeSns
from tests.polling import eventually
from tests.unit.sources.cloudwatch import signer

HEADERS = {"Content-Type": "text/plain; charset=UTF-8"}  # as SNS posts


@pytest.fixture(scope="module")
def sns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeSns]:
    with FakeSns(tmp_path_factory.mktemp("sns")) as fake:
        yield fake


@pytest.fixture(scope="module")
def ingest(stack: Stack, sns: FakeSns, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Service]:
    """An ingest of the test stack that believes the local SNS (dev only: prod refuses it)."""
    env = {**stack.env, "ENVIRONMENT": "dev", "CLOUDWATCH_SNS_TOPIC_ARNS": sns.topic,
           "CLOUDWATCH_SNS_TEST_TRUST": sns.setting()}
    service = start_function("ingest", "ingest", free_port(), env,
                             tmp_path_factory.mktemp("cloudwatch-ingest"))
    yield service
    service.stop()


def post(ingest: Service, fields: dict[str, str]) -> requests.Response:
    headers = {**HEADERS, "x-amz-sns-message-type": fields["Type"],
               "x-amz-sns-message-id": fields["MessageId"], "x-amz-sns-topic-arn":
               fields["TopicArn"]}
    return requests.post(ingest.url, data=signer.body(fields), headers=headers, timeout=15)


def alarm(name: str, state: str, at: datetime) -> str:
    return json.dumps({**signer.ALARM, "AlarmName": name, "NewStateValue": state,
                       "AlarmArn": f"arn:aws:cloudwatch:us-east-2:123456789012:alarm:{name}",
                       "StateChangeTime": at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"})


def tasks_named(asana: FakeAsana, needle: str) -> list[dict[str, Any]]:
    return [t for t in list(asana.tasks.values()) if needle in t["name"]]


def test_subscription_alarm_note_and_resolve_reach_asana(ingest: Service, sns: FakeSns,
                                                         asana: FakeAsana) -> None:
    token = uuid.uuid4().hex
    assert post(ingest, sns.subscription(token)).json() == {"status": "confirmed"}
    assert sns.confirmed == [f"{sns.topic} {token}"]

    name = f"checkout-5xx-{uuid.uuid4().hex[:8]}"
    start = datetime.now(UTC) - timedelta(minutes=5)
    opened = post(ingest, sns.notification(alarm(name, "ALARM", start), message_id=str(
        uuid.uuid4()), subject=f'ALARM: "{name}" in US East (Ohio)'))
    assert opened.status_code == 202, opened.text
    [task] = eventually(lambda: tasks_named(asana, name), what="the alarm's task")
    assert f"alarmsV2:alarm/{name}" in task["html_notes"]

    noted = post(ingest, sns.notification(alarm(name, "INSUFFICIENT_DATA",
                                                start + timedelta(minutes=1)),
                                          message_id=str(uuid.uuid4())))
    assert noted.status_code == 202
    eventually(lambda: [s for s in asana.stories.get(task["gid"], [])
                        if "INSUFFICIENT_DATA" in s.get("html_text", "")],
               what="the INSUFFICIENT_DATA note")

    resolved = post(ingest, sns.notification(alarm(name, "OK", start + timedelta(minutes=2)),
                                             message_id=str(uuid.uuid4())))
    assert resolved.status_code == 202
    eventually(lambda: asana.tasks[task["gid"]]["completed"], what="the task completed")
    assert len(tasks_named(asana, name)) == 1


def test_forged_and_unsubscribe_messages_change_nothing(ingest: Service, sns: FakeSns) -> None:
    name = f"forged-{uuid.uuid4().hex[:8]}"
    fields = sns.notification(alarm(name, "ALARM", datetime.now(UTC)), message_id="f-1")
    forged = {**fields, "Message": fields["Message"].replace("ALARM", "OK")}
    answer = post(ingest, forged)
    assert (answer.status_code, answer.json()) == (401, {"error": "unauthorized"})
    confirmed = list(sns.confirmed)
    unsubscribe = post(ingest, sns.subscription("t-2", kind="UnsubscribeConfirmation"))
    assert unsubscribe.json() == {"status": "ignored"}
    assert sns.confirmed == confirmed
    lines = [json.loads(line) for line in Path(ingest.log_path).read_text().splitlines()
             if line.startswith("{")]
    events = [line.get("event") for line in lines]
    assert "webhook_rejected" in events and "sns_unsubscribe_ignored" in events


def test_the_certificate_host_down_is_a_503_sns_retries(ingest: Service, sns: FakeSns,
                                                        tmp_path: Path, stack: Stack) -> None:
    # A fresh ingest: its certificate cache is empty.
    env = {**stack.env, "ENVIRONMENT": "dev", "CLOUDWATCH_SNS_TOPIC_ARNS": sns.topic,
           "CLOUDWATCH_SNS_TEST_TRUST": sns.setting()}
    fresh = start_function("ingest", "ingest", free_port(), env, tmp_path)
    sns.certificate_status = 503
    try:
        answer = post(fresh, sns.notification(alarm("down", "ALARM", datetime.now(UTC)),
                                              message_id="d-1"))
    finally:
        sns.certificate_status = 200
        fresh.stop()
    assert answer.status_code == 503


def test_prod_refuses_the_test_only_trust(stack: Stack, sns: FakeSns, tmp_path: Path) -> None:
    env = {**stack.env, "ENVIRONMENT": "prod", "CLOUDWATCH_SNS_TOPIC_ARNS": sns.topic,
           "CLOUDWATCH_SNS_TEST_TRUST": sns.setting()}
    prod = start_function("ingest", "ingest", free_port(), env, tmp_path)
    try:
        answer = post(prod, sns.notification(alarm("prod", "ALARM", datetime.now(UTC)),
                                             message_id="p-1"))
    finally:
        prod.stop()
    assert (answer.status_code, answer.json()["error"]) == (503, "configuration error")
    assert "CLOUDWATCH_SNS_TEST_TRUST" in prod.log_path.read_text()

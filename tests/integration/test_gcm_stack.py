"""End to end for Cloud Monitoring on the emulators: an incident published to the pubsub
channel's topic as Google publishes it (no attributes) is pushed to the worker, becomes one task
and is completed when it closes; the webhook channel goes through ingest with its URL token."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import requests

from scripts.localstack import LOCAL_DEFAULTS, Stack, Topology, gcm_topic
from tests.fakes.asana_server import FakeAsana
from tests.polling import eventually

from .pubsub_helpers import pull, tap

DATA = Path(__file__).resolve().parent.parent / "data" / "gcm"


def incident(state: str, incident_id: str) -> bytes:
    """Return the sample incident as ``state``, with its own id and a title naming it."""
    payload: dict[str, Any] = json.loads((DATA / f"incident_{state}.json").read_text())
    payload["incident"]["incident_id"] = incident_id
    payload["incident"]["url"] = ("https://console.cloud.google.com/monitoring/alerting/"
                                  f"incidents/{incident_id}?project=shop-prod-4711")
    payload["incident"]["policy_name"] = f"Checkout latency {incident_id}"
    return json.dumps(payload).encode()


def publish(stack: Stack, body: bytes) -> None:
    """Publish ``body`` to the channel's topic with no attributes, as the service agent does."""
    os.environ["PUBSUB_EMULATOR_HOST"] = stack.env["PUBSUB_EMULATOR_HOST"]
    from google.cloud.pubsub_v1 import PublisherClient

    publisher = PublisherClient()
    project, events = stack.env["GOOGLE_CLOUD_PROJECT"], stack.env["EVENTS_TOPIC"]
    topic = publisher.topic_path(project, gcm_topic(Topology(project, events, "", "", "")))
    publisher.publish(topic, body).result(timeout=10)


def named(asana: FakeAsana, needle: str) -> list[dict[str, Any]]:
    return [t for t in list(asana.tasks.values()) if needle in t["name"]]


def test_an_incident_from_the_pubsub_channel_opens_then_completes_one_task(
        stack: Stack, asana: FakeAsana) -> None:
    incident_id = f"0.{uuid.uuid4().hex[:12]}"
    publish(stack, incident("open", incident_id))
    [task] = eventually(lambda: named(asana, incident_id), what="a task for the incident")
    assert not asana.tasks[task["gid"]]["completed"]
    publish(stack, incident("closed", incident_id))
    eventually(lambda: asana.tasks[task["gid"]]["completed"], what="the task completed")
    assert len(named(asana, incident_id)) == 1
    assert "console.cloud.google.com/monitoring/alerting/incidents" in task["html_notes"]


def test_the_webhook_channel_checks_its_url_token(stack: Stack, asana: FakeAsana,
                                                  subscriber: Any) -> None:
    events = tap(subscriber, stack.env["GOOGLE_CLOUD_PROJECT"], stack.env["EVENTS_TOPIC"])
    incident_id = f"0.{uuid.uuid4().hex[:12]}"
    body = incident("open", incident_id)
    forged = requests.post(stack.url("ingest"), data=body, timeout=10,
                           params={"source": "gcm", "auth_token": "forged"})
    assert forged.status_code == 401
    sent = requests.post(stack.url("ingest"), data=body, timeout=10,
                         params={"source": "gcm",
                                 "auth_token": LOCAL_DEFAULTS["GCM_WEBHOOK_TOKEN"]})
    assert sent.status_code == 202, sent.text
    [message] = pull(subscriber, events)
    assert message.attributes["alert_key"] == f"gcm:incident:{incident_id}"
    assert pull(subscriber, events, timeout=1.0) == []  # the forged one published nothing
    eventually(lambda: named(asana, incident_id), what="a task for the incident")


def test_a_channel_message_that_is_no_incident_is_dead_lettered_under_its_source(
        stack: Stack, subscriber: Any) -> None:
    dead = tap(subscriber, stack.env["GOOGLE_CLOUD_PROJECT"], stack.env["DEAD_LETTER_TOPIC"])
    marker = uuid.uuid4().hex
    publish(stack, f'{{"incident": {{"state": "open", "summary": "{marker}"}}}}'.encode())
    [letter] = [m for m in pull(subscriber, dead, timeout=20) if marker.encode() in m.data]
    assert (letter.attributes["source"], letter.attributes["channel"],
            letter.attributes["dead_letter_reason"]) == ("gcm", "pubsub", "bad_payload")


def test_a_vendor_message_replayed_to_the_events_topic_still_becomes_its_task(
        stack: Stack, asana: FakeAsana) -> None:
    # Pub/Sub dead-letters the channel's original message, which has no attributes; the replay
    # command republishes it to the events topic (no ?source=gcm there) with its own attributes.
    os.environ["PUBSUB_EMULATOR_HOST"] = stack.env["PUBSUB_EMULATOR_HOST"]
    from google.cloud.pubsub_v1 import PublisherClient

    publisher = PublisherClient()
    incident_id = f"0.{uuid.uuid4().hex[:12]}"
    topic = publisher.topic_path(stack.env["GOOGLE_CLOUD_PROJECT"], stack.env["EVENTS_TOPIC"])
    publisher.publish(topic, incident("open", incident_id), replay_count="1").result(timeout=10)
    eventually(lambda: named(asana, incident_id), what="a task for the replayed incident")

"""The replay CLI against the real emulator: the fixed message goes back, the other one stays."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from scripts.localstack import REPO, Stack, free_port
from shared.cli.replay import EXIT_UNREACHABLE, main
from shared.sources import alert_key
from tests.fakes.asana_server import FakeAsana

from .pubsub_helpers import pull, tap
from .test_worker_stack import eventually, tasks_named

DATA = Path(__file__).resolve().parent.parent / "data"


def sentry_event_alert(issue_id: str) -> tuple[bytes, dict[str, str]]:
    """Return a Sentry event alert body and the attributes ingest gives it."""
    payload = json.loads((DATA / "sentry_event_alert.json").read_text())
    payload["data"]["event"]["issue_id"] = issue_id
    payload["data"]["event"]["title"] = f"Ошибка: 支払い失敗 — café #{issue_id}"
    key = alert_key("sentry", "event_alert", payload)
    assert key is not None
    return json.dumps(payload, ensure_ascii=False).encode(), {
        "source": "sentry", "resource": "event_alert", "action": str(payload["action"]),
        "alert_key": key, "received_at": "2026-11-21T08:00:00.000+00:00",
        "request_id": f"req-{issue_id}"}


def dead_letter(reason: str, error: str) -> dict[str, str]:
    """Return the attributes the worker adds when it dead-letters a message."""
    return {"dead_letter_reason": reason, "dead_letter_error": error,
            "dead_letter_source_message_id": "m-1",
            "dead_lettered_at": "2026-11-21T08:00:05+00:00"}


@pytest.fixture
def cli_env(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PUBSUB_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT", "EVENTS_TOPIC",
                 "DEAD_LETTER_TOPIC"):
        monkeypatch.setenv(name, stack.env[name])
    monkeypatch.delenv("DEAD_LETTER_SUBSCRIPTION", raising=False)


def test_replay_by_reason_republishes_the_fixed_message_and_keeps_the_other(
        stack: Stack, subscriber: Any, asana: FakeAsana, cli_env: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    project = stack.env["GOOGLE_CLOUD_PROJECT"]
    dead = tap(subscriber, project, stack.env["DEAD_LETTER_TOPIC"])
    events = tap(subscriber, project, stack.env["EVENTS_TOPIC"])
    issue_id = str(uuid.uuid4().int % 10**12)
    fixed_body, fixed = sentry_event_alert(issue_id)
    broken_body, broken = sentry_event_alert(issue_id + "9")
    from google.cloud import pubsub_v1

    publisher = pubsub_v1.PublisherClient()
    topic = publisher.topic_path(project, stack.env["DEAD_LETTER_TOPIC"])
    publisher.publish(topic, fixed_body, **fixed, **dead_letter(
        "asana_http_400", "Asana 400 on POST /tasks: project not found")).result(timeout=10)
    kept_id = publisher.publish(topic, broken_body, **broken, **dead_letter(
        "bad_payload", "sentry event_alert: no «issue_id»")).result(timeout=10)

    # --key keeps stray dead letters of earlier tests out; both messages match it.
    status = main(["replay", "--subscription", dead, "--reason", "asana_http_400",
                   "--key", issue_id, "--yes"])

    out = capsys.readouterr().out
    assert status == 0, out
    assert "replayed 1, skipped 1, failed 0" in out
    [message] = pull(subscriber, events)
    assert message.data == fixed_body
    attributes = dict(message.attributes)
    assert attributes.pop("replayed_at").startswith("20")
    assert len(attributes.pop("replay_run_id")) == 12
    assert attributes == {**fixed, "replay_count": "1"}
    # The worker takes the replayed alert from the events topic like any other.
    eventually(lambda: tasks_named(asana, f"#{issue_id}"))

    assert main(["list", "--subscription", dead, "--key", issue_id]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing == [
        f"2026-11-21T08:00:05+00:00  bad_payload  sentry  {broken['alert_key']}  "
        "sentry event_alert: no «issue_id»",
        f"1 dead letters in {dead} (bad_payload 1)"]
    left = pull(subscriber, dead, want=10, timeout=3)
    assert kept_id in [m.message_id for m in left]
    assert fixed["alert_key"] not in [m.attributes["alert_key"] for m in left]


def datadog_for_growth(cycle: str) -> tuple[bytes, dict[str, str]]:
    """Return a Datadog trigger routed to Growth, whose backlog the fake Asana refuses (400)."""
    body = json.dumps({"id": "3", "alert_cycle_key": cycle, "alert_transition": "Triggered",
                       "title": f"Signup errors {cycle}", "tags": "team:growth"}).encode()
    return body, {"source": "datadog", "resource": "datadog", "action": "Triggered",
                  "alert_key": f"datadog:cycle:{cycle}",
                  "received_at": "2026-11-21T08:00:00.000+00:00", "request_id": f"req-{cycle}"}


def dead_letter_growth_alert(stack: Stack, subscriber: Any,
                             error: str) -> tuple[str, str, str]:
    """Put one Growth alert on the dead-letter topic; return (dead tap, events tap, cycle)."""
    project = stack.env["GOOGLE_CLOUD_PROJECT"]
    dead = tap(subscriber, project, stack.env["DEAD_LETTER_TOPIC"])
    events = tap(subscriber, project, stack.env["EVENTS_TOPIC"])
    cycle = uuid.uuid4().hex
    body, attributes = datadog_for_growth(cycle)
    from google.cloud import pubsub_v1

    publisher = pubsub_v1.PublisherClient()
    topic = publisher.topic_path(project, stack.env["DEAD_LETTER_TOPIC"])
    publisher.publish(topic, body, **attributes,
                      **dead_letter("asana_http_400", error)).result(timeout=10)
    return dead, events, cycle


def test_a_still_broken_alert_is_republished_once_per_run(
        stack: Stack, subscriber: Any, cli_env: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    dead, events, cycle = dead_letter_growth_alert(
        stack, subscriber, "Asana 400 on POST /tasks: Not a recognized ID")

    status = main(["replay", "--subscription", dead, "--key", cycle, "--limit", "20", "--yes"])

    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "replayed 1, skipped 0, failed 0, 1 came back still broken" in captured.out
    assert "dead-lettered again after this run replayed it" in captured.err
    assert [m.attributes["replay_count"] for m in pull(subscriber, events, want=2, timeout=3)
            ] == ["1"]
    [back] = pull(subscriber, dead, want=2, timeout=3)
    assert back.attributes["replay_count"] == "1"
    assert back.attributes["dead_letter_reason"] == "asana_http_400"


def test_dry_run_lists_what_would_be_replayed_and_publishes_nothing(
        stack: Stack, subscriber: Any, cli_env: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    dead, events, cycle = dead_letter_growth_alert(stack, subscriber, "Not a recognized ID")

    assert main(["replay", "--subscription", dead, "--dry-run", "--yes"]) == 0

    out = capsys.readouterr().out
    assert f"datadog:cycle:{cycle}" in out
    assert "dry run: would replay 1 to " in out
    assert pull(subscriber, events, timeout=1) == []
    assert len(pull(subscriber, dead, want=2, timeout=3)) == 1


def test_an_unreachable_emulator_is_one_line_fast_and_a_non_zero_exit() -> None:
    env = {**os.environ, "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{free_port()}",
           "GOOGLE_CLOUD_PROJECT": "alert-bridge-local"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "shared.cli.replay", "replay", "--yes"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - started
    print(f"unreachable emulator: exit {done.returncode} after {elapsed:.1f} s")
    assert done.returncode == EXIT_UNREACHABLE
    lines = [line for line in done.stderr.splitlines()
             if not line.startswith("replaying from")]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: cannot reach Pub/Sub at {env['PUBSUB_EMULATOR_HOST']}")
    assert elapsed < 15, "the command must give up within seconds, not retry for a minute"

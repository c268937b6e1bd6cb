"""A CloudWatch whose alarms change state, each change sent as SNS posts it to an HTTPS
subscription: a ``Notification`` of the alarm's JSON, signed (``SignatureVersion`` 2) with a key
whose certificate the service pins (``CLOUDWATCH_SNS_TEST_TRUST``, never in prod).

An alarm moves between ``ALARM``, ``OK`` and ``INSUFFICIENT_DATA``; a move to the state it is
in sends nothing (CloudWatch notifies on changes only). CloudWatch's clock runs behind ours:
``StateChangeTime`` and the SNS ``Timestamp`` come from it.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from tests.fakes.vendor_world import Webhook, WorldClock
from tests.unit.sources.cloudwatch import signer

#: Behind real time like the other vendors, well within SNS's one-hour message age.
CLOUDWATCH_LAG = timedelta(minutes=6)
KEY = signer.new_key()
ACCOUNT = "123456789012"
REGION = "us-east-2"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:alert-bridge-histories"


def trust_settings(directory: Path) -> dict[str, str]:
    """Return the ingest settings that allow the topic and pin the world's certificate."""
    cert = directory / "cloudwatch-world-cert.pem"
    cert.write_bytes(signer.pem(signer.certificate(KEY)))
    return {"CLOUDWATCH_SNS_TOPIC_ARNS": TOPIC, "CLOUDWATCH_SNS_TEST_TRUST": f"pinned:{cert}"}


@dataclass
class Alarm:
    """One alarm: its name, state, the last of ALARM / OK it was in, and its clock."""

    name: str
    title: str
    clock: WorldClock
    state: str = "OK"
    decisive: str = "OK"  # the task's state follows ALARM and OK; INSUFFICIENT_DATA is a note
    changes: list[str] = field(default_factory=list)


@dataclass
class CloudWatchWorld:
    """CloudWatch alarms and the SNS notifications of their state changes."""

    ingest_url: str = ""

    def __post_init__(self) -> None:
        self.alarms: dict[str, Alarm] = {}
        self._lock = threading.Lock()

    def add_alarm(self, alarm_id: str, title: str, clock: WorldClock) -> None:
        """Seed an alarm in ``OK`` whose actions notify the topic."""
        with self._lock:
            # The name is the task's title: the histories find an alarm's task by it.
            self.alarms[alarm_id] = Alarm(title, title, clock)

    def set_state(self, alarm_id: str, state: str) -> list[Webhook]:
        """Move the alarm to ``state``; return SNS's notification (none if it already is)."""
        with self._lock:
            alarm = self.alarms[alarm_id]
            if alarm.state == state:
                return []
            previous, alarm.state = alarm.state, state
            if state in ("ALARM", "OK"):
                alarm.decisive = state
            alarm.changes.append(state)
            moment = alarm.clock.tick()
        body = {
            "AlarmName": alarm.name, "AlarmDescription": f"[P3] alarm {alarm_id}",
            "AWSAccountId": ACCOUNT, "NewStateValue": state,
            "NewStateReason": f"histories: {previous} -> {state}",
            "StateChangeTime": signer.stamp(moment).replace("Z", "+0000"),
            "Region": "US East (Ohio)", "OldStateValue": previous,
            "AlarmArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{alarm.name}",
            "AlarmActions": [TOPIC], "OKActions": [TOPIC], "InsufficientDataActions": [TOPIC],
            "Trigger": {"MetricName": "Latency", "Namespace": "AWS/ApplicationELB",
                        "Dimensions": [{"name": "LoadBalancer", "value": "app/hist/1"}]},
        }
        fields = signer.notification(KEY, moment, message=json.dumps(body),
                                     subject=f'{state}: "{alarm.name}" in US East (Ohio)',
                                     topic=TOPIC, message_id=str(uuid.uuid4()))
        headers = {"Content-Type": "text/plain; charset=UTF-8",
                   "x-amz-sns-message-type": "Notification",
                   "x-amz-sns-message-id": fields["MessageId"], "x-amz-sns-topic-arn": TOPIC}
        return [Webhook("cloudwatch", alarm_id, state, self.ingest_url, signer.body(fields),
                        headers)]

    def alarm(self, alarm_id: str) -> Alarm:
        """Return the alarm."""
        with self._lock:
            return self.alarms[alarm_id]

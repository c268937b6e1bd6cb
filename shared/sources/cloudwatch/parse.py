"""Normalize a published SNS notification of a CloudWatch alarm (verified at ingest)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from shared.core.alert import Action, Alert
from shared.core.errors import Permanent, Rejected
from shared.sources.base import json_message
from shared.sources.cloudwatch.alarm import AlarmAction, CloudWatchAlarm, parse_alarm
from shared.sources.cloudwatch.keys import PREFIX, RESOURCE, UNIT

ACTIONS = {AlarmAction.TRIGGER: Action.TRIGGERED, AlarmAction.RESOLVE: Action.RESOLVED,
           AlarmAction.COMMENT: Action.NOTED}
#: An alarm has no severity of its own: a P1-P5 word in its description (else its name) is one.
_PRIORITY = re.compile(r"(?<![A-Za-z0-9])P([1-5])(?![A-Za-z0-9])")


def parse_message(body: bytes, attributes: Mapping[str, str]) -> Alert:
    """Normalize a published body (the SNS notification, or a bare alarm); Permanent if never."""
    fields = json_message(body, UNIT)
    message, topic = fields.get("Message"), fields.get("TopicArn")
    try:
        if isinstance(message, str):
            alarm = parse_alarm(message, topic_arn=topic if isinstance(topic, str) else None)
        else:
            # A bare alarm: explain-route's --payload, or a sample saved from the console.
            alarm = parse_alarm(body.decode("utf-8"))
    except Rejected as error:
        raise Permanent(f"{UNIT}: {error}", reason="bad_payload") from error
    return to_alert(alarm)


def to_alert(alarm: CloudWatchAlarm) -> Alert:
    """Return the alert of an alarm state change."""
    return Alert(
        source="cloudwatch",
        resource=RESOURCE,
        key=PREFIX + alarm.key,
        action=ACTIONS[alarm.action],
        title=alarm.name,
        external_id=alarm.arn or alarm.key,
        url=alarm.console_url,
        priority=priority(alarm),
        occurred_at=alarm.changed_at,
        monitor_id=alarm.name,
        scope=", ".join(f"{name}={value}" for name, value in alarm.dimensions) or None,
        transition=alarm.state,
        tags=match_tags(alarm),
        description="\n".join(text for text in (alarm.description, alarm.reason) if text)
        or None,
    )


def priority(alarm: CloudWatchAlarm) -> str | None:
    """Return "P1".."P5" named in the alarm's description, else its name; None if neither."""
    for text in (alarm.description, alarm.name):
        found = _PRIORITY.search(text or "")
        if found:
            return f"P{found[1]}"
    return None


def match_tags(alarm: CloudWatchAlarm) -> tuple[tuple[str, str], ...]:
    """Return the fields teams.yaml matchers see: account, region, alarm, metric, dimensions."""
    named = [("aws_account", alarm.account), ("aws_region", alarm.region),
             ("alarm", alarm.name), ("namespace", alarm.namespace),
             ("metric", alarm.metric_name), ("alarm_state", alarm.state)]
    tags = [(name, value) for name, value in named if value]
    taken = {name for name, _ in tags}
    # Each dimension under its own name (FunctionName, LoadBalancer, InstanceId, ...).
    tags += [(name, value) for name, value in alarm.dimensions if name not in taken]
    return tuple(tags)

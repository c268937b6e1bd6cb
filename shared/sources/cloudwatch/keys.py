"""The dedup key of a CloudWatch alarm: ``cloudwatch:`` and its AlarmArn (light: no parsing)."""

from __future__ import annotations

RESOURCE = "cloudwatch"
PREFIX = "cloudwatch:"
UNIT = "cloudwatch alarm notification"
KEY_FIELDS = "AlarmArn, or AWSAccountId + Region + AlarmName"
#: The SNS message types, as posted in ``Type`` and the ``x-amz-sns-message-type`` header.
SNS_TYPES = ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation")
#: explain-route's name for SNS's handshakes: answered at ingest, never published.
HANDSHAKE = "sns_handshake"


def alert_key(resource: str, payload: object) -> str | None:
    """Return the key of an SNS notification (or of the alarm in it), None without an alarm."""
    from shared.core.errors import Rejected
    from shared.sources.cloudwatch.alarm import parse_alarm

    if not isinstance(payload, dict):
        return None
    message = payload.get("Message") if "Message" in payload else None
    topic = payload.get("TopicArn")
    try:
        if isinstance(message, str):
            alarm = parse_alarm(message, topic_arn=topic if isinstance(topic, str) else None)
        else:
            import json

            alarm = parse_alarm(json.dumps(payload))
    except Rejected:
        return None
    return PREFIX + alarm.key


def sniff(payload: object) -> str | None:
    """Return the resource of a saved body: an SNS message or a bare CloudWatch alarm."""
    if not isinstance(payload, dict):
        return None
    if payload.get("Type") in SNS_TYPES and str(payload.get("TopicArn", "")).startswith("arn:"):
        return RESOURCE if payload["Type"] == "Notification" else HANDSHAKE
    if "AlarmName" in payload and "NewStateValue" in payload:
        return RESOURCE
    return None

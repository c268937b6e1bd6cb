"""CloudWatch alarms at ingest: verify the SNS message, confirm a subscription, key the alarm.

Kept light for the cold start: the verifier (``cryptography``) is imported on the first SNS
request, through ``context.service``.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from shared.core.errors import ConfigError
from shared.sources.base import (
    Accepted,
    Answer,
    IngestContext,
    Message,
    Webhook,
    alert_attributes,
)
from shared.sources.cloudwatch.keys import KEY_FIELDS, PREFIX, RESOURCE, UNIT

if TYPE_CHECKING:
    from shared.sources.cloudwatch.build import SnsIngest

log = logging.getLogger(__name__)

NAME = "cloudwatch"
HEADER = "x-amz-sns-message-type"
#: SNS MessageIds are UUIDs; anything longer is not used as a delivery id.
MAX_DELIVERY_ID_CHARS = 128


def is_alarm(message: str) -> bool:
    """Tell whether a notification's Message is a CloudWatch alarm (its parser says if valid)."""
    try:
        alarm = json.loads(message)
    except (ValueError, RecursionError):
        return False
    return isinstance(alarm, dict) and "AlarmName" in alarm and "NewStateValue" in alarm


def claims(hook: Webhook) -> bool:
    """Tell whether a request says it is an SNS message (SNS sends this header on every POST)."""
    return HEADER in hook.headers


def accept(hook: Webhook, context: IngestContext) -> Accepted | Answer:
    """Verify an SNS message; publish a Notification's alarm, answer a handshake directly."""
    from shared.sources.cloudwatch import sns
    from shared.sources.cloudwatch.alarm import parse_alarm

    ingest: SnsIngest | None = context.service(NAME)
    if ingest is None:
        raise ConfigError("cloudwatch: ingest has no SNS verifier wired")
    now = context.now()
    outcome = ingest.verifier.handle(hook.body, hook.headers, now)
    message = outcome.message
    fields = {"topic_arn": message.topic_arn, "sns_message_id": message.message_id[:64],
              "request_id": hook.request_id}
    if isinstance(outcome, sns.Confirm):
        ingest.confirm(outcome.url)
        log.info("sns subscription confirmed: %s", message.topic_arn,
                 extra={"event": "sns_subscription_confirmed", **fields})
        return Answer(200, {"status": "confirmed"})
    if isinstance(outcome, sns.Unsubscribed):
        # Confirming it would let whoever unsubscribed the topic silence its alarms for good.
        log.warning("sns unsubscribe confirmation not followed: %s", message.topic_arn,
                    extra={"event": "sns_unsubscribe_ignored", **fields})
        return Answer(200, {"status": "ignored"})
    if not is_alarm(message.message):
        # Authentic, but not for us (a test "Publish message" from the console, another
        # publisher on the topic): SNS must not retry it, and there is nothing to publish.
        log.info("sns notification is not a CloudWatch alarm: ignored",
                 extra={"event": "sns_message_ignored", **fields})
        return Answer(200, {"status": "ignored"})
    alarm = parse_alarm(message.message, topic_arn=message.topic_arn)
    attributes = alert_attributes(hook, now, source=NAME, resource=RESOURCE, action=alarm.state,
                                  key=PREFIX + alarm.key, unit=UNIT, key_fields=KEY_FIELDS)
    # StateChangeTime orders an alarm's changes; never later than their receipt.
    attributes["source_time"] = min(alarm.changed_at, now).isoformat(timespec="milliseconds")
    if len(message.message_id) <= MAX_DELIVERY_ID_CHARS and message.message_id.isascii() \
            and message.message_id.isprintable():
        # One id per published message, kept by SNS across its retries of the delivery.
        attributes["delivery_id"] = message.message_id
    return Accepted((Message(hook.body, attributes),))


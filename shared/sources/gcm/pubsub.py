"""Cloud Monitoring's ``pubsub`` channel: incidents Google publishes, pushed straight to the worker.

The project's monitoring notification service agent publishes the incident JSON to a topic of
its own (Terraform: gcm.tf) with no attributes; its push subscription calls the worker with
``?source=gcm``. Nothing reaches ingest and no token exists: Pub/Sub's IAM is the check (only
the agent may publish, only the subscription's service account may invoke the worker). Here the
message gets the attributes ingest gives a webhook, so the ledger, retries, dead letters and
replay treat it as any other delivery.
"""

from __future__ import annotations

import json
from datetime import datetime

from shared.core.envelope import PushMessage
from shared.core.payload import parse_time
from shared.sources.gcm import incident
from shared.sources.gcm.keys import RESOURCE, alert_key

NAME = "gcm"
CHANNEL = "pubsub"


def adopt(message: PushMessage, now: datetime, claimed: bool) -> PushMessage | None:
    """Return the message with ingest's attributes; None when it is not an incident of ours.

    ``claimed``: the push endpoint names this source, so even a body that is no incident is
    ours (it then dead-letters under this source's name, saying what is wrong). Unclaimed (a
    replayed dead letter the vendor published), only a body shaped as an incident is taken.
    """
    try:
        payload = json.loads(message.data)
    except (UnicodeDecodeError, ValueError, RecursionError):
        payload = None
    if not claimed and incident.incident(payload) is None:
        return None
    received = parse_time(message.publish_time) or now
    attributes = {
        **message.attributes,
        "source": NAME,
        "resource": RESOURCE,
        "received_at": received.isoformat(timespec="milliseconds"),
        "request_id": message.message_id,
        "channel": CHANNEL,
    }
    if isinstance(payload, dict):
        attributes["action"] = incident.state_of(payload)
        key = alert_key(RESOURCE, payload)
        if key is not None:
            attributes["alert_key"] = key
        said = incident.source_time(payload)
        if said is not None:
            attributes["source_time"] = min(said, received).isoformat(timespec="milliseconds")
    return PushMessage(message_id=message.message_id, data=message.data, attributes=attributes,
                       publish_time=message.publish_time, subscription=message.subscription,
                       delivery_attempt=message.delivery_attempt)

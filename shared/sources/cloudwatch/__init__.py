"""AWS CloudWatch alarms delivered by an Amazon SNS HTTPS subscription: each message's signature,
topic and age verified, subscriptions confirmed for allowed topics only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shared.sources.base import Source
from shared.sources.cloudwatch import ingest, keys

if TYPE_CHECKING:
    from shared.core.alert import Alert
    from shared.sources.build import Build


def _sns_ingest(build: Build) -> Any:
    from shared.sources.cloudwatch import build as cloudwatch_build  # cryptography, requests

    return cloudwatch_build.sns_ingest(build)


def _parse(body: bytes, attributes: Mapping[str, str]) -> Alert:
    from shared.sources.cloudwatch import parse  # off the cold-start path of ingest

    return parse.parse_message(body, attributes)


SOURCE = Source(
    name="cloudwatch",
    claims=ingest.claims,
    accept=ingest.accept,
    claim_header="x-amz-sns-message-type",
    ingest_service=_sns_ingest,
    resources=(keys.RESOURCE,),
    alert_key=keys.alert_key,
    parse=_parse,
    sniff=keys.sniff,
    ignored={keys.HANDSHAKE: "an SNS subscription handshake: ingest confirms a "
                             "SubscriptionConfirmation of an allowed topic and never an "
                             "UnsubscribeConfirmation; nothing is published"},
)

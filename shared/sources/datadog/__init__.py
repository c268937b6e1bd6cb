"""Datadog: monitor notifications through a webhook integration, link-back as events, two-way
sync as events, and reconciliation of alerting monitors."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from shared.sources.base import Source, Store
from shared.sources.datadog import ingest, keys

if TYPE_CHECKING:
    from shared.core.alert import Alert
    from shared.core.ledger import Record, Step
    from shared.core.links import LinkRequest, LinkSender
    from shared.core.settings import Settings
    from shared.sources.build import Build, ReconcileParts
    from shared.sources.drift import Reconciler


def _parse(body: bytes, attributes: Mapping[str, str]) -> Alert:
    from shared.sources.datadog import parse  # off the cold-start path of ingest

    return parse.parse_message(body, attributes)


def _join(alert: Alert, find: Callable[[Alert], list[Record]], store: Store,
          now: datetime) -> bool:
    from shared.sources.datadog import twins

    return twins.join(alert, find, store, now)


def _link_request(alert: Alert, task_gid: str, url: str, team: str) -> LinkRequest | None:
    from shared.sources.datadog import linkback

    return linkback.datadog_event(alert, task_gid, url, team)


def _link_sender(build: Build) -> LinkSender:
    from shared.sources.datadog import build as datadog_build

    return datadog_build.link_sender(build)


def _sync_request(record: Record, step: Step, task_gid: str,
                  settings: Settings) -> LinkRequest | None:
    from shared.sources.datadog import sync

    return sync.sync_request(record, step, task_gid, settings)


def _reconciler(build: Build, parts: ReconcileParts) -> Reconciler | None:
    from shared.sources.datadog import build as datadog_build

    return datadog_build.reconciler(build, parts)


def _sniff(payload: object) -> str:
    # The webhook's body is the service's own template: whatever no other source recognises
    # is taken as Datadog's (explain-route's guess; ingest goes by the secret header).
    return keys.RESOURCE


SOURCE = Source(
    name="datadog",
    claims=ingest.claims,
    accept=ingest.accept,
    claim_header=ingest.HEADER,
    credentials=("DATADOG_SECRET_TOKEN",),
    resources=(keys.RESOURCE,),
    alert_key=keys.alert_key,
    parse=_parse,
    join=_join,
    link_request=_link_request,
    link_sender=_link_sender,
    sync_request=_sync_request,
    reconciler=_reconciler,
    reconcile_settings="RECONCILE_DATADOG_WEBHOOK (the webhook's name in Datadog)",
    sniff=_sniff,
    severity_field="priority",
)

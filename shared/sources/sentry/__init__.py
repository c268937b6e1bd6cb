"""Sentry: integration-platform webhooks (issue alerts, issues, errors, metric alerts), the
"Create an Asana task" alert-rule action, link-back, two-way sync and reconciliation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shared.sources.base import Answer, IngestContext, Source, Webhook
from shared.sources.sentry import ingest, keys

if TYPE_CHECKING:
    from shared.core.alert import Alert
    from shared.core.ledger import Record, Step
    from shared.core.links import LinkRequest, LinkSender
    from shared.core.settings import Settings
    from shared.sources.build import Build, ReconcileParts
    from shared.sources.drift import Reconciler


def _answer(hook: Webhook, context: IngestContext) -> Answer:
    from shared.sources.sentry import rule_ingest  # off the cold-start path of webhooks

    return rule_ingest.answer(hook, context)


def _rule_deps(build: Build) -> Any:
    from shared.sources.sentry import build as sentry_build

    return sentry_build.rule_deps(build)


def _parse(body: bytes, attributes: Mapping[str, str]) -> Alert:
    from shared.sources.sentry import parse  # off the cold-start path of ingest

    return parse.parse_message(body, attributes)


def _link_request(alert: Alert, task_gid: str, url: str, team: str) -> LinkRequest | None:
    from shared.sources.sentry import linkback

    return linkback.sentry_external_issue(alert, task_gid, url, team)


def _link_sender(build: Build) -> LinkSender:
    from shared.sources.sentry import build as sentry_build

    return sentry_build.link_sender(build)


def _sync_request(record: Record, step: Step, task_gid: str,
                  settings: Settings) -> LinkRequest | None:
    from shared.sources.sentry import sync

    return sync.sync_request(record, step, task_gid, settings)


def _reconciler(build: Build, parts: ReconcileParts) -> Reconciler | None:
    from shared.sources.sentry import build as sentry_build

    return sentry_build.reconciler(build, parts)


SOURCE = Source(
    name="sentry",
    claims=ingest.claims,
    accept=ingest.accept,
    claim_header="Sentry-Hook-Signature",
    # ASANA_PAT: the alert-rule form's check of the board and the people in Asana.
    credentials=("SENTRY_CLIENT_SECRET", "ASANA_PAT"),
    paths=(ingest.RULE_PATHS,),
    answer=_answer,
    ingest_service=_rule_deps,
    resources=keys.RESOURCES,
    alert_key=keys.alert_key,
    parse=_parse,
    link_request=_link_request,
    link_sender=_link_sender,
    sync_request=_sync_request,
    reconciler=_reconciler,
    reconcile_settings="SENTRY_ORG with RECONCILE_SENTRY_RULES or RECONCILE_SENTRY_PROJECTS",
    sniff=keys.sniff,
    ignored=keys.IGNORED,
    severity_field="level",
)

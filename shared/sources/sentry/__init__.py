"""Sentry: integration-platform webhooks (issue alerts, issues, errors, metric alerts), the
"Create an Asana task" alert-rule action, link-back, two-way sync and reconciliation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.sources.base import Answer, IngestContext, Source, Webhook
from shared.sources.sentry import ingest, keys
from shared.sources.sentry.rule_schema import PATH_PREFIX

if TYPE_CHECKING:
    from shared.sources.build import Build


def _answer(hook: Webhook, context: IngestContext) -> Answer:
    from shared.sources.sentry import rule_ingest  # off the cold-start path of webhooks

    return rule_ingest.answer(hook, context)


def _rule_deps(build: Build) -> Any:
    from shared.sources.sentry import build as sentry_build

    return sentry_build.rule_deps(build)


SOURCE = Source(
    name="sentry",
    claims=ingest.claims,
    accept=ingest.accept,
    claim_header="Sentry-Hook-Signature",
    paths=(PATH_PREFIX,),
    answer=_answer,
    ingest_service=_rule_deps,
    resources=keys.RESOURCES,
    alert_key=keys.alert_key,
)

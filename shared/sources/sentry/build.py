"""Sentry's adapters, built from the deployment's settings and credentials."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from shared.core.errors import ConfigError
from shared.sources.build import Build

if TYPE_CHECKING:
    from shared.adapters.link_targets import AuthHeaders, LinkClient
    from shared.sources.build import ReconcileParts
    from shared.sources.drift import Reconciler
    from shared.sources.sentry.rule_ingest import RuleDeps



def rule_deps(build: Build) -> RuleDeps:
    """Return what checking a Sentry alert rule's settings needs (ingest builds it on the first
    alert-rule request; a failure is not remembered: the next request tries again)."""
    from shared.adapters.asana import AsanaClient
    from shared.adapters.asana_lookups import AsanaLookups
    from shared.routing.teams_file import load_teams
    from shared.sources.sentry.rule_ingest import RuleDeps

    s = build.settings
    config = load_teams(s.teams_file, s.default_team)
    pat = build.secrets.optional("ASANA_PAT")
    if not pat and s.environment != "dev":
        raise ConfigError(f"ASANA_PAT: not set (secret {s.secret_prefix}asana-pat); ingest "
                          "checks Sentry alert-rule settings in Asana outside ENVIRONMENT=dev")
    # Few attempts, short timeouts: a person is waiting for Sentry to save the rule.
    lookups = AsanaLookups(AsanaClient(s.asana_api_url, pat, max_attempts=2,
                                       timeout=(3.05, 5))) if pat else None
    return RuleDeps(teams=lambda: config, lookups=lookups, today=lambda: build.now().date())


def link_sender(build: Build) -> LinkClient:
    """Return the sender of link-back and two-way sync requests (the token is read on each
    request: the secret cache keeps it cheap and picks up a rotated token)."""
    from shared.adapters.link_targets import LinkClient

    return LinkClient("sentry", build.settings.sentry_api_url,
                      sentry_auth(lambda: build.secrets.optional("SENTRY_AUTH_TOKEN")))


def reconciler(build: Build, parts: ReconcileParts) -> Reconciler | None:
    """Return Sentry's part of a reconciliation run, None when the settings leave it off (the
    token is read on every run)."""
    from shared.sources.sentry.reconcile import reconciler as sentry_reconciler
    from shared.sources.sentry.reconcile_reader import SentryReader

    s = build.settings
    if not s.sentry_org or not (s.reconcile_sentry_rules or s.reconcile_sentry_projects):
        return None
    reader = SentryReader(s.sentry_api_url, s.sentry_org,
                          lambda: build.secrets.optional("SENTRY_AUTH_TOKEN"),
                          s.reconcile_sentry_rules, s.reconcile_sentry_projects)
    rules = ", ".join(f"{project}:{rule}" for project, rule in s.reconcile_sentry_rules)
    projects = ", ".join(s.reconcile_sentry_projects)
    return sentry_reconciler(reader, org=s.sentry_org, api_url=s.sentry_api_url,
                             describes=f"organization {s.sentry_org}; alert rules: "
                                       f"{rules or 'none'}; projects searched: "
                                       f"{projects or 'none'}")


def sentry_auth(token: Callable[[], str | None]) -> AuthHeaders:
    """Return Sentry's bearer auth headers for an integration token (read on every call)."""

    def headers() -> Mapping[str, str] | None:
        value = token()
        return {"Authorization": f"Bearer {value}"} if value else None

    return headers

"""Sentry's adapters, built from the deployment's settings and credentials."""

from __future__ import annotations

from shared.core.errors import ConfigError
from shared.sources.build import Build
from shared.sources.sentry.rule_ingest import RuleDeps


def rule_deps(build: Build) -> RuleDeps:
    """Return what checking a Sentry alert rule's settings needs (ingest builds it on the first
    alert-rule request; a failure is not remembered: the next request tries again)."""
    from shared.adapters.asana import AsanaClient
    from shared.adapters.asana_lookups import AsanaLookups
    from shared.routing.teams_file import load_teams

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

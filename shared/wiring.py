"""Build each function's dependencies from settings, once per instance."""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from shared import logs, observability
from shared.adapters.secrets import SecretSource
from shared.errors import ConfigError
from shared.ingest import IngestDeps
from shared.settings import Settings, load_settings

# The worker's modules are imported lazily: the ingest function's cold start counts
# against Sentry's one-second budget and must not pay for them.
if TYPE_CHECKING:
    from shared.adapters.asana import TaskTracker
    from shared.linkback import LinkBack
    from shared.teams import TeamsConfig
    from shared.worker import WorkerDeps

log = logging.getLogger(__name__)

#: Setting and credential names as the error messages spell them (GOOGLE_CLOUD_PROJECT, ASANA_PAT).
#: A one-word name (ENVIRONMENT) counts only before ':' or '=', so plain capitals don't.
_KEY = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b|\b[A-Z]{3,}(?=[:=])")


@functools.cache
def settings() -> Settings:
    """Return this instance's settings, read and validated once."""
    loaded = load_settings()

    def live() -> list[str]:
        return observability.live_secrets(secrets().get)

    logs.configure(loaded.log_level, redact=observability.secret_redactor(live))
    observability.init_error_reporting(loaded, live)
    return loaded


def config_keys(error: ConfigError) -> list[str]:
    """Return the setting and credential names a configuration error mentions, in order."""
    return list(dict.fromkeys(_KEY.findall(str(error))))


def config_error_answer(error: ConfigError) -> tuple[int, dict[str, object]]:
    """Log a configuration error as one JSON line and return the 503 answer that makes the
    sender retry (so nothing is lost while the deployment is being fixed)."""
    logs.ensure_configured()
    log.error("configuration error: %s", error,
              extra={"event": "config_error", "keys": config_keys(error)})
    return 503, {"status": "retry", "reason": "config_error"}


@functools.cache
def secrets() -> SecretSource:
    """Return this instance's credential source."""
    s = settings()
    return SecretSource(os.environ, s.project, s.secret_prefix, s.secret_cache_ttl_seconds)


def utc_now() -> datetime:
    """Return the current time, timezone-aware."""
    return datetime.now(UTC)


@functools.cache
def ingest_deps() -> IngestDeps:
    """Return the ingest function's dependencies."""
    from shared.adapters.pubsub import Publisher

    s = settings()
    publisher = Publisher(s.project, s.events_topic)
    return IngestDeps(secret=secrets().get, publish=publisher.publish, now=utc_now,
                      max_body_bytes=s.max_body_bytes)


@functools.cache
def teams_loader() -> Callable[[], TeamsConfig]:
    """Return a loader of teams.yaml that reads the file once and remembers a failure too."""
    from shared.teams_file import load_teams

    try:
        config = load_teams(settings().teams_file)
    except ConfigError as error:
        log.error("teams file invalid: %s", error,
                  extra={"event": "config_error", "keys": config_keys(error)})
        failure = error

        def fail() -> TeamsConfig:
            raise failure

        return fail
    return lambda: config


def tracker() -> TaskTracker:
    """Return the Asana client, or the dry-run recorder when no ASANA_PAT is configured."""
    from shared.adapters.asana import AsanaClient, DryRunAsana

    s = settings()
    pat = secrets().optional("ASANA_PAT")
    if pat:
        return AsanaClient(s.asana_api_url, pat, max_attempts=s.asana_max_attempts)
    if s.environment != "dev":
        # Outside dev a missing token is a deployment error: retrying keeps the alerts,
        # where a silent dry-run would lose them.
        raise ConfigError(f"ASANA_PAT: not set (secret {s.secret_prefix}asana-pat); dry-run "
                          "is only allowed with ENVIRONMENT=dev")
    log.warning("no ASANA_PAT: dry-run, requests are written to %s", s.dry_run_file,
                extra={"event": "dry_run"})
    return DryRunAsana(s.dry_run_file)


def link_back(dry_run: bool) -> LinkBack:
    """Return the link-back to Sentry and Datadog; in dry-run it records instead of sending."""
    from shared.adapters.link_targets import DryRunLinks, LinkClient, datadog_auth, sentry_auth
    from shared.linkback import LinkBack

    s = settings()
    if dry_run:
        recorder = DryRunLinks(s.dry_run_file)
        return LinkBack({"sentry": recorder, "datadog": recorder})
    source = secrets()
    # Read on each link: the secret cache keeps this cheap and picks up a rotated token.
    sentry = LinkClient("sentry", s.sentry_api_url,
                        sentry_auth(lambda: source.optional("SENTRY_AUTH_TOKEN")))
    datadog = LinkClient("datadog", s.datadog_api_url,
                         datadog_auth(lambda: source.optional("DATADOG_API_KEY")))
    return LinkBack({"sentry": sentry, "datadog": datadog})


@functools.cache
def worker_deps() -> WorkerDeps:
    """Return the worker function's dependencies."""
    from shared.adapters.asana import DryRunAsana
    from shared.adapters.firestore_ledger import FirestoreLedger
    from shared.adapters.pubsub import Publisher
    from shared.worker import PortfolioCache, WorkerDeps

    s = settings()
    asana = tracker()
    dead_letters = Publisher(s.project, s.dead_letter_topic)
    return WorkerDeps(config=teams_loader(), environment=s.environment, tracker=asana,
                      ledger=FirestoreLedger(s.project, s.ledger_collection),
                      portfolios=PortfolioCache(asana.portfolio_items),
                      dead_letter=dead_letters.publish, now=utc_now,
                      link_back=link_back(isinstance(asana, DryRunAsana)))

"""Build each function's dependencies from settings, once per instance."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from shared import logs, observability
from shared.adapters.secrets import SecretSource
from shared.errors import AlertBridgeError, ConfigError
from shared.ingest import Handler, IngestDeps, misconfigured, receive
from shared.settings import SECRET_READERS, Settings, load_settings

# The worker's modules are imported lazily: the ingest function's cold start counts
# against Sentry's one-second budget and must not pay for them.
if TYPE_CHECKING:
    from shared.adapters.asana import TaskTracker
    from shared.linkback import LinkBack
    from shared.reconcile import ReconcileDeps
    from shared.teams import TeamsConfig
    from shared.worker import WorkerDeps

log = logging.getLogger(__name__)


@functools.cache
def settings(function: str = "worker") -> Settings:
    """Return this instance's settings, read and validated once."""
    loaded = load_settings()

    def live() -> list[str]:
        return observability.live_secrets(secrets(function).get)

    logs.configure(loaded.log_level, redact=observability.secret_redactor(live))
    observability.init_error_reporting(loaded, live)
    return loaded


@functools.cache
def secrets(function: str = "worker") -> SecretSource:
    """Return the credential source of ``function``: Secret Manager only for its own."""
    s = settings(function)
    return SecretSource(os.environ, s.project, s.secret_prefix, s.secret_cache_ttl_seconds,
                        readable=SECRET_READERS[function])


def utc_now() -> datetime:
    """Return the current time, timezone-aware."""
    return datetime.now(UTC)


@functools.cache
def ingest_deps() -> IngestDeps:
    """Return the ingest function's dependencies, its credentials already read."""
    from shared.adapters.pubsub import Publisher

    s = settings("ingest")
    source = secrets("ingest")
    for name in SECRET_READERS["ingest"]:
        # Warm the cache now; a credential that cannot be read yet is reported per request.
        with contextlib.suppress(AlertBridgeError):
            source.get(name)
    publisher = Publisher(s.project, s.events_topic)
    return IngestDeps(secret=source.get, publish=publisher.publish, now=utc_now,
                      max_body_bytes=s.max_body_bytes)


def ingest_handler() -> Handler:
    """Return the ingest's request handler; a configuration error is kept, not raised."""
    try:
        deps = ingest_deps()
    except ConfigError as error:
        logs.configure()  # the settings may be what failed: log as JSON all the same
        log.error("ingest misconfigured: %s", error, extra={"event": "config_error"})
        return misconfigured(error)
    return functools.partial(receive, deps=deps)


@functools.cache
def teams_loader() -> Callable[[], TeamsConfig]:
    """Return a loader of teams.yaml that reads the file once and remembers a failure too."""
    from shared.teams_file import load_teams

    try:
        config = load_teams(settings().teams_file, settings().default_team)
    except ConfigError as error:
        log.error("teams file invalid: %s", error, extra={"event": "config_error"})
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
    from shared import failpoints
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
                      link_back=link_back(isinstance(asana, DryRunAsana)),
                      failpoint=failpoints.from_environment(os.environ, s.environment))


@functools.cache
def reconcile_deps() -> ReconcileDeps:
    """Return the reconcile function's dependencies; credentials are read on every run."""
    from shared.adapters.ledger_queries import LedgerQueries
    from shared.adapters.pubsub import Publisher
    from shared.adapters.reconcile_sources import DatadogReader, SentryReader
    from shared.reconcile import ReconcileDeps, datadog_app_url

    s = settings("reconcile")
    source = secrets("reconcile")
    sentry = None
    if s.sentry_org and (s.reconcile_sentry_rules or s.reconcile_sentry_projects):
        sentry = SentryReader(s.sentry_api_url, s.sentry_org,
                              lambda: source.optional("SENTRY_AUTH_TOKEN"),
                              s.reconcile_sentry_rules, s.reconcile_sentry_projects)
    monitors = None
    if s.reconcile_datadog_webhook:
        monitors = DatadogReader(s.datadog_api_url, lambda: source.optional("DATADOG_API_KEY"),
                                 lambda: source.optional("DATADOG_APP_KEY"),
                                 s.reconcile_datadog_monitor_tags).monitors
    return ReconcileDeps(
        ledger=LedgerQueries(s.project, s.ledger_collection),
        publish=Publisher(s.project, s.events_topic).publish, now=utc_now,
        lookback_minutes=s.reconcile_lookback_minutes, grace_minutes=s.reconcile_grace_minutes,
        sentry=sentry, sentry_org=s.sentry_org or "", sentry_api_url=s.sentry_api_url,
        monitors=monitors, datadog_webhook=s.reconcile_datadog_webhook or "",
        datadog_app_url=datadog_app_url(s.datadog_api_url))

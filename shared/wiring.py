"""Build each function's dependencies from settings, once per instance."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared.adapters.secrets import SecretSource
from shared.core import logs, observability
from shared.core.errors import AlertBridgeError, ConfigError
from shared.core.settings import SECRET_READERS, Settings, load_settings
from shared.flows.ingest import Answer, Handler, Incoming, IngestDeps, misconfigured, receive
from shared.sources import SOURCES

# The worker's modules are imported lazily: the ingest function's cold start counts
# against Sentry's one-second budget and must not pay for them.
if TYPE_CHECKING:
    from shared.adapters.asana import TaskTracker
    from shared.adapters.firestore_ledger import FirestoreLedger
    from shared.core.alert import Alert
    from shared.core.envelope import PushMessage
    from shared.core.ledger import Decision, Record
    from shared.core.links import LinkSender
    from shared.flows.linkback import LinkBack
    from shared.flows.reconcile import ReconcileDeps
    from shared.flows.worker import WorkerDeps
    from shared.routing.teams import TeamsConfig
    from shared.sources.build import Build
    from shared.sources.drift import Reconciler

log = logging.getLogger(__name__)

#: Setting and credential names as the error messages spell them (GOOGLE_CLOUD_PROJECT, ASANA_PAT).
#: A one-word name (ENVIRONMENT) counts only before ':' or '=', so plain capitals don't.
_KEY = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b|\b[A-Z]{3,}(?=[:=])")


@functools.cache
def settings(function: str = "worker") -> Settings:
    """Return this instance's settings, read and validated once."""
    loaded = load_settings()

    def live() -> list[str]:
        return observability.live_secrets(secrets(function).get)

    logs.configure(loaded.log_level, redact=observability.secret_redactor(live))
    observability.init_error_reporting(loaded, live)
    return loaded


def config_keys(error: ConfigError) -> list[str]:
    """Return the setting and credential names a configuration error mentions, in order."""
    return list(dict.fromkeys(_KEY.findall(str(error))))


def log_config_error(error: ConfigError) -> None:
    """Log a configuration error as one JSON line naming its keys."""
    logs.ensure_configured()
    log.error("configuration error: %s", error,
              extra={"event": "config_error", "keys": config_keys(error)})


def config_error_answer(error: ConfigError) -> tuple[int, dict[str, object]]:
    """Log a configuration error as one JSON line and return the 503 answer that makes the
    sender retry (so nothing is lost while the deployment is being fixed)."""
    log_config_error(error)
    return 503, {"status": "retry", "reason": "config_error"}


@functools.cache
def secrets(function: str = "worker") -> SecretSource:
    """Return the credential source of ``function``: Secret Manager only for its own."""
    s = settings(function)
    return SecretSource(os.environ, s.project, s.secret_prefix, s.secret_cache_ttl_seconds,
                        readable=SECRET_READERS[function])


def utc_now() -> datetime:
    """Return the current time, timezone-aware."""
    return datetime.now(UTC)


def build(function: str = "worker") -> Build:
    """Return what the sources build their adapters from, for ``function``."""
    from shared.sources.build import Build

    return Build(settings(function), secrets(function), utc_now)


@functools.cache
def ingest_deps() -> IngestDeps:
    """Return the ingest function's dependencies, its credentials already read."""
    from shared.adapters.pubsub import Publisher

    s = settings("ingest")
    source = secrets("ingest")
    enabled = SOURCES.only(s.alert_sources, "ALERT_SOURCES")
    for name in dict.fromkeys(name for on in enabled for name in on.credentials):
        # Warm the cache now; a credential that cannot be read yet is reported per request.
        # A switched-off source's secret does not exist: it is never read.
        with contextlib.suppress(AlertBridgeError):
            source.get(name)
    publisher = Publisher(s.project, s.events_topic)
    return IngestDeps(secret=source.get, publish=publisher.publish, now=utc_now,
                      max_body_bytes=s.max_body_bytes, services=ingest_services(),
                      sources=enabled)


def ingest_services() -> dict[str, Callable[[], Any]]:
    """Return, per source, what its ingest part builds on the first request that needs it
    (kept once built; a failure is not remembered: the next request tries again)."""
    def built(make: Callable[[Build], Any]) -> Callable[[], Any]:
        return functools.cache(lambda: make(build("ingest")))

    return {source.name: built(source.ingest_service) for source in SOURCES
            if source.ingest_service is not None}


def ingest_handler() -> Handler:
    """Return the ingest's request handler; a configuration error is kept, not raised."""
    try:
        deps = ingest_deps()
        project = settings("ingest").project
    except ConfigError as error:
        log_config_error(error)
        refuse = misconfigured(error)

        def misconfigured_request(request: Incoming) -> Answer:
            logs.bind(request_id=request.request_id)
            return refuse(request)

        return misconfigured_request

    def handle(request: Incoming) -> Answer:
        logs.bind(request_id=request.request_id, **logs.trace_fields(request.headers, project))
        return receive(request, deps)

    return handle


@functools.cache
def teams_loader() -> Callable[[], TeamsConfig]:
    """Return a loader of teams.yaml that reads the file once and remembers a failure too."""
    from shared.routing.teams_file import load_teams

    try:
        config = load_teams(settings().teams_file, settings().default_team)
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
    """Return the link-back to each alert's source; in dry-run it records instead of sending."""
    from shared.adapters.link_targets import DryRunLinks
    from shared.flows.linkback import LinkBack

    if dry_run:
        recorder = DryRunLinks(settings().dry_run_file)
        return LinkBack({source.name: recorder for source in SOURCES
                         if source.link_sender is not None})
    return LinkBack(link_senders())


def link_senders() -> dict[str, LinkSender]:
    """Return each source's HTTP sender (link-back and two-way sync), built by its slice."""
    return {source.name: source.link_sender(build()) for source in SOURCES
            if source.link_sender is not None}


@functools.cache
def worker_deps() -> WorkerDeps:
    """Return the worker function's dependencies."""
    from shared.adapters.asana import DryRunAsana
    from shared.adapters.firestore_ledger import FirestoreLedger
    from shared.adapters.ledger_queries import LedgerQueries
    from shared.adapters.pubsub import Publisher
    from shared.core import failpoints
    from shared.core.ledger import from_document
    from shared.flows.worker import PortfolioCache, WorkerDeps

    s = settings()
    asana = tracker()
    dead_letters = Publisher(s.project, s.dead_letter_topic)
    store = FirestoreLedger(s.project, s.ledger_collection)
    sync = sync_back(store, isinstance(asana, DryRunAsana))
    queries = LedgerQueries(s.project, s.ledger_collection)

    def reconciled_twins(alert: Alert) -> list[Record]:
        # Asked only by a source that joins twins (Source.join), for alerts that name an object.
        if not alert.external_id:
            return []
        return [from_document(d) for d in queries.by_external_id(alert.source,
                                                                 alert.external_id)]

    return WorkerDeps(config=teams_loader(), environment=s.environment, tracker=asana,
                      ledger=store, sync_back=sync[0] if sync else None,
                      watch_project=sync[1] if sync else (lambda project, team: None),
                      portfolios=PortfolioCache(asana.portfolio_items),
                      dead_letter=dead_letters.publish, now=utc_now,
                      link_back=link_back(isinstance(asana, DryRunAsana)),
                      failpoint=failpoints.from_environment(os.environ, s.environment),
                      reconciled_twins=reconciled_twins, people=people(asana))


def people(asana: TaskTracker) -> Callable[[str], str | None]:
    """Return the resolver of an alert rule's people: e-mail -> Asana user gid (cached);
    in dry-run the e-mail itself, as nothing reaches Asana."""
    from shared.adapters.asana import AsanaClient
    from shared.adapters.asana_lookups import AsanaLookups

    if not isinstance(asana, AsanaClient):
        return lambda email: email
    lookups = AsanaLookups(asana)
    config = teams_loader()
    return lambda email: lookups.user_gid(email, config().workspace_gid)


@functools.cache
def reconcile_deps() -> ReconcileDeps:
    """Return the reconcile function's dependencies; credentials are read on every run."""
    from google.cloud import firestore

    from shared.adapters.ledger_queries import LedgerQueries
    from shared.adapters.pubsub import Publisher
    from shared.adapters.reconcile_cursor import FirestoreCursors
    from shared.flows.reconcile import ReconcileDeps
    from shared.sources.build import ReconcileParts

    s = settings("reconcile")
    client = firestore.Client(project=s.project)
    ledger = LedgerQueries(s.project, s.ledger_collection, client)
    parts = ReconcileParts(ledger=ledger, publish=Publisher(s.project, s.events_topic).publish,
                           records_by_task=ledger.by_task_gids)
    reconcilers: list[Reconciler] = []
    off: list[tuple[str, str]] = []
    for source in SOURCES:
        if source.reconciler is None:
            continue
        reconciler = source.reconciler(build("reconcile"), parts)
        if reconciler is None:
            off.append((source.name, source.reconcile_settings))
        else:
            reconcilers.append(reconciler)
    return ReconcileDeps(
        ledger=ledger,
        # Beside the ledger, not in it: the ledger's collection holds only alert records.
        cursors=FirestoreCursors(s.project, cursor_collection(s.ledger_collection), client),
        publish=parts.publish, now=utc_now,
        lookback_minutes=s.reconcile_lookback_minutes, grace_minutes=s.reconcile_grace_minutes,
        reconcilers=reconcilers, off=off)


def cursor_collection(ledger_collection: str) -> str:
    """Return the collection of reconciliation's cursors, named after the ledger's."""
    return f"{ledger_collection}_reconcile"


def sync_back(store: FirestoreLedger, dry_run: bool) -> tuple[
        Callable[[PushMessage], Decision], Callable[[str, str], None]] | None:
    """Return the two-way sync's message handler and project watcher (None in dry-run)."""
    tracker = next((source for source in SOURCES if source.task_sync is not None), None)
    if dry_run or tracker is None or tracker.task_sync is None:
        return None
    from shared.adapters.ledger_queries import LedgerQueries
    from shared.flows import sync_back as sync

    s = settings()
    config = teams_loader()

    def opted_in(team: str) -> bool:
        teams: TeamsConfig = config()
        return any(t.name == team and t.sync_back for t in teams.teams)

    parts = tracker.task_sync(build(), config, opted_in)
    deps = sync.SyncDeps(asana=parts.reads, find_by_task=LedgerQueries(
        s.project, s.ledger_collection).find_by_task, ledger=store, senders=link_senders(),
        settings=s, now=utc_now, opted_in=opted_in)
    return (lambda message: sync.process(message, deps)), parts.watch

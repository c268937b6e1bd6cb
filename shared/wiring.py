"""Build each function's dependencies from settings, once per instance."""

from __future__ import annotations

import functools
import os
from datetime import UTC, datetime

from shared import logs
from shared.adapters.secrets import SecretSource
from shared.ingest import IngestDeps
from shared.settings import Settings, load_settings


@functools.cache
def settings() -> Settings:
    """Return this instance's settings, read and validated once."""
    loaded = load_settings()
    logs.configure(loaded.log_level)
    return loaded


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

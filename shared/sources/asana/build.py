"""Asana's adapters as a source (the two-way sync), built from the deployment's settings."""

from __future__ import annotations

from shared.sources.asana.hooks_store import FirestoreHooks
from shared.sources.build import Build


def hooks(build: Build) -> FirestoreHooks:
    """Return the Asana webhooks' secrets (ingest builds it on the first Asana request)."""
    s = build.settings
    return FirestoreHooks(s.project, s.asana_webhook_collection, s.asana_hooks_database)

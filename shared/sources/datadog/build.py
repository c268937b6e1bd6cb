"""Datadog's adapters, built from the deployment's settings and credentials."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from shared.sources.build import Build

if TYPE_CHECKING:
    from shared.adapters.link_targets import AuthHeaders, LinkClient
    from shared.sources.build import ReconcileParts
    from shared.sources.drift import Reconciler



def link_sender(build: Build) -> LinkClient:
    """Return the sender of link-back and two-way sync events (the API key is read on each
    request: the secret cache keeps it cheap and picks up a rotated key)."""
    from shared.adapters.link_targets import LinkClient

    return LinkClient("datadog", build.settings.datadog_api_url,
                      datadog_auth(lambda: build.secrets.optional("DATADOG_API_KEY")))


def reconciler(build: Build, parts: ReconcileParts) -> Reconciler | None:
    """Return Datadog's part of a reconciliation run, None when the settings leave it off (the
    keys are read on every run)."""
    from shared.sources.datadog.reconcile import datadog_app_url
    from shared.sources.datadog.reconcile import reconciler as datadog_reconciler
    from shared.sources.datadog.reconcile_reader import DatadogReader

    s = build.settings
    if not s.reconcile_datadog_webhook:
        return None
    reader = DatadogReader(s.datadog_api_url, lambda: build.secrets.optional("DATADOG_API_KEY"),
                           lambda: build.secrets.optional("DATADOG_APP_KEY"),
                           s.reconcile_datadog_monitor_tags)
    tags = s.reconcile_datadog_monitor_tags or "any"
    return datadog_reconciler(reader.monitors, webhook=s.reconcile_datadog_webhook,
                              app_url=datadog_app_url(s.datadog_api_url),
                              describes=f"monitors that notify @webhook-"
                                        f"{s.reconcile_datadog_webhook} (monitor tags: {tags})")


def datadog_auth(api_key: Callable[[], str | None]) -> AuthHeaders:
    """Return Datadog's API-key header; posting an event needs no application key."""

    def headers() -> Mapping[str, str] | None:
        value = api_key()
        return {"DD-API-KEY": value} if value else None

    return headers

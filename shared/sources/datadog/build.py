"""Datadog's adapters, built from the deployment's settings and credentials."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from shared.sources.build import Build

if TYPE_CHECKING:
    from shared.adapters.link_targets import AuthHeaders, LinkClient


def link_sender(build: Build) -> LinkClient:
    """Return the sender of link-back and two-way sync events (the API key is read on each
    request: the secret cache keeps it cheap and picks up a rotated key)."""
    from shared.adapters.link_targets import LinkClient

    return LinkClient("datadog", build.settings.datadog_api_url,
                      datadog_auth(lambda: build.secrets.optional("DATADOG_API_KEY")))


def datadog_auth(api_key: Callable[[], str | None]) -> AuthHeaders:
    """Return Datadog's API-key header; posting an event needs no application key."""

    def headers() -> Mapping[str, str] | None:
        value = api_key()
        return {"DD-API-KEY": value} if value else None

    return headers

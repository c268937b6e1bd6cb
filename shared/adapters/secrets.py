"""Credentials: from the environment when set, else from Secret Manager, cached with a TTL."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

from shared.core.errors import ConfigError, Transient

log = logging.getLogger(__name__)

MAX_ACTIVE_VALUES = 2  # current + previous, during a rotation
#: One read from Secret Manager, every attempt included, and the time after which no retry
#: starts (shorter, as in firestore_ledger.py). The client's default retries a refused
#: connection for 60 s; a webhook or a push is answered 503 long before that, and its sender's
#: retry reads again.
READ_TIMEOUT_SECONDS = 5.0
RETRY_DEADLINE_SECONDS = 4.0


def secret_id(prefix: str, name: str) -> str:
    """Return the Secret Manager id of a credential, e.g. alert-bridge-asana-pat."""
    return prefix + name.lower().replace("_", "-")


class SecretDenied(ConfigError):
    """Secret Manager refused to read a secret: this function's account may not access it."""


def split_values(name: str, raw: str) -> tuple[str, ...]:
    """Split a stored value into its active values, one per line (a comma is part of a value)."""
    values = tuple(v.strip() for v in raw.splitlines() if v.strip())
    if not values:
        raise ConfigError(f"secret {name}: empty value")
    if len(values) > MAX_ACTIVE_VALUES:
        raise ConfigError(f"secret {name}: {len(values)} values, at most "
                          f"{MAX_ACTIVE_VALUES} (current and previous) are allowed")
    return values


class SecretSource:
    """Look credentials up by name; Secret Manager is only contacted when env lacks them."""

    def __init__(self, env: Mapping[str, str], project: str, prefix: str, ttl_seconds: float,
                 fetch: Callable[[str], str | None] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 readable: Collection[str] | None = None) -> None:
        self._env = env
        # Secret Manager is asked only for these (None: any); the environment is always read.
        self._readable = None if readable is None else frozenset(readable)
        self._denied: set[str] = set()
        self._project = project
        self._prefix = prefix
        self._ttl = ttl_seconds
        self._fetch = fetch
        self._clock = clock
        self._cache: dict[str, tuple[float, tuple[str, ...]]] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> tuple[str, ...]:
        """Return the active values of ``name``; raise ConfigError when it is not set anywhere."""
        if self._env.get(name, "").strip():
            return split_values(name, self._env[name])
        now = self._clock()
        cached = self._cache.get(name)
        if cached is None or now - cached[0] >= self._ttl:
            cached = (now, self._lookup(name))
            with self._lock:
                # Absent secrets are remembered too: optional credentials are asked for on
                # every alert and must not cost a Secret Manager call each time.
                self._cache[name] = cached
        if not cached[1]:
            raise ConfigError(f"secret {name}: not set in the environment and no readable "
                              f"enabled version of secret {secret_id(self._prefix, name)!r} in "
                              f"project {self._project!r}")
        return cached[1]

    def _lookup(self, name: str) -> tuple[str, ...]:
        """Read ``name`` from Secret Manager; () when it has no enabled version or is denied."""
        if self._readable is not None and name not in self._readable:
            raise ConfigError(f"secret {name}: not set in the environment, and this function "
                              "does not read it from Secret Manager")
        try:
            fetch = self._fetcher()
        except ConfigError as error:
            raise ConfigError(f"secret {name}: not set in the environment, and {error}") from error
        try:
            raw = fetch(secret_id(self._prefix, name))
        except SecretDenied as error:
            self._log_denied(name, error)
            return ()  # cached like an absent secret: a denied read is not retried per alert
        return () if raw is None else split_values(name, raw)

    def _log_denied(self, name: str, error: SecretDenied) -> None:
        with self._lock:
            first = name not in self._denied
            self._denied.add(name)
        if first:
            log.error("%s", error, extra={"event": "secret_denied",
                                          "secret": secret_id(self._prefix, name)})

    def optional(self, name: str) -> str | None:
        """Return the current value of ``name``, or None when it is not configured."""
        try:
            return self.get(name)[0]
        except ConfigError:
            return None

    def _fetcher(self) -> Callable[[str], str | None]:
        if self._fetch is None:
            self._fetch = _secret_manager_fetcher(self._project)
        return self._fetch


def _secret_manager_fetcher(project: str) -> Callable[[str], str | None]:
    # Imported here: local runs and tests read env vars and never pay for this import.
    from google.auth import exceptions as auth_exceptions
    from google.cloud import secretmanager

    try:
        client = secretmanager.SecretManagerServiceClient()
    except auth_exceptions.DefaultCredentialsError as error:
        # Typical of a laptop without `gcloud auth application-default login`: the
        # credential then simply isn't configured (dry-run for Asana, 500 for webhooks).
        raise ConfigError("Secret Manager unreachable: no Google credentials; set the "
                          "credential as an environment variable instead") from error
    return secret_reader(client, project)


def secret_reader(client: Any, project: str) -> Callable[[str], str | None]:
    """Return a reader of the latest value of a secret through a Secret Manager ``client``."""
    from google.api_core import exceptions as api_exceptions
    from google.api_core.retry import Retry, if_exception_type

    from shared.adapters.google_errors import describe

    # The client's default retryable errors (the call never ran), for seconds, not a minute.
    retry = Retry(predicate=if_exception_type(api_exceptions.ServiceUnavailable,
                                              api_exceptions.ResourceExhausted),
                  initial=0.2, maximum=1.0, multiplier=2.0, timeout=RETRY_DEADLINE_SECONDS)

    def fetch(secret: str) -> str | None:
        name = f"projects/{project}/secrets/{secret}/versions/latest"
        try:
            response = client.access_secret_version(request={"name": name}, retry=retry,
                                                    timeout=READ_TIMEOUT_SECONDS)
        except (api_exceptions.NotFound, api_exceptions.FailedPrecondition):
            return None  # no such secret, or its latest version is disabled/destroyed
        except api_exceptions.PermissionDenied as error:
            raise SecretDenied(f"secret {secret}: the service account may not access it "
                               "(grant roles/secretmanager.secretAccessor)") from error
        except api_exceptions.GoogleAPIError as error:  # RetryError included: it is no CallError
            raise Transient(f"secret manager: reading {secret} failed: "
                            f"{describe(error, RETRY_DEADLINE_SECONDS)}") from error
        return response.payload.data.decode("utf-8")

    return fetch

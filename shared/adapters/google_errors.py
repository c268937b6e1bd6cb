"""Google client failures in one line: missing credentials, and a call that failed."""

from __future__ import annotations

from google.api_core import exceptions as api_exceptions

from shared.core.errors import ConfigError

#: Application Default Credentials in the cloud and on a laptop, the emulators for local runs.
CREDENTIALS_HINT = (
    "run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS to a "
    "service account key file; for the local stack of `make run`, set FIRESTORE_EMULATOR_HOST "
    "and PUBSUB_EMULATOR_HOST instead (its banner prints them)")


def no_credentials(service: str | None = None) -> ConfigError:
    """Return the error of a ``service`` client that found no Google credentials."""
    return ConfigError(f"{service + ': ' if service else ''}no Google credentials: "
                       f"{CREDENTIALS_HINT}")


def describe(error: api_exceptions.GoogleAPIError, retried_for: float | None = None) -> str:
    """Say in one line why a call failed: the last attempt's error, and when retries stop."""
    gave_up = ""
    if isinstance(error, api_exceptions.RetryError) and error.cause is not None:
        gave_up = f" (retries stop after {retried_for:.0f} s)" if retried_for else " (retried)"
        error = error.cause
    message = getattr(error, "message", None) or str(error)
    return f"{type(error).__name__}: {' '.join(str(message).split())}{gave_up}"

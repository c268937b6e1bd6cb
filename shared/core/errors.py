"""The few error types the service distinguishes, and the one table mapping them to HTTP."""

from __future__ import annotations


class AlertBridgeError(Exception):
    """Base class: every error the service raises on purpose."""

    #: Short machine-readable reason, used in logs, metrics and dead-letter attributes.
    reason = "error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class ConfigError(AlertBridgeError):
    """The deployment is misconfigured (a missing variable, a bad teams.yaml)."""

    reason = "config"


class Rejected(AlertBridgeError):
    """The request itself is unacceptable; the sender must not retry it unchanged."""

    reason = "rejected"

    def __init__(self, message: str, *, reason: str = "rejected", status: int = 400) -> None:
        super().__init__(message, reason=reason)
        self.status = status


class Unauthorized(Rejected):
    """Missing or wrong signature or token; the answer never says which."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="unauthorized", status=401)


class Transient(AlertBridgeError):
    """A dependency failed in a way a later retry can fix (5xx, 429, timeout, unreachable)."""

    reason = "transient"


class Permanent(AlertBridgeError):
    """Processing can never succeed for this message (4xx from Asana, unparseable alert)."""

    reason = "permanent"


def http_status(error: BaseException) -> int:
    """Map an error to the HTTP status the caller should see."""
    if isinstance(error, Rejected):
        return error.status
    if isinstance(error, Transient):
        return 503
    return 500


def is_retryable(error: BaseException) -> bool:
    """Tell whether retrying the same work later can help."""
    # A ConfigError is retryable: redelivery succeeds once the deployment is fixed, and
    # Pub/Sub dead-letters the message if nobody fixes it in time.
    return not isinstance(error, (Rejected, Permanent))

"""The dead-letter pull subscription: lease, acknowledge and release messages for replay."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from google.api_core import exceptions as api_exceptions
from google.api_core import retry as api_retry
from google.auth import exceptions as auth_exceptions
from google.cloud.pubsub_v1 import SubscriberClient

from shared.adapters.google_errors import no_credentials
from shared.adapters.pubsub import pubsub_host
from shared.core.envelope import DeadLetter, Pulled
from shared.core.errors import AlertBridgeError, ConfigError, Transient

#: How long one pull waits for messages; an empty or timed-out pull means the subscription is
#: drained. The server holds an empty pull until about this deadline, so every run ends with
#: one such wait: short enough to keep `list` quick, long enough for a backlog to be answered.
PULL_WAIT_SECONDS = 3.0
#: An acknowledgement or a release; Pub/Sub has just answered the pull, so it answers in
#: milliseconds, and a message whose ack is lost comes back on the next run.
CALL_TIMEOUT_SECONDS = 10.0
#: After a pull without an answer: how long a live connection takes to say so. A held empty
#: pull leaves the channel connected; a host that accepts and never answers never connects it.
CONNECTED_CHECK_SECONDS = 1.0
#: How long a call keeps retrying an unreachable Pub/Sub before the command gives up. The
#: client's default (60 s) left an operator staring at a silent terminal when the emulator or
#: the network was down; a few seconds cover a blip.
UNREACHABLE_DEADLINE_SECONDS = 4.0
_RETRY = api_retry.Retry(initial=0.2, maximum=1.0, multiplier=2.0,
                         timeout=UNREACHABLE_DEADLINE_SECONDS,
                         predicate=api_retry.if_exception_type(api_exceptions.ServiceUnavailable,
                                                               api_exceptions.Aborted,
                                                               api_exceptions.InternalServerError,
                                                               api_exceptions.Unknown))


class Unreachable(Transient):
    """Pub/Sub could not be reached at all: nothing was pulled, acked or published."""

    reason = "unreachable"


class DeadLetterSubscription:
    """Pull, ack and release messages of one pull subscription (replay's Inbox)."""

    def __init__(self, project: str, subscription: str,
                 client: SubscriberClient | None = None) -> None:
        self._client = client or _subscriber()
        # Accept the full path too: it is what the console and gcloud print.
        self.path = (subscription if subscription.startswith("projects/")
                     else self._client.subscription_path(project, subscription))

    def pull(self, max_messages: int) -> list[Pulled]:
        """Lease up to ``max_messages``; return [] when none arrived in PULL_WAIT_SECONDS."""
        try:
            response = self._client.pull(
                request={"subscription": self.path, "max_messages": max_messages},
                retry=_RETRY, timeout=PULL_WAIT_SECONDS)
        except api_exceptions.DeadlineExceeded as error:
            if self._connected():
                return []  # Pub/Sub held an empty pull until the deadline: nothing waiting
            raise self._error("pull", error) from error
        except api_exceptions.GoogleAPIError as error:
            raise self._error("pull", error) from error
        return [Pulled(received.ack_id, _letter(received.message))
                for received in response.received_messages]

    def ack(self, ack_id: str) -> None:
        """Remove one message for good; raise if Pub/Sub did not confirm it."""
        try:
            self._client.acknowledge(request={"subscription": self.path, "ack_ids": [ack_id]},
                                     retry=_RETRY, timeout=CALL_TIMEOUT_SECONDS)
        except api_exceptions.GoogleAPIError as error:
            raise self._error("acknowledge", error) from error

    def release(self, ack_ids: Sequence[str]) -> None:
        """Give leased messages back at once; if this fails their lease lapses on its own."""
        if not ack_ids:
            return
        try:
            self._client.modify_ack_deadline(
                request={"subscription": self.path, "ack_ids": list(ack_ids),
                         "ack_deadline_seconds": 0},
                retry=_RETRY, timeout=CALL_TIMEOUT_SECONDS)
        except api_exceptions.GoogleAPIError:
            # Nothing is lost: the messages come back once the subscription's ack deadline
            # passes, which is all a release would have hastened.
            return

    def _connected(self) -> bool:
        import grpc

        ready = grpc.channel_ready_future(self._client.api.transport.grpc_channel)
        try:
            ready.result(timeout=CONNECTED_CHECK_SECONDS)
        except grpc.FutureTimeoutError:
            return False
        finally:
            ready.cancel()
        return True

    def close(self) -> None:
        """Close the gRPC channel."""
        self._client.close()

    def _error(self, operation: str, error: api_exceptions.GoogleAPIError) -> AlertBridgeError:
        if isinstance(error, api_exceptions.RetryError) and error.cause is not None:
            error = error.cause
        if isinstance(error, api_exceptions.ServiceUnavailable):
            return Unreachable(f"cannot reach Pub/Sub at {pubsub_host()}: {operation} of "
                               f"{self.path} failed for {UNREACHABLE_DEADLINE_SECONDS:.0f} s"
                               f"{_hint()}")
        if isinstance(error, api_exceptions.DeadlineExceeded):
            return Unreachable(f"cannot reach Pub/Sub at {pubsub_host()}: {operation} of "
                               f"{self.path} got no answer (the connection was accepted, then "
                               f"nothing){_hint()}")
        if isinstance(error, api_exceptions.NotFound):
            return ConfigError(f"subscription {self.path} not found: pass --subscription or set "
                               "DEAD_LETTER_SUBSCRIPTION (Terraform output "
                               "dead_letter_subscription)")
        if isinstance(error, api_exceptions.PermissionDenied):
            return ConfigError(f"subscription {self.path}: {operation} denied: the caller needs "
                               "roles/pubsub.subscriber on it")
        message = getattr(error, "message", None) or str(error)
        return Transient(f"subscription {self.path}: {operation} failed: "
                         f"{type(error).__name__}: {' '.join(str(message).split())}")


def _subscriber() -> SubscriberClient:
    try:
        return SubscriberClient()
    except auth_exceptions.DefaultCredentialsError as error:
        raise no_credentials("Pub/Sub") from error


def _hint() -> str:
    if os.environ.get("PUBSUB_EMULATOR_HOST"):
        return " (is `make run` up? PUBSUB_EMULATOR_HOST names the emulator)"
    return " (check the network, or set PUBSUB_EMULATOR_HOST for the local emulator)"


def _letter(message: Any) -> DeadLetter:
    published = message.publish_time
    return DeadLetter(message_id=str(message.message_id), data=bytes(message.data),
                      attributes=dict(message.attributes),
                      published_at=published.isoformat(timespec="seconds") if published else "")

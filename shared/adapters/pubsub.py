"""Pub/Sub publishing, tuned for answering a webhook within Sentry's one-second budget."""

from __future__ import annotations

import os
from collections.abc import Mapping

from google.api_core import exceptions as api_exceptions
from google.api_core import retry as api_retry
from google.auth import exceptions as auth_exceptions
from google.cloud.pubsub_v1 import PublisherClient
from google.cloud.pubsub_v1.types import BatchSettings

from shared.adapters.google_errors import describe, no_credentials
from shared.core.errors import Transient
from shared.core.pubsub_attributes import pubsub_attributes

# A webhook waits for the publish: give up early enough to answer 503 and let the sender
# retry, rather than outlive the sender's own timeout.
PUBLISH_DEADLINE_SECONDS = 3.0


#: One message per batch: the default batching waits up to 10 ms per publish.
BATCH_SETTINGS = BatchSettings(max_messages=1, max_latency=0.0)


def _client() -> PublisherClient:
    try:
        return PublisherClient(batch_settings=BATCH_SETTINGS)
    except auth_exceptions.DefaultCredentialsError as error:
        raise no_credentials("Pub/Sub") from error


class Publisher:
    """Publish raw bytes with attributes to one topic and wait for the server's ack."""

    def __init__(self, project: str, topic: str,
                 client: PublisherClient | None = None) -> None:
        self._client = client or _client()
        self.topic_path = self._client.topic_path(project, topic)
        self._retry = api_retry.Retry(
            initial=0.05, maximum=0.5, multiplier=2.0, timeout=PUBLISH_DEADLINE_SECONDS,
            predicate=api_retry.if_exception_type(
                api_exceptions.ServiceUnavailable, api_exceptions.DeadlineExceeded,
                api_exceptions.InternalServerError, api_exceptions.Aborted,
                api_exceptions.ResourceExhausted, api_exceptions.Unknown,
            ),
        )

    def publish(self, data: bytes, attributes: Mapping[str, str]) -> str:
        """Return the message id once Pub/Sub has stored the message; raise Transient if not.

        Attributes are capped to Pub/Sub's limits first; a key it would refuse raises
        InvalidAttributes (Permanent), since no retry can fix it.
        """
        attributes = pubsub_attributes(attributes)
        try:
            future = self._client.publish(self.topic_path, data, retry=self._retry,
                                          timeout=PUBLISH_DEADLINE_SECONDS, **attributes)
            return str(future.result(timeout=PUBLISH_DEADLINE_SECONDS + 0.5))
        except Exception as error:  # any failure means "not durably published"
            raise Transient(f"publish to {self.topic_path} at {pubsub_host()} failed: "
                            f"{_why(error)}") from error


def pubsub_host() -> str:
    """Return where Pub/Sub calls go: the emulator when PUBSUB_EMULATOR_HOST is set."""
    emulator = os.environ.get("PUBSUB_EMULATOR_HOST", "").strip()
    return f"{emulator} (PUBSUB_EMULATOR_HOST)" if emulator else "pubsub.googleapis.com"


def _why(error: Exception) -> str:
    if isinstance(error, api_exceptions.GoogleAPIError):
        return describe(error, PUBLISH_DEADLINE_SECONDS)
    if isinstance(error, TimeoutError):  # the future's wait; the client may still be retrying
        return f"no answer within {PUBLISH_DEADLINE_SECONDS + 0.5:.1f} s"
    return f"{type(error).__name__}: {error}"

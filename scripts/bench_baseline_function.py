"""A publish-only HTTP function: the floor that ``make bench`` compares ingest to.

It does what ingest cannot skip (import the Pub/Sub client, publish the body with the same
batch settings, wait for the ack) and nothing else: no settings, secrets, checks or logs.
"""

import os

import flask
import functions_framework
from google.cloud.pubsub_v1 import PublisherClient

from shared.adapters.pubsub import BATCH_SETTINGS, PUBLISH_DEADLINE_SECONDS

CLIENT = PublisherClient(batch_settings=BATCH_SETTINGS)
TOPIC = CLIENT.topic_path(os.environ["GOOGLE_CLOUD_PROJECT"], os.environ["EVENTS_TOPIC"])


@functions_framework.http
def publish(request: flask.Request) -> flask.Response:
    """Publish the raw body and answer 202 with the message id."""
    if request.method != "POST":
        return flask.Response(status=405)  # readiness probes publish nothing
    future = CLIENT.publish(TOPIC, request.get_data(), timeout=PUBLISH_DEADLINE_SECONDS)
    response = flask.jsonify({"status": "accepted", "id": future.result()})
    response.status_code = 202
    return response

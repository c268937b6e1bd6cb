"""HTTP entry point: receive a Sentry or Datadog webhook and hand it to Pub/Sub."""

import uuid

import flask
import functions_framework

from shared import wiring
from shared.ingest import Answer

# Built at import, before functions-framework opens the port, so no webhook waits for it.
HANDLE = wiring.ingest_handler()


@functions_framework.http
def ingest(request: flask.Request) -> flask.Response:
    """Verify the webhook, publish it, and answer 202 only once Pub/Sub has it."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    answer = HANDLE(request.method, headers, request.content_length, request.stream,
                    uuid.uuid4().hex)
    return _respond(answer)


def _respond(answer: Answer) -> flask.Response:
    body = flask.json.dumps(answer.body).encode()
    # An iterable body makes functions-framework skip its after-request read of the whole
    # request body, which would buffer whatever an oversized sender is still sending.
    return flask.Response(iter([body]), status=answer.status, mimetype="application/json",
                          headers={"Content-Length": str(len(body))})

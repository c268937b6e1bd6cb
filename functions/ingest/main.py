"""HTTP entry point: receive a Sentry or Datadog webhook and hand it to Pub/Sub."""

import uuid

import flask
import functions_framework

from shared import wiring
from shared.core import logs
from shared.flows.ingest import Answer, Incoming

# Built at import, before functions-framework opens the port, so no webhook waits for it.
HANDLE = wiring.ingest_handler()


@functions_framework.http
def ingest(request: flask.Request) -> flask.Response:
    """Verify the webhook, publish it, and answer 202 only once Pub/Sub has it."""
    return logs.isolated(_ingest, request)


def _ingest(request: flask.Request) -> flask.Response:
    return _respond(HANDLE(Incoming(
        method=request.method, headers={k.lower(): v for k, v in request.headers.items()},
        query=request.args.to_dict(), content_length=request.content_length,
        stream=request.stream, request_id=uuid.uuid4().hex, path=request.path)))


def _respond(answer: Answer) -> flask.Response:
    body = flask.json.dumps(answer.body).encode()
    # An iterable body makes functions-framework skip its after-request read of the whole
    # request body, which would buffer whatever an oversized sender is still sending.
    return flask.Response(iter([body]), status=answer.status, mimetype="application/json",
                          headers={**answer.headers, "Content-Length": str(len(body))})

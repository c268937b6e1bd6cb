"""HTTP entry point: receive a Sentry or Datadog webhook and hand it to Pub/Sub."""

import uuid

import flask
import functions_framework

from shared import logs, wiring
from shared.ingest import (
    Answer,
    Webhook,
    handle_webhook,
    oversized_answer,
    read_body,
    too_large,
)


@functions_framework.http
def ingest(request: flask.Request) -> flask.Response:
    """Verify the webhook, publish it, and answer 202 only once Pub/Sub has it."""
    return logs.isolated(_ingest, request)


def _ingest(request: flask.Request) -> flask.Response:
    deps = wiring.ingest_deps()
    hook = Webhook(method=request.method,
                   headers={k.lower(): v for k, v in request.headers.items()},
                   body=b"", request_id=uuid.uuid4().hex, query=request.args.to_dict())
    logs.bind(request_id=hook.request_id,
              **logs.trace_fields(hook.headers, wiring.settings().project))
    if too_large(request.content_length, deps.max_body_bytes):
        return _respond(oversized_answer(hook))
    body = read_body(request.stream, deps.max_body_bytes)
    return _respond(handle_webhook(Webhook(hook.method, hook.headers, body, hook.request_id,
                                           hook.query), deps))


def _respond(answer: Answer) -> flask.Response:
    response = flask.jsonify(answer.body)
    response.status_code = answer.status
    response.headers.update(answer.headers)
    return response

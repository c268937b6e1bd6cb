"""Pub/Sub push entry point: turn one alert message into an Asana task change."""

import flask
import functions_framework

from shared import logs, wiring
from shared.worker import handle_request


@functions_framework.http
def worker(request: flask.Request) -> flask.Response:
    """Process one pushed message; a non-2xx answer makes Pub/Sub redeliver it."""
    # Isolated: the request id bound for this message's log lines ends with the request.
    outcome = logs.isolated(handle_request, request.method, request.get_data(),
                            wiring.worker_deps())
    response = flask.jsonify(outcome.body)
    response.status_code = outcome.status
    return response

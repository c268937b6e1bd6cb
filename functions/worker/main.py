"""Pub/Sub push entry point: turn one alert message into an Asana task change."""

import flask
import functions_framework

from shared import wiring
from shared.core import logs
from shared.core.errors import ConfigError
from shared.flows.worker import handle_request


@functions_framework.http
def worker(request: flask.Request) -> flask.Response:
    """Process one pushed message; a non-2xx answer makes Pub/Sub redeliver it."""
    try:
        deps = wiring.worker_deps()
    except ConfigError as error:
        return _respond(*wiring.config_error_answer(error))
    # Isolated: the request id bound for this message's log lines ends with the request.
    outcome = logs.isolated(handle_request, request.method, request.get_data(), deps,
                            request.args.to_dict())
    return _respond(outcome.status, outcome.body)


def _respond(status: int, body: object) -> flask.Response:
    response = flask.jsonify(body)
    response.status_code = status
    return response

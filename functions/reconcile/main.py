"""HTTP entry point for Cloud Scheduler: publish the alerts whose webhook never arrived."""

import uuid

import flask
import functions_framework

from shared import wiring
from shared.flows.reconcile import handle_run


@functions_framework.http
def reconcile(request: flask.Request) -> flask.Response:
    """Run one reconciliation; a non-2xx answer marks the scheduled job as failed."""
    status, body = handle_run(request.method, wiring.reconcile_deps, uuid.uuid4().hex)
    response = flask.jsonify(body)
    response.status_code = status
    return response

"""Pub/Sub push entry point: turn one alert message into an Asana task change."""

import flask
import functions_framework


@functions_framework.http
def worker(request: flask.Request) -> tuple[str, int]:
    """Acknowledge the push (placeholder until the worker flow lands)."""
    return "", 204

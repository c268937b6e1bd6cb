"""alert-bridge: turn Sentry and Datadog alerts into owned Asana tasks."""

"""JSON log lines: the fields Cloud Logging indexes, and credentials never written."""

import io
import json
import logging

from shared.core import logs
from shared.core.observability import secret_redactor


def emit(formatter: logs.JsonFormatter, message: str, **extra: object) -> dict[str, object]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("test.logs")
    logger.handlers = [handler]
    logger.propagate = False
    logger.warning(message, extra=extra)
    return dict(json.loads(stream.getvalue()))


def test_line_carries_severity_message_and_extra_fields() -> None:
    line = emit(logs.JsonFormatter(), "webhook rejected: bad signature",
                event="webhook_rejected", reason="unauthorized")
    assert line["severity"] == "WARNING"
    assert line["message"] == "webhook rejected: bad signature"
    assert (line["event"], line["reason"]) == ("webhook_rejected", "unauthorized")


def test_live_secret_values_are_redacted_everywhere() -> None:
    redact = secret_redactor(lambda: ["asana-pat-0123456789", "short"])
    line = emit(logs.JsonFormatter(redact), "asana said: bad token asana-pat-0123456789",
                event="retry", detail="Authorization: Bearer asana-pat-0123456789")
    text = json.dumps(line)
    assert "asana-pat-0123456789" not in text
    assert line["message"] == "asana said: bad token [Filtered]"


def test_a_failing_secret_lookup_does_not_break_logging() -> None:
    def broken() -> list[str]:
        raise RuntimeError("secret manager down")

    line = emit(logs.JsonFormatter(secret_redactor(broken)), "still logged")
    assert line["message"] == "still logged"

"""A misconfigured worker answers JSON 503 and logs one config_error line, never a traceback."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from scripts.localstack import LOCAL_DEFAULTS, free_port, start_function

ENVELOPE = json.dumps({"subscription": "projects/p/subscriptions/s", "message": {
    "data": "e30=", "attributes": {"source": "sentry"}, "messageId": "m-1"}}).encode()


@pytest.mark.parametrize("bad, key", [
    ({"ENVIRONMENT": "prod", "ASANA_PAT": ""}, "ASANA_PAT"),
    ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
], ids=["prod-without-asana-pat", "bad-log-level"])
def test_config_error_is_a_json_503_and_one_log_line(tmp_path: Path, bad: dict[str, str],
                                                     key: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_EMULATOR_HOST")}
    env.update({**LOCAL_DEFAULTS, "DRY_RUN_FILE": str(tmp_path / "dry-run.jsonl"), **bad})
    worker = start_function("worker", "worker", free_port(), env, tmp_path)
    try:
        request = urllib.request.Request(worker.url + "/", data=ENVELOPE, method="POST",
                                         headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request, timeout=10)
        assert answer.value.code == 503
        assert json.loads(answer.value.read()) == {"status": "retry", "reason": "config_error"}
    finally:
        worker.stop()
    log = worker.log_path.read_text()
    assert "Traceback" not in log
    errors = [json.loads(line) for line in log.splitlines()
              if line.startswith("{") and '"config_error"' in line]
    assert errors, log
    assert all(key in entry["keys"] for entry in errors)
    assert errors[0]["severity"] == "ERROR"

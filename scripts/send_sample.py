"""Send a signed sample alert to a running ingest function (``make send-sample``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from scripts.localstack import LOCAL_DEFAULTS, REPO, sentry_headers

SAMPLES = {
    "sentry": ("tests/data/sentry_event_alert.json", "event_alert"),
    "sentry-resolved": ("tests/data/sentry_issue_resolved.json", "issue"),
    "sentry-regressed": ("tests/data/sentry_issue_unresolved_regressed.json", "issue"),
    "datadog": ("tests/data/datadog_triggered.json", None),
    "datadog-recovered": ("tests/data/datadog_recovered.json", None),
}
#: The issue webhooks are sent for the issue of the `sentry` sample, so that the task it
#: opened is the one they complete and reopen.
SAMPLE_ISSUE_ID = json.loads((REPO / SAMPLES["sentry"][0]).read_text())["data"]["event"]["issue_id"]


def sample_body(name: str) -> bytes:
    """Return the body of a named sample, as Sentry or Datadog would send it."""
    path, resource = SAMPLES[name]
    body = (REPO / path).read_bytes()
    if resource != "issue":
        return body
    payload = json.loads(body)
    payload["data"]["issue"]["id"] = SAMPLE_ISSUE_ID
    return json.dumps(payload, ensure_ascii=False).encode()


def main(argv: list[str] | None = None) -> int:
    """Post one sample payload, signed the way Sentry or Datadog would, and print the answer."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sample", nargs="?", default="sentry", choices=sorted(SAMPLES))
    parser.add_argument("--url", default=os.environ.get("INGEST_URL", "http://127.0.0.1:8080/"))
    parser.add_argument("--file", type=Path, help="send this payload file instead")
    args = parser.parse_args(argv)
    resource = SAMPLES[args.sample][1]
    body = args.file.read_bytes() if args.file else sample_body(args.sample)
    if resource is None:
        token = os.environ.get("DATADOG_SECRET_TOKEN") or LOCAL_DEFAULTS["DATADOG_SECRET_TOKEN"]
        headers = {"datadog-secret-token": token.splitlines()[0]}
    else:
        secret = os.environ.get("SENTRY_CLIENT_SECRET") or LOCAL_DEFAULTS["SENTRY_CLIENT_SECRET"]
        headers = sentry_headers(body, resource, secret.splitlines()[0])
    request = urllib.request.Request(args.url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            print(response.status, response.read().decode())
            return 0
    except urllib.error.HTTPError as error:
        print(error.code, error.read().decode(), file=sys.stderr)
        return 1
    except urllib.error.URLError as error:
        print(f"cannot reach {args.url}: {error.reason} (is `make run` up?)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

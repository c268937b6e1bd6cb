"""Send a signed sample alert to a running ingest function (``make send-sample``)."""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from scripts.localstack import LOCAL_DEFAULTS, REPO
from shared.signatures import sentry_signature

SAMPLES = {
    "sentry": ("tests/data/sentry_event_alert.json", "event_alert"),
    "sentry-issue": ("tests/data/sentry_issue_created.json", "issue"),
    "sentry-resolved": ("tests/data/sentry_issue_resolved.json", "issue"),
    "datadog": ("tests/data/datadog_triggered.json", None),
    "datadog-recovered": ("tests/data/datadog_recovered.json", None),
}


def main(argv: list[str] | None = None) -> int:
    """Post one sample payload, signed the way Sentry or Datadog would, and print the answer."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sample", nargs="?", default="sentry", choices=sorted(SAMPLES))
    parser.add_argument("--url", default=os.environ.get("INGEST_URL", "http://127.0.0.1:8080/"))
    parser.add_argument("--file", type=Path, help="send this payload file instead")
    args = parser.parse_args(argv)
    path, resource = SAMPLES[args.sample]
    body = (args.file or REPO / path).read_bytes()
    if resource is None:
        token = os.environ.get("DATADOG_SECRET_TOKEN") or LOCAL_DEFAULTS["DATADOG_SECRET_TOKEN"]
        headers = {"datadog-secret-token": token.splitlines()[0]}
    else:
        secret = os.environ.get("SENTRY_CLIENT_SECRET") or LOCAL_DEFAULTS["SENTRY_CLIENT_SECRET"]
        headers = {"Sentry-Hook-Resource": resource,
                   "Sentry-Hook-Signature": sentry_signature(secret.splitlines()[0], body)}
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

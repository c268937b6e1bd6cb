"""Send a signed sample alert to a running ingest function (``make send-sample``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from scripts import sns_sample
from scripts.localstack import LOCAL_DEFAULTS, REPO, run_dir, sentry_headers

#: The resource of the CloudWatch samples: an alarm, posted in a Notification SNS signs.
SNS = "sns"

#: Sample name -> (payload file, Sentry-Hook-Resource or None for Datadog). The Sentry samples
#: are one issue's story (its resolve and regression name the issue of the first alert), and
#: the Datadog samples one alert cycle.
SAMPLES = {
    "sentry": ("tests/data/sentry_event_alert.json", "event_alert"),
    # The same issue firing again: a new event (a re-sent identical body is a replay).
    "sentry-again": ("tests/data/sentry_story_again.json", "event_alert"),
    "sentry-resolved": ("tests/data/sentry_story_resolved.json", "issue"),
    "sentry-regressed": ("tests/data/sentry_story_regressed.json", "issue"),
    # Alerts whose Sentry alert rule says where the task goes ("Create an Asana task").
    "sentry-rule": ("tests/data/sentry_rule_event_alert.json", "event_alert"),
    "sentry-rule-metric": ("tests/data/sentry_rule_metric_alert.json", "metric_alert"),
    "datadog": ("tests/data/datadog_triggered.json", None),
    "datadog-recovered": ("tests/data/datadog_recovered.json", None),
    # One CloudWatch alarm's story, each signed as SNS would with `make run`'s local key.
    "cloudwatch": ("tests/data/cloudwatch/alarm.json", SNS),
    "cloudwatch-insufficient-data": ("tests/data/cloudwatch/alarm-insufficient-data.json", SNS),
    "cloudwatch-ok": ("tests/data/cloudwatch/alarm-ok.json", SNS),
}


def sample_body(name: str, raw: bytes | None = None) -> bytes:
    """Return the body of a named sample (or ``raw`` in its place), as its sender posts it."""
    body = (REPO / SAMPLES[name][0]).read_bytes() if raw is None else raw
    if SAMPLES[name][1] == SNS:
        return sns_sample.notification(json.loads(body), run_dir(os.environ))
    return body


def ingest_url(env: Mapping[str, str]) -> str:
    """Return where `make run`'s ingest listens: INGEST_URL, else 127.0.0.1:INGEST_PORT."""
    port = env.get("INGEST_PORT", "").strip() or "8080"
    return env.get("INGEST_URL", "").strip() or f"http://127.0.0.1:{port}/"


def signed_headers(name: str, body: bytes, env: Mapping[str, str]) -> dict[str, str]:
    """Return the headers Sentry or Datadog would send ``body`` of sample ``name`` with."""
    resource = SAMPLES[name][1]
    if resource == SNS:
        return sns_sample.headers(body)
    if resource is None:
        token = env.get("DATADOG_SECRET_TOKEN") or LOCAL_DEFAULTS["DATADOG_SECRET_TOKEN"]
        return {"Content-Type": "application/json",
                "datadog-secret-token": token.splitlines()[0]}
    secret = env.get("SENTRY_CLIENT_SECRET") or LOCAL_DEFAULTS["SENTRY_CLIENT_SECRET"]
    return sentry_headers(body, resource, secret.splitlines()[0])


def main(argv: list[str] | None = None) -> int:
    """Post one sample payload, signed the way Sentry or Datadog would, and print the answer."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sample", nargs="?", default="sentry", choices=sorted(SAMPLES))
    parser.add_argument("--url", default=ingest_url(os.environ),
                        help="ingest URL (default: $INGEST_URL, else 127.0.0.1:$INGEST_PORT)")
    parser.add_argument("--file", type=Path, help="send this payload file instead")
    args = parser.parse_args(argv)
    body = sample_body(args.sample, args.file.read_bytes() if args.file else None)
    request = urllib.request.Request(args.url, data=body, method="POST",
                                     headers=signed_headers(args.sample, body, os.environ))
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

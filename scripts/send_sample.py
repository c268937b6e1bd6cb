"""Send a signed sample alert to a running ingest function (``make send-sample``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlencode

from scripts import sns_sample
from scripts.localstack import LOCAL_DEFAULTS, REPO, run_dir, sentry_headers

#: The resource of the CloudWatch samples: an alarm, posted in a Notification SNS signs.
SNS = "sns"

GCM = "gcm_incident"
#: Sample name -> (payload file, Sentry-Hook-Resource, None for Datadog, or GCM). The Sentry samples
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
    # One Azure Monitor alert (an action group's webhook, common alert schema): fired, resolved.
    "azure": ("tests/data/azure/metric_fired.json", "azure"),
    "azure-resolved": ("tests/data/azure/metric_resolved.json", "azure"),
    # One Alertmanager notification of two crash-looping pods, then the first one resolved
    # (posted to the source's path, with the credentials Alertmanager sends).
    "alertmanager": ("tests/data/alertmanager/firing.json", "alertmanager"),
    "alertmanager-resolved": ("tests/data/alertmanager/resolved.json", "alertmanager"),
    # One Grafana alert firing, then resolved (HMAC-signed over the current time).
    "grafana": ("tests/data/grafana/firing.json", "grafana"),
    "grafana-resolved": ("tests/data/grafana/resolved.json", "grafana"),
    # One Cloud Monitoring incident, opened and closed: through a webhook_tokenauth channel
    # (ingest, ?source=gcm&auth_token=...), or published to the local pubsub channel's topic
    # as Google publishes it (needs PUBSUB_EMULATOR_HOST and GOOGLE_CLOUD_PROJECT of make run).
    "gcm": ("tests/data/gcm/incident_open.json", GCM),
    "gcm-closed": ("tests/data/gcm/incident_closed.json", GCM),
    "gcm-pubsub": ("tests/data/gcm/incident_open.json", GCM),
    "gcm-pubsub-closed": ("tests/data/gcm/incident_closed.json", GCM),
    # One CloudWatch alarm's story, each signed as SNS would with `make run`'s local key.
    "cloudwatch": ("tests/data/cloudwatch/alarm.json", SNS),
    "cloudwatch-insufficient-data": ("tests/data/cloudwatch/alarm-insufficient-data.json", SNS),
    "cloudwatch-ok": ("tests/data/cloudwatch/alarm-ok.json", SNS),
}


class Target(NamedTuple):
    """Where a source's sender posts under ingest's URL (docs/<source>.md)."""

    path: str = ""
    query: tuple[tuple[str, str], ...] = ()
    #: (query parameter, credential) when the sender puts its credential in the URL, as Azure's
    #: webhook action and Cloud Monitoring's webhook channels do (they cannot set headers).
    token: tuple[str, str] | None = None


#: The samples not posted to ingest's URL as it is: resource -> where they go.
TARGETS = {
    "alertmanager": Target("alertmanager"),
    "grafana": Target("grafana"),
    "azure": Target("azure", token=("token", "AZURE_WEBHOOK_TOKEN")),
    GCM: Target(query=(("source", "gcm"),), token=("auth_token", "GCM_WEBHOOK_TOKEN")),
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
    if resource in TARGETS and TARGETS[resource].token:
        return {"Content-Type": "application/json"}  # the credential is in the URL
    if resource == "alertmanager":
        return {"Content-Type": "application/json", "User-Agent": "Alertmanager/0.27.0",
                "Authorization": f"Bearer {credential(env, 'ALERTMANAGER_TOKEN')}"}
    if resource == "grafana":
        return grafana_headers(body, env)
    if resource is None:
        return {"Content-Type": "application/json",
                "datadog-secret-token": credential(env, "DATADOG_SECRET_TOKEN")}
    return sentry_headers(body, resource, credential(env, "SENTRY_CLIENT_SECRET"))


def credential(env: Mapping[str, str], name: str) -> str:
    """Return the value a sender signs with: the current one of ``name`` (`make run`'s own
    when unset)."""
    return (env.get(name) or LOCAL_DEFAULTS[name]).splitlines()[0]


def grafana_headers(body: bytes, env: Mapping[str, str]) -> dict[str, str]:
    """Return the headers of Grafana's contact point: its HMAC signature, over the current
    time when a timestamp header is configured."""
    from shared.sources.grafana.verify import signature

    secret = credential(env, "GRAFANA_WEBHOOK_SECRET")
    stamp_header = env.get("GRAFANA_TIMESTAMP_HEADER", LOCAL_DEFAULTS["GRAFANA_TIMESTAMP_HEADER"])
    headers = {"Content-Type": "application/json", "User-Agent": "Grafana"}
    stamp = str(int(time.time())) if stamp_header.strip() else None
    if stamp is not None:
        headers[stamp_header.strip()] = stamp
    header = env.get("GRAFANA_SIGNATURE_HEADER", "").strip() or "X-Grafana-Alerting-Signature"
    headers[header] = signature(secret, body, stamp)
    return headers


def sample_url(name: str, url: str, env: Mapping[str, str]) -> str:
    """Return where sample ``name`` is posted: ``url``, or its source's path under it, with
    the query (and token) its sender puts in the URL."""
    target = TARGETS.get(SAMPLES[name][1] or "")
    if target is None:
        return url
    query = list(target.query)
    if target.token is not None:
        parameter, secret = target.token
        query.append((parameter, credential(env, secret)))
    posted = f"{url.rstrip('/')}/{target.path}"
    return f"{posted}?{urlencode(query)}" if query else posted


def publish_incident(body: bytes, env: Mapping[str, str]) -> str:
    """Publish ``body`` to the local pubsub channel's topic as Cloud Monitoring does."""
    os.environ["PUBSUB_EMULATOR_HOST"] = env["PUBSUB_EMULATOR_HOST"]
    from google.cloud.pubsub_v1 import PublisherClient

    from scripts.localstack import Topology, gcm_topic

    events = env.get("EVENTS_TOPIC") or LOCAL_DEFAULTS["EVENTS_TOPIC"]
    project = env.get("GOOGLE_CLOUD_PROJECT") or LOCAL_DEFAULTS["GOOGLE_CLOUD_PROJECT"]
    topic = gcm_topic(Topology(project, events, "", "", ""))
    publisher = PublisherClient()
    # No attributes: Google's notification service agent sets none.
    return str(publisher.publish(publisher.topic_path(project, topic), body).result(timeout=10))


def main(argv: list[str] | None = None) -> int:
    """Post one sample payload, signed the way Sentry or Datadog would, and print the answer."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sample", nargs="?", default="sentry", choices=sorted(SAMPLES))
    parser.add_argument("--url", default=ingest_url(os.environ),
                        help="ingest URL (default: $INGEST_URL, else 127.0.0.1:$INGEST_PORT)")
    parser.add_argument("--file", type=Path, help="send this payload file instead")
    args = parser.parse_args(argv)
    body = sample_body(args.sample, args.file.read_bytes() if args.file else None)
    if args.sample.startswith("gcm-pubsub"):
        if not os.environ.get("PUBSUB_EMULATOR_HOST"):
            print("set PUBSUB_EMULATOR_HOST (make run prints it)", file=sys.stderr)
            return 1
        print("published", publish_incident(body, os.environ))
        return 0
    request = urllib.request.Request(sample_url(args.sample, args.url, os.environ), data=body,
                                     method="POST",
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

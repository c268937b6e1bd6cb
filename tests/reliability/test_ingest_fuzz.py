"""A bounded fuzz of the real ingest on the real Pub/Sub emulator: nothing unauthenticated is
published, nothing valid is lost, and no request gets a 5xx."""

from __future__ import annotations

import base64
import json
import os
import random
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from scripts.bench_ingest_memory import IngestEdge, ingest_on_emulator
from scripts.localstack import LOCAL_DEFAULTS
from shared.sources.grafana.verify import signature as grafana_signature
from shared.sources.sentry.verify import sentry_signature
from tests.fakes.entra_keys import AUDIENCE, EntraKeys
from tests.integration.pubsub_helpers import pull, tap
from tests.reliability import summary
from tests.unit.sources.cloudwatch import signer as sns_signer

SECRET = LOCAL_DEFAULTS["SENTRY_CLIENT_SECRET"]
TOKEN = LOCAL_DEFAULTS["DATADOG_SECRET_TOKEN"]
AM_TOKEN = LOCAL_DEFAULTS["ALERTMANAGER_TOKEN"]
GF_SECRET = LOCAL_DEFAULTS["GRAFANA_WEBHOOK_SECRET"]
GF_STAMP = LOCAL_DEFAULTS["GRAFANA_TIMESTAMP_HEADER"]
GCM_TOKEN = LOCAL_DEFAULTS["GCM_WEBHOOK_TOKEN"]
MAX_BODY = 1024 * 1024
THREADS = 8
SEED = 20261201
VALID_SENTRY = 60
VALID_DATADOG = 40
VALID_AZURE = 40  # half with the URL token, half with a Secure Webhook token
AZURE_TOKEN = LOCAL_DEFAULTS["AZURE_WEBHOOK_TOKEN"]
AZURE_SAMPLE = Path(__file__).resolve().parents[1] / "data" / "azure" / "metric_fired.json"
VALID_ALERTMANAGER = 30
VALID_GRAFANA = 30
VALID_GCM = 30
FUZZED = 10_000
OVERSIZED = 40  # each moves a megabyte: enough to cover both framings, few enough to be quick
RESOURCES = ("event_alert", "issue", "metric_alert", "error", "installation", "comment", "",
             "EVENT_ALERT", "event_alert ", "../issue", "é", "x" * 300)
METHODS = ("GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
CONTENT_TYPES = ("application/json", "text/plain", "application/x-www-form-urlencoded",
                 "multipart/form-data; boundary=x", "application/json; charset=latin-1",
                 "", "*/*", "application/octet-stream")


@dataclass(frozen=True)
class Case:
    """One request to send; ``valid_key`` is its alert key when it must be published."""

    kind: str
    method: str
    headers: dict[str, Any]
    body: bytes
    chunked: bool = False
    valid_key: str | None = None
    query: str = ""
    path: str = ""  # a source's own path (Alertmanager's /alertmanager)
    more_keys: tuple[str, ...] = ()  # the other alerts of a grouped body, each published

    def alert_keys(self) -> tuple[str, ...]:
        """Return the alert keys this request must publish."""
        return (self.valid_key, *self.more_keys) if self.valid_key else ()


def sentry_body(issue_id: int, **extra: object) -> bytes:
    payload = {"action": "triggered", "installation": {"uuid": "7a485448-a9e2-4c85-8a3c-"
                                                               "4f44175783c9"},
               "data": {"event": {"issue_id": str(issue_id), "title": "fuzz é 支払い",
                                  "level": "error"}, "triggered_rule": "fuzz"}, **extra}
    return json.dumps(payload, ensure_ascii=False).encode()


def datadog_body(cycle: str, **extra: object) -> bytes:
    return json.dumps({"id": cycle, "alert_cycle_key": cycle, "alert_transition": "Triggered",
                       "title": "[P1] fuzz", **extra}).encode()


def azure_body(alert: str, **essentials: object) -> bytes:
    payload = json.loads(AZURE_SAMPLE.read_bytes())
    payload["data"]["essentials"]["alertId"] = (
        f"/subscriptions/5f4e3d2c-1b0a-4f9e-8d7c-6b5a49382716/providers/"
        f"Microsoft.AlertsManagement/alerts/{alert}")
    payload["data"]["essentials"].update(essentials)
    return json.dumps(payload).encode()


def azure_key(alert: str) -> str:
    return ("azure:alert:/subscriptions/5f4e3d2c-1b0a-4f9e-8d7c-6b5a49382716/providers/"
            f"Microsoft.AlertsManagement/alerts/{alert}")


def gcm_body(incident_id: str, **extra: object) -> bytes:
    incident = {"incident_id": incident_id, "state": "open", "started_at": 1764765000,
                "policy_name": "fuzz é 支払い", "severity": "Critical",
                "url": f"https://console.cloud.google.com/monitoring/alerting/incidents/"
                       f"{incident_id}?project=p", **extra}
    return json.dumps({"incident": incident, "version": "1.2"}, ensure_ascii=False).encode()


def gcm_query(**params: str) -> str:
    return "?" + urllib.parse.urlencode({"source": "gcm", **params})


def basic(password: str, user: str = "cloud-monitoring") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def signed(body: bytes, resource: str = "event_alert", secret: str = SECRET) -> dict[str, Any]:
    return {"Content-Type": "application/json", "Sentry-Hook-Resource": resource,
            "Sentry-Hook-Signature": sentry_signature(secret, body)}


def valid_cases() -> list[Case]:
    cases = []
    for i in range(VALID_SENTRY):
        body = sentry_body(9_000_000 + i)
        cases.append(Case("valid-sentry", "POST", signed(body), body, chunked=i % 6 == 0,
                          valid_key=f"sentry:issue:{9_000_000 + i}"))
    for i in range(VALID_DATADOG):
        body = datadog_body(f"fuzz-valid-{i}")
        cases.append(Case("valid-datadog", "POST", {"datadog-secret-token": TOKEN}, body,
                          chunked=i % 5 == 0, valid_key=f"datadog:cycle:fuzz-valid-{i}"))
    for i in range(VALID_AZURE):
        body = azure_body(f"fuzz-valid-{i}")
        json_type = {"Content-Type": "application/json"}
        if i % 2:
            cases.append(Case("valid-azure", "POST", json_type, body, chunked=i % 7 == 0,
                              valid_key=azure_key(f"fuzz-valid-{i}"),
                              query=f"/azure?token={AZURE_TOKEN}"))
        else:
            cases.append(Case("valid-azure", "POST", {**json_type, "Authorization":
                                                      f"Bearer {ENTRA.token()}"}, body,
                              valid_key=azure_key(f"fuzz-valid-{i}"), query="/azure"))
    for i in range(VALID_ALERTMANAGER):
        fingerprints = [f"fz{i:04d}a", f"fz{i:04d}b"][: 1 + i % 2]
        body = alertmanager_body(fingerprints)
        auth = (f"Bearer {AM_TOKEN}" if i % 3 else
                "Basic " + base64.b64encode(f"am:{AM_TOKEN}".encode()).decode())
        cases.append(Case("valid-alertmanager", "POST", {"Authorization": auth}, body,
                          chunked=i % 4 == 0, valid_key=f"alertmanager:{fingerprints[0]}",
                          path="alertmanager",
                          more_keys=tuple(f"alertmanager:{f}" for f in fingerprints[1:])))
    for i in range(VALID_GRAFANA):
        fingerprints = [f"gf{i:04d}a", f"gf{i:04d}b"][: 1 + i % 2]
        body = grafana_body(fingerprints)
        cases.append(Case("valid-grafana", "POST", grafana_signed(body), body,
                          chunked=i % 4 == 1, valid_key=f"grafana:1:{fingerprints[0]}",
                          path="grafana" if i % 2 else "",
                          more_keys=tuple(f"grafana:1:{f}" for f in fingerprints[1:])))
    for i in range(VALID_GCM):  # the token in the URL (webhook_tokenauth) or Basic (basicauth)
        body = gcm_body(f"0.fuzzvalid{i}")
        token_in_url = i % 2 == 0
        cases.append(Case("valid-gcm", "POST", {} if token_in_url else basic(GCM_TOKEN), body,
                          chunked=i % 7 == 0, valid_key=f"gcm:incident:0.fuzzvalid{i}",
                          query=gcm_query(auth_token=GCM_TOKEN) if token_in_url
                          else gcm_query()))
    return cases


#: The fuzz's Entra tenant: a local fake serving the keys ingest checks Secure Webhook tokens
#: with (AZURE_ENTRA_KEYS_URL, dev only); started with the ingest under test.
ENTRA = EntraKeys()
_STRANGER = EntraKeys()  # same tenant id, other keys: its tokens are forgeries


def _forged_bearer(rng: random.Random) -> str:
    """An Authorization header no Secure Webhook may pass."""
    from tests.unit.sources.azure.test_entra import handmade

    now = time.time()
    return rng.choice([
        lambda: f"Bearer {_STRANGER.token()}",  # signed by another key, same kid
        lambda: f"Bearer {ENTRA.token(audience='api://someone-else')}",
        lambda: f"Bearer {ENTRA.token(roles=['Reader'])}",
        lambda: f"Bearer {ENTRA.token(roles=None)}",
        lambda: f"Bearer {ENTRA.token(azp='00000000-0000-0000-0000-000000000000')}",
        lambda: f"Bearer {ENTRA.token(iss='https://login.microsoftonline.com/common/v2.0')}",
        lambda: f"Bearer {ENTRA.token(tid='00000000-0000-0000-0000-000000000000')}",
        lambda: f"Bearer {ENTRA.token(version='1.0', ver='2.0')}",
        lambda: f"Bearer {ENTRA.token(now=now - 7200)}",  # expired an hour ago
        lambda: f"Bearer {ENTRA.token(now=now + 3600)}",  # not valid yet
        lambda: "Bearer " + handmade({"alg": "none", "kid": "fake-key-1"},
                                     {"aud": AUDIENCE, "roles": ["ActionGroupsSecureWebhook"]}),
        lambda: "Bearer " + handmade({"alg": "HS256", "kid": "fake-key-1"},
                                     {"aud": AUDIENCE}, b"x" * 32),
        lambda: "Bearer " + ENTRA.token()[:-4] + "AAAA",  # signature changed
        lambda: "Bearer " + ENTRA.token().replace(".", ".e30.", 1),
        lambda: "Bearer " + handmade({"alg": "RS256", "kid": f"kid-{rng.randint(0, 10**9)}"},
                                     {"aud": AUDIENCE}),
        lambda: "Bearer " + "a" * rng.randint(0, 20_000),
        lambda: "Basic " + ENTRA.token(),
        lambda: ENTRA.token(),  # no scheme
        lambda: "Bearer",
        lambda: "",
    ])()


def _forged_azure_query(rng: random.Random) -> str:
    return rng.choice([
        "/azure", "/azure?token=", f"/azure?token={AZURE_TOKEN}x",
        f"/azure?token={AZURE_TOKEN[:-1]}", f"/azure?token={AZURE_TOKEN.upper()}",
        f"/azure?Token={AZURE_TOKEN}", f"/azure?tok={AZURE_TOKEN}",
        f"/azure?token=%00{AZURE_TOKEN}", f"/azure?token={AZURE_TOKEN}%0a",
        "/azure?token=" + "x" * rng.randint(1, 4000), f"/?token={AZURE_TOKEN}",
        f"/azur?token={AZURE_TOKEN}", f"/AZURE?token={AZURE_TOKEN}",
        "/azure?token=%ff%fe", "/azure/../azure?token=null",
    ])


def _bad_azure_body(rng: random.Random, forged_id: int) -> bytes:
    """A body that is not a publishable Azure alert, sent with the right URL token."""
    return rng.choice([
        lambda: _bad_body(rng, forged_id),
        lambda: azure_body(f"bad-{forged_id}", monitorCondition="Acknowledged"),
        lambda: azure_body(f"bad-{forged_id}", monitorCondition=None),
        lambda: azure_body(f"bad-{forged_id}", alertId=None),
        lambda: azure_body(f"bad-{forged_id}", alertId=123),
        lambda: azure_body(f"bad-{forged_id}", alertId="a" * 2000),
        lambda: azure_body(f"bad-{forged_id}", alertId="\ud800"),
        lambda: azure_body(f"bad-{forged_id}", firedDateTime="yesterday"),
        lambda: azure_body(f"bad-{forged_id}", firedDateTime="2026-11-25T11:58:03"),
        lambda: azure_body(f"bad-{forged_id}", firedDateTime="9" * 5000),
        lambda: azure_body(f"bad-{forged_id}").replace(b"azureMonitorCommonAlertSchema",
                                                       b"Microsoft.Insights/activityLogs"),
        lambda: b'{"schemaId": "azureMonitorCommonAlertSchema", "data": []}',
        lambda: b'{"schemaId": "azureMonitorCommonAlertSchema", "data": {"essentials": 1}}',
    ])()


def grafana_body(fingerprints: list[str]) -> bytes:
    payload = json.loads(alertmanager_body(fingerprints))
    for alert in payload["alerts"]:
        alert.update(orgId=1, silenceURL="http://grafana/alerting/silence/new", panelURL="")
    payload.update(version="1", orgId=1, state="alerting")
    return json.dumps(payload, ensure_ascii=False).encode()


def grafana_signed(body: bytes, secret: str = GF_SECRET, stamp: int | None = None,
                   signed_stamp: int | None = None) -> dict[str, Any]:
    """Return Grafana's headers: the signature over ``signed_stamp:body`` (``stamp`` by
    default, the current time unless given)."""
    stamp = int(time.time()) if stamp is None else stamp
    over = str(stamp if signed_stamp is None else signed_stamp)
    return {"Content-Type": "application/json", GF_STAMP: str(stamp),
            "X-Grafana-Alerting-Signature": grafana_signature(secret, body, over)}


def _forged_grafana(rng: random.Random, body: bytes) -> dict[str, Any]:
    now = int(time.time())
    return rng.choice([
        lambda: grafana_signed(body, "not-the-secret"),
        lambda: grafana_signed(body + b" ")
        | {"X-Grafana-Alerting-Signature": grafana_signature(GF_SECRET, body + b" ")},
        lambda: grafana_signed(body, stamp=now - 3600),  # a replay, an hour later
        lambda: grafana_signed(body, stamp=now + 3600),
        lambda: grafana_signed(body, signed_stamp=now - 1),  # the timestamp is signed
        lambda: {"X-Grafana-Alerting-Signature": grafana_signature(GF_SECRET, body)},  # no stamp
        lambda: {GF_STAMP: str(now), "X-Grafana-Alerting-Signature": ""},
        lambda: {GF_STAMP: "soon", "X-Grafana-Alerting-Signature":
                 grafana_signature(GF_SECRET, body, "soon")},
        lambda: {GF_STAMP: str(now), "X-Grafana-Alerting-Signature":
                 "".join(rng.choice("0123456789abcdef") for _ in range(64))},
    ])()


def alertmanager_body(fingerprints: list[str], **extra: object) -> bytes:
    alerts = [{"status": "firing", "labels": {"alertname": "Fuzz", "severity": "critical"},
               "annotations": {"summary": "fuzz é 支払い"}, "startsAt": "2026-11-25T11:00:00Z",
               "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prom/graph",
               "fingerprint": f} for f in fingerprints]
    return json.dumps({"version": "4", "status": "firing", "receiver": "alert-bridge",
                       "groupKey": "{}:{}", "alerts": alerts, **extra},
                      ensure_ascii=False).encode()


def _forged_authorization(rng: random.Random) -> str:
    return rng.choice([
        f"Bearer {AM_TOKEN}x", f"Bearer {AM_TOKEN[:-1]}", "Bearer " + AM_TOKEN.upper(),
        AM_TOKEN, f"Token {AM_TOKEN}", "Bearer", "Basic", "Basic !!!",
        "Basic " + base64.b64encode(AM_TOKEN.encode()).decode(),  # no user:password colon
        "Basic " + base64.b64encode(f"am:{AM_TOKEN}x".encode()).decode(),
        f"Bearer {TOKEN}", "", "null"])


def _bad_alertmanager_body(rng: random.Random, forged_id: int) -> bytes:
    """An Alertmanager-shaped body that cannot be published, whatever the credentials."""
    return rng.choice([
        lambda: _bad_body(rng, forged_id),
        lambda: b'{"version": "4"}',
        lambda: b'{"alerts": {"fingerprint": "x"}}',
        lambda: b'{"alerts": ["x"]}',
        lambda: json.dumps({"alerts": [{"status": "firing"}]}).encode(),
        lambda: json.dumps({"alerts": [{"fingerprint": "x", "status": "pending"}]}).encode(),
        lambda: b'{"alerts": [{"fingerprint": "\\ud800", "status": "firing"}]}',
        lambda: json.dumps({"alerts": [{"fingerprint": "f" * 2000, "status": "firing"}]})
        .encode(),
        lambda: alertmanager_body([f"fz-ok-{forged_id}", ""]),  # one alert without a key
    ])()


def _junk(rng: random.Random, size: int) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(size))


#: Bytes a server must accept in a header value (RFC 9110 5.5: visible ASCII, space, tab,
#: obs-text); one request in ten also carries control bytes, which the server refuses.
_FIELD_BYTES = [9, *range(32, 127), *range(128, 256)]
_CONTROL_BYTES = [b for b in range(1, 32) if b not in (9, 10, 13)] + [127]


def _header_junk(rng: random.Random) -> bytes:
    pool = _FIELD_BYTES + (_CONTROL_BYTES if rng.random() < 0.1 else [])
    return bytes(rng.choice(pool) for _ in range(rng.randint(0, 80))).strip() or b"x"


def _forged_signature(rng: random.Random, body: bytes) -> str:
    return rng.choice([
        sentry_signature("not-the-secret", body),
        sentry_signature(SECRET, body + b" "),
        sentry_signature(SECRET, body)[:-1],
        sentry_signature(SECRET, body)[:-1] + "g",
        "".join(rng.choice("0123456789abcdef") for _ in range(64)),
        "", "sha256=" + sentry_signature(SECRET, body), "null", "0" * 64,
    ])


def _forged_token(rng: random.Random) -> str:
    return rng.choice([TOKEN + "x", TOKEN[:-1], TOKEN.upper(), "x" + TOKEN, "", "null",
                       TOKEN[::-1], "Bearer " + TOKEN])


def _forged_gcm(rng: random.Random) -> tuple[str, dict[str, str]]:
    """Return the query and headers of a Cloud Monitoring request with no valid secret."""
    forged = _forged_token(rng).replace(TOKEN, GCM_TOKEN)
    return rng.choice([
        lambda: (gcm_query(), {}),
        lambda: (gcm_query(auth_token=forged), {}),
        lambda: (gcm_query(auth_token=forged), basic(GCM_TOKEN)),  # the URL token decides
        lambda: (gcm_query(), basic(forged)),
        lambda: (gcm_query(), {"Authorization": "Basic "}),
        lambda: (gcm_query(), {"Authorization": "Bearer " + GCM_TOKEN}),
        lambda: (gcm_query(), {"Authorization": "Basic " + GCM_TOKEN}),  # not base64 of u:p
        lambda: (f"?source=gcm&auth_token={forged}&auth_token={GCM_TOKEN}", {}),  # first wins
        lambda: ("?" + urllib.parse.urlencode({"source": "GCM", "auth_token": GCM_TOKEN}), {}),
        lambda: (f"?auth_token={GCM_TOKEN}", {}),  # names no source
    ])()


def _bad_gcm_body(rng: random.Random, forged_id: int) -> bytes:
    """An incident body that is not a publishable alert, however well authenticated."""
    return rng.choice([
        lambda: _bad_body(rng, forged_id),
        lambda: gcm_body(f"0.bad{forged_id}", state="acknowledged"),
        lambda: gcm_body(f"0.bad{forged_id}", state=None),
        lambda: gcm_body("", url="https://example.com/no-id", policy_name=None),  # no key
        lambda: gcm_body("x" * 2000),
        lambda: b'{"incident": {"incident_id": "\\udc00", "state": "open"}}',  # lone surrogate
        lambda: b'{"incident": "open", "version": "1.2"}',
        lambda: b'{"version": "1.2"}',
    ])()


def _nested(rng: random.Random) -> bytes:
    depth = rng.randint(2_000, 20_000)
    opener, closer = rng.choice([(b"[", b"]"), (b'{"a":', b"}")])
    return opener * depth + b"1" + closer * depth


def _bad_body(rng: random.Random, forged_id: int) -> bytes:
    """A body that is not a publishable alert, whatever the credentials."""
    return rng.choice([
        lambda: b"",
        lambda: b"{not json",
        lambda: _junk(rng, rng.randint(1, 400)),
        lambda: b'\xff\xfe{"action": "triggered"}',
        lambda: sentry_body(forged_id).replace(b"fuzz", b"\xc3\x28"),  # invalid UTF-8
        lambda: b'{"action": "triggered", "data": {"event": {"issue_id": "\\udc00"}}}',
        lambda: b'{"id": "1", "alert_cycle_key": "\\ud800x", "alert_transition": "T"}',
        lambda: json.dumps({"id": "x", "alert_cycle_key": "c" * 2000}).encode(),
        lambda: b"[1, 2, 3]",
        lambda: b'"a string"',
        lambda: b'{"action": "triggered", "data": {}}',
        lambda: b'{"title": "no id"}',
        lambda: _nested(rng),
        lambda: b"NaN",
        lambda: b'{"a": 1e999999}',
    ])()


def fuzz_cases(rng: random.Random) -> list[Case]:
    """Requests none of which may be published."""
    cases = []
    for i in range(FUZZED):
        forged_id = 1_000_000 + i
        body = sentry_body(forged_id) if rng.random() < 0.6 else datadog_body(f"forged-{i}")
        kind = rng.choice(["forged-sentry", "unsigned-sentry", "forged-datadog", "no-credentials",
                           "signed-bad-body", "token-bad-body", "wrong-method", "bad-body",
                           "header-soup", "ignored-resource", "forged-asana",
                           "forged-azure-token", "forged-azure-bearer", "azure-bad-body",
                           "forged-alertmanager", "token-bad-body-alertmanager",
                           "forged-grafana", "signed-bad-body-grafana", "forged-gcm",
                           "gcm-bad-body"])
        headers: dict[str, str | bytes] = {"Content-Type": rng.choice(CONTENT_TYPES)}
        method, chunked = "POST", False
        if kind == "forged-sentry":
            headers.update({"Sentry-Hook-Resource": rng.choice(RESOURCES),
                            "Sentry-Hook-Signature": _forged_signature(rng, body)})
        elif kind == "unsigned-sentry":
            headers["Sentry-Hook-Resource"] = rng.choice(RESOURCES)
        elif kind == "forged-datadog":
            headers["datadog-secret-token"] = _forged_token(rng)
        elif kind == "signed-bad-body":
            body = _bad_body(rng, forged_id)
            headers.update(signed(body, rng.choice(RESOURCES[:4])))
        elif kind == "token-bad-body":
            body = _bad_body(rng, forged_id)
            headers["datadog-secret-token"] = TOKEN
        elif kind == "wrong-method":
            method = rng.choice(METHODS)
            headers.update(signed(body) if rng.random() < 0.5
                           else {"datadog-secret-token": TOKEN})
        elif kind == "bad-body":
            body = _bad_body(rng, forged_id)
        elif kind == "header-soup":
            names = ["Sentry-Hook-Resource", "Sentry-Hook-Signature", "datadog-secret-token",
                     "Sentry-Hook-Timestamp", "X-Forwarded-For", "Authorization", "Cookie"]
            for name in rng.sample(names, rng.randint(1, len(names))):
                headers[name] = _header_junk(rng)
        elif kind == "ignored-resource":
            headers.update(signed(body, rng.choice(["installation", "comment", "", "other"])))
        elif kind == "forged-asana":  # Asana's path of the two-way sync: no webhook registered
            project = rng.choice([str(rng.randint(1, 10**16)), "", "abc", "12/../3"])
            query = f"?source=asana&project={project}"
            headers[rng.choice(["X-Hook-Secret", "X-Hook-Signature"])] = _forged_token(rng)
            cases.append(Case(kind, method, headers, body, query=query))
            continue
        elif kind == "forged-azure-token":
            body = azure_body(f"forged-{i}")
            cases.append(Case(kind, method, headers, body, query=_forged_azure_query(rng)))
            continue
        elif kind == "forged-azure-bearer":
            body = azure_body(f"forged-{i}")
            headers["Authorization"] = _forged_bearer(rng)
            query = rng.choice(["/azure", f"/azure?token={AZURE_TOKEN}"])  # the header decides
            cases.append(Case(kind, method, headers, body, query=query))
            continue
        elif kind == "azure-bad-body":
            body = _bad_azure_body(rng, forged_id)
            cases.append(Case(kind, method, headers, body, chunked=rng.random() < 0.1,
                              query=f"/azure?token={AZURE_TOKEN}"))
            continue
        elif kind == "forged-alertmanager":  # its path, or its User-Agent on the root
            body = alertmanager_body([f"fz-forged-{i}"])
            headers["Authorization"] = _forged_authorization(rng)
            if rng.random() < 0.5:
                cases.append(Case(kind, method, headers, body, path="alertmanager"))
                continue
            headers["User-Agent"] = "Alertmanager/0.27.0"
        elif kind == "forged-grafana":  # its path, or its signature header on the root
            body = grafana_body([f"gf-forged-{i}"])
            headers.update(_forged_grafana(rng, body))
            cases.append(Case(kind, method, headers, body,
                              path="grafana" if rng.random() < 0.5 else ""))
            continue
        elif kind == "signed-bad-body-grafana":
            body = _bad_alertmanager_body(rng, forged_id)
            headers.update(grafana_signed(body))
            cases.append(Case(kind, method, headers, body, path="grafana"))
            continue
        elif kind == "token-bad-body-alertmanager":
            body = _bad_alertmanager_body(rng, forged_id)
            headers["Authorization"] = f"Bearer {AM_TOKEN}"
            cases.append(Case(kind, method, headers, body, path="alertmanager"))
            continue
        elif kind == "forged-gcm":
            query, extra = _forged_gcm(rng)
            headers.update(extra)
            cases.append(Case(kind, method, headers, gcm_body(f"0.forged{i}"), query=query,
                              chunked=rng.random() < 0.1))
            continue
        elif kind == "gcm-bad-body":
            authenticated = rng.random() < 0.5
            if not authenticated:
                headers.update(basic(GCM_TOKEN))
            cases.append(Case(kind, method, headers, _bad_gcm_body(rng, forged_id),
                              query=gcm_query(auth_token=GCM_TOKEN) if authenticated
                              else gcm_query()))
            continue
        chunked = rng.random() < 0.1
        cases.append(Case(kind, method, headers, body, chunked=chunked))
    for i in range(OVERSIZED):
        body = b" " * (MAX_BODY - 20) + sentry_body(2_000_000 + i)
        headers = signed(body) if i % 2 else {"datadog-secret-token": TOKEN}
        cases.append(Case("oversized", "POST", headers, body, chunked=i % 4 < 2))
    for i in range(OVERSIZED // 4):  # Azure's: the URL token, and a valid Secure Webhook token
        body = b" " * (MAX_BODY - 20) + azure_body(f"oversized-{i}")
        headers = {"Authorization": f"Bearer {ENTRA.token()}"} if i % 2 else {}
        cases.append(Case("oversized-azure", "POST", headers, body, chunked=i % 4 < 2,
                          query="/azure" if i % 2 else f"/azure?token={AZURE_TOKEN}"))
    for i in range(OVERSIZED // 4):  # a Cloud Monitoring channel's URL, token and all
        body = b" " * (MAX_BODY - 20) + gcm_body(f"0.big{i}")
        cases.append(Case("oversized-gcm", "POST", {}, body, chunked=i % 2 == 0,
                          query=gcm_query(auth_token=GCM_TOKEN)))
    return cases


def _chunks(body: bytes) -> Iterator[bytes]:
    step = 64 * 1024
    for start in range(0, len(body), step):
        yield body[start:start + step]
    if not body:
        yield b""


def send(session: requests.Session, url: str, case: Case) -> int:
    data: bytes | Iterator[bytes] = _chunks(case.body) if case.chunked else case.body
    if case.path:
        url = f"{url.rstrip('/')}/{case.path}"
    return session.request(case.method, url + case.query, data=data, headers=case.headers,
                           timeout=60).status_code


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngestEdge]:
    ENTRA.start()
    azure = {"AZURE_TENANT_ID": ENTRA.tenant, "AZURE_AUDIENCES": AUDIENCE,
             "AZURE_ENTRA_KEYS_URL": ENTRA.keys_url}  # LOCAL_DEFAULTS: ENVIRONMENT=dev
    directory = Path(tmp_path_factory.mktemp("ingest-fuzz"))
    try:
        with ingest_on_emulator(directory, firestore=True, **azure,
                                **cloudwatch_settings(directory)) as started:
            yield started
    finally:
        ENTRA.stop()


@pytest.fixture(scope="session")
def session() -> Iterator[requests.Session]:
    with requests.Session() as shared:
        shared.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=THREADS * 2))
        yield shared


@pytest.mark.reliability
def test_fuzz_publishes_only_authenticated_alerts_and_never_answers_5xx(
        edge: IngestEdge, session: requests.Session) -> None:
    os.environ["PUBSUB_EMULATOR_HOST"] = edge.pubsub_host
    from google.cloud import pubsub_v1

    subscriber = pubsub_v1.SubscriberClient()
    events = tap(subscriber, edge.project, edge.topic)
    rng = random.Random(SEED)
    valid = valid_cases() + valid_cloudwatch_cases()
    cases = valid + fuzz_cases(rng) + sns_fuzz_cases(rng)
    rng.shuffle(cases)
    started = time.monotonic()
    with ThreadPoolExecutor(THREADS) as pool:
        statuses = list(pool.map(lambda case: send(session, edge.ingest.url, case), cases))
    answers = Counter((case.kind, status) for case, status in zip(cases, statuses, strict=True))
    expected = {key: case.body for case in valid for key in case.alert_keys()}
    messages = pull(subscriber, events, want=len(expected), timeout=30)
    messages += pull(subscriber, events, want=1, timeout=2)  # anything beyond the valid ones
    subscriber.close()
    seconds = time.monotonic() - started

    bodies = expected
    published = Counter(message.attributes.get("alert_key") for message in messages
                        if bodies.get(message.attributes.get("alert_key")) == message.data)
    unauthenticated = len(messages) - sum(published.values())
    lost = sum(1 for key in bodies if published[key] == 0)
    summary.record(f"ingest fuzz ({len(cases)} requests)", alerts=len(bodies),
                   tasks=len(published), lost=lost, duplicated=unauthenticated,
                   seconds=seconds)

    azure = {key: n for key, n in sorted(answers.items()) if "azure" in key[0]}
    print(f"\nazure cases (kind, status): count: {azure}")
    server_errors = {key: n for key, n in answers.items() if key[1] >= 500}
    assert server_errors == {}, server_errors
    assert unauthenticated == 0, [m.attributes for m in messages]
    assert lost == 0
    assert all(n == 1 for n in published.values()), published
    assert {status for case, status in zip(cases, statuses, strict=True)
            if case.valid_key} == {202}
    assert len(cases) >= 10_000
    # Cloud Monitoring's webhook channels: a wrong or missing secret is a 401, an authenticated
    # body that is no usable incident a 400, an oversized one a 413, whatever the framing.
    gcm = {kind: {status for (k, status) in answers if k == kind}
           for kind in ("forged-gcm", "gcm-bad-body", "oversized-gcm", "valid-gcm")}
    assert gcm == {"forged-gcm": {401}, "gcm-bad-body": {400}, "oversized-gcm": {413},
                   "valid-gcm": {202}}
    sns_kinds = {case.kind for case in cases if case.kind.startswith(("sns-", "valid-cloud"))}
    summary.record(f"ingest fuzz, CloudWatch/SNS ({sum(c.kind in sns_kinds for c in cases)} "
                   "requests)", alerts=VALID_CLOUDWATCH,
                   tasks=sum(n for key, n in published.items() if key.startswith("cloudwatch:")),
                   lost=sum(1 for key in bodies if key.startswith("cloudwatch:")
                            and published[key] == 0),
                   duplicated=unauthenticated, seconds=seconds)


# --- CloudWatch alarms through SNS: signed with a key whose certificate ingest pins -----------

VALID_CLOUDWATCH = 30
SNS_FUZZED = 2_000
SNS_KEY = sns_signer.new_key()
SNS_OTHER_KEY = sns_signer.new_key()
SNS_TOPIC = sns_signer.TOPIC


def cloudwatch_settings(directory: Path) -> dict[str, str]:
    """Return the settings that allow the fuzz topic and pin the fuzz key's certificate."""
    cert = directory / "sns-fuzz-cert.pem"
    cert.write_bytes(sns_signer.pem(sns_signer.certificate(SNS_KEY)))
    return {"CLOUDWATCH_SNS_TOPIC_ARNS": SNS_TOPIC, "CLOUDWATCH_SNS_TEST_TRUST": f"pinned:{cert}"}


def _alarm(name: str, state: str = "ALARM", **changes: object) -> str:
    alarm = {**sns_signer.ALARM, "AlarmName": name, "NewStateValue": state,
             "AlarmArn": f"arn:aws:cloudwatch:us-east-2:123456789012:alarm:{name}",
             "StateChangeTime": sns_signer.stamp(datetime.now(UTC)).replace("Z", "+0000"),
             **changes}
    return json.dumps(alarm)


def _sns_headers(fields: dict[str, str], rng: random.Random | None = None) -> dict[str, Any]:
    headers: dict[str, Any] = {"Content-Type": "text/plain; charset=UTF-8",
                               "x-amz-sns-message-type": fields.get("Type", "Notification")}
    if rng is not None and rng.random() < 0.3:
        headers["x-amz-sns-message-id"] = fields.get("MessageId", "")
    return headers


def valid_cloudwatch_cases() -> list[Case]:
    cases = []
    for i in range(VALID_CLOUDWATCH):
        name = f"fuzz-valid-{i}"
        fields = sns_signer.notification(SNS_KEY, datetime.now(UTC), version="12"[i % 2],
                                         message=_alarm(name), message_id=f"fuzz-valid-{i}")
        cases.append(Case("valid-cloudwatch", "POST", _sns_headers(fields),
                          sns_signer.body(fields), chunked=i % 7 == 0,
                          valid_key=f"cloudwatch:arn:aws:cloudwatch:us-east-2:123456789012:"
                                    f"alarm:{name}"))
    return cases


def _forged_notification(rng: random.Random, i: int) -> dict[str, str]:
    """A Notification that must be refused: changed after signing, or signed wrongly."""
    now = datetime.now(UTC)
    name = f"fuzz-forged-{i}"
    fields = sns_signer.notification(SNS_KEY, now, version=rng.choice("12"),
                                     message=_alarm(name), message_id=f"forged-{i}")
    signature = fields["Signature"]
    return rng.choice([
        lambda: {**fields, "Message": fields["Message"].replace("ALARM", "OK")},
        lambda: {**fields, "MessageId": f"forged-{i}x"},
        lambda: {**fields, "Subject": "added"},
        lambda: {**fields, "Timestamp": sns_signer.stamp(now + timedelta(seconds=1))},
        lambda: {**fields, "SignatureVersion": "1" if fields["SignatureVersion"] == "2" else "2"},
        lambda: {**fields, "SignatureVersion": rng.choice(["3", "", "0", "2 ", "v2"])},
        lambda: {**fields, "Signature": signature[:-4] + "AAA="},
        lambda: {**fields, "Signature": signature[::-1]},
        lambda: {**fields, "Signature": ""},
        lambda: {**fields, "Signature": "x" * 5000},
        lambda: {k: v for k, v in fields.items() if k != "Signature"},
        lambda: sns_signer.notification(SNS_OTHER_KEY, now, message=_alarm(name)),
        lambda: sns_signer.notification(SNS_KEY, now, message=_alarm(name),
                                        topic="arn:aws:sns:us-east-2:123456789012:other"),
        lambda: sns_signer.notification(SNS_KEY, now - timedelta(hours=2), message=_alarm(name)),
        lambda: sns_signer.notification(SNS_KEY, now + timedelta(hours=1), message=_alarm(name)),
        lambda: sns_signer.notification(SNS_KEY, now, message=_alarm(name), cert_url=rng.choice([
            "http://sns.us-east-2.amazonaws.com/SimpleNotificationService-1.pem",
            "https://sns.us-east-2.amazonaws.com.evil.example/SimpleNotificationService-1.pem",
            "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-1.cer",
            "https://sns.us-east-2.amazonaws.com@evil.example/a.pem",
            "https://sns.cn-north-1.amazonaws.com/SimpleNotificationService-1.pem",
            "https://127.0.0.1/SimpleNotificationService-1.pem", ""])),
    ])()


def _handshake(rng: random.Random) -> dict[str, str]:
    """A handshake ingest must never follow: forged, another topic's, or an unsubscribe."""
    now = datetime.now(UTC)
    return rng.choice([
        lambda: sns_signer.confirmation(SNS_OTHER_KEY, now),
        lambda: sns_signer.confirmation(SNS_KEY, now,
                                        topic="arn:aws:sns:us-east-2:123456789012:other"),
        lambda: sns_signer.confirmation(SNS_KEY, now, subscribe_url=(
            "https://evil.example/?Action=ConfirmSubscription")),
        lambda: sns_signer.confirmation(SNS_KEY, now, kind="UnsubscribeConfirmation"),
    ])()


def sns_fuzz_cases(rng: random.Random) -> list[Case]:
    """SNS requests none of which may be published (or confirm anything)."""
    cases = []
    for i in range(SNS_FUZZED):
        kind = rng.choice(["sns-forged", "sns-bad-body", "sns-handshake", "sns-not-alarm",
                           "sns-bad-alarm", "sns-header-mismatch", "sns-wrong-method"])
        method = "POST"
        if kind == "sns-forged":
            fields = _forged_notification(rng, i)
            body = sns_signer.body(fields)
        elif kind == "sns-bad-body":
            fields = {"Type": rng.choice(["Notification", "SubscriptionConfirmation", "x"])}
            body = _bad_body(rng, i)
        elif kind == "sns-handshake":
            fields = _handshake(rng)
            body = sns_signer.body(fields)
        elif kind == "sns-not-alarm":
            fields = sns_signer.notification(SNS_KEY, datetime.now(UTC), message=rng.choice(
                ["Hello world", "", "[]", '{"AlarmName": "x"}', "null", "\u0000",
                 _nested(rng).decode()]))
            body = sns_signer.body(fields)
        elif kind == "sns-bad-alarm":
            fields = sns_signer.notification(SNS_KEY, datetime.now(UTC), message=_alarm(
                f"bad-{i}", **rng.choice([{"NewStateValue": "PANIC"},
                                           {"StateChangeTime": "yesterday"},
                                           {"StateChangeTime": "2026-11-25T12:00:00"},
                                           {"AlarmArn": None, "AWSAccountId": None,
                                            "Region": None},
                                           {"AlarmArn": "c" * 2000}])))
            body = sns_signer.body(fields)
        elif kind == "sns-header-mismatch":
            fields = sns_signer.notification(SNS_KEY, datetime.now(UTC), message=_alarm(
                f"mismatch-{i}"))
            body = sns_signer.body(fields)
            fields = {**fields, "Type": rng.choice(["SubscriptionConfirmation",
                                                    "UnsubscribeConfirmation"]),
                      "MessageId": "other"}
        else:
            method = rng.choice(METHODS)
            fields = sns_signer.notification(SNS_KEY, datetime.now(UTC), message=_alarm(
                f"method-{i}"))
            body = sns_signer.body(fields)
        headers = _sns_headers(fields, rng)
        if kind == "sns-header-mismatch":
            headers["x-amz-sns-message-id"] = fields["MessageId"]
        cases.append(Case(kind, method, headers, body, chunked=rng.random() < 0.1))
    return cases

"""Deployment settings, read once from the environment and validated.

Every setting is one row of ``SETTINGS`` (its variable, default, reader, description and the
functions that read it) and every credential one entry of ``CREDENTIALS``: the configuration
table of the docs is generated from them (``configuration_rows()``, ``credential_rows()``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from shared.core.errors import ConfigError

ENVIRONMENTS = ("dev", "staging", "prod")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

DEFAULT_ASANA_API_URL = "https://app.asana.com/api/1.0"
DEFAULT_SENTRY_API_URL = "https://sentry.io/api/0"
DEFAULT_DATADOG_API_URL = "https://api.datadoghq.com"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024

#: Credentials: read from the environment variable of the same name when set,
#: otherwise from Secret Manager (secret id = SECRET_PREFIX + lower-case, dashed name).
#: Each function reads from Secret Manager only its own, the ones Terraform lets it access
#: (terraform/main.tf, local.secret_readers).
SECRET_READERS: dict[str, tuple[str, ...]] = {
    # ingest reads ASANA_PAT only to check a Sentry alert rule's settings when it is saved.
    "ingest": ("SENTRY_CLIENT_SECRET", "DATADOG_SECRET_TOKEN", "ASANA_PAT",
               "AZURE_WEBHOOK_TOKEN", "ALERTMANAGER_TOKEN", "GRAFANA_WEBHOOK_SECRET",
               "GCM_WEBHOOK_TOKEN"),
    "worker": ("ASANA_PAT", "SENTRY_AUTH_TOKEN", "DATADOG_API_KEY"),
    "reconcile": ("SENTRY_AUTH_TOKEN", "DATADOG_API_KEY", "DATADOG_APP_KEY", "ASANA_PAT"),
}
SECRET_NAMES = tuple(dict.fromkeys(name for names in SECRET_READERS.values() for name in names))
#: What each credential is, as an operator finds it (a 401's log line names the one it checked).
CREDENTIALS: dict[str, str] = {
    "SENTRY_CLIENT_SECRET": "the Sentry integration's Client Secret",
    "DATADOG_SECRET_TOKEN": "the webhook's datadog-secret-token header value",
    "ASANA_PAT": "a personal access token of the Asana user the service acts as",
    "SENTRY_AUTH_TOKEN": "the Sentry integration's token: link-back, two-way sync and "
                         "reconciliation call Sentry's API with it",
    "DATADOG_API_KEY": "a Datadog API key: link-back and two-way sync post events with it",
    "DATADOG_APP_KEY": "a Datadog application key: reconciliation reads monitors with it",
    "AZURE_WEBHOOK_TOKEN": "the token in the Azure action group's webhook URL (?token=); "
                           "unset with Secure Webhook alone",
    "ALERTMANAGER_TOKEN": "the Alertmanager receiver's bearer token or basic-auth password",
    "GRAFANA_WEBHOOK_SECRET": "the HMAC secret of the Grafana webhook contact point",
    "GCM_WEBHOOK_TOKEN": "the Cloud Monitoring webhook channel's auth_token (in its URL) or "
                         "Basic password; the pubsub channel needs none",
}
#: What the configuration page adds to a credential's line: scopes, and who reads it why.
CREDENTIAL_NOTES: dict[str, str] = {
    "SENTRY_CLIENT_SECRET": "it signs every webhook and alert-rule request",
    "ASANA_PAT": "see [asana.md](asana.md); the worker creates and updates tasks with it, "
                 "reconciliation checks the two-way sync's webhooks and tasks, and ingest reads "
                 "it only to check a Sentry alert rule's board and people when the rule is saved "
                 "([sentry-alert-rules.md](sentry-alert-rules.md))",
    "SENTRY_AUTH_TOKEN": "link-back and two-way sync need `event:write`; reconciliation "
                         "`event:read`, `project:read`, `org:read`",
    "DATADOG_APP_KEY": "scoped keys need `monitors_read`",
    "AZURE_WEBHOOK_TOKEN": "in the URL `<ingest URL>/azure?token=…` "
                           "([azure-monitor.md](azure-monitor.md))",
    "ALERTMANAGER_TOKEN": "see [alertmanager.md](alertmanager.md); Terraform creates its "
                          "secret only with `alertmanager.enabled`",
    "GRAFANA_WEBHOOK_SECRET": "see [grafana.md](grafana.md); Terraform creates its secret "
                              "only with `grafana.enabled`",
    "GCM_WEBHOOK_TOKEN": "see [cloud-monitoring.md](cloud-monitoring.md); Terraform creates its "
                         "secret only with `cloud_monitoring_channel` `webhook` or `both`",
}
FUNCTIONS = ("ingest", "worker", "reconcile")


def checked_against(name: str) -> str:
    """Name a credential and what it is, for the log line of a request it did not verify."""
    return f"{name} ({CREDENTIALS[name]})"


@dataclass(frozen=True)
class Settings:
    """Every setting the functions read; each field is one row of SETTINGS below."""

    project: str
    events_topic: str
    dead_letter_topic: str
    environment: str
    teams_file: str
    asana_api_url: str
    sentry_api_url: str
    datadog_api_url: str
    log_level: str
    secret_prefix: str
    secret_cache_ttl_seconds: float
    max_body_bytes: int
    ledger_collection: str
    sentry_dsn: str | None
    dry_run_file: str
    asana_max_attempts: int
    sentry_environment: str
    sentry_release: str | None
    sentry_traces_sample_rate: float
    sentry_profiles_sample_rate: float
    asana_webhook_target_url: str | None
    asana_webhook_collection: str
    asana_hooks_database: str = "alert-bridge-hooks"
    default_team: str | None = None
    alert_sources: tuple[str, ...] = ()  # the sources ingest takes webhooks from; (): all
    # Reconciliation (functions/reconcile only); defaults keep it off for both sources.
    sentry_org: str | None = None
    reconcile_sentry_rules: tuple[tuple[str, str], ...] = ()  # (project slug, rule id)
    reconcile_sentry_projects: tuple[str, ...] = ()
    reconcile_datadog_webhook: str | None = None
    reconcile_datadog_monitor_tags: str | None = None
    reconcile_interval_minutes: int = 10
    reconcile_lookback_minutes: int = 60
    reconcile_grace_minutes: int = 5
    # Azure Monitor's Secure Webhook (ingest only); no tenant: URL tokens only.
    azure_tenant_id: str | None = None
    azure_audiences: tuple[str, ...] = ()
    azure_entra_keys_url: str | None = None  # test-only, ENVIRONMENT=dev
    # Grafana's webhook contact point (ingest only): how it signs.
    grafana_signature_header: str = "X-Grafana-Alerting-Signature"
    grafana_timestamp_header: str | None = None
    grafana_replay_window_seconds: int = 300
    # AWS CloudWatch alarms through SNS (ingest only); no topic: every SNS message is refused.
    cloudwatch_sns_topic_arns: tuple[str, ...] = ()
    cloudwatch_sns_max_age_seconds: int = 3600
    cloudwatch_sns_test_trust: str | None = None  # "pinned:<pem>" / "local-ca:<pem>"; never prod


def _int(env: Mapping[str, str], key: str, default: int, problems: list[str]) -> int:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        problems.append(f"{key}: expected a whole number, got {raw!r}")
        return default
    if value <= 0:
        problems.append(f"{key}: must be positive, got {value}")
    return value


def _choice(env: Mapping[str, str], key: str, default: str, choices: tuple[str, ...],
            problems: list[str], *, upper: bool = False) -> str:
    raw = env.get(key, "").strip() or default
    value = raw.upper() if upper else raw.lower()
    if value not in choices:
        problems.append(f"{key}: expected one of {', '.join(choices)}, got {raw!r}")
    return value


def _rate(env: Mapping[str, str], key: str, default: float, problems: list[str]) -> float:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:  # also false for NaN
        problems.append(f"{key}: expected a number from 0.0 to 1.0, got {raw!r}")
        return default
    return value


# Sentry refuses environments with whitespace or slashes, longer than 64 characters, or "None",
# and releases with newlines, tabs or slashes, longer than 200, or just "." or "..".
_SENTRY_NAME_LIMITS = {"SENTRY_ENVIRONMENT": (64, re.compile(r"[\s/\\]")),
                       "SENTRY_RELEASE": (200, re.compile(r"[\r\n\t/\\]"))}
_SENTRY_RESERVED = {"SENTRY_ENVIRONMENT": {"None"}, "SENTRY_RELEASE": {".", ".."}}


def _sentry_name(env: Mapping[str, str], key: str, problems: list[str]) -> str | None:
    value = env.get(key, "").strip()
    if not value:
        return None
    longest, forbidden = _SENTRY_NAME_LIMITS[key]
    if len(value) > longest or forbidden.search(value) or value in _SENTRY_RESERVED[key]:
        problems.append(f"{key}: at most {longest} characters, no slashes, tabs or newlines"
                        f"{', no spaces' if key == 'SENTRY_ENVIRONMENT' else ''}, got {value!r}")
    return value


def _dsn(env: Mapping[str, str], problems: list[str]) -> str | None:
    value = env.get("SENTRY_DSN", "").strip()
    if not value:
        return None
    try:
        parts = urlsplit(value)
        valid = (parts.scheme in ("http", "https") and bool(parts.username)
                 and bool(parts.hostname) and parts.path.rstrip("/").rpartition("/")[2].isdigit())
    except ValueError:
        valid = False
    if not valid:
        # The value itself is never repeated: its key is a credential of sorts.
        problems.append("SENTRY_DSN: expected https://<public key>@<host>/<project id>")
    return value


def _url(env: Mapping[str, str], key: str, default: str) -> str:
    return (env.get(key, "").strip() or default).rstrip("/")


def default_team(env: Mapping[str, str]) -> str | None:
    """Return DEFAULT_TEAM: the team of a teams.yaml that names none (also read by the CLIs)."""
    return env.get("DEFAULT_TEAM", "").strip() or None
def _list(env: Mapping[str, str], key: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in env.get(key, "").split(",") if item.strip())


_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")
# Firestore's database ids: 4-63 of a-z, 0-9 and -, starting with a letter, not ending with -;
# UUID-like ids are reserved.
_DATABASE_ID = re.compile(r"[a-z][a-z0-9-]{2,61}[a-z0-9]")
_UUID_LIKE = re.compile(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}")


def _hooks_database(env: Mapping[str, str], problems: list[str]) -> str:
    value = env.get("ASANA_HOOKS_DATABASE", "").strip() or "alert-bridge-hooks"
    if not _DATABASE_ID.fullmatch(value) or _UUID_LIKE.fullmatch(value):
        # Not "(default)" either: the ledger's database is the one ingest must not reach.
        problems.append("ASANA_HOOKS_DATABASE: expected a named Firestore database id (4-63 "
                        f"of a-z, 0-9 and -, starting with a letter), got {value!r}")
    return value


def _sentry_rules(env: Mapping[str, str], problems: list[str]) -> tuple[tuple[str, str], ...]:
    rules = []
    for item in _list(env, "RECONCILE_SENTRY_RULES"):
        project, _, rule_id = item.partition(":")
        if not _SLUG.fullmatch(project.strip()) or not rule_id.strip().isdigit():
            problems.append(f"RECONCILE_SENTRY_RULES: expected project-slug:rule_id, got {item!r}")
            continue
        rules.append((project.strip(), rule_id.strip()))
    return tuple(rules)


_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")


def _header_name(env: Mapping[str, str], key: str, problems: list[str]) -> str | None:
    name = env.get(key, "").strip()
    if name and not _HEADER_NAME.fullmatch(name):
        problems.append(f"{key}: {name!r} is not an HTTP header name")
        return None
    return name or None


def _reconcile_problems(settings: Settings) -> list[str]:
    problems = [f"RECONCILE_SENTRY_PROJECTS: {slug!r} is not a project slug"
                for slug in settings.reconcile_sentry_projects if not _SLUG.fullmatch(slug)]
    if (settings.reconcile_sentry_rules or settings.reconcile_sentry_projects) \
            and not settings.sentry_org:
        problems.append("SENTRY_ORG: required when RECONCILE_SENTRY_RULES or "
                        "RECONCILE_SENTRY_PROJECTS is set")
    # A run must look back over the whole gap since the previous one, or alerts fall through.
    needed = settings.reconcile_interval_minutes + settings.reconcile_grace_minutes
    if settings.reconcile_lookback_minutes < needed:
        problems.append(f"RECONCILE_LOOKBACK_MINUTES: must be at least RECONCILE_INTERVAL_MINUTES"
                        f" + RECONCILE_GRACE_MINUTES ({needed}), got "
                        f"{settings.reconcile_lookback_minutes}")
    return problems


def _https(env: Mapping[str, str], key: str, problems: list[str]) -> str | None:
    raw = env.get(key, "").strip()
    if raw and not raw.startswith(("https://", "http://")):
        problems.append(f"{key}: expected an http(s) URL, got {raw!r}")
    return raw.rstrip("/") or None


#: Reads one variable: (environment, its name, the problems so far, the values so far).
Reader = Callable[[Mapping[str, str], str, list[str], Mapping[str, Any]], Any]


class Setting(NamedTuple):
    """One environment variable: the Settings field it fills, how it is read, what it is for."""

    name: str  # the environment variable
    field: str  # the Settings attribute
    default: str  # what the code uses when the variable is unset; "" means off or required
    read: Reader
    description: str  # the docs' "meaning" cell (Markdown)
    readers: tuple[str, ...] = FUNCTIONS  # the functions that use it
    source: str | None = None  # the alert source it configures; None: the service itself
    shown_default: str = ""  # the docs' "default" cell when not simply `default`

    def default_cell(self) -> str:
        """Return the docs' "default" cell of this setting."""
        return self.shown_default or (f"`{self.default}`" if self.default else "*(unset)*")


def _text(default: str) -> Reader:
    return lambda env, key, problems, values: env.get(key, "").strip() or default


def _optional(env: Mapping[str, str], key: str, problems: list[str],
              values: Mapping[str, Any]) -> str | None:
    return env.get(key, "").strip() or None


def _whole(default: int) -> Reader:
    return lambda env, key, problems, values: _int(env, key, default, problems)


def _one_of(default: str, choices: tuple[str, ...], *, upper: bool = False) -> Reader:
    return lambda env, key, problems, values: _choice(env, key, default, choices, problems,
                                                      upper=upper)


def _base_url(default: str) -> Reader:
    return lambda env, key, problems, values: _url(env, key, default)


def _fraction(default: float) -> Reader:
    return lambda env, key, problems, values: _rate(env, key, default, problems)


def _project(env: Mapping[str, str], key: str, problems: list[str],
             values: Mapping[str, Any]) -> str:
    project = env.get(key, "").strip()
    if not project:
        problems.append(f"{key}: required (the project that holds the topics)")
    return project


#: An SNS topic ARN: arn:<partition>:sns:<region>:<account>:<name>.
_TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z]{2}(?:-[a-z]+)+-\d:\d{12}:[A-Za-z0-9_-]{1,256}"
                        r"(?:\.fifo)?")
TEST_TRUSTS = ("pinned", "local-ca")


def _topic_arns(env: Mapping[str, str], key: str, problems: list[str],
                values: Mapping[str, Any]) -> tuple[str, ...]:
    arns = _list(env, key)
    problems += [f"{key}: {arn!r} is not an SNS topic ARN (arn:aws:sns:<region>:<account>:"
                 "<topic>)" for arn in arns if not _TOPIC_ARN.fullmatch(arn)]
    return arns


def _sns_max_age(env: Mapping[str, str], key: str, problems: list[str],
                 values: Mapping[str, Any]) -> int:
    seconds = _int(env, key, 3600, problems)
    if seconds > 3600:
        # SNS gives up on a delivery within 3,600 s: an older message can only be a replay.
        problems.append(f"{key}: at most 3600 (SNS's retry limit), got {seconds}")
    return seconds


def _test_trust(env: Mapping[str, str], key: str, problems: list[str],
                values: Mapping[str, Any]) -> str | None:
    raw = env.get(key, "").strip()
    if not raw:
        return None
    kind, _, path = raw.partition(":")
    if kind not in TEST_TRUSTS or not path:
        problems.append(f"{key}: expected pinned:<pem file> or local-ca:<pem file>, got {raw!r}")
    if values.get("environment") == "prod":
        problems.append(f"{key}: a test-only certificate trust; refused when ENVIRONMENT=prod")
    return raw


_SERVICE = ("ingest", "worker", "reconcile")
_ALERTS = ("worker", "reconcile")

_TENANT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _azure_tenant(env: Mapping[str, str], key: str, problems: list[str],
                  values: Mapping[str, Any]) -> str | None:
    value = env.get(key, "").strip().lower() or None
    if value is not None and not _TENANT.fullmatch(value):
        problems.append(f"{key}: expected the Entra tenant id (a GUID), got {value[:40]!r}")
    return value


def _azure_audiences(env: Mapping[str, str], key: str, problems: list[str],
                     values: Mapping[str, Any]) -> tuple[str, ...]:
    audiences = _list(env, key)
    if values.get("azure_tenant_id") and not audiences:
        problems.append(f"{key}: required when AZURE_TENANT_ID is set (the Entra application's "
                        "client id, and its Application ID URI if tokens name that)")
    return audiences


def _azure_keys_url(env: Mapping[str, str], key: str, problems: list[str],
                    values: Mapping[str, Any]) -> str | None:
    value = _https(env, key, problems)
    if value is not None and values.get("environment") != "dev":
        # Whoever sets it chooses the keys Secure Webhook tokens are believed with.
        problems.append(f"{key}: test-only (a local fake of Entra's keys); refused unless "
                        "ENVIRONMENT=dev")
    return value


#: Every variable the functions read, in the order their problems are reported.
SETTINGS: tuple[Setting, ...] = (
    Setting("GOOGLE_CLOUD_PROJECT", "project", "", _project,
            "project holding the topics, Firestore and the secrets",
            shown_default="*(required)*"),
    Setting("ENVIRONMENT", "environment", "prod", _one_of("prod", ENVIRONMENTS),
            "`dev`, `staging` or `prod`; `dev` sends every task to the team's sandbox board "
            "and allows dry-run"),
    Setting("EVENTS_TOPIC", "events_topic", "alert-events", _text("alert-events"),
            "topic ingest and reconciliation publish to, and the replay command publishes "
            "back to (short name)",
            ("ingest", "reconcile")),
    Setting("DEAD_LETTER_TOPIC", "dead_letter_topic", "alert-events-dead-letter",
            _text("alert-events-dead-letter"),
            "topic the worker dead-letters to",
            ("worker",)),
    Setting("TEAMS_FILE", "teams_file", "teams.yaml", _text("teams.yaml"),
            "ownership and task configuration ([teams.md](teams.md))"),
    Setting("ASANA_API_URL", "asana_api_url", DEFAULT_ASANA_API_URL,
            _base_url(DEFAULT_ASANA_API_URL), "Asana base URL (tests point it at a local fake)"),
    Setting("SENTRY_API_URL", "sentry_api_url", DEFAULT_SENTRY_API_URL,
            _base_url(DEFAULT_SENTRY_API_URL),
            "Sentry API base URL", _ALERTS, "sentry"),
    Setting("DATADOG_API_URL", "datadog_api_url", DEFAULT_DATADOG_API_URL,
            _base_url(DEFAULT_DATADOG_API_URL),
            "Datadog API base URL: set your site's, e.g. `https://api.datadoghq.eu`", _ALERTS,
            "datadog"),
    Setting("LOG_LEVEL", "log_level", "INFO", _one_of("INFO", LOG_LEVELS, upper=True),
            "`DEBUG`, `INFO`, `WARNING` or `ERROR`"),
    Setting("SECRET_PREFIX", "secret_prefix", "alert-bridge-", _text("alert-bridge-"),
            "Secret Manager secret id = this prefix + the credential's name in lower case "
            "with dashes"),
    Setting("SECRET_CACHE_TTL_SECONDS", "secret_cache_ttl_seconds", "300",
            lambda env, key, problems, values: float(_int(env, key, 300, problems)),
            "how long a secret read from Secret Manager is reused (a rotation needs no "
            "redeploy)"),
    Setting("ALERT_SOURCES", "alert_sources", "",
            lambda env, key, problems, values: _list(env, key),
            "ingest: the sources this deployment takes webhooks from, comma-separated (e.g. "
            "`sentry,datadog,asana,alertmanager`); a request for another is refused 401 and "
            "reads no secret, and only these sources' credentials are read at cold start. "
            "Terraform sets it from the sources' switches", ("ingest",),
            shown_default="*(unset: every source)*"),
    Setting("MAX_BODY_BYTES", "max_body_bytes", str(DEFAULT_MAX_BODY_BYTES),
            _whole(DEFAULT_MAX_BODY_BYTES),
            "largest webhook body accepted (413 above)",
            ("ingest",)),
    Setting("LEDGER_COLLECTION", "ledger_collection", "alert_ledger", _text("alert_ledger"),
            "Firestore collection of the de-duplication ledger in the `(default)` database "
            "(TTL on `expires_at`); reconciliation keeps its cursors in "
            "`<LEDGER_COLLECTION>_reconcile`", _ALERTS),
    Setting("SENTRY_DSN", "sentry_dsn", "",
            lambda env, key, problems, values: _dsn(env, problems),
            "report the service's own errors to Sentry, scrubbed "
            "([observability.md](observability.md)); Terraform passes it to all three "
            "functions from the secret `<SECRET_PREFIX>sentry-dsn` when `sentry_reporting = "
            "true`",
            shown_default="*(unset: off)*"),
    Setting("DRY_RUN_FILE", "dry_run_file", "/tmp/alert-bridge-dry-run.jsonl",
            _text("/tmp/alert-bridge-dry-run.jsonl"),
            "where dry-run appends the Asana and link-back requests it would send (`make "
            "run`: `.run/asana-dry-run.jsonl`)", ("worker",)),
    Setting("ASANA_MAX_ATTEMPTS", "asana_max_attempts", "5", _whole(5),
            "attempts of one Asana call in all (the first and up to 4 retries, none "
            "starting later than 40 s after the first) before the message goes back to "
            "Pub/Sub", _ALERTS),
    Setting("DEFAULT_TEAM", "default_team", "",
            lambda env, key, problems, values: default_team(env),
            "the team that gets the alerts no matcher claims when teams.yaml names none "
            "(`settings.default_team`, else a team called `Observability and Performance` "
            "or `Default`)"),
    Setting("SENTRY_ORG", "sentry_org", "", _optional,
            "the Sentry organization slug: the two-way sync resolves and unresolves its "
            "issues, reconciliation reads them (required when `RECONCILE_SENTRY_RULES` or "
            "`RECONCILE_SENTRY_PROJECTS` is set), and `make sentry-ownership` takes it as "
            "its default `--org`", _ALERTS, "sentry"),
    Setting("RECONCILE_SENTRY_RULES", "reconcile_sentry_rules", "",
            lambda env, key, problems, values: _sentry_rules(env, problems),
            "reconcile: issue alert rules to check, `project-slug:rule_id,...`",
            ("reconcile",), "sentry"),
    Setting("RECONCILE_SENTRY_PROJECTS", "reconcile_sentry_projects", "",
            lambda env, key, problems, values: _list(env, key),
            "reconcile: projects whose new or regressed unresolved issues should all have a "
            "task, `slug,...`", ("reconcile",), "sentry"),
    Setting("RECONCILE_DATADOG_WEBHOOK", "reconcile_datadog_webhook", "",
            lambda env, key, problems, values: env.get(key, "").strip()
            .removeprefix("@webhook-") or None,
            "reconcile: the webhook name monitors mention (`alert_bridge` for "
            "`@webhook-alert_bridge`; a leading `@webhook-` is dropped)", ("reconcile",), "datadog",
            shown_default="*(unset: Datadog not reconciled)*"),
    Setting("RECONCILE_DATADOG_MONITOR_TAGS", "reconcile_datadog_monitor_tags", "", _optional,
            "reconcile: only list monitors with these tags (Datadog's `monitor_tags`, "
            "comma-separated, e.g. `team:payments`)",
            ("reconcile",), "datadog"),
    Setting("RECONCILE_INTERVAL_MINUTES", "reconcile_interval_minutes", "10", _whole(10),
            "reconcile: minutes between runs (Terraform's schedule uses the same value)",
            ("reconcile",)),
    Setting("RECONCILE_LOOKBACK_MINUTES", "reconcile_lookback_minutes", "60", _whole(60),
            "reconcile: how far back a run looks; at least interval + grace",
            ("reconcile",)),
    Setting("RECONCILE_GRACE_MINUTES", "reconcile_grace_minutes", "5", _whole(5),
            "reconcile: alerts younger than this are left to their webhook, still on its "
            "way",
            ("reconcile",)),
    Setting("SENTRY_ENVIRONMENT", "sentry_environment", "the value of ENVIRONMENT",
            lambda env, key, problems, values: _sentry_name(env, key, problems)
            or values["environment"],
            "environment of the service's own Sentry events (at most 64 characters, no "
            "spaces or slashes)",
            shown_default="*(`ENVIRONMENT`)*"),
    Setting("SENTRY_RELEASE", "sentry_release", "",
            lambda env, key, problems, values: _sentry_name(env, key, problems),
            "release of the service's own Sentry events; unset, the SDK uses the git SHA, "
            "then `K_REVISION`",
            shown_default="*(unset; Terraform: `alert-bridge@<source hash>`)*"),
    Setting("SENTRY_TRACES_SAMPLE_RATE", "sentry_traces_sample_rate", "0.1", _fraction(0.1),
            "share of webhooks and pushed messages sent to Sentry as transactions, `0.0` to "
            "`1.0`"),
    Setting("SENTRY_PROFILES_SAMPLE_RATE", "sentry_profiles_sample_rate", "0.1",
            _fraction(0.1),
            "share of those transactions also profiled, `0.0` to `1.0`"),
    Setting("ASANA_WEBHOOK_TARGET_URL", "asana_webhook_target_url", "",
            lambda env, key, problems, values: _https(env, key, problems),
            "worker, reconcile and `make asana-webhooks`: the public ingest URL Asana posts "
            "task changes to ([two-way sync](two-way-sync.md)); Terraform sets it to "
            "ingest's `cloudfunctions.net` URL", _ALERTS, "asana",
            shown_default="*(unset: no webhooks registered)*"),
    Setting("ASANA_WEBHOOK_COLLECTION", "asana_webhook_collection", "asana_webhooks",
            _text("asana_webhooks"),
            "Firestore collection of the Asana webhooks (token hash, handshake secret, last "
            "verified delivery), one document per project", source="asana"),
    Setting("ASANA_HOOKS_DATABASE", "asana_hooks_database", "alert-bridge-hooks",
            lambda env, key, problems, values: _hooks_database(env, problems),
            "the Firestore database of that collection: a named one (4 to 63 of `a-z`, "
            "`0-9`, `-`, starting with a letter), never the ledger's `(default)`, so ingest "
            "needs no access to the ledger; Terraform creates it (`asana_hooks_database`)",
            source="asana"),
    Setting("GRAFANA_SIGNATURE_HEADER", "grafana_signature_header",
            "X-Grafana-Alerting-Signature",
            lambda env, key, problems, values: _header_name(env, key, problems)
            or "X-Grafana-Alerting-Signature",
            "ingest: the header of the Grafana contact point's HMAC signature "
            "([grafana.md](grafana.md))", ("ingest",), "grafana"),
    Setting("GRAFANA_TIMESTAMP_HEADER", "grafana_timestamp_header", "",
            lambda env, key, problems, values: _header_name(env, key, problems),
            "ingest: the contact point's *Timestamp Header*; set, every Grafana request must "
            "carry it, signed as `timestamp:body`", ("ingest",), "grafana",
            shown_default="*(unset: only the body is signed; Terraform: "
                          "`X-Grafana-Alerting-Timestamp`)*"),
    Setting("GRAFANA_REPLAY_WINDOW_SECONDS", "grafana_replay_window_seconds", "300",
            _whole(300),
            "ingest: how far that timestamp may be from ingest's clock, either way",
            ("ingest",), "grafana"),
    Setting("AZURE_TENANT_ID", "azure_tenant_id", "", _azure_tenant,
            "ingest: the Entra ID tenant (a GUID) whose Secure Webhook tokens Azure Monitor's "
            "action groups send; unset, only URL tokens (`AZURE_WEBHOOK_TOKEN`) are accepted "
            "([azure-monitor.md](azure-monitor.md))", ("ingest",), "azure",
            shown_default="*(unset: Secure Webhook off)*"),
    Setting("AZURE_AUDIENCES", "azure_audiences", "", _azure_audiences,
            "ingest: the audiences a Secure Webhook token may name, comma-separated: your Entra "
            "application's client id and, if tokens name it, its Application ID URI",
            ("ingest",), "azure", shown_default="*(unset; required with `AZURE_TENANT_ID`)*"),
    Setting("AZURE_ENTRA_KEYS_URL", "azure_entra_keys_url", "", _azure_keys_url,
            "test-only: where ingest reads the tenant's signing keys (the tests' local fake, "
            "`tests/fakes/entra_keys.py`); refused unless `ENVIRONMENT=dev`", ("ingest",), "azure",
            shown_default="*(unset: `https://login.microsoftonline.com/<tenant>/discovery/v2.0"
                          "/keys`)*"),
    Setting("CLOUDWATCH_SNS_TOPIC_ARNS", "cloudwatch_sns_topic_arns", "", _topic_arns,
            "ingest: the ARNs of the SNS topics whose CloudWatch alarms are taken (and whose "
            "subscriptions are confirmed), comma-separated ([cloudwatch.md](cloudwatch.md))",
            ("ingest",), "cloudwatch", shown_default="*(unset: every SNS message is refused)*"),
    Setting("CLOUDWATCH_SNS_MAX_AGE_SECONDS", "cloudwatch_sns_max_age_seconds", "3600",
            _sns_max_age, "ingest: how old an SNS message's `Timestamp` may be (SNS retries a "
            "delivery for at most 3600 s): an older one is refused as a replay", ("ingest",),
            "cloudwatch"),
    Setting("CLOUDWATCH_SNS_TEST_TRUST", "cloudwatch_sns_test_trust", "", _test_trust,
            "test-only, refused with `ENVIRONMENT=prod`: `pinned:<pem file>` verifies SNS "
            "signatures with that certificate, `local-ca:<pem file>` fetches certificates from "
            "a local fake SNS whose TLS and signing certificates that CA issued", ("ingest",),
            "cloudwatch"),
)


#: Variables that are not settings of the functions: one command's, the test suites', the
#: Google client libraries'. (variable, the docs' default cell, meaning)
OTHER_VARIABLES: tuple[tuple[str, str, str], ...] = (
    ("DEAD_LETTER_SUBSCRIPTION", "*(`<DEAD_LETTER_TOPIC>-pull`)*",
     "replay command only: the dead-letter pull subscription (Terraform output "
     "`dead_letter_subscription`; `<DEAD_LETTER_TOPIC>-pull` is the local stack's name)"),
    ("SENTRY_APP_SLUG", "*(unset)*",
     "`make sentry-integration` only: the slug of the internal integration whose schema "
     "`--apply` writes (or `ARGS=\"--app SLUG\"`)"),
    ("ALERT_BRIDGE_FAILPOINT", "*(unset)*",
     "fault-injection suite only: the worker kills itself (SIGKILL) at this named crash point; "
     "refused with `ENVIRONMENT=prod` (a configuration error)"),
    ("ALERT_BRIDGE_FAILPOINT_ONCE", "*(unset)*",
     "with the above: a file path; the worker crashes only while that file does not exist yet, "
     "so only the first time"),
    ("PUBSUB_EMULATOR_HOST", "*(unset)*",
     "use the local Pub/Sub emulator (set by `make run` and the tests)"),
    ("FIRESTORE_EMULATOR_HOST", "*(unset)*",
     "use the local Firestore emulator (set by `make run` and the tests)"),
)


def configuration_rows() -> list[tuple[str, str, str]]:
    """Return (variable, default cell, meaning) of every variable, for the docs' table."""
    return ([(s.name, s.default_cell(), s.description) for s in SETTINGS]
            + list(OTHER_VARIABLES))


def credential_rows() -> list[tuple[str, str, str]]:
    """Return (credential, the functions that read it, what it is) of every credential."""
    return [(name, ", ".join(f for f in FUNCTIONS if name in SECRET_READERS[f]),
             "; ".join(filter(None, (what, CREDENTIAL_NOTES.get(name, "")))))
            for name, what in CREDENTIALS.items()]


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``env`` (default: os.environ); report every problem at once."""
    env = os.environ if env is None else env
    problems: list[str] = []
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        values[setting.field] = setting.read(env, setting.name, problems, values)
    settings = Settings(**values)
    problems += _reconcile_problems(settings)
    if problems:
        raise ConfigError("invalid configuration: " + "; ".join(problems))
    return settings

"""Deployment settings, read once from the environment and validated."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
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
    "ingest": ("SENTRY_CLIENT_SECRET", "DATADOG_SECRET_TOKEN", "ASANA_PAT"),
    "worker": ("ASANA_PAT", "SENTRY_AUTH_TOKEN", "DATADOG_API_KEY"),
    "reconcile": ("SENTRY_AUTH_TOKEN", "DATADOG_API_KEY", "DATADOG_APP_KEY", "ASANA_PAT"),
}
SECRET_NAMES = tuple(dict.fromkeys(name for names in SECRET_READERS.values() for name in names))


@dataclass(frozen=True)
class Settings:
    """Every setting the two functions read; see README's configuration table."""

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
    # Reconciliation (functions/reconcile only); defaults keep it off for both sources.
    sentry_org: str | None = None
    reconcile_sentry_rules: tuple[tuple[str, str], ...] = ()  # (project slug, rule id)
    reconcile_sentry_projects: tuple[str, ...] = ()
    reconcile_datadog_webhook: str | None = None
    reconcile_datadog_monitor_tags: str | None = None
    reconcile_interval_minutes: int = 10
    reconcile_lookback_minutes: int = 60
    reconcile_grace_minutes: int = 5


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


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``env`` (default: os.environ); report every problem at once."""
    env = os.environ if env is None else env
    problems: list[str] = []
    project = env.get("GOOGLE_CLOUD_PROJECT", "").strip()
    if not project:
        problems.append("GOOGLE_CLOUD_PROJECT: required (the project that holds the topics)")
    environment = _choice(env, "ENVIRONMENT", "prod", ENVIRONMENTS, problems)
    settings = Settings(
        project=project,
        events_topic=env.get("EVENTS_TOPIC", "").strip() or "alert-events",
        dead_letter_topic=env.get("DEAD_LETTER_TOPIC", "").strip() or "alert-events-dead-letter",
        environment=environment,
        teams_file=env.get("TEAMS_FILE", "").strip() or "teams.yaml",
        asana_api_url=_url(env, "ASANA_API_URL", DEFAULT_ASANA_API_URL),
        sentry_api_url=_url(env, "SENTRY_API_URL", DEFAULT_SENTRY_API_URL),
        datadog_api_url=_url(env, "DATADOG_API_URL", DEFAULT_DATADOG_API_URL),
        log_level=_choice(env, "LOG_LEVEL", "INFO", LOG_LEVELS, problems, upper=True),
        secret_prefix=env.get("SECRET_PREFIX", "").strip() or "alert-bridge-",
        secret_cache_ttl_seconds=float(_int(env, "SECRET_CACHE_TTL_SECONDS", 300, problems)),
        max_body_bytes=_int(env, "MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, problems),
        ledger_collection=env.get("LEDGER_COLLECTION", "").strip() or "alert_ledger",
        sentry_dsn=_dsn(env, problems),
        dry_run_file=env.get("DRY_RUN_FILE", "").strip() or "/tmp/alert-bridge-dry-run.jsonl",
        asana_max_attempts=_int(env, "ASANA_MAX_ATTEMPTS", 5, problems),
        default_team=default_team(env),
        sentry_org=env.get("SENTRY_ORG", "").strip() or None,
        reconcile_sentry_rules=_sentry_rules(env, problems),
        reconcile_sentry_projects=_list(env, "RECONCILE_SENTRY_PROJECTS"),
        reconcile_datadog_webhook=env.get("RECONCILE_DATADOG_WEBHOOK", "").strip()
        .removeprefix("@webhook-") or None,
        reconcile_datadog_monitor_tags=env.get("RECONCILE_DATADOG_MONITOR_TAGS", "").strip()
        or None,
        reconcile_interval_minutes=_int(env, "RECONCILE_INTERVAL_MINUTES", 10, problems),
        reconcile_lookback_minutes=_int(env, "RECONCILE_LOOKBACK_MINUTES", 60, problems),
        reconcile_grace_minutes=_int(env, "RECONCILE_GRACE_MINUTES", 5, problems),
        sentry_environment=_sentry_name(env, "SENTRY_ENVIRONMENT", problems) or environment,
        sentry_release=_sentry_name(env, "SENTRY_RELEASE", problems),
        sentry_traces_sample_rate=_rate(env, "SENTRY_TRACES_SAMPLE_RATE", 0.1, problems),
        sentry_profiles_sample_rate=_rate(env, "SENTRY_PROFILES_SAMPLE_RATE", 0.1, problems),
        asana_webhook_target_url=_https(env, "ASANA_WEBHOOK_TARGET_URL", problems),
        asana_webhook_collection=(env.get("ASANA_WEBHOOK_COLLECTION", "").strip()
                                  or "asana_webhooks"),
        asana_hooks_database=_hooks_database(env, problems),
    )
    problems += _reconcile_problems(settings)
    if problems:
        raise ConfigError("invalid configuration: " + "; ".join(problems))
    return settings

"""What `make run` checks before it starts anything: each problem is one line naming what to set."""

from __future__ import annotations

import glob
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from shared.adapters.secrets import split_values
from shared.core.errors import ConfigError
from shared.core.settings import Settings, load_settings
from shared.routing.teams_file import load_teams

#: The variable that sets each port of the local stack, and its default.
PORTS = {"ingest": ("INGEST_PORT", 8080), "worker": ("WORKER_PORT", 8081),
         "pubsub": ("PUBSUB_PORT", 8085), "firestore": ("FIRESTORE_PORT", 8086)}
#: Jars of the emulator components, relative to the Google Cloud SDK root.
EMULATOR_JARS = {
    "pubsub-emulator": "platform/pubsub-emulator/lib/cloud-pubsub-emulator-*-all.jar",
    "cloud-firestore-emulator": "platform/cloud-firestore-emulator/cloud-firestore-emulator.jar",
}
#: Credentials ingest cannot answer a webhook without.
REQUIRED_SECRETS = ("SENTRY_CLIENT_SECRET", "DATADOG_SECRET_TOKEN")
#: Credentials that switch a feature on when set; set but blank is a mistake, not "off".
OPTIONAL_SECRETS = ("ASANA_PAT", "SENTRY_AUTH_TOKEN", "DATADOG_API_KEY")


@dataclass(frozen=True)
class Plan:
    """A local run that passed every check: its ports and settings."""

    ports: dict[str, int]
    settings: Settings


def parse_ports(env: Mapping[str, str], problems: list[str]) -> dict[str, int]:
    """Read the four ports from ``env``, appending a line to ``problems`` for each bad one."""
    ports: dict[str, int] = {}
    for name, (key, default) in PORTS.items():
        raw = env.get(key, "").strip() or str(default)
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            problems.append(f"{key}={raw!r} is not a port number: set {key} to one, e.g. "
                            f"{default}")
            continue
        ports[name] = int(raw)
    taken: dict[int, str] = {}
    for name, port in ports.items():
        if port in taken:
            problems.append(f"{PORTS[name][0]} and {taken[port]} are both {port}: give each its "
                            "own port")
        taken[port] = PORTS[name][0]
    return ports


def check(env: Mapping[str, str], *, repo: Path, sdk_root: Path,
          which: Callable[[str], str | None],
          port_busy: Callable[[int], bool]) -> tuple[Plan | None, list[str]]:
    """Check everything a local run needs; return the plan, or None and one line per problem."""
    problems: list[str] = []
    ports = parse_ports(env, problems)
    for name, port in ports.items():
        key = PORTS[name][0]
        if port_busy(port):
            problems.append(f"port {port} is busy ({key}): stop what listens there, or set "
                            f"{key} to a free port")
    if which("java") is None:
        problems.append("java not found: install Java 17 (apt-get install "
                        "openjdk-17-jre-headless) and put it on PATH")
    for component, pattern in EMULATOR_JARS.items():
        if not glob.glob(str(sdk_root / pattern)):
            problems.append(f"the {component} component is missing under {sdk_root}: set "
                            "CLOUDSDK_ROOT to the Google Cloud SDK root, or run `gcloud "
                            f"components install {component}`")
    settings = _settings(env, problems)
    problems += secret_problems(env, settings)
    if settings is not None:
        problems += _teams_problems(settings, repo)
    if problems or settings is None:
        return None, problems
    return Plan(ports, settings), []


def _settings(env: Mapping[str, str], problems: list[str]) -> Settings | None:
    try:
        return load_settings(env)
    except ConfigError as error:
        problems.append(str(error))
        return None


def secret_problems(env: Mapping[str, str], settings: Settings | None) -> list[str]:
    """Return one line per credential that is missing, blank, or holds too many values."""
    problems = []
    for name in REQUIRED_SECRETS + OPTIONAL_SECRETS:
        raw = env.get(name)
        if raw is None and name in OPTIONAL_SECRETS:
            continue
        try:
            split_values(name, raw or "")
        except ConfigError as error:
            problems.append(f"{error}: set {name}" + ("" if name in REQUIRED_SECRETS
                                                      else " to a value, or unset it"))
    if settings is not None and settings.environment != "dev" and not env.get("ASANA_PAT"):
        problems.append(f"ENVIRONMENT={settings.environment} needs ASANA_PAT (dry-run is only "
                        "allowed in dev): export ASANA_PAT, or unset ENVIRONMENT")
    return problems


def _teams_problems(settings: Settings, repo: Path) -> list[str]:
    path = Path(settings.teams_file)
    try:
        load_teams(str(path if path.is_absolute() else repo / path), settings.default_team)
    except ConfigError as error:
        return [line for line in str(error).splitlines() if line.strip()]
    return []


def asana_mode(env: Mapping[str, str], settings: Settings) -> str:
    """Describe where tasks go: the Asana API at its URL, or the dry-run file."""
    if env.get("ASANA_PAT", "").strip():
        return f"live, tasks are created at {settings.asana_api_url}"
    return f"dry-run, requests are written to {settings.dry_run_file}"

"""Check teams.yaml and explain where an alert would go: ``python -m shared.cli.route``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from shared.core.alert import Action, Alert
from shared.core.errors import AlertBridgeError
from shared.core.settings import ENVIRONMENTS, default_team
from shared.routing.boards import explain_board
from shared.routing.rules import route_alert
from shared.routing.teams_file import load_teams
from shared.routing.triage import why_no_task
from shared.sources import parse_alert
from shared.sources.sentry.keys import CONTAINERS as SENTRY_CONTAINERS
from shared.sources.sentry.keys import RESOURCES as SENTRY_RESOURCES

# key=value keys that set Alert fields instead of becoming tags.
_FIELD_KEYS = ("level", "environment", "priority", "title", "source")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "check":
            return _check(args.teams)
        return _explain(args)
    except (AlertBridgeError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shared.cli.route", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    default_teams = os.environ.get("TEAMS_FILE", "").strip() or "teams.yaml"
    check = commands.add_parser("check", help="validate the teams file")
    check.add_argument("--teams", default=default_teams, help="teams file (default: $TEAMS_FILE)")
    explain = commands.add_parser("explain", help="show the team, board and priority of an alert")
    explain.add_argument("--teams", default=default_teams, help="teams file (default: $TEAMS_FILE)")
    explain.add_argument("--environment", choices=ENVIRONMENTS,
                         default=os.environ.get("ENVIRONMENT", "").strip().lower() or "prod",
                         help="the deployment's ENVIRONMENT (default: $ENVIRONMENT or prod)")
    explain.add_argument("--payload", help="a saved Sentry or Datadog webhook body (JSON file)")
    explain.add_argument("--source", choices=("sentry", "datadog"), help="payload source")
    explain.add_argument("--resource", choices=(*SENTRY_RESOURCES, "datadog"),
                         help="payload resource (default: guessed from the body)")
    explain.add_argument("fields", nargs="*", metavar="key=value",
                         help="alert fields: level, environment, priority, title, or any tag")
    return parser


def _check(path: str) -> int:
    config = load_teams(path, default_team(os.environ))
    groups = sum(len(team.entities) for team in config.teams)
    print(f"{path}: {len(config.teams)} teams, {groups} matcher groups")
    print(f"default team: '{config.default_team}' ({config.default_team_reason})")
    return 0


def _explain(args: argparse.Namespace) -> int:
    if args.payload and args.fields:
        raise ValueError("give either --payload FILE or key=value fields, not both")
    if not args.payload and not args.fields:
        raise ValueError("nothing to explain: give key=value fields or --payload FILE")
    config = load_teams(args.teams, default_team(os.environ))
    alert = _payload_alert(args) if args.payload else alert_from_pairs(args.fields)
    # A Sentry alert rule's settings (in --payload) decide over teams.yaml, as in the worker.
    decided = route_alert(alert, config, args.environment)
    chosen, priority, kind = decided.triage.route, decided.triage.priority, decided.triage.board
    lines = [
        ("team", chosen.team.name),
        ("why", chosen.explanation),
        ("priority", f"{priority} ({decided.priority_why})"),
    ]
    if decided.overridden is not None:
        lines.insert(2, ("overrides", f"teams.yaml's team {decided.overridden.team.name} "
                                      f"({decided.overridden.explanation})"))
    no_task = why_no_task(alert, config)
    if no_task is None and not decided.may_create:
        no_task = (f"alert rule '{alert.rule}' is update only: it only updates the task "
                   "another alert opened")
    if no_task:
        lines.append(("task", f"none opened: {no_task}"))
    else:
        lines += [("board", f"{kind.value}: {explain_board(kind, chosen.team)}"),
                  ("board why", decided.board_why)]
    for label, text in lines:
        print(f"{label + ':':<11}{text}")
    return 0


def alert_from_pairs(pairs: Sequence[str]) -> Alert:
    """Build an Alert from ``key=value`` words; level, environment, priority set fields."""
    values: dict[str, str] = {}
    tags: list[tuple[str, str]] = []
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key.strip():
            raise ValueError(f"expected key=value, got {pair!r}")
        key = key.strip()
        if key in _FIELD_KEYS:
            values[key] = value.strip()
        else:
            tags.append((key, value.strip()))
    source = values.get("source") or ("datadog" if "priority" in values else "sentry")
    return Alert(
        source=source,
        resource="datadog" if source == "datadog" else "event_alert",
        key="explain-route",
        action=Action.TRIGGERED,
        title=values.get("title") or "(explain-route)",
        level=(values.get("level") or "").lower() or None,
        priority=(values.get("priority") or "").upper() or None,
        environment=values.get("environment") or None,
        tags=tuple(tags),
    )


def guess_source(payload: object) -> tuple[str, str]:
    """Return (source, resource) of a webhook body from its shape."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if isinstance(data, dict):
        for resource, container in SENTRY_CONTAINERS.items():
            if isinstance(data.get(container), dict):
                return "sentry", resource
    return "datadog", "datadog"


def _payload_alert(args: argparse.Namespace) -> Alert:
    body = Path(args.payload).read_bytes()
    try:
        payload = json.loads(body)
    except ValueError as error:
        raise ValueError(f"{args.payload}: not JSON: {error}") from None
    source, resource = guess_source(payload)
    source = args.source or source
    if source == "datadog":
        resource = "datadog"
    elif resource not in SENTRY_RESOURCES:
        resource = "event_alert"
    resource = args.resource or resource
    attributes: Mapping[str, str] = {"source": source, "resource": resource}
    return parse_alert(body, attributes)


if __name__ == "__main__":
    sys.exit(main())

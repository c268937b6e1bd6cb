"""Check teams.yaml and explain where an alert would go: ``python -m shared.cli.route``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from shared.core.alert import Action, Alert
from shared.core.errors import AlertBridgeError
from shared.core.settings import ENVIRONMENTS, default_team
from shared.routing.boards import explain_board
from shared.routing.rules import route_alert
from shared.routing.teams_file import load_teams
from shared.routing.triage import why_no_task
from shared.sources import SOURCES
from shared.sources.base import Source

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
    explain.add_argument("--payload", help="a saved webhook body (JSON file) of "
                                           f"{' or '.join(_alert_sources())}")
    explain.add_argument("--source", choices=_alert_sources(),
                         help="payload source (default: guessed from the body)")
    explain.add_argument("--resource", choices=[r for s in _parsing() for r in s.resources],
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
    if isinstance(alert, Ignored):
        print(f"{'source:':<11}{alert.source} {alert.resource} webhook")
        print(f"{'task:':<11}none: ingest answers it 200 and publishes nothing ({alert.why}; "
              "it carries no alert)")
        return 0
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
    source = values.get("source") or _source_of(values)
    known = SOURCES.named(source)
    return Alert(
        source=source,
        resource=(known or _parsing()[0]).resources[0],
        key="explain-route",
        action=Action.TRIGGERED,
        title=values.get("title") or "(explain-route)",
        level=(values.get("level") or "").lower() or None,
        priority=(values.get("priority") or "").upper() or None,
        environment=values.get("environment") or None,
        tags=tuple(tags),
    )


def _parsing() -> tuple[Source, ...]:
    """Return the sources whose webhooks are alerts, in the table's order."""
    return tuple(source for source in SOURCES if source.parse is not None)


def _alert_sources() -> list[str]:
    return [source.name for source in _parsing()]


def _source_of(values: Mapping[str, str]) -> str:
    """Return the source of key=value fields: the first source, unless another one's severity
    field is given (priority=P2 is Datadog's)."""
    default, *others = _parsing()
    return next((s.name for s in others if s.severity_field in values), default.name)


def guess_source(payload: object) -> tuple[str, str]:
    """Return (source, resource) of a webhook body from its shape."""
    for source in _parsing():
        resource = source.sniff(payload) if source.sniff is not None else None
        if resource is not None:
            return source.name, resource
    raise ValueError("no source recognises the body: give --source")


@dataclass(frozen=True)
class Ignored:
    """A saved body of a resource that ingest answers and ignores."""

    source: str
    resource: str
    why: str


def _payload_alert(args: argparse.Namespace) -> Alert | Ignored:
    body = Path(args.payload).read_bytes()
    try:
        payload = json.loads(body)
    except ValueError as error:
        raise ValueError(f"{args.payload}: not JSON: {error}") from None
    guessed, resource = guess_source(payload)
    source = SOURCES.named(args.source or guessed)
    assert source is not None  # argparse's choices and guess_source() name known sources
    if resource not in source.resources and (source.name != guessed
                                             or resource not in source.ignored):
        resource = source.resources[0]
    resource = args.resource or resource
    if resource in source.ignored:
        return Ignored(source.name, resource, source.ignored[resource])
    attributes: Mapping[str, str] = {"source": source.name, "resource": resource}
    return SOURCES.parse_alert(body, attributes)


if __name__ == "__main__":
    sys.exit(main())

"""Print teams.yaml as Sentry ownership rules per project; --apply writes them to Sentry.

    python -m shared.sources.sentry.ownership_cli [--teams FILE] [--project SLUG ...]
        [--org ORG --apply]

--apply needs SENTRY_AUTH_TOKEN (scope project:write) and uses SENTRY_API_URL. It replaces
each project's ownership rules. Exit status: 0 fine, 1 Sentry refused a project's rules,
2 could not run (bad teams file, no token, no project to write).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from shared.core.errors import AlertBridgeError
from shared.core.settings import DEFAULT_SENTRY_API_URL, default_team
from shared.routing.teams_file import load_teams
from shared.sources.sentry.api import SentryApi, SentryRejected
from shared.sources.sentry.ownership import Ownership, ownership_rules, raw_rules


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    try:
        ownership = ownership_rules(load_teams(args.teams, default_team(os.environ)))
    except AlertBridgeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    projects = list(dict.fromkeys([*ownership.projects(), *args.project]))
    _print(ownership, projects)
    if not args.apply:
        return 0
    return _apply(ownership, projects, args.org)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shared.sources.sentry.ownership_cli",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teams", default=os.environ.get("TEAMS_FILE", "").strip()
                        or "teams.yaml", help="teams file (default: $TEAMS_FILE or teams.yaml)")
    parser.add_argument("--project", action="append", default=[], metavar="SLUG",
                        help="a Sentry project that gets the rules of every project "
                             "(repeat it); projects named by project: matchers always do")
    parser.add_argument("--org", default=os.environ.get("SENTRY_ORG", "").strip() or None,
                        help="Sentry organization slug (default: $SENTRY_ORG)")
    parser.add_argument("--apply", action="store_true",
                        help="write the rules through Sentry's project ownership API")
    return parser


def _print(ownership: Ownership, projects: list[str]) -> None:
    print("# Sentry ownership rules from teams.yaml, strongest last (Sentry assigns the owners "
          "of the last matching rule).")
    for project in projects:
        print(f"\n# project {project}")
        print(raw_rules(ownership.for_project(project)), end="")
    if not projects:
        print("\n# every project (name them with ARGS=\"--project SLUG\")")
        print(raw_rules(ownership.for_project(None)), end="")
    if ownership.left_out:
        print("\n# Not expressible in Sentry (alert-bridge still routes these):")
        print("".join(f"#   {line}\n" for line in ownership.left_out), end="")
    if ownership.notes:
        print("\n# Notes:")
        print("".join(f"#   {line}\n" for line in ownership.notes), end="")


def _apply(ownership: Ownership, projects: list[str], org: str | None) -> int:
    token = os.environ.get("SENTRY_AUTH_TOKEN", "").strip()
    missing = [name for name, value in (("--org (or SENTRY_ORG)", org),
                                        ("SENTRY_AUTH_TOKEN", token),
                                        ("--project SLUG", projects)) if not value]
    if missing:
        print(f"error: --apply needs {', '.join(missing)}", file=sys.stderr)
        return 2
    assert org is not None
    api = SentryApi(os.environ.get("SENTRY_API_URL", "").strip() or DEFAULT_SENTRY_API_URL,
                    token)
    failed = 0
    for project in projects:
        raw = raw_rules(ownership.for_project(project))
        try:
            before = str(api.ownership(org, project).get("raw") or "")
            api.put_ownership(org, project, raw)
        except SentryRejected as error:
            print(f"error: project {project}: {error}", file=sys.stderr)
            failed += 1
            continue
        except AlertBridgeError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        dropped = [line for line in before.splitlines() if line.strip()
                   and line not in raw.splitlines()]
        print(f"project {project}: wrote {len(raw.splitlines())} rules"
              + (f", replacing {len(dropped)} others: {'; '.join(dropped)}" if dropped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Discover Asana gids for teams.yaml, or check a file's gids.

    python -m shared.sources.asana.discover_cli [--check TEAMS_FILE]

Needs ASANA_PAT (and ASANA_API_URL for another Asana, e.g. a local fake). Exit status: 0 fine,
1 problems found in the checked file, 2 could not run (no token, Asana refused or unreachable).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from shared.adapters.asana import AsanaClient, AsanaRejected
from shared.core.errors import AlertBridgeError, ConfigError
from shared.core.settings import DEFAULT_ASANA_API_URL, default_team
from shared.routing.teams_file import load_teams
from shared.sources.asana.discovery import (
    CUSTOM_FIELD_FIELDS,
    Directory,
    Record,
    check_gids,
    render_teams_yaml,
)

_MISSING = (400, 403, 404)  # Asana's answers for a gid that is wrong or hidden from the token


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    token = os.environ.get("ASANA_PAT", "").strip()
    if not token:
        print("error: ASANA_PAT is not set: export an Asana personal access token",
              file=sys.stderr)
        return 2
    base_url = os.environ.get("ASANA_API_URL", "").strip() or DEFAULT_ASANA_API_URL
    client = AsanaClient(base_url, token, max_attempts=3)
    try:
        if args.check:
            return _check(client, args.check, args.workspace)
        print(render_teams_yaml(discover(client, args.workspace, args.portfolio_owner)), end="")
        return 0
    except AlertBridgeError as error:
        hint = " (check ASANA_PAT)" if getattr(error, "status", None) == 401 else ""
        print(f"error: {error}{hint}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shared.sources.asana.discover_cli",
                                     description=__doc__)
    parser.add_argument("--check", metavar="TEAMS_FILE",
                        help="check every gid of this teams file instead of printing one")
    parser.add_argument("--workspace", help="workspace gid (default: the only one, or the "
                                            "file's settings.workspace_gid)")
    parser.add_argument("--portfolio-owner", default="me",
                        help="list the portfolios of this user gid (default: me; a service "
                             "account may name any user)")
    return parser


def discover(client: AsanaClient, workspace: str | None, portfolio_owner: str) -> Directory:
    """Read the workspace's teams, their projects, portfolios and custom fields."""
    chosen = _workspace(client, workspace)
    gid = str(chosen["gid"])
    teams = client.list_all(f"/workspaces/{gid}/teams")
    projects = {str(team["gid"]): client.list_all(f"/teams/{team['gid']}/projects",
                                                  {"archived": "false"})
                for team in teams}
    portfolios = client.list_all("/portfolios", {"workspace": gid, "owner": portfolio_owner})
    fields = client.list_all(f"/workspaces/{gid}/custom_fields", opt_fields=CUSTOM_FIELD_FIELDS)
    return Directory(chosen, teams, projects, portfolios, fields)


def _workspace(client: AsanaClient, wanted: str | None) -> Record:
    workspaces = client.list_all("/workspaces")
    if wanted:
        found = next((w for w in workspaces if str(w.get("gid")) == wanted), None)
        if found is None:
            raise ConfigError(f"--workspace {wanted}: not one of the token's workspaces "
                                   f"({_names(workspaces)})")
        return found
    if len(workspaces) != 1:
        raise ConfigError(f"the token sees {len(workspaces)} workspaces: choose one with "
                               f"ARGS=\"--workspace GID\" ({_names(workspaces)})")
    return workspaces[0]


def _names(workspaces: Sequence[Record]) -> str:
    return ", ".join(f"{w.get('name')} {w.get('gid')}" for w in workspaces) or "none"


def _check(client: AsanaClient, path: str, workspace: str | None) -> int:
    config = load_teams(path, default_team(os.environ))
    workspace = workspace or config.workspace_gid

    def lookup(kind: str, gid: str) -> Record | None:
        try:
            return client.record(kind, gid)
        except AsanaRejected as error:
            if error.status in _MISSING:
                return None
            raise

    fields = None
    if workspace and lookup("workspaces", workspace) is not None:
        fields = {str(f["gid"]) for f in client.list_all(f"/workspaces/{workspace}/custom_fields")}
    problems, checked = check_gids(config, lookup, workspace=workspace, workspace_fields=fields)
    for line in problems:
        print(f"{path}: {line}")
    if not workspace:
        print(f"{path}: settings.workspace_gid not set: workspace membership not checked "
              "(add it, or pass --workspace GID)")
    print(f"{path}: {checked} gids checked, {len(problems)} problems", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""Operate the Asana webhooks of the two-way sync: ``python -m shared.asana_webhooks_cli``.

``list`` shows the workspace's webhooks; ``register`` makes sure projects have one (by default
the backlogs of the teams with ``sync_back: true``); ``delete`` removes one and its secret.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from shared import cli
from shared.adapters.asana_hooks import FirestoreHooks
from shared.adapters.asana_sync import AsanaSyncClient
from shared.adapters.secrets import SecretSource
from shared.asana_registration import Registrar
from shared.errors import AlertBridgeError, ConfigError
from shared.settings import load_settings
from shared.teams import TeamsConfig
from shared.teams_file import load_teams


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        config = load_teams(settings.teams_file)
        workspace = args.workspace or config.workspace_gid
        if not workspace:
            raise ConfigError("no workspace: set settings.workspace_gid in teams.yaml or "
                              "pass --workspace")
        source = SecretSource(os.environ, settings.project, settings.secret_prefix,
                              settings.secret_cache_ttl_seconds)
        client = AsanaSyncClient(settings.asana_api_url, source.get("ASANA_PAT")[0],
                                 max_attempts=settings.asana_max_attempts)
        hooks = FirestoreHooks(settings.project, settings.asana_webhook_collection)
        if args.command == "list":
            return _list(client, hooks, workspace)
        if args.command == "delete":
            return _delete(client, hooks, workspace, args.webhook)
        registrar = Registrar(hooks, client, settings.asana_webhook_target_url,
                              lambda: workspace, lambda team: True, lambda: datetime.now(UTC))
        return _register(registrar, args.project or opted_in_projects(config))
    except Exception as error:  # one line on stderr, not a traceback
        return cli.fail(error)


def opted_in_projects(config: TeamsConfig) -> list[str]:
    """Return the backlog projects of the teams that opted in to the two-way sync."""
    return [team.backlog_project_gid for team in config.teams if team.sync_back]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shared.asana_webhooks_cli",
                                     description=__doc__)
    parser.add_argument("--workspace", help="workspace gid (default: teams.yaml's)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the workspace's webhooks")
    register = commands.add_parser("register", help="make sure projects have a webhook")
    register.add_argument("--project", action="append", default=[],
                          help="project gid (repeatable; default: opted-in teams' backlogs)")
    delete = commands.add_parser("delete", help="delete a webhook and forget its secret")
    delete.add_argument("webhook", help="webhook gid (see list)")
    return parser


def _list(client: AsanaSyncClient, hooks: FirestoreHooks, workspace: str) -> int:
    found = client.webhooks(workspace)
    for hook in found:
        project = str((hook.get("resource") or {}).get("gid"))
        known, _ = hooks.get(project)
        state = "active" if hook.get("active") else "INACTIVE"
        secret = "secret stored" if known and known.secret else "NO SECRET"
        print(f"{hook.get('gid')}  project {project} "
              f"({(hook.get('resource') or {}).get('name', '')})  {state}  {secret}  "
              f"{hook.get('target')}")
        if hook.get("last_failure_content"):
            print(f"    last failure: {hook['last_failure_content']}")
    print(f"{len(found)} webhook(s) in workspace {workspace}")
    return 0


def _register(registrar: Registrar, projects: list[str]) -> int:
    if not projects:
        print("no project: no team has sync_back: true; pass --project")
        return 1
    failed = 0
    for project in projects:
        try:
            gid = registrar.ensure(project)
        except AlertBridgeError as error:
            print(f"project {project}: failed: {error}", file=sys.stderr)
            failed += 1
            continue
        print(f"project {project}: webhook {gid}" if gid
              else f"project {project}: a registration is already in flight; try again")
    return 1 if failed else 0


def _delete(client: AsanaSyncClient, hooks: FirestoreHooks, workspace: str,
            webhook_gid: str) -> int:
    project = next((str(h["resource"]["gid"]) for h in client.webhooks(workspace)
                    if str(h.get("gid")) == webhook_gid and isinstance(h.get("resource"), dict)),
                   None)
    client.delete_webhook(webhook_gid)
    if project is not None:
        hooks.delete(project)
    print(f"deleted webhook {webhook_gid}" + (f" of project {project}" if project else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Operate the Asana webhooks of the two-way sync: ``python -m shared.sources.asana.webhooks_cli``.

``list`` shows this service's webhooks and the health of each (what reconciliation sees);
``register`` makes sure projects have one (by default the backlogs of the teams with
``sync_back: true``), ``--renew`` replaces it with a new one; ``delete`` removes one and
forgets its secret.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from shared.adapters import cli
from shared.adapters.secrets import SecretSource
from shared.core.errors import AlertBridgeError
from shared.core.observability import scrub_text
from shared.core.settings import load_settings
from shared.routing.teams import TeamsConfig
from shared.routing.teams_file import load_teams
from shared.sources.asana import health as asana_health
from shared.sources.asana import webhooks as asana_webhooks
from shared.sources.asana.hooks_store import FirestoreHooks
from shared.sources.asana.registration import Registered, Registrar, Workspaces, ours
from shared.sources.asana.sync_client import AsanaSyncClient
from shared.sources.asana.webhooks import Hook


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        config = load_teams(settings.teams_file, settings.default_team)
        source = SecretSource(os.environ, settings.project, settings.secret_prefix,
                              settings.secret_cache_ttl_seconds)
        client = AsanaSyncClient(settings.asana_api_url, source.get("ASANA_PAT")[0],
                                 max_attempts=settings.asana_max_attempts)
        hooks = FirestoreHooks(settings.project, settings.asana_webhook_collection,
                               settings.asana_hooks_database)
        workspaces = Workspaces(lambda: args.workspace or config.workspace_gid,
                                client.project_workspace)
        if args.command == "list":
            return _list(client, hooks, workspaces, settings.asana_webhook_target_url,
                         opted_in_projects(config))
        if args.command == "delete":
            return _delete(client, hooks, args.webhook)
        registrar = Registrar(hooks, client, settings.asana_webhook_target_url, workspaces,
                              lambda team: True, lambda: datetime.now(UTC))
        return _register(registrar, args.project or opted_in_projects(config), args.renew)
    except Exception as error:  # one line on stderr, not a traceback
        return cli.fail(error)


def opted_in_projects(config: TeamsConfig) -> list[str]:
    """Return the backlog projects of the teams that opted in to the two-way sync."""
    return [team.backlog_project_gid for team in config.teams if team.sync_back]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shared.sources.asana.webhooks_cli",
                                     description=__doc__)
    parser.add_argument("--workspace", help="workspace gid (default: teams.yaml's, else each "
                                            "project's own)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="this service's webhooks and their health")
    register = commands.add_parser("register", help="make sure projects have a webhook")
    register.add_argument("--project", action="append", default=[],
                          help="project gid (repeatable; default: opted-in teams' backlogs)")
    register.add_argument("--renew", action="store_true",
                          help="register a new webhook (new token and secret) even if one is "
                               "recorded, deleting the old one")
    delete = commands.add_parser("delete", help="delete a webhook and forget its secret")
    delete.add_argument("webhook", help="webhook gid (see list)")
    return parser


def _list(client: AsanaSyncClient, hooks: FirestoreHooks, workspaces: Workspaces,
          base_url: str | None, backlogs: list[str]) -> int:
    if not base_url:
        print("error: ASANA_WEBHOOK_TARGET_URL is not set: which webhooks are this "
              "service's is told by their target URL", file=sys.stderr)
        return 1
    known = {hook.project_gid: hook for hook in hooks.all()}
    projects = sorted(set(backlogs) | set(known))
    found: dict[str, list[Registered]] = {}
    for workspace in sorted({w for w in map(workspaces, projects) if w}):
        for webhook in ours(client.webhooks(workspace), base_url):
            found.setdefault(webhook.project_gid, []).append(webhook)
    now = datetime.now(UTC)
    for project in projects:
        hook = known.get(project)
        listed = found.get(project, [])
        verdict = asana_health.health(
            project, hook, [asana_health.Listed.of(w.gid, w.token, w.webhook) for w in listed],
            now)
        if not listed:
            print(f"-  project {project}  no webhook  health {verdict.health.value}"
                  f"{_heartbeat(hook)}")
        for webhook in listed:
            _print_webhook(webhook, hook, verdict)
    print(f"{sum(map(len, found.values()))} webhook(s) of this service on "
          f"{len(projects)} project(s)")
    return 0


def _print_webhook(webhook: Registered, hook: Hook | None, verdict: asana_health.Verdict) -> None:
    record = webhook.webhook
    current = hook is not None and asana_webhooks.token_matches(webhook.token, hook.token_hash)
    state = "active" if record.get("active") else "INACTIVE"
    secret = "secret stored" if current and hook is not None and hook.secret else "NO SECRET"
    health = verdict.health.value if current else "stale (not the project's current webhook)"
    name = (record.get("resource") or {}).get("name", "")
    print(f"{webhook.gid}  project {webhook.project_gid} ({name})  {state}  {secret}  "
          f"health {health}")
    print(f"    last success {record.get('last_success_at') or '-'}, last failure "
          f"{record.get('last_failure_at') or '-'}{_heartbeat(hook if current else None)}")
    if record.get("last_failure_content"):
        print(f"    last failure: {scrub_text(str(record['last_failure_content']))[:300]}")


def _heartbeat(hook: Hook | None) -> str:
    seen = hook.last_delivery_at.isoformat() if hook and hook.last_delivery_at else "-"
    return f", our last verified delivery {seen}"


def _register(registrar: Registrar, projects: list[str], renew: bool) -> int:
    if not projects:
        print("no project: no team has sync_back: true; pass --project")
        return 1
    failed = 0
    for project in projects:
        try:
            gid = registrar.ensure(project, renew=renew)
        except AlertBridgeError as error:
            print(f"project {project}: failed: {error}", file=sys.stderr)
            failed += 1
            continue
        print(f"project {project}: webhook {gid}" if gid
              else f"project {project}: a registration is already in flight; try again")
    return 1 if failed else 0


def _delete(client: AsanaSyncClient, hooks: FirestoreHooks, webhook_gid: str) -> int:
    client.delete_webhook(webhook_gid)
    project = next((h.project_gid for h in hooks.all() if h.webhook_gid == webhook_gid), None)
    if project is not None:
        hooks.delete(project)
    print(f"deleted webhook {webhook_gid}" + (f" of project {project}" if project else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

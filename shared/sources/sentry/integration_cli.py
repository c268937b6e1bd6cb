"""Print the Sentry integration's UI-component schema; --apply writes it to the integration.

    python -m shared.sources.sentry.integration_cli [--apply --app SLUG]

The schema adds "Create an Asana task" to Sentry's alert rules (docs/sentry-alert-rules.md).
--apply needs SENTRY_AUTH_TOKEN with the scope org:write (a user auth token of an organization
Manager or Owner) and uses SENTRY_API_URL; it keeps the integration's name and scopes, turns
Alert Rule Action on and replaces the schema. Exit status: 0 fine, 1 Sentry refused the update,
2 could not run (no token or slug, unknown integration, Sentry unreachable).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from shared.core.errors import AlertBridgeError
from shared.core.settings import DEFAULT_SENTRY_API_URL
from shared.sources.sentry.api import SentryApi, SentryRejected
from shared.sources.sentry.rule_schema import ACTION_PATH, schema


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    print(json.dumps(schema(), indent=2))
    if not args.apply:
        return 0
    token = os.environ.get("SENTRY_AUTH_TOKEN", "").strip()
    missing = [name for name, value in (("--app SLUG (or SENTRY_APP_SLUG)", args.app),
                                        ("SENTRY_AUTH_TOKEN", token)) if not value]
    if missing:
        print(f"error: --apply needs {', '.join(missing)}", file=sys.stderr)
        return 2
    api = SentryApi(os.environ.get("SENTRY_API_URL", "").strip() or DEFAULT_SENTRY_API_URL,
                        token)
    return _apply(api, args.app)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shared.sources.sentry.integration_cli",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--app", default=os.environ.get("SENTRY_APP_SLUG", "").strip() or None,
                        help="the internal integration's slug, as in its settings URL "
                             "(default: $SENTRY_APP_SLUG)")
    parser.add_argument("--apply", action="store_true",
                        help="write the schema through Sentry's custom-integration API")
    return parser


def _apply(api: SentryApi, slug: str) -> int:
    wanted = schema()
    try:
        app = api.app(slug)
        problem = webhook_problem(app.get("webhookUrl"))
        if problem:
            print(f"warning: {problem}", file=sys.stderr)
        if app.get("schema") == wanted and app.get("isAlertable"):
            print(f"integration '{slug}': schema already up to date")
            return 0
        api.update_app(slug, {"name": app.get("name"), "scopes": app.get("scopes") or [],
                              "isAlertable": True, "schema": wanted})
    except SentryRejected as error:
        if error.status in (401, 404):
            print(f"error: integration '{slug}': {error}", file=sys.stderr)
            return 2
        print(f"error: integration '{slug}': Sentry refused the update: {error}"
              + (" (the token needs org:write)" if error.status == 403 else ""), file=sys.stderr)
        return 1
    except AlertBridgeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    before = "replaced its schema" if app.get("schema") else "added the schema"
    turned_on = "" if app.get("isAlertable") else " and turned Alert Rule Action on"
    print(f"integration '{slug}': {before}{turned_on}; alert rules now offer "
          f"\"{wanted['elements'][0]['title']}\"")
    return 0


def webhook_problem(url: Any) -> str | None:
    """Say why Sentry's form requests would miss ingest with this webhook URL, if they would."""
    if not isinstance(url, str) or not url.strip():
        return "the integration has no webhook URL: Sentry sends alert rules nowhere"
    path = urlsplit(url).path
    if path not in ("", "/"):
        # Sentry keeps only the scheme and host of the webhook URL for a component's uri.
        host = urlsplit(url)
        return (f"Sentry sends the alert-rule form to {host.scheme}://{host.netloc}{ACTION_PATH}"
                f", not under {path}: use the webhook_url output (the function's own run.app "
                "URL), where every path reaches ingest")
    return None


if __name__ == "__main__":
    sys.exit(main())

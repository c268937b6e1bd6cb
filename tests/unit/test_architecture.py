"""The shape of shared/: the import contracts hold, the flows name no source, and a source added
to the table goes through ingest, the worker, link-back, two-way sync and reconciliation with no
change to any flow."""

from __future__ import annotations

import ast
import dataclasses
import hmac
import json
import re
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared.core import logs
from shared.core.alert import Action, Alert
from shared.core.envelope import PushMessage
from shared.core.errors import Permanent, Rejected, Unauthorized
from shared.core.ledger import Record, State, Step
from shared.core.links import LinkRequest, Sent
from shared.core.payload import clean_text, json_object
from shared.core.settings import SECRET_READERS, SETTINGS, Settings, load_settings
from shared.flows import sync_back
from shared.flows.ingest import IngestDeps, handle_webhook
from shared.flows.linkback import LinkBack
from shared.flows.reconcile import ReconcileDeps, reconcile
from shared.flows.worker import PortfolioCache, WorkerDeps, handle_push
from shared.routing.teams import CREATING_RESOURCES, DEFAULT_CREATE_TASKS_FROM
from shared.routing.teams_file import load_teams
from shared.sources import SOURCES
from shared.sources.base import (
    Accepted,
    IngestContext,
    Message,
    Source,
    Sources,
    Webhook,
    alert_attributes,
    json_payload,
)
from shared.sources.drift import Check, Publication, Reconciler, Run
from tests.fakes.ledger import MemoryLedger
from tests.fakes.tracker import MemoryTracker

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO / "shared"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CONFIG = load_teams(str(REPO / "teams.yaml"))
#: The modules that must not name a source: the flows, the wiring and the generic commands.
SOURCE_BLIND = [*sorted((SHARED / "flows").glob("*.py")), SHARED / "wiring.py",
                *sorted((SHARED / "cli").glob("*.py"))]
#: Alert sources: the registered ones (Asana, the task tracker, is named where tasks are) and
#: the slices issue 17 is building.
ALERT_SOURCES = {s.name for s in SOURCES if not s.task_changes} | {"cloudwatch", "azure"}


def test_the_import_contracts_hold() -> None:
    linter = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(linter), "--no-cache"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def _named_sources(path: Path) -> list[str]:
    """Return each identifier and string of a module (not its docstrings) that names a source."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                       ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    words: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and id(node) not in docstrings:
            words.append((node.lineno, node.value))
        elif isinstance(node, ast.Name):
            words.append((node.lineno, node.id))
        elif isinstance(node, ast.Attribute):
            words.append((node.lineno, node.attr))
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.arg, ast.alias)):
            name = node.arg if isinstance(node, ast.arg) else node.name
            words.append((getattr(node, "lineno", 0), name))
        elif isinstance(node, ast.ImportFrom) and node.module:
            words.append((node.lineno, node.module))
    pattern = re.compile("|".join(sorted(ALERT_SOURCES)), re.IGNORECASE)
    return [f"{path.name}:{line}: {word!r}" for line, word in words if pattern.search(word)]


@pytest.mark.parametrize("path", SOURCE_BLIND, ids=[p.name for p in SOURCE_BLIND])
def test_the_flows_name_no_source(path: Path) -> None:
    assert _named_sources(path) == []


def test_the_check_itself_finds_a_source_name(tmp_path: Path) -> None:
    module = tmp_path / "flow.py"
    module.write_text('"""Sentry in a docstring is fine."""\n# so is Datadog in a comment\n'
                      'def f(source):\n    return source == "sentry"\n')
    assert [hit.rsplit(": ", 1)[1] for hit in _named_sources(module)] == ["'sentry'"]


# --- the table and what the rest of the code knows of it -------------------------------------

def test_every_resource_a_source_publishes_is_one_teams_yaml_knows() -> None:
    # teams.yaml's create_tasks_from is routing's vocabulary (routing sits below the sources):
    # a new source adds its resources there, and this test says so.
    for source in SOURCES:
        if source.parse is not None:
            assert set(source.resources) <= set(CREATING_RESOURCES), source.name
    assert set(DEFAULT_CREATE_TASKS_FROM) <= set(CREATING_RESOURCES)


def test_ingest_reads_exactly_the_credentials_the_sources_declare() -> None:
    declared = {name for source in SOURCES for name in source.credentials}
    assert declared == set(SECRET_READERS["ingest"])


def test_what_the_table_names_of_settings_exists() -> None:
    variables = {setting.name for setting in SETTINGS}
    for source in SOURCES:
        named = set(re.findall(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b", source.reconcile_settings))
        assert named <= variables, source.name
    assert {s.source for s in SETTINGS if s.source} <= set(SOURCES.names())


# --- a source added to the table: every flow takes it as it is ------------------------------

SECRET = "echo-secret"


def _echo_sign(body: bytes) -> str:
    return hmac.new(SECRET.encode(), body, "sha256").hexdigest()


def _claims(hook: Webhook) -> bool:
    return "x-echo-signature" in hook.headers


def _accept(hook: Webhook, context: IngestContext) -> Accepted:
    given = hook.headers.get("x-echo-signature", "")
    if not any(hmac.compare_digest(given, hmac.new(s.encode(), hook.body, "sha256").hexdigest())
               for s in context.secret("ECHO_SECRET")):
        raise Unauthorized("echo signature wrong: checked against ECHO_SECRET")
    payload = json_payload(hook.body)
    key = f"echo:{clean_text(payload.get('id'))}" if clean_text(payload.get("id")) else None
    return Accepted((Message(hook.body, alert_attributes(
        hook, context.now(), source="echo", resource="echo", action=payload.get("state"),
        key=key, unit="echo webhook", key_fields="id")),))


def _parse(body: bytes, attributes: Mapping[str, str]) -> Alert:
    payload = json_object(body)
    if not payload.get("id"):
        raise Rejected("echo webhook: id missing", reason="malformed")
    return Alert(source="echo", resource="echo", key=f"echo:{payload['id']}",
                 action=Action.RESOLVED if payload.get("state") == "ok" else Action.TRIGGERED,
                 title=str(payload.get("title")), external_id=str(payload["id"]),
                 level="error")


def _link(alert: Alert, task_gid: str, url: str, team: str) -> LinkRequest:
    return LinkRequest("echo", "POST", f"/alerts/{alert.external_id}/links", {"url": url})


def _sync(record: Record, step: Step, task_gid: str, settings: Settings) -> LinkRequest:
    return LinkRequest("echo", "PUT", f"/alerts/{record.external_id}",
                       {"state": "closed" if step is Step.RESOLVE else "open"})


def _plan(run: Run) -> Check:
    body = json.dumps({"id": "99", "title": "lost echo", "state": "alert"}).encode()
    return Check(planned=[Publication("echo", "echo", "alert", "echo:99", "missing", body)])


ECHO = Source(name="echo", claims=_claims, accept=_accept, claim_header="X-Echo-Signature",
              credentials=("ECHO_SECRET",), resources=("echo",), parse=_parse,
              link_request=_link, sync_request=_sync,
              reconciler=lambda build, parts: Reconciler("echo", plan=_plan))
TABLE = Sources(*SOURCES, ECHO)
ECHO_CONFIG = dataclasses.replace(CONFIG, create_tasks_from=(*CONFIG.create_tasks_from, "echo"))


class Recorder:
    """A link sender that keeps what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[LinkRequest] = []

    def send(self, request: LinkRequest) -> Sent:
        self.sent.append(request)
        return Sent(NOW)


def _ingest(body: bytes, headers: Mapping[str, str]) -> tuple[int, list[tuple[bytes, Any]]]:
    published: list[tuple[bytes, Any]] = []

    def publish(data: bytes, attributes: Mapping[str, str]) -> str:
        published.append((data, dict(attributes)))
        return str(len(published))

    deps = IngestDeps(secret=lambda name: (SECRET,), publish=publish, now=lambda: NOW,
                      max_body_bytes=4096, sources=TABLE)
    answer = handle_webhook(Webhook("POST", headers, body, "req-echo"), deps)
    return answer.status, published


def test_a_new_source_goes_through_ingest_the_worker_and_link_back() -> None:
    body = json.dumps({"id": "7", "title": "Echo down", "state": "alert"}).encode()
    assert _ingest(body, {"x-echo-signature": "forged"})[0] == 401
    status, published = _ingest(body, {"x-echo-signature": _echo_sign(body)})
    assert status == 202
    [(data, attributes)] = published
    assert (attributes["source"], attributes["alert_key"]) == ("echo", "echo:7")

    tracker, ledger, links = MemoryTracker(), MemoryLedger(), Recorder()
    deps = WorkerDeps(config=lambda: ECHO_CONFIG, environment="prod", tracker=tracker,
                      ledger=ledger, portfolios=PortfolioCache(tracker.portfolio_items),
                      dead_letter=lambda data, attributes: "dead", now=lambda: NOW,
                      link_back=LinkBack({"echo": links}, TABLE), wait_seconds=0,
                      sources=TABLE)
    # Isolated as in the worker's entry point: the bound request id ends with the message.
    outcome = logs.isolated(handle_push, PushMessage("m-1", data, attributes), deps)
    assert (outcome.status, outcome.body["step"]) == (200, "create")
    [task] = tracker.tasks.values()
    assert "Echo down" in task.name
    record, _ = ledger.get("echo:7")
    assert record is not None and record.state is State.OPEN and record.source == "echo"
    assert [(r.service, r.path) for r in links.sent] == [("echo", "/alerts/7/links")]
    assert _ingest(body, {})[0] == 401  # unclaimed: "no ... or X-Echo-Signature header"


def test_a_new_source_is_told_of_a_completed_task_and_reconciled() -> None:
    record = Record(key="echo:7", state=State.OPEN, updated_at=NOW, created_at=NOW,
                    expires_at=NOW.replace(year=2027), task_gid="42", team="Payments",
                    project_gid="1", source="echo", external_id="7")
    ledger, sender = MemoryLedger(), Recorder()
    ledger.create(record)

    class Asana:
        def me(self) -> str:
            return "1"

        def task_state(self, task_gid: str) -> dict[str, Any]:
            return {"completed": True, "completed_by": {"gid": "2"},
                    "modified_at": NOW.isoformat()}

    deps = sync_back.SyncDeps(asana=Asana(), find_by_task=lambda gid: record, ledger=ledger,
                              senders={"echo": sender},
                              settings=load_settings({"GOOGLE_CLOUD_PROJECT": "p"}),
                              now=lambda: NOW, opted_in=lambda team: True, sources=TABLE)
    message = PushMessage("m-2", b'{"events": []}', {"source": "asana", "task_gid": "42",
                                                      "received_at": NOW.isoformat()})
    assert sync_back.process(message, deps).step is Step.RESOLVE
    assert sender.sent == [LinkRequest("echo", "PUT", "/alerts/7", {"state": "closed"})]

    topic: list[Mapping[str, str]] = []

    class Ledger:
        def by_keys(self, keys: Any) -> dict[str, Any]:
            return {}

        def by_external_id(self, source: str, external_id: str) -> list[Any]:
            return []

        def page(self, prefix: str, after: str | None, limit: int) -> list[Any]:
            return []

    [echo] = [s for s in TABLE if s.name == "echo"]
    assert echo.reconciler is not None
    reconciler = echo.reconciler(None, None)  # type: ignore[arg-type]  # builds nothing
    assert reconciler is not None
    run = ReconcileDeps(ledger=Ledger(), publish=lambda data, a: topic.append(a) or "1",
                        now=lambda: NOW, lookback_minutes=60, grace_minutes=5,
                        reconcilers=[reconciler])
    assert reconcile(run, "run-1").counts()["echo_missing"] == 1
    assert [a["alert_key"] for a in topic] == ["echo:99"]


def test_a_message_of_an_unknown_source_names_the_registered_ones() -> None:
    with pytest.raises(Permanent, match="expected 'sentry' or .*'datadog' or 'echo'"):
        TABLE.parse_alert(b"{}", {"source": "nope"})


def test_every_source_folder_is_held_by_the_contracts() -> None:
    # A new source's folder is listed in .importlinter, or nothing checks its independence.
    folders = {p.name for p in (SHARED / "sources").iterdir() if (p / "__init__.py").is_file()}
    contracts = (REPO / ".importlinter").read_text(encoding="utf-8")
    for folder in sorted(folders):
        assert contracts.count(f"shared.sources.{folder}\n") == 2, folder


def test_ingest_imports_only_what_a_webhook_needs() -> None:
    # Cold start: the table is imported on every ingest instance, so each source's registration
    # stays light and imports its parsers, API clients and verification libraries when called.
    # (The google and google.cloud namespaces are set up by .pth files at interpreter start.)
    script = ("import sys; before = set(sys.modules); import shared.flows.ingest; "
              "print(' '.join(sorted(m for m in set(sys.modules) - before if "
              "m.split('.')[0] in ('cryptography', 'jwt', 'requests', 'google', 'yaml') or "
              "m.startswith(('shared.routing', 'shared.sources.sentry.parse', "
              "'shared.sources.asana.webhooks', 'shared.core.alert', 'shared.core.ledger')))))")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, ""), done.stderr

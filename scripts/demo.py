"""`make demo`: start the local stack against a fake Asana that knows teams.yaml's boards, send
the samples in story order, print what became of each, and stop everything."""

from __future__ import annotations

import json
import shutil
import sys
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from scripts import localstack, preflight
from scripts.send_sample import publish_incident, sample_body, sample_url, signed_headers
from shared.routing.teams_file import load_teams
from tests.fakes.asana_server import FakeAsana, seed_teams

#: (step, sample): one Sentry issue opened, firing again, resolved and regressed; then one
#: Datadog alert cycle; then one Azure Monitor alert fired and resolved, an Alertmanager group
#: of two alerts (the demo follows the first) and its resolve, a Grafana alert and its resolve,
#: one Cloud Monitoring incident opened and closed through the pubsub channel, one CloudWatch
#: alarm (through SNS) firing, losing its data and back to OK; then an alert whose Sentry alert
#: rule says where its task goes.
STORY: tuple[tuple[str, str], ...] = (
    ("open", "sentry"), ("recur", "sentry-again"), ("resolve", "sentry-resolved"),
    ("regress", "sentry-regressed"), ("trigger", "datadog"),
    ("recover", "datadog-recovered"),
    ("fire", "azure"), ("clear", "azure-resolved"),
    ("fire", "alertmanager"), ("resolve", "alertmanager-resolved"),
    ("fire", "grafana"), ("resolve", "grafana-resolved"),
    ("incident", "gcm-pubsub"), ("closed", "gcm-pubsub-closed"),
    ("alarm", "cloudwatch"), ("no data", "cloudwatch-insufficient-data"),
    ("ok", "cloudwatch-ok"),
    ("rule", "sentry-rule"))
#: The Asana users the rule sample names as assignee and follower.
RULE_PEOPLE = (("9101", "Ana Silva", "ana.silva@example.com"),
               ("9102", "Li Wei", "li.wei@example.com"))
TOKEN = "demo-asana-token"
WAIT_SECONDS = 30.0
DONE_STEPS = {"count", "skip"}  # decisions that change nothing in Asana
NAME_CHARS = 44


@dataclass(frozen=True)
class Row:
    """What became of one sample."""

    step: str
    sample: str
    task: str
    team: str
    board: str
    did: str


def worker_events(lines: Sequence[str]) -> list[dict[str, Any]]:
    """Return the JSON log entries among a worker log's lines."""
    entries = []
    for line in lines:
        if line.startswith("{"):
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return entries


def outcome(entries: Sequence[Mapping[str, Any]], message_id: str) -> dict[str, Any] | None:
    """Return what the worker did with ``message_id``: its last decision and the event that
    completed it, or None while it is still at work."""
    decided = [i for i, e in enumerate(entries)
               if e.get("event") == "decision" and e.get("message_id") == message_id]
    if not decided:
        return None
    decision = entries[decided[-1]]
    later = entries[decided[-1] + 1:]
    for entry in later:
        if entry.get("message_id") == message_id and entry.get("event") in ("retry",):
            return None  # Pub/Sub redelivers it: wait for the next decision
        if entry.get("message_id") == message_id and entry.get("event") == "dead_lettered":
            return {"decision": decision, "effect": entry}
        if (str(entry.get("event", "")).startswith("task_")
                and entry.get("alert_key") == decision.get("alert_key")):
            return {"decision": decision, "effect": entry}
    if decision.get("step") in DONE_STEPS:
        return {"decision": decision, "effect": {}}
    return None


def describe(step: str, sample: str, found: Mapping[str, Any] | None,
             boards: dict[str, tuple[str, str, str]], asana: FakeAsana) -> Row:
    """Turn the worker's log entries for one sample into a table row."""
    if found is None:
        return Row(step, sample, "-", "-", "-", f"no answer within {WAIT_SECONDS:.0f} s")
    decision, effect = found["decision"], found["effect"]
    key = decision.get("alert_key", "")
    if effect.get("event") == "task_created":
        created = asana.tasks.get(str(effect["task_gid"]), {})
        project = asana.projects.get(str(effect.get("project")), {})
        boards[key] = (_short(created.get("name", effect["task_gid"])), effect.get("team", "-"),
                       f"{project.get('name', effect.get('project'))} ({effect.get('board')})")
    task, team, board = boards.get(key, ("-", "-", "-"))
    if effect.get("event") == "dead_lettered":
        return Row(step, sample, task, team, board, f"dead-lettered: {effect.get('reason')}")
    what = str(decision.get("message", ""))
    why = what[what.find(" (") + 2:-1] if " (" in what else ""
    return Row(step, sample, task, team, board, f"{decision.get('step')}: {why}")


def _short(text: str) -> str:
    return text if len(text) <= NAME_CHARS else text[:NAME_CHARS - 1] + "…"


def table(rows: Sequence[Row]) -> str:
    """Render rows as an aligned plain-text table."""
    header = Row("step", "sample", "task", "team", "board", "what the worker did")
    cells = [list(vars(row).values()) for row in (header, *rows)]
    widths = [max(len(str(line[i])) for line in cells) for i in range(len(cells[0]))]
    return "\n".join("  ".join(str(v).ljust(w) for v, w in zip(line, widths, strict=True)).rstrip()
                     for line in cells)


def send(url: str, sample: str, env: Mapping[str, str]) -> str:
    """Post one signed sample to ingest, or publish a Cloud Monitoring incident as Google does;
    return the Pub/Sub message id."""
    body = sample_body(sample)
    if sample.startswith("gcm-pubsub"):
        return publish_incident(body, env)
    request = urllib.request.Request(sample_url(sample, url, env), data=body, method="POST",
                                     headers=signed_headers(sample, body, env))
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.loads(response.read())["id"])


def wait_for(log: Path, message_id: str) -> dict[str, Any] | None:
    """Wait until the worker's log says what it did with ``message_id``."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = outcome(worker_events(log.read_text(errors="replace").splitlines()), message_id)
        if found is not None:
            return found
        time.sleep(0.1)
    return None


def main() -> int:
    """Run the demo; return the exit status."""
    localstack.handle_interrupts()
    env = localstack.local_env()
    directory = localstack.run_dir(env) / "demo"
    ports = {name: localstack.free_port() for name in preflight.PORTS}
    env.update({"ENVIRONMENT": "dev", "DRY_RUN_FILE": str(directory / "asana-dry-run.jsonl"),
                **{key: str(ports[name]) for name, (key, _) in preflight.PORTS.items()}})

    def with_fake_asana() -> int:
        with FakeAsana(token=TOKEN) as asana:
            env.update({"ASANA_PAT": TOKEN, "ASANA_API_URL": asana.url})
            return _demo(env, directory, asana)

    return localstack.supervise("make demo", directory, with_fake_asana)


def _demo(env: dict[str, str], directory: Path, asana: FakeAsana) -> int:
    plan, problems = preflight.check(env, repo=localstack.REPO, sdk_root=localstack.sdk_root(),
                                     which=shutil.which, port_busy=localstack.port_in_use)
    if plan is None:
        for problem in problems:
            print(f"make demo: {problem}", file=sys.stderr)
        return 1
    teams_file = Path(plan.settings.teams_file)
    config = load_teams(str(localstack.REPO / teams_file))
    seed_teams(asana, config, date.today())
    if config.workspace_gid:
        asana.add_workspace(config.workspace_gid, "Acme")
        for gid, name, email in RULE_PEOPLE:
            asana.add_user(gid, name, email, [config.workspace_gid])
    topology = localstack.Topology(plan.settings.project, plan.settings.events_topic,
                                   plan.settings.dead_letter_topic,
                                   plan.settings.events_topic + "-push",
                                   plan.settings.dead_letter_topic + "-pull")
    log_dir = directory / "logs"
    print(f"starting the local stack (ENVIRONMENT=dev, fake Asana at {asana.url}, "
          f"logs in {log_dir})…", flush=True)
    try:
        stack = localstack.start_stack(env=env, ports=plan.ports, log_dir=log_dir,
                                       topology=topology)
    except Exception as error:  # one line: the log file it names holds the rest
        print(f"make demo: start-up failed: {str(error).splitlines()[0]}", file=sys.stderr)
        return 1
    try:
        rows = _tell(stack.url("ingest") + "/", stack.env, log_dir / "worker.log", asana)
    except (OSError, urllib.error.URLError) as error:
        print(f"make demo: sending a sample failed: {error}", file=sys.stderr)
        return 1
    finally:
        stack.stop()
    print(table(rows))
    for line in rule_routing(rows, asana):
        print(line)
    print(f"{len(asana.tasks)} tasks created in the fake Asana; every process is stopped.")
    return 0 if all(not row.did.startswith(("no answer", "dead-lettered")) for row in rows) else 1


def routing_note(html_notes: str) -> list[str]:
    """Return the items of a task's "Routing" section (its rich-text notes)."""
    children = list(ET.fromstring(html_notes)) if html_notes else []
    for heading, section in zip(children, children[1:], strict=False):
        if heading.tag == "h2" and heading.text == "Routing":
            return ["".join(item.itertext()) for item in section.iter("li")]
    return []


def rule_routing(rows: Sequence[Row], asana: FakeAsana) -> list[str]:
    """Say how the rule sample's task was routed: its alert rule's settings, from its note."""
    title = json.loads(sample_body("sentry-rule"))["data"]["event"]["title"]
    found = [t for t in asana.tasks.values() if str(t.get("name", "")).endswith(title)]
    if not any(row.step == "rule" for row in rows) or not found:
        return []
    return ["", "The \"rule\" alert's Sentry alert rule chose its team and priority; its task's "
            "routing note:", *(f"  - {line}" for line in routing_note(found[0]["html_notes"])), ""]


def _tell(url: str, env: Mapping[str, str], worker_log: Path, asana: FakeAsana) -> list[Row]:
    boards: dict[str, tuple[str, str, str]] = {}
    rows = []
    for step, sample in STORY:
        message_id = send(url, sample, env)
        rows.append(describe(step, sample, wait_for(worker_log, message_id), boards, asana))
        print(f"  {step:<8} {sample:<18} {rows[-1].did}", flush=True)
    return rows


if __name__ == "__main__":
    sys.exit(main())

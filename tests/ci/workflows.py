"""Load the GitHub Actions workflows as plain data, for the workflow tests."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"

# `uses: owner/repo[/path]@ref  # comment`, as written on one line of a workflow file.
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>[^\s#]+)\s*(?P<comment>#.*)?$")


@dataclass(frozen=True)
class Workflow:
    """One workflow file: its name, raw text and parsed YAML."""

    name: str
    text: str
    data: dict[Any, Any]

    @property
    def jobs(self) -> dict[str, dict[str, Any]]:
        """Return the jobs by id."""
        return self.data["jobs"]

    def steps(self, job: str) -> list[dict[str, Any]]:
        """Return the steps of one job (none for a reusable-workflow call)."""
        return self.jobs[job].get("steps", [])


def load_workflows() -> list[Workflow]:
    """Parse every workflow file under .github/workflows."""
    return [Workflow(path.name, path.read_text(), yaml.safe_load(path.read_text()))
            for path in sorted(WORKFLOWS.glob("*.yml"))]


def workflow(name: str) -> Workflow:
    """Return one workflow by file name."""
    return next(w for w in load_workflows() if w.name == name)


def uses_lines(text: str) -> list[tuple[int, str, str]]:
    """Return (line number, reference, comment) of every `uses:` line."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = USES_LINE.match(line)
        if match:
            found.append((number, match["ref"], (match["comment"] or "").lstrip("# ").strip()))
    return found


def parsed_uses(wf: Workflow) -> list[str]:
    """Return every `uses:` value the YAML holds: job-level calls and steps."""
    refs = []
    for job in wf.jobs.values():
        if "uses" in job:
            refs.append(job["uses"])
        refs.extend(step["uses"] for step in job.get("steps", []) if "uses" in step)
    return refs


def action(step: dict[str, Any]) -> str:
    """Return the owner/repo of a step's action, without its ref ('' for a run step)."""
    return str(step.get("uses", "")).split("@", 1)[0]


def step_index(steps: list[dict[str, Any]], predicate: Callable[[dict[str, Any]], bool]) -> int:
    """Return the index of the first step matching ``predicate``; fail if none does."""
    for index, step in enumerate(steps):
        if predicate(step):
            return index
    raise AssertionError("no step matches")

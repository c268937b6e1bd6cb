"""The CI apply identity's roles (terraform/ci/apply-roles.txt) cover every resource type of
the module, and its Project IAM Admin grant allows exactly the roles the module grants."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest

from tests.ci.workflows import ROOT
from tests.terraform.tfmodel import Module, load_module

ROLES_FILE = ROOT / "terraform" / "ci" / "apply-roles.txt"
LINE = re.compile(
    r"^(?P<head>roles/[A-Za-z0-9.]+|none|grantable)\s+(?P<items>\S+)\s+--\s+(?P<why>\S.*)$")
# Broad basic roles are what this file replaces.
BASIC = {"roles/owner", "roles/editor", "roles/viewer"}


@dataclass(frozen=True)
class RoleLine:
    """One line of the roles file: a role (or none/grantable), its items and the reason."""

    head: str
    items: tuple[str, ...]
    why: str


def parse_roles(text: str) -> list[RoleLine]:
    """Parse the roles file; fail on a line that is neither a comment nor a role line."""
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        match = LINE.match(raw)
        assert match, f"apply-roles.txt:{number}: expected 'ROLE TYPE[,TYPE...] -- why'"
        lines.append(RoleLine(match["head"], tuple(match["items"].split(",")), match["why"]))
    return lines


ROLES = parse_roles(ROLES_FILE.read_text())
MODULE = load_module()


def module_types(module: Module) -> set[str]:
    """Return the module's resource types and its data sources as data.TYPE."""
    return ({address.split(".")[0] for address in module.resources}
            | {"data." + address.split(".")[0] for address in module.data})


def covered_types(lines: list[RoleLine]) -> set[str]:
    """Return every type some role (or the 'none' line) accounts for."""
    return {item for line in lines if line.head != "grantable" for item in line.items}


def project_roles_granted(module: Module) -> set[str]:
    """Return the roles the module's google_project_iam_member resources grant."""
    granted: set[str] = set()
    for name, body in module.resources_of("google_project_iam_member").items():
        role: Any = body.get("role")
        if isinstance(role, str) and role.startswith("roles/"):
            granted.add(role)
        elif role == "${each.value}" and "roles/" in str(body.get("for_each")):
            granted.update(re.findall(r"roles/[A-Za-z0-9.]+", str(body["for_each"])))
        else:
            raise AssertionError(f"google_project_iam_member.{name}: role {role!r} not literal")
    return granted


def test_every_resource_type_of_the_module_has_a_role():
    missing = module_types(MODULE) - covered_types(ROLES)
    assert missing == set(), f"add a line to {ROLES_FILE.name} for {sorted(missing)}"


def test_a_new_resource_type_without_a_role_fails():
    module = Module(resources={"google_compute_instance.vm": {}}, data={})
    assert module_types(module) - covered_types(ROLES) == {"google_compute_instance"}


def test_roles_are_predefined_listed_once_and_not_basic():
    roles = [line.head for line in ROLES if line.head.startswith("roles/")]
    assert len(roles) == len(set(roles))
    assert set(roles) & BASIC == set()


@pytest.mark.parametrize("line", ROLES, ids=[line.head for line in ROLES])
def test_every_line_says_why(line):
    assert len(line.why.split()) >= 3


def test_project_iam_admin_may_grant_exactly_the_module_s_roles():
    grantable = [line for line in ROLES if line.head == "grantable"]
    assert len(grantable) == 1
    assert set(grantable[0].items) == project_roles_granted(MODULE)


def deploy_from_actions_page() -> str:
    """Return docs/github-actions.md, the guide to deploying from GitHub Actions."""
    return (ROOT / "docs" / "github-actions.md").read_text()


def test_the_guide_shows_the_file_s_roles_and_grants_no_owner():
    section = deploy_from_actions_page()
    shown = section.split("```text\n", 1)[1].split("```", 1)[0].splitlines()
    assert shown == [line for line in ROLES_FILE.read_text().splitlines()
                     if line.strip() and not line.startswith("#")]
    assert "ROLES=terraform/ci/apply-roles.txt" in section
    assert "roles/owner" not in section

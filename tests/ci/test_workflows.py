"""The GitHub Actions workflows: pinned actions, no expressions in shell, least permissions,
and an apply job that applies exactly the plan its reviewer approved."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.ci.workflows import (
    ROOT,
    action,
    load_workflows,
    parsed_uses,
    step_index,
    uses_lines,
    workflow,
)

WORKFLOWS = load_workflows()
IDS = [w.name for w in WORKFLOWS]
PINNED = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")
VERSION = re.compile(r"^v\d+\.\d+\.\d+$")
# Reusable workflows of this repository: resolved at the running commit, nothing to pin.
SELF = ("./", "$/")


def all_steps() -> list[tuple[str, str, dict[str, Any]]]:
    """Return (workflow, job, step) for every step of every workflow."""
    return [(w.name, job, step) for w in WORKFLOWS for job in w.jobs for step in w.steps(job)]


@pytest.mark.parametrize("wf", WORKFLOWS, ids=IDS)
def test_every_action_is_pinned_to_a_commit_with_its_version(wf):
    for number, ref, comment in uses_lines(wf.text):
        if ref.startswith(SELF):
            continue
        assert PINNED.match(ref), f"{wf.name}:{number}: {ref} is not pinned to a full commit SHA"
        assert VERSION.match(comment), f"{wf.name}:{number}: {ref} needs a '# vX.Y.Z' comment"


@pytest.mark.parametrize("wf", WORKFLOWS, ids=IDS)
def test_the_line_scan_sees_every_uses(wf):
    assert sorted(ref for _, ref, _ in uses_lines(wf.text)) == sorted(parsed_uses(wf))


def test_each_action_has_one_pin_across_workflows():
    pins: dict[str, set[tuple[str, str]]] = {}
    for wf in WORKFLOWS:
        for _, ref, comment in uses_lines(wf.text):
            if not ref.startswith(SELF):
                name, sha = ref.split("@", 1)
                pins.setdefault(name, set()).add((sha, comment))
    assert {name: shas for name, shas in pins.items() if len(shas) > 1} == {}


@pytest.mark.parametrize("wf", WORKFLOWS, ids=IDS)
def test_no_expression_is_expanded_into_a_script(wf):
    for job in wf.jobs:
        for step in wf.steps(job):
            script = step.get("run") or step.get("with", {}).get("script") or ""
            assert "${{" not in script, (
                f"{wf.name} job {job}: pass the value through env: and use \"$VAR\" instead")


@pytest.mark.parametrize("wf", WORKFLOWS, ids=IDS)
def test_checkouts_do_not_persist_credentials(wf):
    checkouts = [step for job in wf.jobs for step in wf.steps(job)
                 if action(step) == "actions/checkout"]
    for step in checkouts:
        assert step.get("with", {}).get("persist-credentials") is False, wf.name


@pytest.mark.parametrize("wf", WORKFLOWS, ids=IDS)
def test_permissions_are_granted_per_job(wf):
    assert wf.data.get("permissions") == {}, f"{wf.name}: top-level permissions must be {{}}"
    for name, job in wf.jobs.items():
        permissions = job.get("permissions")
        assert isinstance(permissions, dict), f"{wf.name} job {name}: no permissions block"
        assert set(permissions.values()) <= {"read", "write", "none"}, name


@pytest.mark.parametrize("wf", WORKFLOWS, ids=IDS)
def test_only_jobs_that_sign_in_to_google_mint_oidc_tokens(wf):
    for name, job in wf.jobs.items():
        if job["permissions"].get("id-token") != "write":
            continue
        signs_in = any(action(s) == "google-github-actions/auth" for s in wf.steps(name))
        assert signs_in or "uses" in job, f"{wf.name} job {name}: id-token: write unused"


@pytest.mark.parametrize("wf", WORKFLOWS, ids=IDS)
def test_every_accepted_zizmor_finding_says_why(wf):
    for number, line in enumerate(wf.text.splitlines(), start=1):
        match = re.search(r"#\s*zizmor:\s*ignore\[[^\]]*\](.*)", line)
        if match:
            assert len(match[1].strip()) >= 10, f"{wf.name}:{number}: ignore without a reason"


# --- plan, approve, apply ----------------------------------------------------------------

APPLY = workflow("terraform-apply.yml")


def runs(steps: list[dict[str, Any]], command: str) -> int:
    """Return the index of the first run step whose script contains ``command``."""
    return step_index(steps, lambda step: command in step.get("run", ""))


def uses(steps: list[dict[str, Any]], name: str) -> int:
    """Return the index of the first step using action ``name``."""
    return step_index(steps, lambda step: action(step) == name)


def test_the_plan_is_made_outside_the_protected_environment():
    plan = APPLY.jobs["plan"]
    assert "environment" not in plan
    assert "-out=tfplan" in APPLY.steps("plan")[runs(APPLY.steps("plan"), "terraform plan")]["run"]


def test_a_plan_without_changes_asks_nobody_to_approve():
    plan = APPLY.steps("plan")[runs(APPLY.steps("plan"), "terraform plan")]
    assert "-detailed-exitcode" in plan["run"]
    # 0 and 2 are the two successful exit codes; any other fails the job.
    assert '0) echo "changes=false"' in plan["run"] and '2) echo "changes=true"' in plan["run"]
    assert '*) exit "$code"' in plan["run"]
    output = f"${{{{ steps.{plan['id']}.outputs.changes }}}}"
    assert APPLY.jobs["plan"]["outputs"]["changes"] == output
    assert APPLY.jobs["apply"]["if"] == "needs.plan.outputs.changes == 'true'"


def test_the_approved_job_applies_the_planned_file():
    apply = APPLY.jobs["apply"]
    steps = APPLY.steps("apply")
    assert apply["needs"] == "plan"
    assert apply["environment"] == "${{ inputs.environment }}"
    assert steps[runs(steps, "terraform apply")]["run"].split() == ["terraform", "apply", "tfplan"]
    # The plan's lock file must be in place before init installs the providers.
    assert uses(steps, "actions/download-artifact") < runs(steps, "terraform init") \
        < runs(steps, "terraform apply")


def test_the_artifact_carries_plan_lock_file_and_function_archives():
    upload = APPLY.steps("plan")[uses(APPLY.steps("plan"), "actions/upload-artifact")]["with"]
    download = APPLY.steps("apply")[uses(APPLY.steps("apply"), "actions/download-artifact")]
    assert upload["path"].split() == [
        "terraform/tfplan", "terraform/.terraform.lock.hcl", "terraform/.terraform/build/"]
    # upload-artifact skips hidden files (.terraform*) unless told otherwise.
    assert upload["include-hidden-files"] is True
    assert upload["if-no-files-found"] == "error"
    assert upload["retention-days"] == 1
    assert download["with"] == {"name": upload["name"], "path": "terraform"}


def test_the_archives_land_where_the_module_writes_them():
    functions_tf = (ROOT / "terraform" / "functions.tf").read_text()
    assert 'output_path = "${path.module}/.terraform/build/' in functions_tf


@pytest.mark.parametrize("job", ["plan", "apply"])
def test_plan_and_apply_use_one_commit_and_one_terraform(job):
    steps = APPLY.steps(job)
    assert steps[uses(steps, "actions/checkout")]["with"]["ref"] == "${{ github.sha }}"
    setup = steps[uses(steps, "hashicorp/setup-terraform")]["with"]
    assert setup["terraform_version"] == "${{ env.TERRAFORM_VERSION }}"
    assert APPLY.data["env"]["TERRAFORM_VERSION"]


def test_the_reviewer_sees_the_plan_in_the_job_summary():
    script = APPLY.steps("plan")[runs(APPLY.steps("plan"), "terraform show")]["run"]
    assert "terraform show -no-color tfplan" in script
    assert '>> "$GITHUB_STEP_SUMMARY"' in script


def test_the_apply_job_has_gcloud_signed_in_as_the_apply_identity():
    steps = APPLY.steps("apply")
    auth = steps[uses(steps, "google-github-actions/auth")]["with"]
    assert auth["service_account"] == "${{ vars.GCP_APPLY_SA }}"
    assert uses(steps, "google-github-actions/auth") \
        < uses(steps, "google-github-actions/setup-gcloud") < runs(steps, "terraform apply")


def test_main_applies_dev_then_prod_through_the_plan_then_apply_workflow():
    jobs = workflow("terraform.yml").jobs
    assert jobs["apply-dev"]["uses"].endswith("/.github/workflows/terraform-apply.yml")
    assert jobs["apply-prod"]["uses"] == jobs["apply-dev"]["uses"]
    assert jobs["apply-prod"]["needs"] == "apply-dev"
    assert [jobs[j]["with"]["environment"] for j in ("apply-dev", "apply-prod")] == ["dev", "prod"]


# --- the test workflow --------------------------------------------------------------------

TEST = workflow("test.yml")


def test_ci_validates_terraform_against_the_real_providers():
    job = next(name for name in TEST.jobs if any(
        "terraform validate" in step.get("run", "") for step in TEST.steps(name)))
    steps = TEST.steps(job)
    assert steps[runs(steps, "terraform init")]["run"].split() == [
        "terraform", "init", "-backend=false"]
    assert runs(steps, "terraform init") < runs(steps, "terraform validate")
    assert TEST.jobs[job]["defaults"]["run"]["working-directory"] == "terraform"


def test_ci_runs_make_test_with_the_audit_tools_cached():
    steps = TEST.steps("test")
    assert steps[runs(steps, "make test")]["run"] == "make test"
    cached = steps[uses(steps, "actions/cache")]["with"]
    assert ".venv-zizmor" in cached["path"].split()
    assert "scripts/check-workflows.sh" in cached["key"]


def test_make_test_runs_the_workflow_audit():
    makefile = (ROOT / "Makefile").read_text()
    target = re.search(r"^test:([^#\n]*)", makefile, re.MULTILINE)
    assert target and "check-workflows" in target[1].split()

#!/usr/bin/env bash
# GitHub Actions security audit: zizmor over .github/workflows (offline), then the workflow
# tests (tests/ci: pinned actions, no expressions in shell, plan-then-apply, the apply role
# set). Installs zizmor into .venv-zizmor on first use; needs .venv (pytest, PyYAML).
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/tools.sh
ZIZMOR_VERSION=1.32.0

step "zizmor $ZIZMOR_VERSION (offline, auditor persona, every severity and confidence)"
# zizmor is a Rust binary shipped as a wheel: nothing is compiled or downloaded besides it.
tool_venv .venv-zizmor zizmor "$ZIZMOR_VERSION"
# Any finding fails, down to informational ones and low-confidence ones of the auditor persona
# (the strictest): the workflows hold the deploy credentials. A finding that is accepted
# carries an inline `# zizmor: ignore[audit] reason` (tests/ci rejects one without a reason);
# --no-config keeps a zizmor.yml from silencing findings elsewhere. Offline, the audits that
# ask GitHub (impostor commits, known-vulnerable actions, stale refs) do not run.
.venv-zizmor/bin/zizmor --offline --no-config --persona=auditor \
  --min-severity=informational --min-confidence=low --no-progress --color=never \
  .github/workflows/

step "workflow tests (tests/ci)"
.venv/bin/python -m pytest -q -p no:cacheprovider tests/ci

step "workflow checks passed"

"""Run reconciliation once by hand: ``python -m shared.cli.reconcile [--dry-run]``.

A dry run also says, on stderr, which sources are reconciled and what to set for the others.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Callable, Sequence
from typing import TextIO

from shared.adapters import cli
from shared.flows.reconcile import ReconcileDeps, Report, reconcile


def main(argv: Sequence[str] | None = None, deps: Callable[[], ReconcileDeps] | None = None,
         out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m shared.cli.reconcile", description=__doc__)
    parser.add_argument("--dry-run", action="store_true",
                        help="read each configured source and the ledger; print what would be "
                             "published, publish nothing")
    args = parser.parse_args(argv)
    if deps is None:
        from shared import wiring

        deps = wiring.reconcile_deps
    try:
        run = deps()
        report = reconcile(run, f"cli-{uuid.uuid4().hex[:12]}", dry_run=args.dry_run)
    except Exception as error:  # one line on stderr, not a traceback
        return cli.fail(error)
    if args.dry_run:
        _sources(run, err or sys.stderr)
    _print(report, out or sys.stdout)
    return 0


def _sources(run: ReconcileDeps, err: TextIO) -> None:
    """Say which sources this run read, and what to set for those it did not."""
    for reconciler in run.reconcilers:
        print(f"{reconciler.name}: reconciled: {reconciler.describes or 'configured'}", file=err)
    for name, settings in run.off:
        print(f"{name}: not reconciled: set {settings}", file=err)
    if not any(reconciler.plan is not None for reconciler in run.reconcilers):
        print("no source's lost alerts are looked for: set the settings named above",
              file=err)


def _print(report: Report, out: TextIO) -> None:
    verb = "would publish" if report.dry_run else "published"
    for item in report.planned:
        print(json.dumps({"action": verb, "source": item.source, "reason": item.reason,
                          "alert_key": item.alert_key, "resource": item.resource,
                          "body": json.loads(item.body)}, ensure_ascii=False), file=out)
    counts = ", ".join(f"{name} {value}" for name, value in report.counts().items())
    print(f"{verb}: {counts}", file=out)


if __name__ == "__main__":
    sys.exit(main())

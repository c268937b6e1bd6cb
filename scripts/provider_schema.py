"""Check a Terraform module offline, as strictly as ``terraform validate`` for common mistakes.

The checks live in ``scripts/tfcheck/``: every resource and data block against the google
provider schema (read from the cdktf-cdktf-provider-google jsii assembly), block vs argument,
literal types, enum values, mutually exclusive blocks, and every reference against the module's
declarations and the attributes the provider has.

    python scripts/provider_schema.py fetch            # download + extract, print the cache path
    python scripts/provider_schema.py check terraform  # print every problem; exit 1 if any
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `scripts.` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.tfcheck.module import check_config, check_directory, parse_explicit, parse_hcl
from scripts.tfcheck.schema import (
    DEFAULT_CACHE,
    PROVIDER_VERSION,
    ROOT,
    Schema,
    ensure_schema,
    load_schema,
)

__all__ = ["Schema", "check_config", "check_directory", "load_schema", "parse_explicit",
           "parse_hcl"]


def main(argv: list[str] | None = None) -> int:
    """Run the fetch or check command."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("fetch", "check"))
    parser.add_argument("directory", nargs="?", type=Path, default=ROOT / "terraform")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args(argv)
    if args.command == "fetch":
        print(ensure_schema(args.cache))
        return 0
    problems = check_directory(args.directory, load_schema(args.cache))
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"provider schema {PROVIDER_VERSION}: {len(problems)} problem(s) in {args.directory}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""List and replay dead-lettered alerts: ``python -m shared.cli.replay list|replay``.

Exit codes: 0 done; 1 some dead letters could not be replayed (listed on stderr); 2 bad
arguments; 3 configuration (missing setting or credentials, subscription not found, access
denied); 4 Pub/Sub unreachable or failing; 130 interrupted. Nothing is lost in any case.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from shared.adapters import cli
from shared.adapters.dead_letters import DeadLetterSubscription
from shared.adapters.pubsub import Publisher
from shared.core.errors import AlertBridgeError, ConfigError, Transient
from shared.core.settings import Settings, load_settings
from shared.flows.replay import (
    DeadLetter,
    ReplayReport,
    Selection,
    count_by_reason,
    peek,
    replay,
    summary,
)
from shared.sources import SOURCES

DEFAULT_LIST_LIMIT = 100
DEFAULT_REPLAY_LIMIT = 1000
#: A progress line on stderr every this many replayed or failed letters.
PROGRESS_EVERY = 25

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2  # argparse's own status for bad arguments
EXIT_CONFIG = 3
EXIT_UNREACHABLE = 4
EXIT_INTERRUPTED = 130
#: The project `make run` uses (scripts.localstack), named in the hint for a local replay.
LOCAL_PROJECT = "alert-bridge-local"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    try:
        settings = _settings()
        name = subscription_name(args.subscription, os.environ, settings.dead_letter_topic)
        inbox = DeadLetterSubscription(settings.project, name)
        try:
            if args.command == "list":
                return _list(inbox, _selection(args), args.limit)
            return _replay(inbox, settings, args)
        finally:
            inbox.close()
    except Exception as error:  # one line on stderr, not a traceback
        return cli.fail(error, exit_status)
    except KeyboardInterrupt:
        print("\ninterrupted: every dead letter not yet replayed stays in the subscription",
              file=sys.stderr)
        return EXIT_INTERRUPTED


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as error:
        raise ConfigError(f"{error} (the local stack of `make run`: GOOGLE_CLOUD_PROJECT="
                          f"{LOCAL_PROJECT} PUBSUB_EMULATOR_HOST=127.0.0.1:8085)") from error


def exit_status(error: AlertBridgeError) -> int:
    """Return the exit status for an error that stopped the command."""
    if isinstance(error, ConfigError):
        return EXIT_CONFIG
    if isinstance(error, Transient):
        return EXIT_UNREACHABLE
    return EXIT_FAILED


def subscription_name(flag: str | None, env: Mapping[str, str], dead_letter_topic: str) -> str:
    """Pick the subscription: --subscription, else $DEAD_LETTER_SUBSCRIPTION, else the local
    ``<dead-letter topic>-pull``."""
    chosen = (flag or "").strip() or env.get("DEAD_LETTER_SUBSCRIPTION", "").strip()
    return chosen or f"{dead_letter_topic}-pull"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shared.cli.replay", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="show dead letters; removes none")
    again = commands.add_parser("replay", help="republish dead letters to the events topic")
    for command, limit in ((listing, DEFAULT_LIST_LIMIT), (again, DEFAULT_REPLAY_LIMIT)):
        command.add_argument("--subscription",
                             help="dead-letter pull subscription, short name or full path "
                                  "(default: $DEAD_LETTER_SUBSCRIPTION, else "
                                  "$DEAD_LETTER_TOPIC-pull)")
        command.add_argument("--reason", help="only this reason, e.g. asana_http_400")
        command.add_argument("--source",
                             help=f"only this source: {', '.join(SOURCES.names())}")
        command.add_argument("--key", help="only alert keys containing this text")
        command.add_argument("--limit", type=_positive, default=limit,
                             help=f"at most this many messages (default: {limit})")
    again.add_argument("--yes", action="store_true", help="replay without asking")
    again.add_argument("--dry-run", action="store_true",
                       help="show what would be replayed; publish and remove nothing")
    return parser


def _positive(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {raw!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _selection(args: argparse.Namespace) -> Selection:
    return Selection(reason=args.reason, source=args.source, key=args.key)


def _list(inbox: DeadLetterSubscription, selection: Selection, limit: int) -> int:
    letters = peek(inbox, selection, limit)
    for letter in letters:
        print(summary(letter))
    print(_tally(letters, inbox.path, limit))
    return EXIT_OK


def _tally(letters: Sequence[DeadLetter], path: str, limit: int) -> str:
    counts = ", ".join(f"{reason} {n}" for reason, n in count_by_reason(letters).items())
    line = f"{len(letters)} dead letters in {path}" + (f" ({counts})" if counts else "")
    if len(letters) >= limit:
        line += f"; stopped at --limit {limit}, more may remain"
    return line


def _replay(inbox: DeadLetterSubscription, settings: Settings, args: argparse.Namespace) -> int:
    selection = _selection(args)
    publisher = Publisher(settings.project, settings.events_topic)
    if args.dry_run:
        letters = peek(inbox, selection, args.limit)
        for letter in letters:
            print(summary(letter))
        print(f"dry run: would replay {len(letters)} to {publisher.topic_path}; "
              "nothing published or removed")
        return EXIT_OK
    if not args.yes and sys.stdin.isatty() and not _confirm(inbox, selection, args.limit,
                                                            publisher.topic_path):
        return EXIT_OK
    run_id = uuid.uuid4().hex[:12]
    print(f"replaying from {inbox.path} to {publisher.topic_path} (run {run_id}, "
          f"at most {args.limit})…", file=sys.stderr, flush=True)
    report = replay(inbox, publisher.publish, selection, args.limit, lambda: datetime.now(UTC),
                    run_id, progress=_progress)
    _print_report(report, publisher.topic_path)
    return EXIT_FAILED if report.failed else EXIT_OK


def _progress(report: ReplayReport) -> None:
    handled = report.replayed + report.failed
    if handled % PROGRESS_EVERY == 0:
        print(f"… replayed {report.replayed}, skipped {report.skipped}, "
              f"failed {report.failed}", file=sys.stderr, flush=True)


def _confirm(inbox: DeadLetterSubscription, selection: Selection, limit: int,
             topic: str) -> bool:
    letters = peek(inbox, selection, limit)
    for letter in letters:
        print(summary(letter))
    print(_tally(letters, inbox.path, limit))
    if not letters:
        return False
    answer = input(f"Republish the dead letters above to {topic}? [y/N] ")
    if answer.strip().lower() in ("y", "yes"):
        return True
    print("cancelled: nothing replayed")
    return False


def _print_report(report: ReplayReport, topic: str) -> None:
    for letter, why in report.failures:
        print(f"failed: {summary(letter)}: {why}", file=sys.stderr)
    for letter in report.returned:
        print(f"dead-lettered again after this run replayed it (left in the subscription): "
              f"{summary(letter)}", file=sys.stderr)
    if report.stopped_early:
        print(f"{report.stopped_early}; the rest stay in the subscription", file=sys.stderr)
    back = f", {len(report.returned)} came back still broken" if report.returned else ""
    print(f"replayed {report.replayed}, skipped {report.skipped}, failed {report.failed}{back} "
          f"(to {topic})")


if __name__ == "__main__":
    sys.exit(main())

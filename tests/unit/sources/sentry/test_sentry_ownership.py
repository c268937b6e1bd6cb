"""teams.yaml matchers as Sentry ownership rules: what translates, and what is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.routing.teams_file import load_teams, parse_matcher, parse_teams
from shared.sources.sentry.ownership import ownership_rules, raw_rules, regex_globs, rule_lines

DATA = Path(__file__).resolve().parents[3] / "data"


@pytest.mark.parametrize(
    ("pattern", "globs"),
    [
        (r"\/investigate\/", ["*/investigate/*"]),
        (r"^payments-", ["payments-*"]),
        (r"-api$", ["*-api"]),
        (r"^exact$", ["exact"]),
        (r"\/(checkout|invoices)\/", ["*/checkout/*", "*/invoices/*"]),
        (r"^(?:eu|us)-web-", ["eu-web-*", "us-web-*"]),
        (r"^api-.*-prod$", ["api-*-prod"]),
        (r"^node.$", ["node?"]),
        (r"^(a|b)(c|d)?x$", ["acx", "adx", "ax", "bcx", "bdx", "bx"]),
    ],
    ids=["literal", "prefix", "suffix", "anchored-both", "alternation", "non-capturing",
         "dot-star", "dot", "two-groups-optional"],
)
def test_regex_globs(pattern: str, globs: list[str]) -> None:
    assert regex_globs(pattern) == globs


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"^(gateway|auth)(-|$)", "uses '$'"),
        (r"\d+", "uses '\\d'"),
        (r"[a-z]+", "uses '['"),
        (r"colou?r", "uses '?'"),
        (r"a|b", "uses '|'"),
        (r"(a|b)(c|d)(e|f)(g|h)(i|j)", "expands to more than 16 rules"),
        (r"two words", "uses a space"),
    ],
    ids=["dollar-in-group", "class-escape", "char-class", "optional-char", "top-level-or",
         "too-many", "space"],
)
def test_regex_sentry_cannot_express(pattern: str, reason: str) -> None:
    with pytest.raises(ValueError, match="cannot express|expands") as caught:
        regex_globs(pattern)
    assert reason in str(caught.value)


@pytest.mark.parametrize(
    ("matcher", "lines"),
    [
        ("server_name:panther-alerts-api", ["tags.server_name:panther-alerts-api #t"]),
        ("env:prod", ["tags.environment:prod #t"]),
        ("url:/investigate/x", ["url:/investigate/x #t"]),
        ("url:/\\/checkout\\//", ["url:*/checkout/* #t"]),
        ("service:payments-api", ["tags.service:payments-api #t"]),
        ("zap_server_name:x", ["tags.zap_server_name:x #t"]),
    ],
    ids=["server_name", "env-is-environment", "url-exact", "url-regex", "any-tag", "zap-tag"],
)
def test_rule_lines(matcher: str, lines: list[str]) -> None:
    assert rule_lines(parse_matcher(matcher), "#t") == lines


@pytest.mark.parametrize(
    ("matcher", "reason"),
    [("title:/Timeout/", "'title' has no Sentry ownership equivalent"),
     ("monitor:123", "'monitor' has no Sentry ownership equivalent"),
     ("transaction:/checkout/*", "glob character")],
    ids=["title", "datadog-monitor", "glob-char-in-exact"],
)
def test_rule_lines_refused(matcher: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        rule_lines(parse_matcher(matcher), "#t")


GROUPS = """
settings: {default_team: Core}
teams:
  - name: Core
    asana_backlog_id: "1"
  - name: Payments
    sentry_team: pay
    asana_backlog_id: "2"
    entities:
      - matchers: ["service:payments-api"]
      - matchers: ["project:billing", "url:/\\\\/checkout\\\\//"]
      - matchers: ["project:billing"]
      - matchers: ["env:prod", "level:fatal"]
      - matchers: ["project:/bill/", "url:/x"]
      - matchers: ["source:datadog", "service:payments-api"]
      - matchers: ["source:sentry", "team:payments"]
"""


def test_groups_per_project_and_what_is_left_out() -> None:
    ownership = ownership_rules(parse_teams(GROUPS))
    assert ownership.projects() == ["billing"]
    assert raw_rules(ownership.for_project("billing")) == (
        "url:*/checkout/* #pay\ntags.service:payments-api #pay\ntags.team:payments #pay\n")
    assert raw_rules(ownership.for_project(None)) == (
        "tags.service:payments-api #pay\ntags.team:payments #pay\n")
    assert ownership.left_out == [
        "team 'Payments': group 3 (project:billing): matches every event of the project: make "
        "#pay the project's team in Sentry instead",
        "team 'Payments': group 4 (env:prod AND level:fatal): a Sentry rule has one condition, "
        "this group ANDs 2",
        "team 'Payments': group 5 (project:/bill/ AND url:/x): Sentry rules are per project: "
        "name one project exactly (project:slug)",
        "team 'Payments': group 6 (source:datadog AND service:payments-api): Datadog alerts "
        "only, nothing to own in Sentry",
    ]
    assert ownership.notes == []  # Core has no matchers, Payments names its Sentry team


def test_legacy_file_gets_derived_team_slugs() -> None:
    ownership = ownership_rules(load_teams(str(DATA / "teams_legacy_observability.yaml")))
    assert raw_rules(ownership.for_project("billing")) == (
        "url:*/checkout/* #payments\ntags.service:payments-api #payments\n")
    assert ownership.notes == ["team 'Payments': no sentry_team, using #payments (set "
                               "sentry_team to the team's slug)"]

"""Routing semantics: exact vs regex, AND groups, zap_ fallback, precedence, default team."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.core.alert import Action, Alert
from shared.routing.ownership import route
from shared.routing.teams_file import load_teams, parse_teams

DATA = Path(__file__).resolve().parents[2] / "tests" / "data"

# File order matters for the last tie-break, so Early comes before Late.
CONFIG = parse_teams("""
settings:
  default_team: Platform
teams:
  - name: Platform
    asana_backlog_id: "1"
  - name: Early
    asana_backlog_id: "2"
    entities:
      - matchers: ["server_name:panther-alerts-api"]
      - matchers: ["env:prod", "region:eu"]
      - matchers: ["url:/\\\\/investigate\\\\//"]
      - matchers: ["title:/TimeoutError/"]
  - name: Late
    asana_backlog_id: "3"
    entities:
      - matchers: ["host:db-1"]
      - matchers: ["env:prod", "region:eu", "tier:gold"]
      - matchers: ["service:checkout"]
      - matchers: ["title:/Timeout/"]
  - name: Owners
    asana_backlog_id: "4"
    entities:
      - matchers: ["team:owners"]
""")


@pytest.mark.parametrize(
    ("fields", "team"),
    [
        ({"server_name": "panther-alerts-api"}, "Early"),
        ({"server_name": "panther-alerts-api-2"}, "Platform"),
        ({"url": "https://x.example/investigate/42"}, "Early"),
        ({"url": "https://x.example/investigations"}, "Platform"),
        ({"env": "prod", "region": "eu"}, "Early"),
        ({"env": "prod"}, "Platform"),
        ({"region": "eu"}, "Platform"),
        ({"zap_server_name": "panther-alerts-api"}, "Early"),
        ({"server_name": "other", "zap_server_name": "panther-alerts-api"}, "Platform"),
        ({"host": "DB-1"}, "Platform"),
        ({}, "Platform"),
    ],
    ids=[
        "exact", "exact-is-not-prefix", "regex-searched-anywhere", "regex-no-match",
        "and-all-match", "and-one-missing", "and-other-missing", "zap-fallback-when-key-absent",
        "zap-ignored-when-key-present", "exact-is-case-sensitive", "nothing-default",
    ],
)
def test_matcher_semantics(fields: dict[str, str], team: str) -> None:
    assert route(fields, CONFIG).team.name == team


@pytest.mark.parametrize(
    ("fields", "team", "reason"),
    [
        ({"host": "db-1", "service": "checkout", "team": "owners"}, "Owners",
         "a 'team' matcher outranks a 'service' matcher"),
        ({"server_name": "panther-alerts-api", "service": "checkout"}, "Late",
         "a 'service' matcher outranks no team/service matcher"),
        ({"env": "prod", "region": "eu", "tier": "gold", "server_name": "panther-alerts-api"},
         "Late", "more matchers (3 vs 2)"),
        ({"server_name": "panther-alerts-api", "host": "db-1"}, "Early", "earlier in the file"),
        ({"title": "TimeoutError in checkout"}, "Early", "earlier in the file"),
    ],
    ids=["team-beats-service", "service-beats-others", "more-matchers-wins",
         "file-order-breaks-ties", "file-order-between-regexes"],
)
def test_precedence(fields: dict[str, str], team: str, reason: str) -> None:
    chosen = route(fields, CONFIG)
    assert chosen.team.name == team
    assert reason in chosen.explanation


def test_route_reports_the_winning_group_and_why() -> None:
    chosen = route({"env": "prod", "region": "eu", "tier": "gold"}, CONFIG)
    assert [m.raw for m in chosen.matched] == ["env:prod", "region:eu", "tier:gold"]
    assert not chosen.is_default
    assert chosen.explanation == (
        "team 'Late': matched env:prod AND region:eu AND tier:gold (group 2 of 4; "
        "beats 'Early' which matched env:prod AND region:eu: more matchers (3 vs 2))"
    )


def test_zap_fallback_is_named_in_the_explanation() -> None:
    chosen = route({"zap_server_name": "panther-alerts-api"}, CONFIG)
    assert "server_name:panther-alerts-api (via zap_server_name)" in chosen.explanation


def test_no_match_goes_to_the_default_team() -> None:
    chosen = route({"service": "unknown"}, CONFIG)
    assert (chosen.team.name, chosen.matched, chosen.is_default) == ("Platform", (), True)
    assert chosen.explanation == "no team matched; default team 'Platform'"


def test_alert_match_fields_feed_routing() -> None:
    alert = Alert(source="sentry", resource="event_alert", key="sentry:issue:1",
                  action=Action.TRIGGERED, title="ZeroDivisionError",
                  request_url="https://panther.example/investigate/7",
                  tags=(("browser", "Firefox"),))
    assert route(alert.match_fields(), CONFIG).team.name == "Early"


@pytest.mark.parametrize(
    ("fields", "team"),
    [
        ({"service": "payments-api"}, "Payments"),
        ({"project": "billing", "url": "https://shop.example/checkout/cart"}, "Payments"),
        ({"project": "billing", "url": "https://shop.example/cart"}, "Default"),
        ({"server_name": "panther-alerts-api"}, "Investigations"),
        ({"url": "https://panther.example/investigate/1"}, "Investigations"),
        ({"team": "core", "service": "payments-api"}, "Core"),
        ({"environment": "production", "level": "fatal"}, "Core"),
        ({"environment": "production", "level": "error"}, "Default"),
        ({"zap_server_name": "panther-alerts-api"}, "Investigations"),
        ({}, "Default"),
    ],
    ids=["service", "and-group", "and-group-partial", "server-name", "url-regex",
         "team-beats-service", "two-derived-keys", "derived-keys-partial", "zap", "empty"],
)
def test_legacy_and_rich_files_route_alike(fields: dict[str, str], team: str) -> None:
    legacy = route(fields, load_teams(str(DATA / "teams_legacy.yaml")))
    richer = route(fields, load_teams(str(DATA / "teams_rich.yaml")))
    assert legacy.team.name == richer.team.name == team
    assert legacy.explanation == richer.explanation

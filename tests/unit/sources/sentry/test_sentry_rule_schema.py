"""The alert-rule-action schema: what Sentry accepts, and what the settings parser reads back."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from shared.routing.rule_settings import FIELD_NAMES, parse_settings
from shared.sources.sentry.rule_schema import (
    ACTION_PATH,
    MAX_DESCRIPTION_CHARS,
    PATH_PREFIX,
    TEAMS_PATH,
    schema,
)
from tests.fakes.sentry_platform import schema_problem


def _settings(document: dict[str, Any]) -> dict[str, Any]:
    return document["elements"][0]["settings"]


def test_sentry_accepts_the_schema() -> None:
    assert schema_problem(schema()) is None


def _long_description(d: dict[str, Any]) -> None:
    _settings(d)["description"] = "x" * (MAX_DESCRIPTION_CHARS + 1)


def _absolute_uri(d: dict[str, Any]) -> None:
    _settings(d)["uri"] = "https://elsewhere.example.com/x"


def _select_with_both(d: dict[str, Any]) -> None:
    _settings(d)["required_fields"][0]["options"] = [["a", "A"]]


def _bad_options(d: dict[str, Any]) -> None:
    _settings(d)["optional_fields"][0]["options"] = [["only-value"]]


def _two_actions(d: dict[str, Any]) -> None:
    d["elements"].append(copy.deepcopy(d["elements"][0]))


def _no_required_fields(d: dict[str, Any]) -> None:
    del _settings(d)["required_fields"]


@pytest.mark.parametrize("break_it", [_long_description, _absolute_uri, _select_with_both,
                                      _bad_options, _two_actions, _no_required_fields],
                         ids=lambda f: f.__name__.strip("_"))
def test_the_fake_refuses_what_sentry_refuses(break_it: Any) -> None:
    # The check the schema passes above is only worth something if it catches each rule.
    document = schema()
    break_it(document)
    assert schema_problem(document)


def test_every_uri_is_under_the_prefix_ingest_routes_away_from_webhooks() -> None:
    uris = [_settings(schema())["uri"]] + [
        f["uri"] for f in _settings(schema())["required_fields"] if "uri" in f]
    assert uris == [ACTION_PATH, TEAMS_PATH]
    assert all(uri.startswith(PATH_PREFIX) for uri in uris)


def test_fields_are_the_ones_the_parser_knows_and_team_alone_is_required() -> None:
    settings = _settings(schema())
    assert [f["name"] for f in settings["required_fields"]] == ["team"]
    names = [f["name"] for f in settings["required_fields"] + settings["optional_fields"]]
    assert names == list(FIELD_NAMES)


def test_every_static_option_parses() -> None:
    for form_field in _settings(schema())["optional_fields"]:
        for value, _label in form_field.get("options", []):
            parse_settings([("team", "Payments"), (form_field["name"], value)], "rule")

"""teams.yaml loading: both formats, and one test per validation error."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from shared.core.errors import ConfigError
from shared.routing.teams import DEFAULT_CREATE_TASKS_FROM, PriorityMap
from shared.routing.teams_file import load_teams, parse_matcher, parse_teams

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"

MINIMAL = """
settings:
  default_team: Platform
teams:
  - name: Platform
    asana_backlog_id: "1001"
"""


def rich(settings: str = "default_team: Platform", teams: str = "") -> str:
    """Return a rich teams.yaml with a valid Platform team plus the given extras."""
    return (
        "settings:\n" + textwrap.indent(textwrap.dedent(settings).rstrip() + "\n", "  ")
        + "teams:\n  - name: Platform\n    asana_backlog_id: '1001'\n"
        + textwrap.indent(textwrap.dedent(teams), "  ")
    )


def problems_of(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_teams(text, source="teams.yaml")
    return str(caught.value)


def test_repository_teams_yaml_loads() -> None:
    config = load_teams(str(ROOT / "teams.yaml"))
    assert config.default_team == "Platform"
    assert [t.name for t in config.teams] == ["Platform", "Payments", "Investigations", "Growth"]
    assert config.custom_fields.priority_option_gids.keys() == {"High", "Medium", "Low"}
    assert config.template.links and config.template.runbook_url


def test_legacy_file_loads_with_default_team_and_int_gids() -> None:
    config = load_teams(str(DATA / "teams_legacy.yaml"))
    assert config.default_team == "Default"
    default = config.team("Default")
    assert default.backlog_project_gid == "1200000000000101"  # an unquoted int in the file
    assert default.entities == ()
    investigations = config.team("Investigations")
    assert [[m.raw for m in g] for g in investigations.entities] == [
        ["server_name:panther-alerts-api"], ["url:/\\/investigate\\//"]
    ]
    assert config.priority == PriorityMap()


def test_legacy_and_rich_files_load_to_the_same_config() -> None:
    assert load_teams(str(DATA / "teams_legacy.yaml")) == load_teams(str(DATA / "teams_rich.yaml"))


def test_rich_settings_are_read() -> None:
    config = parse_teams(rich(
        settings="""\
        default_team: platform
        workspace_gid: 42
        priority:
          sentry: {warning: high}
          datadog: {p4: Medium}
          cloudwatch: {p5: Medium}
          default: Low
        custom_fields:
          priority_field_gid: "7"
          priority_option_gids: {High: "71", Medium: "72", Low: "73"}
          team_field_gid: "8"
          fixed: {"9": "Alert bridge"}
        template:
          runbook_url: https://runbooks.example.com/x
          links:
            - {label: Logs, url: "https://console.cloud.google.com/logs?project={gcp_project}"}
          highlighted_tags: [service]
        """,
        teams="""\
        - name: Payments
          asana_backlog_id: "2001"
          team_field_option_gid: "81"
          followers: [3001, oncall@example.com]
          assignee: "3002"
        """,
    ))
    assert config.default_team == "Platform"
    assert config.workspace_gid == "42"
    assert config.priority.sentry["warning"] == "High"
    assert config.priority.sentry["error"] == "High"  # untouched default
    assert config.priority.datadog["P4"] == "Medium"
    assert config.priority.cloudwatch["P5"] == "Medium"
    assert config.priority.cloudwatch["P1"] == "High"  # untouched default
    assert config.priority.default == "Low"
    assert config.custom_fields.priority_option_gids == {"High": "71", "Medium": "72", "Low": "73"}
    assert config.custom_fields.fixed == {"9": "Alert bridge"}
    assert config.template.links == (
        ("Logs", "https://console.cloud.google.com/logs?project={gcp_project}"),
    )
    payments = config.team("Payments")
    assert payments.followers == ("3001", "oncall@example.com")
    assert (payments.assignee, payments.team_field_option_gid) == ("3002", "81")


def test_team_named_default_is_the_default_without_settings() -> None:
    config = parse_teams("teams:\n  - name: DEFAULT\n    asana_backlog_id: '1'\n")
    assert config.default_team == "DEFAULT"


def test_legacy_file_of_the_older_service_loads_unchanged() -> None:
    config = load_teams(str(DATA / "teams_legacy_observability.yaml"))
    assert config.default_team == "Observability and Performance"
    assert "named 'Observability and Performance'" in config.default_team_reason
    assert config.team("Observability and Performance").asana_team_gid == "1200000000000500"


LEGACY_BOTH = ("- Name: Default\n  AsanaBacklogId: '1'\n"
               "- Name: Observability and Performance\n  AsanaBacklogId: '2'\n"
               "- Name: Payments\n  AsanaBacklogId: '3'\n")
LEGACY_NEITHER = "- Name: Payments\n  AsanaBacklogId: '3'\n- Name: Core\n  AsanaBacklogId: '4'\n"


@pytest.mark.parametrize(
    ("text", "env_default", "expected", "reason"),
    [
        (LEGACY_BOTH, None, "Observability and Performance", "named 'Observability and"),
        ("- Name: default\n  AsanaBacklogId: '1'\n", None, "default", "named 'Default'"),
        (LEGACY_NEITHER, "core", "Core", "DEFAULT_TEAM names it"),
        (LEGACY_BOTH, "Payments", "Payments", "DEFAULT_TEAM names it"),
        (rich(), None, "Platform", "settings.default_team names it"),
        (rich(), "platform", "Platform", "settings.default_team names it"),
    ],
    ids=["older-service-name-wins-over-Default", "Default-case-insensitive",
         "DEFAULT_TEAM-names-a-legacy-team", "DEFAULT_TEAM-beats-legacy-names",
         "settings-default_team", "settings-and-DEFAULT_TEAM-agree"],
)
def test_default_team_and_why(text: str, env_default: str | None, expected: str,
                              reason: str) -> None:
    config = parse_teams(text, default_team=env_default)
    assert config.default_team == expected
    assert reason in config.default_team_reason


@pytest.mark.parametrize(
    ("text", "env_default", "expected"),
    [
        (LEGACY_NEITHER, None, "no default team: set settings.default_team or DEFAULT_TEAM, "
                               "or name a team 'Observability and Performance' or 'Default'"),
        (LEGACY_NEITHER, "Growth", "DEFAULT_TEAM: no team named 'Growth' in the file"),
        (rich(), "Payments", "settings: default_team: 'Platform' but DEFAULT_TEAM is "
                             "'Payments': keep one of the two"),
    ],
    ids=["none", "DEFAULT_TEAM-unknown", "settings-and-DEFAULT_TEAM-disagree"],
)
def test_default_team_problems(text: str, env_default: str | None, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_teams(text, source="teams.yaml", default_team=env_default)
    assert str(caught.value) == f"teams.yaml: {expected}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (rich(teams="""\
            - name: Payments
              asana_backlog_id: "2001"
              entities:
                - matchers: ["url:/(/"]
            """),
         "teams.yaml: team 'Payments': entity #1: matcher 'url:/(/': bad regex: missing ), "
         "unterminated subpattern"),
        (rich(teams="""\
            - name: Payments
              asana_backlog_id: "2001"
              entities:
                - matchers: ["service"]
            """),
         "team 'Payments': entity #1: matcher 'service': expected 'key:value'"),
        (rich(teams="""\
            - name: Payments
              asana_backlog_id: "2001"
              entities:
                - matchers: [":payments"]
            """),
         "team 'Payments': entity #1: matcher ':payments': empty key"),
        (rich(teams="""\
            - name: Payments
              asana_backlog_id: "2001"
              entities:
                - matchers: ["service:"]
            """),
         "team 'Payments': entity #1: matcher 'service:': empty value"),
        (rich(teams="""\
            - name: Payments
              asana_backlog_id: "2001"
              entities:
                - matchers: ["service://"]
            """),
         "matcher 'service://': empty regex"),
        (rich(teams="""\
            - name: Payments
              asana_backlog_id: "2001"
              entities:
                - matchers: [service: payments]
            """),
         "team 'Payments': entity #1: matcher {'service': 'payments'}: write 'key:value' as one"),
        (rich(teams="""\
            - name: Payments
              asana_backlog_id: "2001"
              entities:
                - matchers: []
            """),
         "team 'Payments': entity #1: Matchers: required, a non-empty list"),
        (rich(teams="""\
            - name: Payments
              asana_backlog_id: "2001"
              Slack: "#payments"
            """),
         "team 'Payments': unknown key 'Slack'"),
        (rich(teams="""\
            - name: Payments
              asana_backlog_id: "2001"
              entities:
                - matchers: ["service:x"]
                  owner: me
            """),
         "team 'Payments': entity #1: unknown key 'owner'"),
        (rich(settings="default_team: Platform\ncolour: blue\n"),
         "teams.yaml: settings: unknown key 'colour'"),
        (rich(settings="default_team: Platform\ntemplate: {runbook: x}\n"),
         "settings: template: unknown key 'runbook'"),
        (rich(settings="default_team: Platform\ncustom_fields: {priority: '1'}\n"),
         "settings: custom_fields: unknown key 'priority'"),
        (MINIMAL + "extra: 1\n", "teams.yaml: unknown key 'extra'"),
        (rich(teams="""\
            - name: platform
              asana_backlog_id: "2001"
            """),
         "team 'platform': duplicate team name"),
        (rich(settings="default_team: Nobody\n"),
         "settings: default_team: no team named 'Nobody'"),
        ("teams:\n  - name: Platform\n    asana_backlog_id: '1'\n", "no default team"),
        ("- Name: Payments\n  AsanaBacklogId: '1'\n", "no default team"),
        (rich(teams="""\
            - name: Payments
              asana_backlog_id: "P-2001"
            """),
         "team 'Payments': AsanaBacklogId: not an Asana gid (a string of digits): 'P-2001'"),
        (rich(teams="""\
            - name: Payments
              asana_backlog_id: "2001"
              AsanaSprintPortfolioId: true
            """),
         "team 'Payments': AsanaSprintPortfolioId: not an Asana gid"),
        (rich(teams="""\
            - name: Payments
              asana_team_id: "1"
            """),
         "team 'Payments': AsanaBacklogId: required"),
        (rich(teams="""\
            - name: Payments
              Name: Payments
              asana_backlog_id: "2001"
            """),
         "team 'Payments': both 'Name' and 'name' given"),
        (rich(teams="- asana_backlog_id: '2001'\n"), "team #2: Name: required"),
        (rich(settings="default_team: Platform\nworkspace_gid: ws-1\n"),
         "settings: workspace_gid: not an Asana gid"),
        (rich(settings="default_team: Platform\npriority: {sentry: {critical: High}}\n"),
         "settings: priority: sentry: unknown priority level 'critical'"),
        (rich(settings="default_team: Platform\npriority: {datadog: {P6: Low}}\n"),
         "settings: priority: datadog: unknown priority level 'P6'"),
        (rich(settings="default_team: Platform\npriority: {datadog: {P3: Urgent}}\n"),
         "settings: priority: datadog: P3: expected one of High, Medium, Low, got 'Urgent'"),
        (rich(settings="default_team: Platform\npriority: {cloudwatch: {Sev1: High}}\n"),
         "settings: priority: cloudwatch: unknown priority level 'Sev1'"),
        (rich(settings="default_team: Platform\npriority: {default: Critical}\n"),
         "settings: priority: default: expected one of High, Medium, Low"),
        (rich(settings="""\
            default_team: Platform
            custom_fields:
              priority_field_gid: "7"
              priority_option_gids: {High: "71", Medium: "72"}
            """),
         "settings: custom_fields: priority_option_gids: missing Low"),
        (rich(settings="""\
            default_team: Platform
            custom_fields: {priority_option_gids: {High: "1", Medium: "2", Low: "3"}}
            """),
         "priority_option_gids: given without priority_field_gid"),
        (rich(teams="""\
            - name: Payments
              asana_backlog_id: "2001"
              team_field_option_gid: "81"
            """),
         "team 'Payments': team_field_option_gid given but settings.custom_fields.team_field_gid"),
        (rich(settings="""\
            default_team: Platform
            template:
              links: [{label: Logs, url: "https://x.example/{a[0]}"}]
            """),
         "settings: template: links: 'Logs': url: bad placeholder {a[0]}"),
        (rich(settings="""\
            default_team: Platform
            template:
              links: [{label: Logs, url: "ftp://x.example/"}]
            """),
         "settings: template: links: 'Logs': url: expected an http(s) URL"),
        (rich(teams="""\
            - name: Payments
              asana_backlog_id: "2001"
              followers: ["Jane Doe"]
            """),
         "team 'Payments': followers: expected an Asana user gid or email, got 'Jane Doe'"),
        ("teams: [\n", "teams.yaml:2:1: not valid YAML"),
        ("just a string\n", "expected a list of teams or a mapping"),
    ],
    ids=[
        "bad-regex", "matcher-without-colon", "matcher-empty-key", "matcher-empty-value",
        "matcher-empty-regex", "matcher-read-as-mapping", "empty-group", "unknown-team-key",
        "unknown-entity-key", "unknown-settings-key", "unknown-template-key",
        "unknown-custom-fields-key", "unknown-top-level-key", "duplicate-team-case-insensitive",
        "default-team-not-found", "rich-without-default", "legacy-without-default",
        "gid-not-digits", "gid-bool", "backlog-missing", "both-spellings", "team-without-name",
        "workspace-not-gid", "unknown-sentry-level", "unknown-datadog-priority",
        "bad-priority-value", "unknown-cloudwatch-priority", "bad-default-priority",
        "priority-options-incomplete",
        "priority-options-without-field", "team-option-without-field", "link-bad-placeholder",
        "link-not-http", "follower-not-gid-or-email", "invalid-yaml", "not-a-list-or-mapping",
    ],
)
def test_validation_error_names_the_unit_and_key(text: str, expected: str) -> None:
    assert expected in problems_of(text)


def test_every_problem_is_reported_at_once() -> None:
    message = problems_of((DATA / "teams_broken.yaml").read_text(encoding="utf-8"))
    lines = message.splitlines()
    assert len(lines) == 11, message
    assert all(line.startswith("teams.yaml: ") for line in lines)
    for expected in ("'Nobody'", "'ws-123'", "'critical'", "'Urgent'", "'colour'", "'url:/(/'",
                     "'service'", "duplicate", "12.5", "'Slack'", "':elastic'"):
        assert expected in message


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="nope.yaml: cannot read teams file"):
        load_teams(str(missing))


@pytest.mark.parametrize(
    ("raw", "key", "exact", "pattern"),
    [
        ("server_name:panther-alerts-api", "server_name", "panther-alerts-api", None),
        ("url:/\\/investigate\\//", "url", None, "\\/investigate\\/"),
        ("url:/investigate/x", "url", "/investigate/x", None),
        ("url:/", "url", "/", None),
        ("culprit:app.views:handler", "culprit", "app.views:handler", None),
        ("message:/a/b/", "message", None, "a/b"),
        ("équipe:paiements", "équipe", "paiements", None),
    ],
    ids=["exact", "regex", "path-is-exact-unless-it-ends-in-slash", "lone-slash-is-exact",
         "value-keeps-later-colons", "regex-with-inner-slash", "non-ascii"],
)
def test_parse_matcher(raw: str, key: str, exact: str | None, pattern: str | None) -> None:
    matcher = parse_matcher(raw)
    assert (matcher.key, matcher.exact, matcher.raw) == (key, exact, raw)
    assert (matcher.pattern.pattern if matcher.pattern else None) == pattern


def test_create_tasks_from_defaults_to_alert_rules_and_rejects_unknown_resources() -> None:
    base = "teams:\n  - name: Default\n    asana_backlog_id: '1'\n"
    assert parse_teams(base).create_tasks_from == DEFAULT_CREATE_TASKS_FROM
    chosen = parse_teams("settings:\n  create_tasks_from: [event_alert, issue]\n" + base)
    assert chosen.create_tasks_from == ("event_alert", "issue")
    with pytest.raises(ConfigError) as error:
        parse_teams("settings:\n  create_tasks_from: [event_alert, comment]\n" + base)
    assert "create_tasks_from" in str(error.value) and "'comment'" in str(error.value)


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("teams:\n  - name: A\n   bad: [\n", "teams.yaml:3:4: not valid YAML",
                 id="yaml-error-names-file-line-column"),
    pytest.param(MINIMAL.replace("default_team", "default_tem"),
                 "unknown key 'default_tem' (did you mean 'default_team'?",
                 id="unknown-settings-key-suggests"),
    pytest.param("- Name: A\n  AsanaBacklogId: '1'\n  SyncBak: true\n",
                 "unknown key 'SyncBak' (did you mean 'SyncBack'?", id="legacy-key-suggests"),
])
def test_errors_say_where_and_what_was_meant(text: str, expected: str) -> None:
    message = problems_of(text)
    assert expected in message and "<unicode string>" not in message

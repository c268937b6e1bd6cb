"""Task rendering: what a team sees in Asana, and that Asana accepts it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.core.alert import Action, Alert
from shared.routing.tasks import (
    MAX_NAME_CHARS,
    TaskDraft,
    fill_template,
    ignore_condition,
    render_comment,
    render_task,
    validate_rich_text,
)
from shared.routing.teams import CustomFields, TaskTemplate, Team, TeamsConfig

WHEN = datetime(2024, 3, 5, 14, 7, 9, tzinfo=UTC)

SENTRY_EVENT = Alert(
    source="sentry",
    resource="event_alert",
    key="sentry:issue:1117540176",
    action=Action.TRIGGERED,
    title="ZeroDivisionError: division by zero",
    external_id="1117540176",
    url="https://sentry.io/organizations/acme/issues/1117540176/",
    level="error",
    environment="prod",
    occurred_at=WHEN,
    project="panther-alerts-api",
    project_id="1",
    release="panther@1.4.2",
    culprit="investigate.views in compute",
    exception_type="ZeroDivisionError",
    exception_value="division by zero",
    top_frame="investigate.views.compute (investigate/views.py:42)",
    request_url="https://api.example.com/investigate/x?a=1&b=2",
    tags=(("server_name", "panther-alerts-api"), ("url", "/investigate/x"), ("trace", "ab12")),
)
SENTRY_ISSUE = Alert(
    source="sentry",
    resource="issue",
    key="sentry:issue:42",
    action=Action.REOPENED,
    title="TypeError: Cannot read properties of undefined",
)
SENTRY_METRIC = Alert(
    source="sentry",
    resource="metric_alert",
    key="sentry:metric:77",
    action=Action.TRIGGERED,
    title="p95 latency above 2s",
    external_id="77",
    url="https://sentry.io/organizations/acme/alerts/rules/details/12/?alert=77",
    level="warning",
    transition="warning",
)
DATADOG = Alert(
    source="datadog",
    resource="datadog",
    key="datadog:cycle:abc",
    action=Action.TRIGGERED,
    title="[P2] [Triggered] CPU high on web-1",
    url="https://app.datadoghq.com/event/event?id=123",
    priority="P2",
    monitor_id="9876",
    scope="host:web-1,env:prod",
    transition="Triggered",
    tags=(("env", "prod"), ("url", "https://x.example/a:b"), ("service", "checkout")),
)
HOSTILE = Alert(
    source="sentry",
    resource="error",
    key="sentry:issue:666",
    action=Action.TRIGGERED,
    title='<script>alert("x")</script> & <b>bold</b>\x00\x07 \ud800 ]]> end',
    url='https://sentry.io/issues/666/?q="><script>',
    culprit="a < b && c > d",
    exception_value="line one\nline two\x1b[31m",
    tags=(("<tag>", "&amp; \"quoted\" 'single'"), ("k", "</body><body>")),
)
NON_ASCII = Alert(
    source="sentry",
    resource="event_alert",
    key="sentry:issue:9",
    action=Action.TRIGGERED,
    title="Ошибка оплаты: 支付失败 💥 — café",
    environment="prod",
    tags=(("région", "Île-de-France"), ("service", "paiement-€")),
)
EMPTY_TITLE = Alert(
    source="datadog", resource="datadog", key="datadog:event:1", action=Action.RESOLVED, title="  "
)

TEAM = Team(
    name="Payments & Co",
    backlog_project_gid="1201",
    followers=("1300", "oncall@example.com"),
    assignee="1400",
    team_field_option_gid="1501",
)
CONFIG = TeamsConfig(
    teams=(TEAM,),
    default_team="Payments & Co",
    workspace_gid="1100",
    custom_fields=CustomFields(
        priority_field_gid="1600",
        priority_option_gids={"High": "1601", "Medium": "1602", "Low": "1603"},
        team_field_gid="1500",
        fixed={"1700": "1701"},
    ),
    template=TaskTemplate(
        runbook_url="https://wiki.example.com/runbooks/{server_name}",
        links=(
            ("Traces", "https://console.cloud.google.com/traces/list?tid={trace}"),
            ("Logs", "https://console.cloud.google.com/logs?q={url}&pod={pod}"),
            ("Service", "https://grafana.example.com/d/{service}"),
        ),
    ),
)
BARE_CONFIG = TeamsConfig(teams=(TEAM,), default_team=TEAM.name)

ALERTS = [SENTRY_EVENT, SENTRY_ISSUE, SENTRY_METRIC, DATADOG, HOSTILE, NON_ASCII, EMPTY_TITLE]
ALERT_IDS = ["sentry-event", "sentry-issue", "metric", "datadog", "hostile", "non-ascii", "empty"]


def draft_for(alert: Alert, config: TeamsConfig = CONFIG, priority: str = "High") -> TaskDraft:
    return render_task(
        alert, TEAM, config, priority, "1201", "matched server_name:panther-alerts-api", "backlog"
    )


@pytest.mark.parametrize("alert", ALERTS, ids=ALERT_IDS)
@pytest.mark.parametrize("config", [CONFIG, BARE_CONFIG], ids=["configured", "bare"])
def test_every_rendered_body_is_valid_asana_rich_text(alert: Alert, config: TeamsConfig) -> None:
    draft = draft_for(alert, config)
    assert draft.html_notes, "rendering fell back to plain notes"
    validate_rich_text(draft.html_notes)
    assert "\x00" not in draft.notes and "\ud800" not in draft.notes


@pytest.mark.parametrize("alert", ALERTS, ids=ALERT_IDS)
def test_every_comment_is_valid_story_rich_text(alert: Alert) -> None:
    validate_rich_text(render_comment(alert, "Fired again"), story=True)


def test_body_shows_what_the_on_call_needs() -> None:
    html = draft_for(SENTRY_EVENT).html_notes
    for expected in (
        '<a href="https://sentry.io/organizations/acme/issues/1117540176/">Open in Sentry</a>',
        "2024-03-05 14:07:09 UTC",
        "prod",
        "error → High",
        "ZeroDivisionError: division by zero",
        "investigate.views in compute",
        "investigate/views.py:42",
        "panther@1.4.2",
        "https://api.example.com/investigate/x?a=1&amp;b=2",
        "<code>server_name</code>: panther-alerts-api",
        "matched server_name:panther-alerts-api",
        "Board: backlog",
    ):
        assert expected in html


def test_title_and_tags_are_escaped_not_interpreted() -> None:
    draft = draft_for(HOSTILE)
    assert "<script>" not in draft.html_notes and "<b>" not in draft.html_notes
    assert "&lt;tag&gt;" in draft.html_notes
    assert "&amp;amp; &quot;quoted&quot; 'single'" in draft.html_notes
    assert "a &lt; b &amp;&amp; c &gt; d" in draft.html_notes
    assert 'href="https://sentry.io/issues/666/?q=&quot;&gt;&lt;script&gt;"' in draft.html_notes
    assert "&lt;/body&gt;&lt;body&gt;" in draft.html_notes


def test_name_is_one_clean_line_with_priority() -> None:
    assert draft_for(HOSTILE).name == '[High] <script>alert("x")</script> & <b>bold</b> ]]> end'
    assert draft_for(EMPTY_TITLE, priority="Low").name == "[Low] Datadog alert"


@pytest.mark.parametrize(
    ("title", "ends_with"),
    [
        ("word " * 100, "word…"),
        ("x" * 500, "x…"),
    ],
    ids=["cut-at-word", "one-long-token"],
)
def test_long_names_are_truncated(title: str, ends_with: str) -> None:
    alert = Alert(source="sentry", resource="issue", key="k", action=Action.TRIGGERED, title=title)
    name = draft_for(alert).name
    assert len(name) <= MAX_NAME_CHARS
    assert len(name) > MAX_NAME_CHARS - 10
    assert name.endswith(ends_with)


def test_short_name_is_kept_whole() -> None:
    assert draft_for(SENTRY_EVENT).name == "[High] ZeroDivisionError: division by zero"


def test_non_ascii_survives_in_name_body_and_notes() -> None:
    draft = draft_for(NON_ASCII)
    assert draft.name == "[High] Ошибка оплаты: 支付失败 💥 — café"
    assert "Île-de-France" in draft.html_notes and "paiement-€" in draft.html_notes
    assert "<code>région</code>" in draft.html_notes
    assert "Ошибка" not in draft.notes  # the title lives in the name, not the body
    assert "région: Île-de-France" in draft.notes


def test_links_are_filled_quoted_and_missing_ones_omitted() -> None:
    html = draft_for(SENTRY_EVENT).html_notes
    assert '<a href="https://wiki.example.com/runbooks/panther-alerts-api">Runbook</a>' in html
    assert 'href="https://console.cloud.google.com/traces/list?tid=ab12"' in html
    assert "Logs" not in html  # {pod} is not a tag of this alert
    assert "Service" not in html  # neither is {service}
    datadog = draft_for(DATADOG).html_notes
    assert 'href="https://grafana.example.com/d/checkout"' in datadog
    assert "Runbook" not in datadog  # no server_name tag


@pytest.mark.parametrize(
    ("template", "fields", "expected"),
    [
        ("https://x/{a}", {"a": "b c/d&e"}, "https://x/b%20c%2Fd%26e"),
        ("https://x/{a}/{b}", {"a": "1"}, None),
        ("https://x/{ a }", {"a": "1"}, "https://x/1"),
        ("https://x/{a}", {"a": ""}, None),
        ("https://x/static", {}, "https://x/static"),
        ("https://x/{a}", {"a": "é:1"}, "https://x/%C3%A9%3A1"),
    ],
    ids=["quoted", "missing", "spaces-in-braces", "empty-value", "no-placeholder", "non-ascii"],
)
def test_fill_template(template: str, fields: dict[str, str], expected: str | None) -> None:
    assert fill_template(template, fields) == expected


def test_non_web_link_is_shown_as_text_not_as_a_link() -> None:
    config = TeamsConfig(
        teams=(TEAM,),
        default_team=TEAM.name,
        template=TaskTemplate(links=(("Shell", "javascript:alert({trace})"),)),
    )
    html = draft_for(SENTRY_EVENT, config).html_notes
    assert 'href="javascript' not in html
    assert "Shell: <code>javascript:alert(ab12)</code>" in html


def test_custom_fields_followers_assignee_and_workspace_are_mapped() -> None:
    data = draft_for(SENTRY_EVENT, priority="Medium").to_asana()
    assert data["custom_fields"] == {"1600": "1602", "1500": "1501", "1700": "1701"}
    assert data["followers"] == ["1300", "oncall@example.com"]
    assert data["assignee"] == "1400"
    assert data["workspace"] == "1100"
    assert data["projects"] == ["1201"]


def test_bare_config_sends_only_what_is_known() -> None:
    team = Team(name="Core", backlog_project_gid="1201")
    config = TeamsConfig(teams=(team,), default_team="Core")
    draft = render_task(SENTRY_ISSUE, team, config, "High", "1201", "default team", "backlog")
    assert set(draft.to_asana()) == {"name", "projects", "html_notes"}


def test_to_asana_sends_html_notes_or_notes_never_both() -> None:
    draft = draft_for(SENTRY_EVENT)
    assert "notes" not in draft.to_asana() and draft.to_asana()["html_notes"]
    fallback = TaskDraft(name="n", html_notes="", notes="plain", projects=("1",))
    assert fallback.to_asana() == {"name": "n", "projects": ["1"], "notes": "plain"}


def test_plain_notes_carry_the_same_facts() -> None:
    notes = draft_for(SENTRY_EVENT).notes
    assert notes.startswith(
        "Sentry alert: https://sentry.io/organizations/acme/issues/1117540176/\n"
    )
    assert "When: 2024-03-05 14:07:09 UTC" in notes
    assert "- Runbook: https://wiki.example.com/runbooks/panther-alerts-api" in notes
    assert "<" not in notes


def test_highlighted_tags_are_shown_in_configured_order() -> None:
    config = TeamsConfig(
        teams=(TEAM,),
        default_team=TEAM.name,
        template=TaskTemplate(highlighted_tags=("trace", "missing", "server_name")),
    )
    html = draft_for(SENTRY_EVENT, config).html_notes
    assert html.index("<code>trace</code>") < html.index("<code>server_name</code>")
    assert "<code>url</code>" not in html


def test_all_tags_are_bounded() -> None:
    tags = tuple((f"t{i}", str(i)) for i in range(45))
    alert = Alert(
        source="sentry", resource="issue", key="k", action=Action.TRIGGERED, title="t", tags=tags
    )
    html = draft_for(alert, BARE_CONFIG).html_notes
    assert "<code>t29</code>" in html and "<code>t30</code>" not in html
    assert "… and 15 more" in html


def test_time_is_shown_in_utc() -> None:
    paris = timezone(timedelta(hours=2))
    alert = Alert(
        source="sentry",
        resource="issue",
        key="k",
        action=Action.TRIGGERED,
        title="t",
        occurred_at=datetime(2024, 6, 1, 12, 0, tzinfo=paris),
    )
    assert "2024-06-01 10:00:00 UTC" in draft_for(alert).html_notes


def test_comment_says_what_happened_and_when() -> None:
    html = render_comment(SENTRY_EVENT, "Fired again")
    assert html.startswith("<body><strong>Fired again at 2024-03-05 14:07:09 UTC</strong>")
    assert '<a href="https://sentry.io/organizations/acme/issues/1117540176/">Sentry</a>' in html
    assert "(prod, error, panther@1.4.2)" in html
    assert render_comment(SENTRY_ISSUE, "Regressed") == "<body><strong>Regressed</strong></body>"


@pytest.mark.parametrize(
    ("html", "story", "problem"),
    [
        ("<body>fine <strong>bold</strong> <a href='https://x'>x</a></body>", False, None),
        ("<body><h1>Title</h1><ul><li>a<ul><li>b</li></ul></li></ul><hr/></body>", False, None),
        ('<body><a data-asana-gid="123"/></body>', False, None),
        ("<body>unclosed <strong></body>", False, "not well-formed"),
        ("plain text", False, "not well-formed"),
        ("<p>hi</p>", False, "root element must be <body>"),
        ("<body><p>para</p></body>", False, "<p> is not allowed"),
        ("<body><script>x</script></body>", False, "<script> is not allowed"),
        ("<body><img src='x'/></body>", False, "<img> is not allowed"),
        ("<body><strong class='x'>b</strong></body>", False, "attribute 'class'"),
        ("<body><a href='x' onclick='y'>b</a></body>", False, "attribute 'onclick'"),
        ("<body><ul>text<li>a</li></ul></body>", False, "can only contain <li>"),
        ("<body><ul><li>a</li>tail</ul></body>", False, "can only contain <li>"),
        ("<body><li>a</li></body>", False, "<li> is not allowed inside <body>"),
        ("<body><strong><ul><li>a</li></ul></strong></body>", False, "<ul> is not allowed inside"),
        ("<body><a href='x'><a href='y'>z</a></a></body>", False, "<a> is not allowed inside <a>"),
        ("<body><h1>two\nlines</h1></body>", False, "line break"),
        ("<body><h2>head</h2></body>", True, "not allowed in a comment"),
        ("<body>a & b</body>", False, "not well-formed"),
    ],
    ids=[
        "inline",
        "blocks",
        "mention",
        "unclosed",
        "no-xml",
        "wrong-root",
        "p-tag",
        "script",
        "img",
        "attribute-on-strong",
        "onclick",
        "text-in-list",
        "tail-in-list",
        "li-in-body",
        "list-in-strong",
        "nested-link",
        "header-newline",
        "header-in-comment",
        "bare-ampersand",
    ],
)
def test_validate_rich_text(html: str, story: bool, problem: str | None) -> None:
    if problem is None:
        validate_rich_text(html, story=story)
        return
    with pytest.raises(ValueError, match="rich text") as caught:
        validate_rich_text(html, story=story)
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("details", "expected"),
    [
        ((("ignoreUntilEscalating", "True"),), "until it escalates"),
        ((("substatus", "archived_until_escalating"),), "until it escalates"),
        ((("ignoreUntil", "2026-11-21T10:00:00Z"),), "until 2026-11-21 10:00:00 UTC"),
        ((("ignoreDuration", "30"),), "for 30 minutes"),
        ((("ignoreCount", "100"), ("ignoreWindow", "60")),
         "until it occurs 100 more times within 60 minutes"),
        ((("ignoreCount", "100"),), "until it occurs 100 more times"),
        ((("ignoreUserCount", "10"), ("ignoreUserWindow", "1440")),
         "until 10 more users are affected within 1440 minutes"),
        ((("ignoreCount", "5"), ("ignoreUserCount", "2")),
         "until it occurs 5 more times or until 2 more users are affected"),
        ((("substatus", "archived_forever"),), "forever"),
        ((), "forever"),
    ],
    ids=["escalating", "escalating-substatus", "until-date", "duration", "count-in-window",
         "count", "users-in-window", "count-or-users", "archived-forever", "no-details"],
)
def test_ignore_condition(details: tuple[tuple[str, str], ...], expected: str) -> None:
    assert ignore_condition(details) == expected


@pytest.mark.parametrize(
    ("changes", "what", "expected"),
    [
        ({"action": Action.ASSIGNED, "assignee": "Chloé Martin", "actor": "Sam"}, "Assigned",
         "Assigned to Chloé Martin by Sam at 2024-03-05 14:07:09 UTC"),
        ({"action": Action.ASSIGNED, "assignee": "team backend", "actor": None}, "Assigned",
         "Assigned to team backend at 2024-03-05 14:07:09 UTC"),
        ({"action": Action.ASSIGNED, "assignee": None, "actor": "Sam"}, "Assigned",
         "Assigned (now unassigned) by Sam at 2024-03-05 14:07:09 UTC"),
        ({"action": Action.IGNORED, "actor": "Sam",
          "status_details": (("ignoreCount", "100"), ("ignoreWindow", "60"))},
         "Ignored / archived", "Ignored / archived by Sam at 2024-03-05 14:07:09 UTC, until it "
                               "occurs 100 more times within 60 minutes"),
        ({"action": Action.IGNORED, "actor": None}, "Ignored / archived",
         "Ignored / archived at 2024-03-05 14:07:09 UTC, forever"),
        ({"action": Action.RESOLVED, "actor": "Sam"}, "Resolved",
         "Resolved at 2024-03-05 14:07:09 UTC"),
    ],
    ids=["assigned-user", "assigned-team", "unassigned", "ignored-count", "ignored-forever",
         "resolved-unchanged"],
)
def test_assigned_and_ignored_comments_say_who_and_until_when(
        changes: dict[str, object], what: str, expected: str) -> None:
    alert = replace(SENTRY_EVENT, resource="issue", **changes)  # type: ignore[arg-type]
    html = render_comment(alert, what)
    assert html.startswith(f"<body><strong>{expected}</strong>")
    validate_rich_text(html, story=True)

"""`make demo` shows one alert routed by its Sentry alert rule's settings."""

from __future__ import annotations

import json

from scripts.demo import RULE_PEOPLE, STORY, routing_note
from scripts.send_sample import sample_body
from shared.routing.rule_settings import parse_settings
from shared.sources.sentry.rule_payload import from_payload


def test_the_story_ends_with_the_rule_sample_whose_people_the_fake_asana_knows() -> None:
    assert STORY[-1] == ("rule", "sentry-rule")
    settings = parse_settings(from_payload("event_alert", json.loads(sample_body("sentry-rule"))),
                              "r")
    assert {settings.assignee, *settings.followers} == {email for _, _, email in RULE_PEOPLE}


def test_routing_note_reads_the_routing_section_of_a_task() -> None:
    html = ("<body><strong>Sentry alert</strong><ul><li>When: now</li></ul><h2>Links</h2><ul>"
            "<li>x</li></ul><h2>Routing</h2><ul><li>Team Payments: from alert rule "
            "<code>'X'</code></li><li>Board: backlog</li></ul></body>")
    assert routing_note(html) == ["Team Payments: from alert rule 'X'", "Board: backlog"]
    assert routing_note("<body><h2>Tags</h2><ul><li>a</li></ul></body>") == []
    assert routing_note("") == []

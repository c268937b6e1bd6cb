"""The Asana client against the local fake Asana, and the dry-run stand-in."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from shared.adapters.asana import AsanaClient, AsanaRejected, DryRunAsana
from shared.core.errors import Permanent, Transient, is_retryable
from shared.routing.markers import mark_comment, mark_task
from shared.routing.tasks import TaskDraft
from tests.fakes.asana_server import FakeAsana

TOKEN = "secret-pat-0123456789"
MARKER = "ab-task-0123456789abcdef01234567"
DRAFT = TaskDraft(
    name="[High] ZeroDivisionError: division by zero",
    html_notes="<body><strong>Sentry alert</strong> café &amp; 支付</body>",
    notes="Sentry alert café & 支付",
    projects=("1201",),
    workspace="1100",
    custom_fields={"1600": "1601"},
    followers=("1300",),
    assignee="1400",
)


@pytest.fixture
def asana() -> Iterator[FakeAsana]:
    with FakeAsana(token=TOKEN) as fake:
        fake.add_project("1201", "Payments backlog")
        yield fake


class Sleeps(list[float]):
    """Record waits instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def client(fake: FakeAsana, sleeps: Sleeps, **kwargs: Any) -> AsanaClient:
    return AsanaClient(fake.url, kwargs.pop("token", TOKEN), sleep=sleeps, **kwargs)


def test_create_task_sends_the_draft_with_bearer_auth(asana: FakeAsana, sleeps: Sleeps) -> None:
    gid = client(asana, sleeps).create_task(DRAFT, MARKER)
    task = asana.tasks[gid]
    assert task["name"] == DRAFT.name
    assert task["html_notes"] == DRAFT.html_notes
    assert task["projects"][0]["name"] == "Payments backlog"
    assert task["custom_fields"] == {"1600": "1601"}
    assert task["completed"] is False
    (request,) = asana.requests
    assert (request.method, request.path) == ("POST", "/tasks")
    assert request.authorization == f"Bearer {TOKEN}"
    assert request.body == {"data": DRAFT.to_asana()}
    assert sleeps == []


def test_comment_is_added_as_a_story(asana: FakeAsana, sleeps: Sleeps) -> None:
    asana_client = client(asana, sleeps)
    task = asana_client.create_task(DRAFT, MARKER)
    story = asana_client.add_comment(task, "<body><strong>Fired again</strong></body>")
    assert [s["gid"] for s in asana.stories[task]] == [story]
    assert asana.stories[task][0]["html_text"] == "<body><strong>Fired again</strong></body>"


def test_complete_then_reopen(asana: FakeAsana, sleeps: Sleeps) -> None:
    asana_client = client(asana, sleeps)
    task = asana_client.create_task(DRAFT, MARKER)
    asana_client.set_completed(task, True)
    assert asana_client.get_task(task)["completed"] is True
    asana_client.set_completed(task, False)
    assert asana.tasks[task]["completed"] is False


def test_missing_task_is_permanent_with_status_404(asana: FakeAsana, sleeps: Sleeps) -> None:
    with pytest.raises(AsanaRejected) as caught:
        client(asana, sleeps).get_task("999")
    assert caught.value.status == 404
    assert "task: Unknown object: 999" in str(caught.value)


def test_portfolio_items_follow_pagination_across_pages(asana: FakeAsana, sleeps: Sleeps) -> None:
    items = [
        {
            "gid": str(2000 + i),
            "name": f"Sprint {i}",
            "archived": i < 200,
            "start_on": "2024-01-01",
            "due_on": "2024-01-14",
            "created_at": "2024-01-01T00:00:00Z",
        }
        for i in range(250)
    ]
    asana.add_portfolio("1800", items)
    got = client(asana, sleeps).portfolio_items("1800")
    assert [item["gid"] for item in got] == [item["gid"] for item in items]
    assert got[-1] == {**items[-1], "resource_type": "project"}
    assert len(asana.requests) == 3
    first, second, _ = asana.requests
    assert first.query["limit"] == ["100"]
    assert first.query["opt_fields"] == ["name,archived,start_on,due_on,created_at,resource_type"]
    assert "offset" not in first.query and second.query["offset"] == ["o100"]


def test_429_waits_for_retry_after_then_succeeds(
    asana: FakeAsana, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    asana.fail_next(2, 429, retry_after=7)
    with caplog.at_level(logging.WARNING, logger="shared.adapters.asana"):
        gid = client(asana, sleeps).create_task(DRAFT, MARKER)
    assert gid in asana.tasks and len(asana.tasks) == 1
    assert sleeps == [7.0, 7.0]
    assert "asana POST /tasks: 429" in caplog.text and "in 7.00s" in caplog.text


def test_retry_after_is_capped(asana: FakeAsana, sleeps: Sleeps) -> None:
    asana.fail_next(1, 429, retry_after=3600)
    client(asana, sleeps).create_task(DRAFT, MARKER)
    assert sleeps == [30.0]


def test_5xx_is_retried_with_growing_jittered_backoff(asana: FakeAsana, sleeps: Sleeps) -> None:
    asana_client = client(asana, sleeps)
    task = asana_client.create_task(DRAFT, MARKER)
    asana.fail_next(3, 500)
    asana_client.set_completed(task, True)
    assert asana.tasks[task]["completed"] is True
    assert len(sleeps) == 3
    for wait, ceiling in zip(sleeps, (0.5, 1.0, 2.0), strict=True):
        assert ceiling / 2 <= wait <= ceiling


def test_400_is_permanent_and_carries_asanas_message(asana: FakeAsana, sleeps: Sleeps) -> None:
    draft = TaskDraft(name="x", html_notes="", notes="n", projects=("123",))
    with pytest.raises(Permanent) as caught:
        client(asana, sleeps).create_task(draft, MARKER)
    assert str(caught.value) == "asana POST /tasks: 400 project: Not a recognized ID: 123"
    assert caught.value.reason == "asana_http_400"
    assert not is_retryable(caught.value)
    assert len(asana.requests) == 1 and sleeps == []


def test_401_is_permanent_and_never_shows_the_token(
    asana: FakeAsana, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "wrong-pat-secret-42"
    with caplog.at_level(logging.DEBUG), pytest.raises(AsanaRejected) as caught:
        client(asana, sleeps, token=wrong).create_task(DRAFT, MARKER)
    assert caught.value.status == 401
    assert "Not Authorized" in str(caught.value)
    assert wrong not in str(caught.value) and wrong not in caplog.text
    assert TOKEN not in caplog.text


def test_exhausted_attempts_raise_transient(asana: FakeAsana, sleeps: Sleeps) -> None:
    asana.fail_next(10, 429)
    with pytest.raises(Transient, match=r"asana POST /tasks: 429 .* after 3 attempts"):
        client(asana, sleeps, max_attempts=3).create_task(DRAFT, MARKER)
    assert len(asana.requests) == 3 and len(sleeps) == 2
    assert asana.tasks == {}


def marked(draft: TaskDraft = DRAFT) -> TaskDraft:
    return mark_task(draft, MARKER)


@pytest.mark.parametrize("lost", [
    {"status": 500}, {"status": 502}, {"status": 201, "delay": 1.0}],
    ids=["500-after-storing", "502-after-storing", "answer-timed-out"])
def test_a_create_whose_answer_was_lost_is_adopted_not_repeated(
        asana: FakeAsana, sleeps: Sleeps, lost: dict[str, Any]) -> None:
    asana.lose_next_answers(1, **lost)
    gid = client(asana, sleeps, timeout=(1.0, 0.3)).create_task(marked(), MARKER)
    assert list(asana.tasks) == [gid]
    assert [(r.method, r.path) for r in asana.requests] == [("POST", "/tasks"), ("GET", "/tasks")]


def test_a_create_refused_before_storing_is_sent_again_after_a_lookup(
        asana: FakeAsana, sleeps: Sleeps) -> None:
    asana.fail_next(1, 503)
    gid = client(asana, sleeps).create_task(marked(), MARKER)
    assert list(asana.tasks) == [gid]
    assert [(r.method, r.path) for r in asana.requests] == [
        ("POST", "/tasks"), ("GET", "/tasks"), ("POST", "/tasks")]


def test_a_429_is_retried_without_a_lookup(asana: FakeAsana, sleeps: Sleeps) -> None:
    asana.fail_next(1, 429, retry_after=1)
    client(asana, sleeps).create_task(marked(), MARKER)
    assert [r.method for r in asana.requests] == ["POST", "POST"]


def test_find_task_looks_in_the_project_since_a_time_and_pages(
        asana: FakeAsana, sleeps: Sleeps) -> None:
    asana_client = client(asana, sleeps)
    for n in range(150):
        asana_client.create_task(mark_task(DRAFT, f"ab-task-other{n}"), f"ab-task-other{n}")
    wanted = asana_client.create_task(marked(), MARKER)
    since = datetime.now(UTC) - timedelta(minutes=1)
    assert asana_client.find_task("1201", MARKER, since) == wanted
    assert asana_client.find_task("1201", "ab-task-missing", since) is None
    assert asana_client.find_task("1201", MARKER, datetime.now(UTC) + timedelta(hours=1)) is None
    pages = [r for r in asana.requests if r.path == "/tasks" and r.method == "GET"]
    assert pages[0].query["modified_since"][0].endswith("+00:00")
    assert any("offset" in r.query for r in pages)


def test_has_comment_finds_a_marker_among_the_stories(asana: FakeAsana, sleeps: Sleeps) -> None:
    asana_client = client(asana, sleeps)
    task = asana_client.create_task(marked(), MARKER)
    assert not asana_client.has_comment(task, "ab-msg-1")
    asana_client.add_comment(task, mark_comment("<body>Resolved</body>", "ab-msg-1"))
    assert asana_client.has_comment(task, "ab-msg-1")
    assert not asana_client.has_comment(task, "ab-msg-2")


def test_unreachable_asana_is_transient(sleeps: Sleeps) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    unreachable = AsanaClient(
        f"http://127.0.0.1:{port}/api/1.0", TOKEN, sleep=sleeps, max_attempts=2, timeout=(0.5, 0.5)
    )
    with pytest.raises(Transient, match="ConnectionError after 2 attempts"):
        unreachable.get_task("1")
    assert len(sleeps) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "Could not parse request data, invalid JSON"),
        (b'{"name": "no data wrapper"}', "with a 'data' object"),
        (b'{"data": {"name": "x"}}', "You should specify one of workspace, parent, projects"),
        (
            b'{"data": {"projects": ["1201"], "notes": "a", "html_notes": "<body>b</body>"}}',
            "You may only provide one of notes or html_notes",
        ),
        (
            b'{"data": {"projects": ["1201"], "html_notes": "<body><p>b</p></body>"}}',
            "html_notes: XML is invalid",
        ),
        (
            b'{"data": {"projects": ["1201"], "html_notes": "no body"}}',
            "html_notes: XML is invalid",
        ),
        (b'{"data": {"projects": ["1201"], "colour": "red"}}', "colour: Unknown field"),
        (b'{"data": {"projects": "1201"}}', "projects: Value is not an array of IDs"),
    ],
    ids=[
        "not-json",
        "no-data",
        "no-container",
        "notes-and-html",
        "bad-tag",
        "no-body",
        "unknown-field",
        "projects-not-list",
    ],
)
def test_fake_rejects_malformed_task_bodies(asana: FakeAsana, body: bytes, message: str) -> None:
    response = requests.post(
        f"{asana.url}/tasks", data=body, timeout=5, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 400
    assert message in response.json()["errors"][0]["message"]
    assert asana.tasks == {}


def test_fake_rejects_a_comment_with_headers(asana: FakeAsana, sleeps: Sleeps) -> None:
    asana_client = client(asana, sleeps)
    task = asana_client.create_task(DRAFT, MARKER)
    with pytest.raises(AsanaRejected, match="html_text: XML is invalid"):
        asana_client.add_comment(task, "<body><h1>big</h1></body>")


def test_dry_run_records_the_exact_request(tmp_path: Path) -> None:
    path = tmp_path / "run" / "asana-dry-run.jsonl"
    at = datetime(2024, 3, 5, 14, 7, 9, tzinfo=UTC)
    dry = DryRunAsana(str(path), clock=lambda: at)
    task = dry.create_task(DRAFT, MARKER)
    dry.add_comment(task, "<body>again</body>")
    dry.set_completed(task, True)
    assert task == "dry-run-1"
    assert dry.portfolio_items("1800") == []
    assert dry.get_task(task)["gid"] == task
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert lines == [
        {
            "method": "POST",
            "path": "/tasks",
            "body": {"data": DRAFT.to_asana()},
            "at": "2024-03-05T14:07:09+00:00",
            "preview": DRAFT.notes,
        },
        {
            "method": "POST",
            "path": "/tasks/dry-run-1/stories",
            "body": {"data": {"html_text": "<body>again</body>"}},
            "at": "2024-03-05T14:07:09+00:00",
        },
        {
            "method": "PUT",
            "path": "/tasks/dry-run-1",
            "body": {"data": {"completed": True}},
            "at": "2024-03-05T14:07:09+00:00",
        },
    ]
    assert "café & 支付" in path.read_text(encoding="utf-8")  # readable, not \\u-escaped


def test_dry_run_body_is_accepted_by_the_fake(asana: FakeAsana, tmp_path: Path) -> None:
    path = tmp_path / "dry.jsonl"
    DryRunAsana(str(path)).create_task(DRAFT, MARKER)
    recorded = json.loads(path.read_text(encoding="utf-8"))
    response = requests.post(
        f"{asana.url}{recorded['path']}",
        json=recorded["body"],
        timeout=5,
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 201
    assert response.json()["data"]["permalink_url"].startswith("https://app.asana.com/0/1201/")


def test_asanas_error_text_is_masked_before_anyone_logs_it(
    asana: FakeAsana, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    asana.fail_next(1, 400, message=(
        "name: card 4111 1111 1111 1111 of jane.roe@example.com, call +44 20 7946 0958, "
        "from 198.51.100.7, ssn 123-45-6789, invalid token ghp_" + "x1" * 18))
    with caplog.at_level(logging.DEBUG), pytest.raises(AsanaRejected) as caught:
        client(asana, sleeps).create_task(DRAFT, MARKER)
    assert str(caught.value) == (
        "asana POST /tasks: 400 name: card XXXX-XXXX-XXXX-XXXX of ja***@example.com, "
        "call +XX XX XXXX 0958, from XXX.XXX.XXX.XXX, ssn XXX-XX-XXXX, invalid token [Filtered]")
    for leak in ("4111", "jane.roe", "7946", "198.51", "6789", "ghp_"):
        assert leak not in caplog.text

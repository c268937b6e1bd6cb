"""The two-way sync's Asana calls against the local fake Asana: the project's workspace, the
paged task list, the webhooks' health fields."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.asana import AsanaRejected
from shared.sources.asana.sync_client import AsanaSyncClient
from tests.fakes.asana_server import FakeAsana

TOKEN = "sync-pat-0123456789"
PROJECT = "1201"
PERSON = "1209990000000042"


@pytest.fixture
def asana() -> Iterator[FakeAsana]:
    with FakeAsana(token=TOKEN, default_workspace="1100") as fake:
        fake.add_project(PROJECT, "Payments backlog")
        yield fake


def client(asana: FakeAsana) -> AsanaSyncClient:
    return AsanaSyncClient(asana.url, TOKEN, max_attempts=1)


def task(asana: FakeAsana, name: str) -> str:
    created = asana.handle("POST", "/api/1.0/tasks", {"authorization": f"Bearer {TOKEN}"},
                           f'{{"data": {{"name": "{name}", "projects": ["{PROJECT}"]}}}}'
                           .encode())
    return str(created[1]["data"]["gid"])


def test_the_workspace_of_a_project(asana: FakeAsana) -> None:
    asana.add_project("1202", "Elsewhere", workspace={"gid": "1900", "resource_type": "workspace"})
    assert client(asana).project_workspace(PROJECT) == "1100"
    assert client(asana).project_workspace("1202") == "1900"
    [request] = [r for r in asana.requests if r.path == f"/projects/{PROJECT}"]
    assert request.query == {"opt_fields": ["workspace"]}
    with pytest.raises(AsanaRejected, match="Unknown object"):
        client(asana).project_workspace("1999")


def test_a_project_task_list_is_one_paged_read_with_the_state_fields(asana: FakeAsana) -> None:
    gids = [task(asana, f"t{n}") for n in range(150)]
    asana.complete_as(gids[3], True, PERSON)
    tasks = list(client(asana).project_tasks(PROJECT, None))
    assert [t["gid"] for t in tasks] == gids
    assert tasks[3]["completed"] is True and tasks[3]["completed_by"]["gid"] == PERSON
    lists = [r for r in asana.requests if r.method == "GET" and r.path == "/tasks"]
    assert len(lists) == 2  # 100 a page
    assert lists[0].query == {"project": [PROJECT], "limit": ["100"],
                              "opt_fields": ["completed,completed_by,modified_at"]}


def test_modified_since_leaves_out_older_tasks(asana: FakeAsana) -> None:
    old, new = task(asana, "old"), task(asana, "new")
    asana.tasks[old]["modified_at"] = "2026-01-01T00:00:00.000Z"
    since = datetime.now(UTC) - timedelta(minutes=5)
    assert [t["gid"] for t in client(asana).project_tasks(PROJECT, since)] == [new]
    [request] = [r for r in asana.requests if (r.method, r.path) == ("GET", "/tasks")]
    assert request.query["modified_since"] == [since.isoformat(timespec="seconds")]


def test_the_fake_refuses_what_asana_refuses(asana: FakeAsana) -> None:
    headers = {"authorization": f"Bearer {TOKEN}"}
    for path, message in [(f"/tasks?project={PROJECT}&opt_fields=colour", "Unknown field"),
                          (f"/tasks?project={PROJECT}&sort=asc", "Unknown parameter"),
                          (f"/tasks?project={PROJECT}&modified_since=yesterday", "date-time"),
                          ("/tasks", "Must specify"),
                          ("/webhooks?workspace=1100&colour=red", "Unknown parameter"),
                          ("/webhooks", "workspace")]:
        status, answer, _ = asana.handle("GET", "/api/1.0" + path, headers, b"")
        assert status in (400, 404) and message in answer["errors"][0]["message"], path


def test_deleting_a_webhook_that_is_already_gone_is_fine(asana: FakeAsana) -> None:
    client(asana).delete_webhook("1299")  # Asana answers 404: nothing left to delete
    assert [r.path for r in asana.requests] == ["/webhooks/1299"]

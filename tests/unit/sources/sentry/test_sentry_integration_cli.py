"""make sentry-integration against a fake of Sentry's custom-integration API."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from shared.sources.sentry.integration_cli import main, webhook_problem
from shared.sources.sentry.rule_schema import schema
from tests.fakes.sentry_platform import FakeSentryAppsApi

TOKEN = "sentry-user-token"
SLUG = "alert-bridge-4f2a1c"
RUN_APP = "https://alert-bridge-ingest-abc123-ew.a.run.app"


@pytest.fixture
def sentry(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSentryAppsApi]:
    with FakeSentryAppsApi(token=TOKEN) as fake:
        fake.add_app(SLUG, RUN_APP, scopes=["event:read", "event:write", "project:read"])
        monkeypatch.setenv("SENTRY_AUTH_TOKEN", TOKEN)
        monkeypatch.setenv("SENTRY_API_URL", fake.url)
        monkeypatch.delenv("SENTRY_APP_SLUG", raising=False)
        yield fake


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_print_shows_the_schema_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys)
    assert (status, err) == (0, "")
    assert json.loads(out) == schema()


def test_apply_writes_the_schema_and_keeps_name_and_scopes(
        sentry: FakeSentryAppsApi, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "--apply", "--app", SLUG)
    assert (status, err) == (0, "")
    assert out.endswith(f"integration '{SLUG}': added the schema and turned Alert Rule Action "
                        "on; alert rules now offer \"Create an Asana task\"\n")
    [put] = [r for r in sentry.requests if r.method == "PUT"]
    assert put.path == f"/api/0/sentry-apps/{SLUG}/"
    assert put.headers["authorization"] == f"Bearer {TOKEN}"
    assert put.body == {"name": "alert-bridge", "isAlertable": True, "schema": schema(),
                        "scopes": ["event:read", "event:write", "project:read"]}
    assert sentry.apps[SLUG]["schema"] == schema() and sentry.apps[SLUG]["isAlertable"]


def test_apply_twice_changes_nothing_the_second_time(
        sentry: FakeSentryAppsApi, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTRY_APP_SLUG", SLUG)
    assert run(capsys, "--apply")[0] == 0
    status, out, _ = run(capsys, "--apply")
    assert status == 0 and out.endswith("schema already up to date\n")
    assert [r.method for r in sentry.requests] == ["GET", "PUT", "GET"]


@pytest.mark.parametrize(("arrange", "status", "message"), [
    (lambda fake, mp: fake.scopes.discard("org:write"), 1,
     "Sentry refused the update: sentry PUT /sentry-apps/alert-bridge-4f2a1c/: 403 You do not "
     "have permission to perform this action. (the token needs org:write)"),
    (lambda fake, mp: mp.setenv("SENTRY_AUTH_TOKEN", "wrong"), 2,
     "sentry GET /sentry-apps/alert-bridge-4f2a1c/: 401 Invalid token"),
    (lambda fake, mp: fake.apps.clear(), 2,
     "404 Could not find the requested sentry app"),
    (lambda fake, mp: mp.delenv("SENTRY_AUTH_TOKEN"), 2, "--apply needs SENTRY_AUTH_TOKEN"),
], ids=["token-without-org-write", "wrong-token", "unknown-slug", "no-token"])
def test_apply_refusals_say_why(sentry: FakeSentryAppsApi, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str], arrange: object, status: int,
                                message: str) -> None:
    arrange(sentry, monkeypatch)  # type: ignore[operator]
    code, _, err = run(capsys, "--apply", "--app", SLUG)
    assert code == status
    assert message in err
    assert sentry.apps.get(SLUG, {}).get("schema") in (None, {})


def test_apply_without_a_slug_is_refused_before_any_call(
        sentry: FakeSentryAppsApi, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "--apply")
    assert status == 2 and "--app SLUG (or SENTRY_APP_SLUG)" in err
    assert sentry.requests == []


@pytest.mark.parametrize(("url", "problem"), [
    (RUN_APP, None),
    (RUN_APP + "/", None),
    ("https://europe-west1-acme.cloudfunctions.net/alert-bridge-ingest",
     "Sentry sends the alert-rule form to https://europe-west1-acme.cloudfunctions.net/sentry/"
     "alert-rule-action, not under /alert-bridge-ingest: use the webhook_url output (the "
     "function's own run.app URL), where every path reaches ingest"),
    ("", "the integration has no webhook URL: Sentry sends alert rules nowhere"),
], ids=["run-app", "run-app-slash", "path-based-url", "none"])
def test_webhook_urls_that_lose_the_form_are_flagged(url: str, problem: str | None) -> None:
    assert webhook_problem(url) == problem


def test_apply_warns_about_a_path_based_webhook_url(
        sentry: FakeSentryAppsApi, capsys: pytest.CaptureFixture[str]) -> None:
    sentry.apps[SLUG]["webhookUrl"] = "https://europe-west1-acme.cloudfunctions.net/ingest"
    status, _, err = run(capsys, "--apply", "--app", SLUG)
    assert status == 0 and err.startswith("warning: Sentry sends the alert-rule form to ")

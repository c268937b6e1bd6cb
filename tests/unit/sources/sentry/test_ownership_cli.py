"""make sentry-ownership against the local fake Sentry API: print, apply, refusals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.sources.sentry.ownership_cli import main
from tests.fakes.link_target_servers import FakeSentryApi

TOKEN = "sentry-ownership-token"
ROOT = Path(__file__).resolve().parents[4]
LEGACY = str(ROOT / "tests" / "data" / "teams_legacy_observability.yaml")
TEAMS = str(ROOT / "teams.yaml")


@pytest.fixture
def sentry(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSentryApi]:
    with FakeSentryApi(token=TOKEN) as fake:
        fake.projects |= {"billing", "web-frontend", "checkout-web"}
        fake.teams |= {"platform", "payments", "investigations", "growth"}
        monkeypatch.setenv("SENTRY_AUTH_TOKEN", TOKEN)
        monkeypatch.setenv("SENTRY_API_URL", fake.url)
        monkeypatch.delenv("SENTRY_ORG", raising=False)
        monkeypatch.delenv("DEFAULT_TEAM", raising=False)
        yield fake


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_print_lists_rules_per_project_and_what_sentry_cannot_express(
        capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "--teams", LEGACY)
    assert (status, err) == (0, "")
    assert out.split("\n\n")[1:] == [
        "# project billing\nurl:*/checkout/* #payments\ntags.service:payments-api #payments",
        "# Notes:\n#   team 'Payments': no sentry_team, using #payments (set sentry_team to "
        "the team's slug)\n",
    ]


def test_print_without_projects_shows_the_rules_of_every_project(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "teams.yaml"
    path.write_text("- Name: Default\n  AsanaBacklogId: '1'\n"
                    "- Name: Search\n  SentryTeam: search\n  AsanaBacklogId: '2'\n"
                    "  Entities: [{Matchers: ['server_name:/^search-/']}, "
                    "{Matchers: ['title:/Timeout/']}]\n")
    status, out, _ = run(capsys, "--teams", str(path))
    assert status == 0
    assert "# every project (name them with ARGS=\"--project SLUG\")\n" \
           "tags.server_name:search-* #search\n" in out
    assert ("#   team 'Search': group 2 (title:/Timeout/): 'title' has no Sentry ownership "
            "equivalent\n") in out


def test_apply_writes_each_project_through_the_ownership_api(
        sentry: FakeSentryApi, capsys: pytest.CaptureFixture[str]) -> None:
    sentry.ownership["billing"] = {
        "raw": "path:src/billing/* #payments\n", "fallthrough": False, "dateCreated": None,
        "lastUpdated": None, "isActive": True, "autoAssignment": "Turn off Auto-Assignment",
        "codeownersAutoSync": True, "schema": None}
    status, out, err = run(capsys, "--teams", TEAMS, "--org", "acme", "--project",
                           "checkout-web", "--apply")
    assert (status, err) == (0, "")
    puts = [r for r in sentry.requests if r.method == "PUT"]
    assert [r.path for r in puts] == [f"/api/0/projects/acme/{p}/ownership/"
                                      for p in ("web-frontend", "billing", "checkout-web")]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in puts)
    billing = sentry.ownership["billing"]
    assert billing["raw"].splitlines()[-1] == "tags.team:platform #platform"
    assert billing["schema"]["rules"][-1] == {
        "matcher": {"type": "tags.team", "pattern": "platform"},
        "owners": [{"type": "team", "identifier": "platform"}]}
    assert billing["fallthrough"] is False  # only raw was sent: the rest is untouched
    assert billing["autoAssignment"] == "Turn off Auto-Assignment"
    assert ("project billing: wrote 8 rules, replacing 1 others: path:src/billing/* #payments"
            in out.splitlines())
    assert "project checkout-web: wrote 6 rules" in out.splitlines()


def test_apply_reports_a_project_sentry_refuses_and_goes_on(
        sentry: FakeSentryApi, capsys: pytest.CaptureFixture[str]) -> None:
    sentry.teams.discard("growth")
    status, out, err = run(capsys, "--teams", TEAMS, "--org", "acme", "--project", "nope",
                           "--apply")
    assert status == 1
    assert err.splitlines() == [
        "error: project web-frontend: sentry PUT /projects/acme/web-frontend/ownership/: 400 "
        '{"raw": ["Invalid rule owners: #growth"]}',
        "error: project billing: sentry PUT /projects/acme/billing/ownership/: 400 "
        '{"raw": ["Invalid rule owners: #growth"]}',
        "error: project nope: sentry GET /projects/acme/nope/ownership/: 404 The requested "
        "resource does not exist",
    ]
    assert sentry.ownership == {}


@pytest.mark.parametrize(
    ("argv", "unset", "expected"),
    [
        (["--apply"], [], "error: --apply needs --org (or SENTRY_ORG)"),
        (["--apply", "--org", "acme"], ["SENTRY_AUTH_TOKEN"], "error: --apply needs "
                                                              "SENTRY_AUTH_TOKEN"),
    ],
    ids=["no-org", "no-token"],
)
def test_apply_says_what_is_missing(sentry: FakeSentryApi, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch, argv: list[str],
                                    unset: list[str], expected: str) -> None:
    for name in unset:
        monkeypatch.delenv(name)
    status, _, err = run(capsys, "--teams", TEAMS, *argv)
    assert (status, err) == (2, expected + "\n")
    assert sentry.requests == []


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "answer"),
    [
        ("PUT", "/api/0/projects/acme/billing/ownership/", {"raw": "url:*/x"}, 400,
         {"raw": ["Parse error: line 1: 'url:*/x'"]}),
        ("PUT", "/api/0/projects/acme/billing/ownership/", {"raw": "colour:x #growth"}, 400,
         {"raw": ["Parse error: line 1: 'colour:x #growth'"]}),
        ("PUT", "/api/0/projects/acme/billing/ownership/", {"raw": 3}, 400,
         {"raw": ["Not a valid string."]}),
        ("PUT", "/api/0/projects/acme/billing/ownership", {"raw": ""}, 404, None),
        ("GET", "/api/0/projects/other/billing/ownership/", None, 404, None),
    ],
    ids=["no-owner", "unknown-type", "raw-not-string", "no-trailing-slash", "other-org"],
)
def test_fake_refuses_what_sentry_refuses(sentry: FakeSentryApi, method: str, path: str,
                                          body: object, status: int, answer: object) -> None:
    got = sentry.handle(method, path, {"authorization": f"Bearer {TOKEN}"},
                        json.dumps(body).encode() if body is not None else b"")
    assert got[0] == status
    if answer is not None:
        assert got[1] == answer

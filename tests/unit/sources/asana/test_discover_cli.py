"""make asana-discover against the local fake Asana: the generated file, and --check."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.routing.teams_file import load_teams, parse_teams
from shared.sources.asana.discover_cli import main
from tests.fakes.asana_server import FakeAsana

TOKEN = "discover-pat"
DATA = Path(__file__).resolve().parents[3] / "data"
WS = "1300000000000001"
OTHER_WS = "1300000000000002"


def seed(fake: FakeAsana) -> None:
    """A workspace shaped like the older service's: one team per board owner."""
    fake.add_workspace(WS, "Acme")
    fake.add_workspace(OTHER_WS, "Acme Labs")
    fake.add_team("1300000000000500", "Observability and Performance", WS)
    fake.add_team("1300000000000200", "Payments", WS)
    fake.add_team("1300000000000900", "Empty", WS)
    fake.add_team("1300000000000700", "Labs", OTHER_WS)
    fake.add_team_project("1300000000000501", "O&P backlog", "1300000000000500")
    fake.add_team_project("1300000000000201", "Payments roadmap", "1300000000000200")
    fake.add_team_project("1300000000000202", "Payments Backlog", "1300000000000200")
    fake.add_team_project("1300000000000203", "Old payments", "1300000000000200", archived=True)
    fake.add_team_project("1300000000000701", "Labs backlog", "1300000000000700")
    fake.add_portfolio_record("1300000000000210", "Payments sprints", WS)
    fake.add_portfolio_record("1300000000000220", "Payments sandbox", WS)
    fake.add_portfolio_record("1300000000000710", "Labs sprints", OTHER_WS)
    fake.add_portfolio_record("1300000000000999", "Someone else's", WS, owner="1300000000008888")
    fake.add_custom_field("1300000000000100", "Priority", WS,
                          [("1300000000000101", "High"), ("1300000000000102", "Medium"),
                           ("1300000000000103", "Low")])
    fake.add_custom_field("1300000000000110", "Team", WS,
                          [("1300000000000111", "Observability and Performance"),
                           ("1300000000000112", "Payments")])
    fake.add_custom_field("1300000000000120", "Notes", WS)
    fake.add_custom_field("1300000000000130", "Labs field", OTHER_WS, [("1300000000000131", "A")])
    fake.add_user("1300000000009001", "Chloé Martin", "chloe@example.com", [WS])
    fake.add_user("1300000000009002", "Lab Rat", "rat@example.com", [OTHER_WS])


@pytest.fixture
def asana(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAsana]:
    with FakeAsana(token=TOKEN) as fake:
        seed(fake)
        monkeypatch.setenv("ASANA_PAT", TOKEN)
        monkeypatch.setenv("ASANA_API_URL", fake.url)
        monkeypatch.delenv("DEFAULT_TEAM", raising=False)
        yield fake


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_discover_prints_a_teams_yaml_that_loads_with_the_gids(
        asana: FakeAsana, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "--workspace", WS)
    assert (status, err) == (0, "")
    config = parse_teams(out)
    assert config.workspace_gid == WS
    assert config.default_team == "Observability and Performance"
    assert [t.name for t in config.teams] == ["Observability and Performance", "Payments"]
    payments = config.team("Payments")
    assert (payments.asana_team_gid, payments.backlog_project_gid) == (
        "1300000000000200", "1300000000000202")  # the one named backlog, not the first
    assert (payments.sprint_portfolio_gid, payments.sandbox_portfolio_gid) == (
        "1300000000000210", "1300000000000220")
    assert payments.team_field_option_gid == "1300000000000112"
    assert config.custom_fields.priority_option_gids == {
        "High": "1300000000000101", "Medium": "1300000000000102", "Low": "1300000000000103"}
    assert config.custom_fields.team_field_gid == "1300000000000110"
    assert '"Empty" 1300000000000900' not in out and "team 1300000000000900 has no project" in out
    assert '"Payments roadmap" 1300000000000201' in out  # the alternatives are listed
    assert "Old payments" not in out  # archived projects are left out
    assert "Someone else's" not in out  # only the token's user's portfolios
    assert '"Notes" 1300000000000120 (text)' in out


def test_discover_follows_pagination(asana: FakeAsana,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    for n in range(150):
        asana.add_team_project(f"14000000000{n:05d}", f"Project {n}", "1300000000000500")
    status, out, _ = run(capsys, "--workspace", WS)
    assert status == 0
    pages = [r for r in asana.requests if r.path == "/teams/1300000000000500/projects"]
    assert len(pages) == 2 and pages[1].query["offset"] == ["o100"]
    assert "and 142 more" in out  # 151 projects: the backlog, 8 listed, 142 more


def test_discover_asks_which_workspace_when_there_are_several(
        asana: FakeAsana, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys)
    assert (status, out) == (2, "")
    assert err == ('error: the token sees 2 workspaces: choose one with ARGS="--workspace GID" '
                   f'(Acme {WS}, Acme Labs {OTHER_WS})\n')


@pytest.mark.parametrize(
    ("env", "expected"),
    [({"ASANA_PAT": ""}, "error: ASANA_PAT is not set: export an Asana personal access token"),
     ({"ASANA_PAT": "wrong"},
      "error: asana GET /workspaces: 401 Not Authorized (check ASANA_PAT)")],
    ids=["no-token", "wrong-token"],
)
def test_discover_without_a_valid_token_is_one_line(
        asana: FakeAsana, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        env: dict[str, str], expected: str) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    status, _, err = run(capsys, "--workspace", WS)
    assert (status, err) == (2, expected + "\n")


def test_check_passes_on_the_discovered_file(asana: FakeAsana, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "--workspace", WS)
    path = tmp_path / "teams.yaml"
    path.write_text(out)
    status, out, err = run(capsys, "--check", str(path))
    assert (status, out) == (0, "")
    assert err == f"{path}: 14 gids checked, 0 problems\n"


BAD = f"""
settings:
  workspace_gid: "{WS}"
  default_team: Payments
  custom_fields:
    priority_field_gid: "1300000000000120"
    priority_option_gids: {{High: "1300000000000101", Medium: "1300000000000102", Low: "7"}}
    team_field_gid: "1300000000000110"
    fixed: {{"1300000000000130": "1300000000000131"}}
teams:
  - name: Payments
    asana_team_id: "1300000000000200"
    asana_backlog_id: "1300000000000210"
    asana_sprint_portfolio_id: "1300000000000201"
    asana_sandbox_portfolio_id: "1300000000000710"
    team_field_option_gid: "1300000000000101"
    followers: ["1300000000009002", "nobody@example.com"]
    assignee: "chloe@example.com"
  - name: Observability and Performance
    asana_team_id: "1300000000000700"
    asana_backlog_id: "1300000000000501"
  - name: Ghosts
    asana_team_id: "1300000000000000"
    asana_backlog_id: "1300000000000203"
"""


def test_check_names_the_team_and_key_of_every_problem(
        asana: FakeAsana, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "teams.yaml"
    path.write_text(BAD)
    status, out, err = run(capsys, "--check", str(path))
    assert status == 1
    assert out.splitlines() == [f"{path}: {line}" for line in [
        "settings: custom_fields.priority_field_gid 1300000000000120: custom field 'Notes' is a "
        "text field, not an enum",
        f"settings: custom_fields.fixed.1300000000000130 1300000000000130: custom field 'Labs "
        f"field' is not in workspace {WS}",
        "team 'Payments': asana_backlog_id 1300000000000210: is a portfolio, not a project",
        "team 'Payments': asana_sprint_portfolio_id 1300000000000201: is a project, not a "
        "portfolio",
        f"team 'Payments': asana_sandbox_portfolio_id 1300000000000710: portfolio 'Labs sprints' "
        f"is in workspace {OTHER_WS}, not workspace_gid {WS}",
        "team 'Payments': team_field_option_gid 1300000000000101: not an option of custom field "
        "'Team' (1300000000000110)",
        f"team 'Payments': followers 1300000000009002: user 'Lab Rat' is not a member of "
        f"workspace {WS}",
        "team 'Payments': followers nobody@example.com: not found: no user with this gid, or "
        "the token cannot see it",
        f"team 'Observability and Performance': asana_team_id 1300000000000700: team 'Labs' is "
        f"in workspace {OTHER_WS}, not workspace_gid {WS}",
        "team 'Observability and Performance': asana_backlog_id 1300000000000501: project "
        "'O&P backlog' belongs to team 1300000000000500, not asana_team_id 1300000000000700",
        "team 'Ghosts': asana_team_id 1300000000000000: not found: no team with this gid, or "
        "the token cannot see it",
        "team 'Ghosts': asana_backlog_id 1300000000000203: project 'Old payments' belongs to "
        "team 1300000000000200, not asana_team_id 1300000000000000",
        "team 'Ghosts': asana_backlog_id 1300000000000203: project 'Old payments' is archived",
    ]]
    assert "13 problems" in err
    # The option "7" of priority is not checked: its field is not an enum, reported above.


def test_check_of_a_legacy_file_uses_asana_team_id(
        asana: FakeAsana, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    legacy = textwrap.dedent("""\
        - Name: Observability and Performance
          AsanaTeamId: "1300000000000500"
          AsanaBacklogId: "1300000000000202"
          Entities: []
        """)
    path = tmp_path / "teams.yaml"
    path.write_text(legacy)
    assert load_teams(str(path)).default_team == "Observability and Performance"
    status, out, _ = run(capsys, "--check", str(path))
    assert status == 1
    assert out.splitlines() == [
        f"{path}: team 'Observability and Performance': asana_backlog_id 1300000000000202: "
        "project 'Payments Backlog' belongs to team 1300000000000200, not asana_team_id "
        "1300000000000500",
        f"{path}: settings.workspace_gid not set: workspace membership not checked (add it, "
        "or pass --workspace GID)",
    ]


def test_check_of_the_legacy_fixture_reports_unknown_gids(
        asana: FakeAsana, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(DATA / "teams_legacy_observability.yaml")
    status, out, _ = run(capsys, "--check", path, "--workspace", WS)
    assert status == 1
    assert (f"{path}: team 'Observability and Performance': asana_team_id 1200000000000500: "
            "not found: no team with this gid, or the token cannot see it") in out.splitlines()


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        ("/workspaces/1300000000000001/teams?limit=101", 400, "limit: Must be between 1 and 100"),
        ("/portfolios?owner=me", 400, "workspace: Missing input"),
        ("/projects/abc", 400, "project: Not a valid gid: abc"),
        ("/projects/1300000000000202?opt_fields=nmae", 400, "opt_fields: Unknown field: nmae"),
        ("/teams/1300000000000200/projects?archived=maybe", 400, "archived: Not a boolean"),
        ("/workspaces?colour=blue", 400, "colour: Unknown parameter"),
        ("/workspaces/1300000000000003/custom_fields", 404,
         "workspace: Unknown object: 1300000000000003"),
    ],
    ids=["limit", "portfolios-without-workspace", "bad-gid", "unknown-opt-field",
         "archived-not-boolean", "unknown-parameter", "unknown-workspace"],
)
def test_fake_refuses_malformed_reads(asana: FakeAsana, path: str, status: int,
                                      error: str) -> None:
    answer = asana.handle("GET", "/api/1.0" + path, {"authorization": f"Bearer {TOKEN}"}, b"")
    assert answer[:2] == (status, {"errors": [{"message": error, "help": answer[1]["errors"][0][
        "help"]}]})

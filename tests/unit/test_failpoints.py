"""Failpoints: chosen only outside prod, and a chosen one kills the process at its point only."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from shared.core import failpoints
from shared.core.errors import ConfigError

POINT = "after_asana_create"


@pytest.mark.parametrize(("environ", "environment"), [
    ({}, "prod"),
    ({}, "dev"),
    ({failpoints.VARIABLE: "  "}, "staging"),
], ids=["prod-without-one", "dev-without-one", "blank"])
def test_no_failpoint_chosen_crashes_nowhere(environ: dict[str, str], environment: str) -> None:
    assert failpoints.from_environment(environ, environment) is failpoints.none


@pytest.mark.parametrize(("environ", "environment", "named"), [
    ({failpoints.VARIABLE: POINT}, "prod", "ENVIRONMENT=prod"),
    ({failpoints.VARIABLE: "nowhere"}, "prod", "ENVIRONMENT=prod"),
    ({failpoints.VARIABLE: POINT, failpoints.ONCE_VARIABLE: "/tmp/x"}, "prod",
     "ENVIRONMENT=prod"),
    ({failpoints.VARIABLE: "nowhere"}, "dev", "'nowhere' is not one of after_claim"),
], ids=["prod", "prod-unknown-point", "prod-once", "unknown-point"])
def test_a_failpoint_is_refused_in_prod_and_when_unknown(
        environ: dict[str, str], environment: str, named: str) -> None:
    with pytest.raises(ConfigError) as error:
        failpoints.from_environment(environ, environment)
    assert failpoints.VARIABLE in str(error.value) and named in str(error.value)


def _hit(environ: dict[str, str], point: str) -> subprocess.CompletedProcess[str]:
    """Run the chosen failpoint's hit(point) in a child process, which it may kill."""
    script = ("import sys; from shared.core import failpoints; "
              f"failpoints.from_environment({environ!r}, 'staging')({point!r}); "
              "print('survived')")
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=30, cwd=Path(__file__).resolve().parents[2])


@pytest.mark.parametrize("point", failpoints.POINTS)
def test_the_chosen_point_kills_the_process(point: str) -> None:
    child = _hit({failpoints.VARIABLE: point}, point)
    assert child.returncode == -signal.SIGKILL and "survived" not in child.stdout


def test_another_point_does_nothing() -> None:
    child = _hit({failpoints.VARIABLE: "after_claim"}, POINT)
    assert (child.returncode, child.stdout.strip()) == (0, "survived")


def test_once_kills_the_first_time_only(tmp_path: Path) -> None:
    environ = {failpoints.VARIABLE: POINT, failpoints.ONCE_VARIABLE: str(tmp_path / "hit")}
    assert _hit(environ, POINT).returncode == -signal.SIGKILL
    assert (tmp_path / "hit").exists()
    assert _hit(environ, POINT).stdout.strip() == "survived"

"""adapters/cli.py: an error ends a command with one line on stderr; a bug keeps its traceback."""

from __future__ import annotations

import pytest
from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions

from shared.adapters import cli
from shared.cli.replay import EXIT_CONFIG, EXIT_UNREACHABLE, exit_status
from shared.core.errors import AlertBridgeError, ConfigError, Transient

CASES: list[tuple[str, Exception, str, int]] = [
    ("ours", ConfigError("GOOGLE_CLOUD_PROJECT: not set"), "GOOGLE_CLOUD_PROJECT: not set",
     EXIT_CONFIG),
    ("ours-on-two-lines", Transient("firestore down\n  retried"), "firestore down retried",
     EXIT_UNREACHABLE),
    ("no-credentials", auth_exceptions.DefaultCredentialsError("Your default credentials were "
                                                              "not found."),
     "no Google credentials: run `gcloud auth application-default login` or set "
     "GOOGLE_APPLICATION_CREDENTIALS", EXIT_CONFIG),
    ("google-call", api_exceptions.ServiceUnavailable("failed to connect; Connection refused"),
     "a Google API call failed: ServiceUnavailable: failed to connect; Connection refused",
     EXIT_UNREACHABLE),
    ("google-retry", api_exceptions.RetryError("Timeout of 8.0s exceeded",
                                               api_exceptions.ServiceUnavailable("refused")),
     "a Google API call failed: ServiceUnavailable: refused (retried)", EXIT_UNREACHABLE),
]


@pytest.mark.parametrize(("error", "line", "status"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_an_error_is_one_line_and_its_exit_status(error: Exception, line: str, status: int,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.fail(error, exit_status) == status
    [printed] = capsys.readouterr().err.splitlines()
    assert printed.startswith(f"error: {line}")


def test_missing_credentials_name_the_emulators_too(capsys: pytest.CaptureFixture[str]) -> None:
    cli.fail(auth_exceptions.DefaultCredentialsError("no ADC"))
    printed = capsys.readouterr().err
    assert "FIRESTORE_EMULATOR_HOST" in printed and "PUBSUB_EMULATOR_HOST" in printed


def test_a_fixed_status_is_returned_for_any_known_error() -> None:
    assert cli.fail(AlertBridgeError("x"), 2) == 2


def test_a_bug_keeps_its_traceback() -> None:
    with pytest.raises(KeyError):
        cli.fail(KeyError("bug"))

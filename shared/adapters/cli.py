"""What the command lines share: an error ends the command with one line on stderr.

A traceback is kept for bugs only: an error of ours, missing Google credentials and a Google
call that failed are each one line that names the dependency or the setting to fix.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from shared.core.errors import AlertBridgeError, Transient


def fail(error: Exception, status: int | Callable[[AlertBridgeError], int] = 1) -> int:
    """Print ``error`` as one line on stderr and return the exit status; re-raise a bug."""
    known = explained(error)
    if known is None:
        raise error
    print(f"error: {' '.join(str(known).split())}", file=sys.stderr)
    return status(known) if callable(status) else status


def explained(error: Exception) -> AlertBridgeError | None:
    """Return ``error`` as one of ours when a command can explain it; None for a bug."""
    if isinstance(error, AlertBridgeError):
        return error
    # Imported here: the commands that never talk to Google do not pay for it.
    from google.api_core import exceptions as api_exceptions
    from google.auth import exceptions as auth_exceptions

    from shared.adapters.google_errors import describe, no_credentials

    if isinstance(error, auth_exceptions.DefaultCredentialsError):
        return no_credentials()
    if isinstance(error, api_exceptions.GoogleAPIError):
        return Transient(f"a Google API call failed: {describe(error)}")
    return None

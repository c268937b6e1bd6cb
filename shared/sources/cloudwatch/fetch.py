"""HTTPS GETs to SNS: a signing certificate, and the SubscribeURL that confirms a subscription.

Both URLs are vetted before they get here (``trust.vet_url``). Redirects are not followed (a
redirect could leave the vetted host), bodies are capped, TLS is verified (against a test CA
only when a test-only trust says so), and every call has a deadline.
"""

from __future__ import annotations

from collections.abc import Callable

import requests

from shared.core.errors import Rejected, Transient, Unauthorized

#: Connect and read timeouts, seconds: ingest answers SNS within its 15 s delivery timeout.
TIMEOUT = (3.0, 5.0)
#: A PEM certificate chain is a few KiB; a ConfirmSubscriptionResponse less than one.
MAX_BYTES = 64 * 1024


class HttpsGet:
    """GET a vetted https URL and return its body; ``verify`` is True or a test CA bundle."""

    def __init__(self, verify: bool | str = True, *, timeout: tuple[float, float] = TIMEOUT,
                 session: requests.Session | None = None) -> None:
        self.verify = verify
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.trust_env = False  # no proxy from the environment sees these requests

    def __call__(self, url: str) -> bytes:
        """Return the body at ``url``: Transient when a retry can help, Unauthorized on a 4xx."""
        return self.get(url, what="signing certificate", refused=Unauthorized)

    def get(self, url: str, *, what: str, refused: Callable[[str], Rejected] = Rejected) -> bytes:
        """GET ``url``; a 4xx raises ``refused`` (a retry cannot help), the rest Transient."""
        try:
            with self.session.get(url, timeout=self.timeout, allow_redirects=False,
                                  verify=self.verify, stream=True) as response:
                status = response.status_code
                body = response.raw.read(MAX_BYTES + 1, decode_content=True)
        except requests.RequestException as error:
            raise Transient(f"sns: {what} at {url[:120]} unreachable: "
                            f"{type(error).__name__}") from error
        if 400 <= status < 500 and status != 429:
            raise refused(f"sns: {what} at {url[:120]} answered {status}")
        if status != 200:
            raise Transient(f"sns: {what} at {url[:120]} answered {status}")
        if len(body) > MAX_BYTES:
            raise Unauthorized(f"sns: {what} at {url[:120]} is larger than {MAX_BYTES} bytes")
        return bytes(body)

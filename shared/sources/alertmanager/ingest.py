"""Alertmanager's webhook at ingest: check the Authorization header, publish one message per
alert of the notification."""

from __future__ import annotations

import base64
import binascii

from shared.core.errors import Unauthorized
from shared.core.settings import checked_against
from shared.core.signatures import verify_token
from shared.sources.alertmanager.keys import RESOURCE, UNIT, key_of
from shared.sources.base import Accepted, IngestContext, Webhook, json_payload
from shared.sources.grouped import messages, read_group, rejected

#: The path of the URL the receiver posts to (docs/alertmanager.md).
PATH = "/alertmanager"
CREDENTIAL = "ALERTMANAGER_TOKEN"
#: Alertmanager's User-Agent ("Alertmanager/0.27.0"): a receiver whose URL lacks the path is
#: still recognised (and then has to authenticate like any other).
USER_AGENT = "alertmanager/"


def claims(hook: Webhook) -> bool:
    """Tell whether a request is Alertmanager's: posted to its path, or by its User-Agent."""
    return hook.path.rstrip("/") == PATH \
        or hook.headers.get("user-agent", "").lower().startswith(USER_AGENT)


def authorized(header: str | None, tokens: tuple[str, ...]) -> bool:
    """Tell whether an Authorization header carries one of the active tokens.

    ``Bearer <token>`` (http_config.authorization) is compared with each token; ``Basic``
    (http_config.basic_auth) matches when its password, or its ``user:password``, is one.
    Every comparison is made in constant time, whatever matched before.
    """
    scheme, _, value = (header or "").strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return verify_token(value, tokens)
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    _, colon, password = decoded.partition(":")
    if not colon:
        return False
    return verify_token(password, tokens) | verify_token(decoded, tokens)


def accept(hook: Webhook, context: IngestContext) -> Accepted:
    """Check the credentials and return one message per alert of the notification."""
    if not authorized(hook.headers.get("authorization"), context.secret(CREDENTIAL)):
        raise Unauthorized("alertmanager authorization missing or wrong: checked against "
                           + checked_against(CREDENTIAL))
    group = read_group(json_payload(hook.body), UNIT, rejected)
    return Accepted(messages(hook, context.now(), group, source="alertmanager",
                             resource=RESOURCE, key=key_of, unit=UNIT))

"""The Asana reads behind an alert rule's settings: a user by e-mail, a project, a portfolio's
items; each answers None when Asana has no such object (or the token cannot see it)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from shared.adapters.asana import AsanaClient, AsanaRejected
from shared.routing.people import PeopleCache

USER_FIELDS = "name,email,workspaces"
PROJECT_FIELDS = "name,archived"
#: Asana's answers for "no such object", "not a valid gid / e-mail" and "not yours to see".
_ABSENT = (400, 403, 404)


class AsanaLookups:
    """Read-only lookups over the Asana client; failures worth a retry raise Transient."""

    def __init__(self, client: AsanaClient) -> None:
        self._client = client
        self._people = PeopleCache(self._fetch_user)

    def user(self, email: str) -> Mapping[str, Any] | None:
        """Return the user whose e-mail this is, remembered for minutes."""
        return self._people.user(email)

    def user_gid(self, email: str, workspace: str | None) -> str | None:
        """Return the gid of the user with this e-mail, if a member of ``workspace``."""
        return self._people.gid(email, workspace)

    def _fetch_user(self, email: str) -> dict[str, Any] | None:
        # GET /users/{user_gid} takes an e-mail address in place of the gid.
        return self._absent_as_none(lambda: self._client.record("users", email, USER_FIELDS)
                                    or None)

    def project(self, gid: str) -> dict[str, Any] | None:
        """Return a project's name and archived flag."""
        return self._absent_as_none(lambda: self._client.record("projects", gid,
                                                                PROJECT_FIELDS) or None)

    def portfolio_items(self, gid: str) -> list[dict[str, Any]] | None:
        """Return a portfolio's items."""
        return self._absent_as_none(lambda: self._client.portfolio_items(gid))

    @staticmethod
    def _absent_as_none(read: Callable[[], Any]) -> Any:
        try:
            return read()
        except AsanaRejected as error:
            if error.status in _ABSENT:
                return None
            raise

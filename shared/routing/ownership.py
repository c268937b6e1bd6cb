"""Route an alert to the team that owns it, with an explanation a human can check."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.routing.teams import Matcher, Team, TeamsConfig

ZAP_PREFIX = "zap_"
# Lower rank wins: a group naming the team beats one naming the service, which beats the rest.
_KEY_RANKS = {"team": 0, "service": 1}
_OTHER_RANK = 2
_RANK_NAMES = {0: "a 'team' matcher", 1: "a 'service' matcher", 2: "no team/service matcher"}


@dataclass(frozen=True)
class Route:
    """Where an alert goes and why."""

    team: Team
    matched: tuple[Matcher, ...]  # the winning AND-group; empty for the default team
    is_default: bool
    explanation: str


@dataclass(frozen=True)
class _Candidate:
    team: Team
    group: tuple[Matcher, ...]
    group_number: int  # 1-based, within the team
    order: int  # position of the group in the whole file

    @property
    def rank(self) -> tuple[int, int, int]:
        key_rank = min((_KEY_RANKS.get(m.key, _OTHER_RANK) for m in self.group),
                       default=_OTHER_RANK)
        return (key_rank, -len(self.group), self.order)


def field_value(fields: Mapping[str, str], key: str) -> tuple[str, str] | None:
    """Return (field name used, value) for ``key``, trying ``zap_<key>`` when key is absent."""
    if key in fields:
        return key, fields[key]
    fallback = ZAP_PREFIX + key
    if fallback in fields:
        return fallback, fields[fallback]
    return None


def matches(matcher: Matcher, fields: Mapping[str, str]) -> bool:
    """Tell whether one matcher holds: exact equality, or a regex found anywhere in the value."""
    found = field_value(fields, matcher.key)
    if found is None:
        return False
    value = found[1]
    if matcher.pattern is not None:
        return matcher.pattern.search(value) is not None
    return value == matcher.exact


def route(alert_fields: Mapping[str, str], config: TeamsConfig) -> Route:
    """Pick the owning team: the best matching group across all teams, else the default team."""
    candidates = _matching_groups(alert_fields, config)
    if not candidates:
        team = config.team(config.default_team)
        return Route(team=team, matched=(), is_default=True,
                     explanation=f"no team matched; default team '{team.name}'")
    ranked = sorted(candidates, key=lambda c: c.rank)
    winner = ranked[0]
    return Route(team=winner.team, matched=winner.group, is_default=False,
                 explanation=_explain(winner, ranked[1:], alert_fields))


def _matching_groups(fields: Mapping[str, str], config: TeamsConfig) -> list[_Candidate]:
    candidates: list[_Candidate] = []
    order = 0
    for team in config.teams:
        for number, group in enumerate(team.entities, start=1):
            order += 1
            if group and all(matches(m, fields) for m in group):
                candidates.append(_Candidate(team, group, number, order))
    return candidates


def _explain(winner: _Candidate, others: list[_Candidate], fields: Mapping[str, str]) -> str:
    conditions = " AND ".join(_describe(m, fields) for m in winner.group)
    text = (f"team '{winner.team.name}': matched {conditions} "
            f"(group {winner.group_number} of {len(winner.team.entities)}")
    rival = next((c for c in others if c.team.name != winner.team.name), None)
    if rival is not None:
        text += (f"; beats '{rival.team.name}' which matched "
                 f"{' AND '.join(m.raw for m in rival.group)}: {_why_better(winner, rival)}")
    return text + ")"


def _describe(matcher: Matcher, fields: Mapping[str, str]) -> str:
    found = field_value(fields, matcher.key)
    if found is not None and found[0] != matcher.key:
        return f"{matcher.raw} (via {found[0]})"
    return matcher.raw


def _why_better(winner: _Candidate, rival: _Candidate) -> str:
    if winner.rank[0] != rival.rank[0]:
        return f"{_RANK_NAMES[winner.rank[0]]} outranks {_RANK_NAMES[rival.rank[0]]}"
    if len(winner.group) != len(rival.group):
        return f"more matchers ({len(winner.group)} vs {len(rival.group)})"
    return "earlier in the file"

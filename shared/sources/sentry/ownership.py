"""Turn teams.yaml matchers into Sentry ownership rules, and list what Sentry cannot express.

Sentry's rules (docs.sentry.io, "Ownership Rules") are one ``type:glob owners`` per line, per
project: ``url:*/checkout/* #payments``, ``tags.server_name:api-1 #search``. A rule has one
condition and its glob (``*``, ``?``) must match the whole value, so an AND-group, a regex
beyond literals, ``.*``, ``.`` and one ``(a|b)`` alternation per place, or a key Sentry events
do not carry, cannot be written; those are reported with the reason.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from shared.routing.ownership import ZAP_PREFIX
from shared.routing.teams import Matcher, Team, TeamsConfig

#: Our derived keys that are Sentry event tags under another (or the same) name.
TAG_KEYS = {"server_name": "server_name", "environment": "environment", "env": "environment",
            "level": "level", "release": "release"}
#: Derived keys with no Sentry ownership equivalent (Datadog-only, or not a tag in Sentry).
NO_EQUIVALENT = frozenset({"title", "culprit", "exception", "rule", "resource", "transition",
                           "priority", "monitor"})
MAX_EXPANSION = 16  # rules one matcher may become through alternations
_KEY_RANKS = {"team": 0, "service": 1}
# Characters a regex may escape that stand for themselves in a glob.
_PLAIN_ESCAPES = frozenset("/.-_:@#,=&%~'\"!<>")


@dataclass(frozen=True)
class Rule:
    """One ownership rule line, and where in teams.yaml it comes from."""

    line: str
    team: str
    source: str  # the matcher group as written, e.g. "project:billing AND url:/checkout/"
    project: str | None = None  # the Sentry project it belongs to; None: every project


@dataclass
class Ownership:
    """Every rule, weakest first, and the matchers left out, with why."""

    rules: list[Rule] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def projects(self) -> list[str]:
        """Return the projects that teams.yaml names, in order of first mention."""
        return list(dict.fromkeys(r.project for r in self.rules if r.project))

    def for_project(self, project: str | None) -> list[Rule]:
        """Return the rules of ``project`` (its own and every project's), weakest first."""
        return [r for r in self.rules if r.project in (None, project)]


def sentry_team(team: Team) -> str:
    """Return the Sentry team slug of ``team``: sentry_team, else derived from its name."""
    return team.sentry_team or re.sub(r"[^a-z0-9]+", "-", team.name.casefold()).strip("-")


def ownership_rules(config: TeamsConfig) -> Ownership:
    """Translate every matcher group; the strongest group's rules come last.

    Sentry assigns an issue to the owners of the last rule that matches, while teams.yaml
    lets a 'team' group beat a 'service' group, then larger groups, then earlier ones.
    """
    result = Ownership()
    groups = [(team, number, group) for team in config.teams
              for number, group in enumerate(team.entities, start=1)]
    for team in config.teams:
        if not team.sentry_team and team.entities:
            result.notes.append(f"team '{team.name}': no sentry_team, using "
                                f"#{sentry_team(team)} (set sentry_team to the team's slug)")
    translated = [(_rank(group, order), _translate(team, number, group, result))
                  for order, (team, number, group) in enumerate(groups)]
    for _, rules in sorted(translated, key=lambda item: item[0], reverse=True):
        result.rules += rules
    return result


def _rank(group: tuple[Matcher, ...], order: int) -> tuple[int, int, int]:
    key_rank = min((_KEY_RANKS.get(m.key, 2) for m in group), default=2)
    return (key_rank, -len(group), order)


def _translate(team: Team, number: int, group: tuple[Matcher, ...],
               result: Ownership) -> list[Rule]:
    """Return the rules of one group, or record in ``result`` why it has none."""
    written = " AND ".join(m.raw for m in group)
    where = f"team '{team.name}': group {number} ({written})"
    projects = [m for m in group if m.key == "project"]
    if any(m.key == "source" and m.exact == "datadog" for m in group):
        result.left_out.append(f"{where}: Datadog alerts only, nothing to own in Sentry")
        return []
    conditions = [m for m in group if m.key not in ("project", "source")]
    if any(m.exact is None for m in projects) or len(projects) > 1:
        result.left_out.append(f"{where}: Sentry rules are per project: name one project "
                               "exactly (project:slug)")
        return []
    if not conditions:
        result.left_out.append(f"{where}: matches every event of the project: make "
                               f"#{sentry_team(team)} the project's team in Sentry instead")
        return []
    if len(conditions) > 1:
        result.left_out.append(f"{where}: a Sentry rule has one condition, this group ANDs "
                               f"{len(conditions)}")
        return []
    try:
        lines = rule_lines(conditions[0], f"#{sentry_team(team)}")
    except ValueError as error:
        result.left_out.append(f"{where}: {error}")
        return []
    project = projects[0].exact if projects else None
    return [Rule(line, team.name, written, project) for line in lines]


def rule_lines(matcher: Matcher, owner: str) -> list[str]:
    """Return the Sentry rule lines of one matcher; ValueError says why there are none."""
    kind = sentry_type(matcher.key)
    if matcher.pattern is not None:
        globs = regex_globs(matcher.pattern.pattern)
    else:
        globs = [exact_glob(matcher.exact or "")]
    return [f"{kind}:{glob} {owner}" for glob in globs]


def sentry_type(key: str) -> str:
    """Return the Sentry matcher type for a teams.yaml key, or raise ValueError."""
    if key == "url":
        return "url"
    if key in NO_EQUIVALENT or key.startswith(ZAP_PREFIX) and key[len(ZAP_PREFIX):] in (
            NO_EQUIVALENT):
        raise ValueError(f"'{key}' has no Sentry ownership equivalent")
    return f"tags.{TAG_KEYS.get(key, key)}"


def exact_glob(value: str) -> str:
    """Return an exact value as a glob; ValueError when it holds glob or rule syntax."""
    if any(c in value for c in "*?[") or any(c.isspace() for c in value):
        raise ValueError(f"value {value!r} holds a glob character or a space, which a Sentry "
                         "rule cannot match literally")
    return value


def regex_globs(pattern: str) -> list[str]:
    """Return globs that together match what ``re.search(pattern)`` finds; ValueError if none.

    Literal characters, ``.*``, ``.``, escaped punctuation, ``^``/``$`` at the ends and
    ``(a|b)`` groups of literals (optionally ``?``) are expressible; the rest is not.
    """
    body, start, end = pattern, "*", "*"
    if body.startswith("^"):
        body, start = body[1:], ""
    if body.endswith("$") and not body.endswith("\\$"):
        body, end = body[:-1], ""
    pieces = _pieces(body, pattern)
    products = list(itertools.islice(itertools.product(*pieces), MAX_EXPANSION + 1))
    if len(products) > MAX_EXPANSION:
        raise ValueError(f"regex /{pattern}/ expands to more than {MAX_EXPANSION} rules")
    globs = []
    for parts in products:
        glob = re.sub(r"\*+", "*", start + "".join(parts) + end)
        if glob not in globs:
            globs.append(glob)
    return globs


def _pieces(body: str, pattern: str) -> list[list[str]]:
    """Split a regex body into alternatives per position: [["/"], ["checkout", "invoices"]]."""
    pieces: list[list[str]] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "(":
            close = body.find(")", index)
            if close < 0:
                raise _unexpressible(pattern, "an unclosed group")
            inner = body[index + 1:close].removeprefix("?:")
            alternatives = [_literal(alt, pattern) for alt in inner.split("|")]
            index = close + 1
            if body[index:index + 1] == "?":
                alternatives.append("")
                index += 1
            pieces.append(alternatives)
            continue
        text, index = _atom(body, index, pattern)
        pieces.append([text])
    return pieces


def _atom(body: str, index: int, pattern: str) -> tuple[str, int]:
    """Return the glob text of the regex atom at ``index`` and the index after it."""
    char = body[index]
    if char == "." and body[index + 1:index + 2] == "*":
        return "*", index + 2
    if char == "." and body[index + 1:index + 2] == "+":
        return "?*", index + 2
    if char == ".":
        return "?", index + 1
    text = _literal(body[index:index + 2] if char == "\\" else char, pattern)
    return text, index + (2 if char == "\\" else 1)


def _literal(text: str, pattern: str) -> str:
    """Return a regex fragment made of literals (and escaped punctuation) as plain text."""
    out = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            escaped = text[index + 1:index + 2]
            if escaped not in _PLAIN_ESCAPES:
                raise _unexpressible(pattern, f"'\\{escaped}'")
            out.append(escaped)
            index += 2
            continue
        if char in "[]{}()+*?|^$." or char.isspace():
            raise _unexpressible(pattern, f"'{char}'" if not char.isspace() else "a space")
        out.append(char)
        index += 1
    return "".join(out)


def _unexpressible(pattern: str, what: str) -> ValueError:
    return ValueError(f"regex /{pattern}/ uses {what}, which Sentry's glob rules cannot express")


def raw_rules(rules: list[Rule]) -> str:
    """Return the ``raw`` text of Sentry's ownership API: one rule per line."""
    return "".join(f"{rule.line}\n" for rule in rules)

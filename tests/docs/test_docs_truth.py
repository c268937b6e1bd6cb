"""The documentation names only what exists, and names everything a user can set or see.

Reads README.md, CHANGELOG.md, docs/*.md and terraform/README.md. Each check extracts the
statements of one kind (a make target, an environment variable, a Terraform variable or output,
a log event, a repository path, a link, a CLI flag, a sample name) and fails with the page and
line of every one that does not exist; the reverse checks fail when the code reads a variable or
logs an event that no page names. The code is read as text (never imported by path), so a module
that moves is still found; `test_summary` prints how many statements were checked.
"""

from __future__ import annotations

import contextlib
import glob
import importlib
import re
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

from scripts import config_docs, make_docs

ROOT = Path(__file__).resolve().parents[2]
CODE_DIRS = ("shared", "functions", "scripts")
CHECKED = Counter[str]()

# --- what the documentation may name besides the code ---------------------------------------

#: UPPER_SNAKE string literals of the code that are not environment variables.
NOT_VARIABLES = {"INSUFFICIENT_DATA"}  # a CloudWatch alarm state
#: Names of other tools a page may mention: Google's, Sentry's SDK, gRPC statuses, placeholders.
EXTERNAL_NAMES = {
    "GOOGLE_APPLICATION_CREDENTIALS",  # Google's client libraries
    "K_REVISION",  # set by Cloud Run
    "DEFAULT_DENYLIST",  # sentry_sdk.scrubber
    "FAILED_PRECONDITION", "PERMISSION_DENIED",  # gRPC status codes in Google's errors
    "ORG_ID", "CUSTOMER_ID",  # placeholders of the Domain Restricted Sharing commands
    "INSUFFICIENT_DATA",  # a CloudWatch alarm state
}
#: Flags of other tools written on their own in prose.
EXTERNAL_FLAGS = {"--data-file", "--no-invoker-iam-check", "--invoker-iam-check", "--help"}
#: Paths that exist only at run time or on the user's machine.
RUNTIME_PATHS = (".run/", ".cache/", ".venv", "terraform/.terraform/", "/tmp/")
RUNTIME_FILES = {".terraform.lock.hcl", "tfplan", "dev.tfplan", "prod.tfplan", "drs.yaml",
                 "teams.new.yaml", "asana-dry-run.jsonl", "run.lock"}
PATH_SUFFIXES = (".py", ".md", ".tf", ".yaml", ".yml", ".json", ".txt", ".sh", ".hcl", ".toml",
                 ".jsonl", ".tfvars")
TOP_DIRS = ("shared/", "functions/", "scripts/", "tests/", "docs/", "terraform/", ".github/")
#: Sections that name what is not ours on purpose: the mistakes the offline Terraform check
#: catches, and the files of Sentry's own repository the alert-rule action was checked against.
EXEMPT_SECTIONS = {("terraform/README.md", "Checks that run offline"),
                   ("docs/sentry-alert-rules.md", "What was checked in Sentry's source")}


# --- the pages -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Snippet:
    """A piece of code in a page: an inline span or one line of a fenced block."""

    page: str
    line: int
    text: str
    fenced: bool
    shell_names: frozenset[str]  # $NAME variables the fenced block uses (its own, not ours)
    context: str  # the paragraph up to the span (inline), or the block (fenced)

    def where(self) -> str:
        """Return page:line."""
        return f"{self.page}:{self.line}"


@dataclass(frozen=True)
class Page:
    """One documentation page."""

    name: str
    path: Path
    text: str

    @property
    def checked_text(self) -> str:
        """Return the text with the exempt sections blanked out (line numbers kept)."""
        lines = self.text.split("\n")
        skipping = 0  # the level of the exempt heading being skipped, 0 when none
        for index, line in enumerate(lines):
            heading = re.match(r"(#{1,6}) (.+)", line)
            if heading and skipping and len(heading.group(1)) <= skipping:
                skipping = 0
            if heading and (self.name, heading.group(2).strip()) in EXEMPT_SECTIONS:
                skipping = len(heading.group(1))
            if skipping:
                lines[index] = ""
        return "\n".join(lines)


def pages() -> list[Page]:
    """Return every page the test reads."""
    paths = [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "terraform" / "README.md",
             *sorted((ROOT / "docs").glob("*.md"))]
    return [Page(str(p.relative_to(ROOT)), p, p.read_text()) for p in paths]


PAGES = pages()
_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
_INLINE = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def snippets(page: Page) -> Iterator[Snippet]:
    """Yield the code of a page: every line of its fenced blocks and every inline span."""
    text = page.checked_text
    for block in _FENCE.finditer(text):
        body = block.group(1)
        names = frozenset(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", body))
        first = _line_of(text, block.start(1))
        for index, line in enumerate(body.splitlines()):
            yield Snippet(page.name, first + index, line, True, names, body)
    prose = _FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    for match in _INLINE.finditer(prose):
        paragraph = max(prose.rfind("\n\n", 0, match.start()), 0)
        yield Snippet(page.name, _line_of(prose, match.start()), match.group(2).strip(), False,
                      frozenset(), prose[paragraph:match.end()])


def prose(page: Page) -> str:
    """Return the page outside its fenced blocks (line numbers kept)."""
    return _FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), page.checked_text)


def prose_lines(page: Page) -> Iterator[tuple[int, str]]:
    """Yield (line number, line) of the page outside its fenced blocks."""
    yield from enumerate(prose(page).splitlines(), 1)


def phrase_matches(page: Page, pattern: str) -> Iterator[tuple[str, re.Match[str]]]:
    """Yield (page:line, match) of a phrase in the prose; its spaces match any line break."""
    text = prose(page)
    for match in re.finditer(pattern.replace(" ", r"\s+"), text):
        yield f"{page.name}:{_line_of(text, match.start())}", match


ALL_SNIPPETS = [s for page in PAGES for s in snippets(page)]


# --- what the code holds -------------------------------------------------------------------

def _code_files(*dirs: str) -> list[Path]:
    return [path for d in dirs for path in sorted((ROOT / d).rglob("*.py"))
            if "__pycache__" not in path.parts]


@cache
def code_text() -> str:
    """Return the Python source of the service, its scripts and its command lines."""
    return "\n".join(p.read_text() for p in _code_files(*CODE_DIRS))


@cache
def code_variables() -> frozenset[str]:
    """Return the environment variables the code reads: its UPPER_SNAKE string literals."""
    source = code_text()
    found = set(re.findall(r"[\"']([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)[\"']", source))
    # One-word names count where they are read: env.get("ENVIRONMENT"), _choice(env, "X", ...).
    found |= set(re.findall(r"\b(?:env|environ)(?:\.get\(|\[|\.setdefault\()\s*\"([A-Z]+)\"",
                            source))
    found |= set(re.findall(r"\w\((?:env|environ|os\.environ), \"([A-Z]+)\"", source))
    return frozenset(found - NOT_VARIABLES)


@cache
def python_constants() -> frozenset[str]:
    """Return the module-level UPPER_SNAKE names defined in the code and its tests."""
    text = "\n".join(p.read_text() for p in _code_files(*CODE_DIRS, "tests"))
    return frozenset(re.findall(r"^([A-Z][A-Z0-9_]*)\s*(?::[^=\n]*)?=", text, re.M))


@cache
def tool_variables() -> frozenset[str]:
    """Return the UPPER_SNAKE names of the Makefile, the shell scripts and the workflows."""
    texts = [(ROOT / "Makefile").read_text()]
    texts += [p.read_text() for p in sorted((ROOT / "scripts").glob("*.sh"))]
    texts += [p.read_text() for p in sorted((ROOT / ".github" / "workflows").glob("*.yml"))]
    names = set(re.findall(r"\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b", "\n".join(texts)))
    return frozenset(names | set(re.findall(r"\$\(([A-Z]+)\)", texts[0])))


@cache
def make_targets() -> frozenset[str]:
    """Return the Makefile's targets."""
    text = (ROOT / "Makefile").read_text()
    return frozenset(re.findall(r"^([a-z][a-z-]*):", text, re.M))


@cache
def make_modules() -> dict[str, str]:
    """Return the Python module each make target runs with ``$(ARGS)``."""
    modules, target = {}, None
    for line in (ROOT / "Makefile").read_text().splitlines():
        head = re.match(r"^([a-z][a-z-]*):", line)
        if head:
            target = head.group(1)
            continue
        run = re.search(r"\$\(PY\) -m ([\w.]+)[^\n]*\$\(ARGS\)", line)
        if run and target:
            modules[target] = run.group(1)
    return modules


def module_file(module: str) -> Path | None:
    """Return the file of a dotted module name of the repository, if it exists."""
    path = ROOT / (module.replace(".", "/") + ".py")
    return path if path.exists() else None


_FLAG = re.compile(r"add_argument\(\s*[\"'](--[a-z][a-z0-9-]*)")


def flags_of(path: Path) -> frozenset[str]:
    """Return the --flags a command line declares with argparse, itself or in a module of the
    repository it imports (e.g. the generators' shared --write)."""
    text = path.read_text()
    flags = set(_FLAG.findall(text))
    for module in re.findall(r"^from ((?:scripts|shared)\.[\w.]+) import", text, re.M):
        imported = ROOT / (module.replace(".", "/") + ".py")
        if imported.is_file():
            flags |= set(_FLAG.findall(imported.read_text()))
    return frozenset(flags)


@cache
def all_flags() -> frozenset[str]:
    """Return every --flag any command line of the repository declares."""
    return frozenset(f for p in _code_files(*CODE_DIRS, "tests") for f in flags_of(p))


@cache
def terraform_names(kind: str) -> frozenset[str]:
    """Return the names of the module's ``variable`` or ``output`` blocks."""
    text = "\n".join(p.read_text() for p in sorted((ROOT / "terraform").glob("*.tf")))
    return frozenset(re.findall(rf'^{kind} "([a-z_][a-z0-9_]*)"', text, re.M))


@cache
def variable_types() -> dict[str, str]:
    """Return each Terraform variable's block text, to look attributes up in its type."""
    text = (ROOT / "terraform" / "variables.tf").read_text()
    blocks = re.split(r'^variable "', text, flags=re.M)[1:]
    return {block.split('"', 1)[0]: block for block in blocks}


@cache
def logged_events() -> frozenset[str]:
    """Return the ``event`` names the code logs."""
    source = code_text()
    events = set(re.findall(r'"event": "([a-z_]+)"', source))
    # The worker logs f"task_{step.value}" for the three steps that change a task.
    assert 'f"task_{step.value}"' in source
    return frozenset(events | {"task_comment", "task_resolve", "task_reopen"})


@cache
def samples() -> frozenset[str]:
    """Return the sample names of `make send-sample`."""
    text = (ROOT / "scripts" / "send_sample.py").read_text()
    table = text.split("SAMPLES = {", 1)[1].split("\n}", 1)[0]
    return frozenset(re.findall(r'^\s*"([a-z-]+)":', table, re.M))


@cache
def repository_files() -> frozenset[str]:
    """Return the repository's files (tracked or not), relative to its root."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return frozenset(listed.splitlines())


# --- helpers -------------------------------------------------------------------------------

def check(kind: str, problems: list[str], where: str, ok: bool, message: str) -> None:
    """Count one statement of ``kind``; remember it when it is false."""
    CHECKED[kind] += 1
    if not ok:
        problems.append(f"{where}: {message}")


def _names_in(snippet: Snippet) -> Iterator[str]:
    text = snippet.text
    for match in re.finditer(r"(?<![\w$.{/-])([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)(?![\w-])", text):
        yield match.group(1)
    for match in re.finditer(r"(?<![\w$.{/-])([A-Z][A-Z0-9]{2,})=", text):
        if "_" not in match.group(1):
            yield match.group(1)


def documented_names() -> Iterator[tuple[Snippet, str]]:
    """Yield every environment-variable-like name a page writes as code."""
    for snippet in ALL_SNIPPETS:
        for name in _names_in(snippet):
            if snippet.fenced and name in snippet.shell_names:
                continue  # a shell variable the example defines and uses itself
            yield snippet, name


def slug(heading: str) -> str:
    """Return GitHub's anchor of a heading."""
    text = re.sub(r"[`*_]{2,}|`", "", heading.strip()).lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    """Return the anchors of a Markdown file's headings."""
    text = _FENCE.sub("", path.read_text())
    seen: Counter[str] = Counter()
    found = set()
    for heading in re.findall(r"^#{1,6} (.+)$", text, re.M):
        base = slug(heading)
        found.add(base if not seen[base] else f"{base}-{seen[base]}")
        seen[base] += 1
    return frozenset(found)


def table_rows(page: str, marker: str) -> list[list[str]]:
    """Return the cells of the Markdown table between a page's ``marker`` comments."""
    text = (ROOT / page).read_text()
    body = text.split(f"<!-- {marker}:begin -->", 1)[1].split(f"<!-- {marker}:end -->", 1)[0]
    rows = [line for line in body.strip().splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows[2:]]


def first_code(cell: str) -> str:
    """Return the first backticked value of a table cell ("" when it has none)."""
    match = re.search(r"`([^`]+)`", cell)
    return match.group(1) if match else ""


def table_names(page: str, marker: str) -> set[str]:
    """Return the names in the first column of a marked table."""
    return {first_code(row[0]) for row in table_rows(page, marker)}


def _settings_module() -> ModuleType:
    """Import the module that defines load_settings, wherever it lives."""
    for path in _code_files("shared"):
        if "def load_settings(" in path.read_text():
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            return importlib.import_module(module)
    raise AssertionError("no module defines load_settings")


# --- the checks ----------------------------------------------------------------------------

def test_every_make_target_named_exists() -> None:
    problems: list[str] = []
    for snippet in ALL_SNIPPETS:
        for target in re.findall(r"(?<![\w-])make ([a-z][a-z-]*)", snippet.text):
            check("make target", problems, snippet.where(), target in make_targets(),
                  f"`make {target}`: no such target in the Makefile")
    assert not problems, "\n" + "\n".join(problems)


def test_every_environment_variable_named_is_read_or_known() -> None:
    known = (code_variables() | python_constants() | tool_variables() | EXTERNAL_NAMES)
    problems: list[str] = []
    for snippet, name in documented_names():
        check("environment variable", problems, snippet.where(), name in known,
              f"`{name}`: the code reads no such variable and defines no such name")
    assert not problems, "\n" + "\n".join(problems)


def test_every_variable_the_code_reads_is_documented() -> None:
    named = {name for _, name in documented_names()}
    missing: list[str] = []
    for name in sorted(code_variables()):
        check("variable documented", missing, "code", name in named,
              f"{name} is read by the code but named on no page")
    assert not missing, "\n" + "\n".join(missing)


def test_the_settings_table_lists_exactly_the_settings() -> None:
    settings = table_names("docs/configuration.md", "settings-table")
    credentials = table_names("docs/configuration.md", "credentials-table")
    local = table_names("docs/development.md", "local-variables")
    module = _settings_module()
    read_by_settings = set(re.findall(r"[\"']([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)[\"']",
                                      Path(str(module.__file__)).read_text()))
    problems: list[str] = []
    for name in sorted(code_variables()):
        homes = [table for table, names in (("settings", settings), ("credentials", credentials),
                                            ("local variables", local)) if name in names]
        check("configuration table row", problems, name, len(homes) == 1,
              f"in {homes or 'no table'}: each variable the code reads has one row in one of "
              "the settings, credentials and local-variables tables")
    for name in sorted((settings | credentials | local) - code_variables()):
        problems.append(f"{name}: listed in a configuration table, read by no code")
    for name in sorted(read_by_settings - settings - credentials):
        problems.append(f"{name}: read by {module.__name__} but not in the settings table")
    assert not problems, "\n" + "\n".join(problems)


def test_each_documented_default_is_the_code_s() -> None:
    module = _settings_module()
    defaults = module.load_settings({"GOOGLE_CLOUD_PROJECT": "docs-check"})
    problems: list[str] = []
    for row in table_rows("docs/configuration.md", "settings-table"):
        name, default = first_code(row[0]), row[1]
        field = {"GOOGLE_CLOUD_PROJECT": "project"}.get(name, name.lower())
        if default.startswith("*") or not hasattr(defaults, field):
            continue  # prose ("unset", "required") or not one of Settings' fields
        documented, actual = first_code(default), getattr(defaults, field)
        same = (float(documented) == actual if isinstance(actual, int | float)
                else documented == str(actual))
        check("setting default", problems, name, same,
              f"documented default `{documented}`, the code's is {actual!r}")
    assert not problems, "\n" + "\n".join(problems)


def test_the_credentials_table_says_which_function_reads_each() -> None:
    readers: dict[str, tuple[str, ...]] = _settings_module().SECRET_READERS
    expected = {name: sorted(f for f, names in readers.items() if name in names)
                for names in readers.values() for name in names}
    rows = {first_code(row[0]): sorted(re.split(r",\s*", row[1]))
            for row in table_rows("docs/configuration.md", "credentials-table")}
    problems: list[str] = []
    for name in sorted(set(expected) | set(rows)):
        check("credential reader", problems, name, rows.get(name) == expected.get(name),
              f"documented as read by {rows.get(name)}, the code: {expected.get(name)}")
    assert not problems, "\n" + "\n".join(problems)


def test_the_make_target_table_is_generated_from_the_makefile() -> None:
    doc = make_docs.DOC.read_text()
    CHECKED["make target table row"] += len(make_docs.targets(make_docs.MAKEFILE.read_text()))
    assert make_docs.replace_table(doc, make_docs.render(make_docs.MAKEFILE.read_text())) == doc, (
        "run: python -m scripts.make_docs --write")


def test_the_configuration_tables_are_generated_from_the_settings() -> None:
    doc = config_docs.DOC.read_text()
    tables = config_docs.TABLES.values()
    CHECKED["generated configuration row"] += sum(len(rows()) for _, rows in tables)
    assert config_docs.wanted(doc) == doc, "run: python -m scripts.config_docs --write"


def _terraform_references() -> Iterator[tuple[str, str, str]]:
    """Yield (where, kind, dotted name) of each Terraform variable or output a page names."""
    for snippet in ALL_SNIPPETS:
        text = snippet.text
        for name in re.findall(r"(?<![\w.])var\.([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)?)", text):
            yield snippet.where(), "variable", name
        for name in re.findall(r"-var=([a-z_][a-z0-9_]*)=", text):
            yield snippet.where(), "variable", name
        for name in re.findall(r"terraform output (?:-raw |-json )?([a-z_][a-z0-9_]*)", text):
            yield snippet.where(), "output", name
        assigned = re.fullmatch(r"([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)?) = .+", text)
        setting = re.search(r"(?:\b[Ss]ets?|tfvars|Terraform variable)\W*`?$",
                            snippet.context[:-len(text) - 1].rstrip(" `"))
        if assigned and not snippet.fenced and setting:
            yield snippet.where(), "variable", assigned.group(1)
    for page in PAGES:
        for kind in ("variable", "output"):
            for phrase in (rf"Terraform {kind}s? `([a-z_][a-z0-9_.]*)`",
                           rf"`([a-z_][a-z0-9_.]*)` (?:Terraform )?{kind}\b"):
                for where, match in phrase_matches(page, phrase):
                    yield where, kind, match.group(1)


def test_every_terraform_variable_and_output_named_exists() -> None:
    problems: list[str] = []
    for where, kind, dotted in _terraform_references():
        root, _, attribute = dotted.partition(".")
        names = terraform_names(kind)
        ok = root in names and (not attribute or kind == "output"
                                or re.search(rf"\b{attribute}\s*=", variable_types()[root])
                                is not None)
        check(f"Terraform {kind}", problems, where, ok,
              f"`{dotted}`: no such Terraform {kind}" + (" attribute" if root in names else ""))
    assert not problems, "\n" + "\n".join(problems)


def _event_references() -> Iterator[tuple[str, str]]:
    """Yield (where, name) of each log event a page names as one."""
    for snippet in ALL_SNIPPETS:
        for name in re.findall(r"event\\?\"?\s*=\s*\\?\"?([a-z][a-z_]+)", snippet.text):
            yield snippet.where(), name
    phrases = (r"logged (?:once )?as `([a-z][a-z_]+)`",
               r"`([a-z][a-z_]+)` log lines?\b",
               r"\b(?:its|the) `([a-z][a-z_]+)` line\b",
               r"log line `([a-z][a-z_]+)`")
    listing = r"[Ll]og events? ((?:`[a-z_]+`(?:,? and |,? or |, )?)+)"
    for page in PAGES:
        for phrase in phrases:
            for where, match in phrase_matches(page, phrase):
                yield where, match.group(1)
        for where, match in phrase_matches(page, listing):
            for name in re.findall(r"`([a-z_]+)`", match.group(1)):
                yield where, name
    doc = (ROOT / "docs" / "observability.md").read_text()
    table = doc.split("| `event` |", 1)[1]
    for cell in re.findall(r"^\| ([^|]+) \|", table, re.M):
        for name in re.findall(r"`([a-z_]+)`", cell):
            yield "docs/observability.md (log table)", name


def test_every_log_event_named_is_logged() -> None:
    problems: list[str] = []
    for where, name in _event_references():
        check("log event", problems, where, name in logged_events(),
              f"`{name}`: no log line has this event")
    assert not problems, "\n" + "\n".join(problems)


def test_every_logged_event_is_documented() -> None:
    named = {name for _, name in _event_references()}
    missing: list[str] = []
    for event in sorted(logged_events()):
        check("log event documented", missing, "code", event in named,
              f"{event} is logged but no page names it as an event")
    assert not missing, "\n" + "\n".join(missing)


def _path_candidates(snippet: Snippet) -> Iterator[str]:
    if snippet.fenced:
        for token in re.findall(r"[\w./*-]+", snippet.text):
            if token.startswith(TOP_DIRS):
                yield token
        return
    text = snippet.text
    if " " in text or text.startswith(("/", "http", "$", "-", "~")) or "://" in text:
        return
    if re.search(r"[<>{}:=@#?,()\[\]'\"]", text) or text in PATH_SUFFIXES:
        return
    if "/" in text:
        if text.startswith(TOP_DIRS) or (ROOT / text.split("/", 1)[0]).is_file():
            yield text
    elif text.endswith(PATH_SUFFIXES):
        yield text


def _exists(path: str, page: Page) -> bool:
    if path.startswith(RUNTIME_PATHS) or Path(path).name in RUNTIME_FILES:
        return True
    clean = path.rstrip("/").rstrip(".")
    if "*" in clean:
        return bool(glob.glob(str(ROOT / clean)))
    if (ROOT / clean).exists() or (page.path.parent / clean).exists():
        return True
    if "/" not in clean:  # a bare file name: somewhere in the repository
        return any(Path(f).name == clean for f in repository_files())
    # a path relative to a directory the example works in (e.g. environments/ under terraform/)
    return any(f.endswith("/" + clean) or f.startswith(clean + "/") for f in repository_files())


def test_every_repository_path_named_exists() -> None:
    problems: list[str] = []
    by_name = {page.name: page for page in PAGES}
    for snippet in ALL_SNIPPETS:
        for path in _path_candidates(snippet):
            if "." not in Path(path).name and "/" not in path.rstrip("/"):
                continue  # a bare word, not a path
            check("file path", problems, snippet.where(), _exists(path, by_name[snippet.page]),
                  f"`{path}`: no such file or directory in the repository")
    assert not problems, "\n" + "\n".join(problems)


def test_every_link_and_anchor_resolves() -> None:
    problems: list[str] = []
    for page in PAGES:
        for number, line in prose_lines(page):
            for target in re.findall(r"\]\(([^)\s]+)\)", line):
                if target.startswith(("http://", "https://", "mailto:")):
                    continue
                file_part, _, anchor = target.partition("#")
                path = (page.path.parent / file_part).resolve() if file_part else page.path
                ok = path.exists() and (not anchor or path.suffix != ".md"
                                        or anchor in anchors(path))
                check("link", problems, f"{page.name}:{number}", ok,
                      f"({target}): " + ("no such anchor" if path.exists() else "no such file"))
    assert not problems, "\n" + "\n".join(problems)


def _flag_references() -> Iterator[tuple[str, str, frozenset[str], str]]:
    """Yield (where, flag, flags allowed, what declares them) for each flag in an example."""
    for snippet in ALL_SNIPPETS:
        scope = snippet.context if not snippet.fenced else snippet.text
        for args in re.finditer(r"ARGS=(\"[^\"]*\"|'[^']*'|\S+)", snippet.text):
            before = scope[:scope.rfind(args.group(0))] if args.group(0) in scope else scope
            targets = re.findall(r"make ([a-z][a-z-]*)", before)
            module = make_modules().get(targets[-1]) if targets else None
            path = module_file(module) if module else None
            allowed = flags_of(path) if path else frozenset()
            for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", args.group(1)):
                yield snippet.where(), flag, allowed, f"`make {targets[-1] if targets else '?'}`"
        for run in re.finditer(r"python3? -m ([\w.]+)([^#\n]*(?:#\s*or:[^\n]*)?)", snippet.text):
            path = module_file(run.group(1))
            allowed = flags_of(path) if path else frozenset()
            for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", run.group(2)):
                yield snippet.where(), flag, allowed, f"`python -m {run.group(1)}`"
        alone = re.fullmatch(r"(--[a-z][a-z0-9-]*)(?:[ =].*)?", snippet.text)
        if alone and not snippet.fenced:
            yield snippet.where(), alone.group(1), all_flags() | EXTERNAL_FLAGS, "any command"


def test_every_cli_flag_in_an_example_exists() -> None:
    problems: list[str] = []
    for where, flag, allowed, owner in _flag_references():
        check("CLI flag", problems, where, flag in allowed or flag == "--help",
              f"`{flag}`: {owner} declares no such flag")
    assert not problems, "\n" + "\n".join(problems)


def test_every_sample_named_exists() -> None:
    problems: list[str] = []
    for snippet in ALL_SNIPPETS:
        for name in re.findall(r"SAMPLE=([a-z][a-z-]*)", snippet.text):
            check("sample", problems, snippet.where(), name in samples(),
                  f"`SAMPLE={name}`: `make send-sample` has no such sample")
    assert not problems, "\n" + "\n".join(problems)


def test_summary(capsys: pytest.CaptureFixture[str]) -> None:
    """Run the checks again, counting, and print how many statements they checked."""
    CHECKED.clear()
    for function in (test_every_make_target_named_exists,
                     test_every_environment_variable_named_is_read_or_known,
                     test_every_variable_the_code_reads_is_documented,
                     test_the_settings_table_lists_exactly_the_settings,
                     test_each_documented_default_is_the_code_s,
                     test_the_credentials_table_says_which_function_reads_each,
                     test_the_make_target_table_is_generated_from_the_makefile,
                     test_every_terraform_variable_and_output_named_exists,
                     test_every_log_event_named_is_logged, test_every_logged_event_is_documented,
                     test_every_repository_path_named_exists, test_every_link_and_anchor_resolves,
                     test_every_cli_flag_in_an_example_exists, test_every_sample_named_exists):
        with contextlib.suppress(AssertionError):  # each test reports its own failures
            function()
    total = sum(CHECKED.values())
    detail = ", ".join(f"{kind} {count}" for kind, count in sorted(CHECKED.items()))
    with capsys.disabled():
        print(f"\ndocs truth: {total} statements checked in {len(PAGES)} pages ({detail})")
    assert total >= 500, "the extraction found too little to be a check"

"""The translation catalogue covers every word the code shows, in every language.

The msgids are read from the code itself: the words of every refusal the counter can show (the
literal first argument of `SomeCoopError("...")` and `SomeCoopError.said("...", ...)` in the
services; the counter's `Page.explain` translates them), the literal first argument of every
`tr(...)` (`view.tr`, `ctx.type.tr`, `self.type.tr`, `Translator(...)(...)`) in
coop/**/*.py, followed through a local variable or a dictionary where the code makes that plain
(`words = "..." if ... else "..."`, `tr(METHOD_WORDS[...])`), and every `tr("...")` in the
counter's templates. The values that reach tr() some other way (a role, a status read from
the database) are listed here, next to the call sites they reach; a new such call site fails
the first test until its values are listed too.

Then: every msgid is in coop.pot; every msgid of coop.pot is translated, non-empty, in each
language's coop.po, with the same {placeholders}; no .po has a msgid coop.pot lacks; and the
Indian scripts are written in their own letters with ASCII digits.
"""

from __future__ import annotations

import ast
import importlib
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from coop.api.counter.audit_trail import WORDS
from coop.auth import Role
from coop.errors import CoopError
from coop.i18n import LANGUAGE_CODES, LOCALES
from coop.ledger.chart import DEFAULT_CHART
from coop.passbooks.loan_card import STATUS_WORDS
from coop.passbooks.narrations import _CORRECTED, _COUNTED, _PLAIN

ROOT = Path(__file__).resolve().parents[2]
CODE = ROOT / "coop"
TEMPLATES = CODE / "api" / "counter" / "templates"
TRANSLATED = tuple(code for code in LANGUAGE_CODES if code != "en")

ROLES = {role.value for role in Role}
LOAN_STATUSES = {"pending", "approved", "rejected", "active", "closed", "written_off"}
INSTALLMENT_STATUSES = {"paid", "partly_paid", "overdue", "due", "upcoming"}
VOTE_TALLIES = {"pending", "approved", "rejected"}
MEMBER_STATUSES = {"active", "exited"}
DECLARATION_STATUSES = {"pending", "declared", "paid", "cancelled", "rejected"}

DYNAMIC: dict[tuple[str, str], set[str]] = {
    # (file, the argument given to tr) -> the msgids it can be
    ("coop/api/counter/templates/base.html", "page.principal.role.value"): ROLES,
    ("coop/api/counter/templates/board.html", "earlier.loan.status"): LOAN_STATUSES,
    ("coop/api/counter/templates/dividends.html", "declared.status"): DECLARATION_STATUSES,
    ("coop/api/counter/dividends.py", "declared.status"): DECLARATION_STATUSES,
    ("coop/api/counter/templates/member.html", "member.status"): MEMBER_STATUSES,
    ("coop/api/counter/templates/users.html", "user.role"): ROLES,
    ("coop/api/counter/templates/audit_trail.html", "event.role"): ROLES,
    ("coop/api/counter/templates/audit_trail.html", "words"): {words for _, words in WORDS},
    ("coop/passbooks/accounts.py", "name"): {account.name for account in DEFAULT_CHART},
    ("coop/api/counter/templates/users.html", "role"): ROLES,
    ("coop/api/counter/templates/user.html", "user.role"): ROLES,
    ("coop/api/counter/board.py", "tally.status"): VOTE_TALLIES,
    # the statuses STATUS_WORDS does not reword are translated as they are
    ("coop/passbooks/loan_card.py", "STATUS_WORDS.get(word, word)"):
        (LOAN_STATUSES | INSTALLMENT_STATUSES) - set(STATUS_WORDS),
    ("coop/passbooks/narrations.py", "wording"):
        {wording for wording, _ in _PLAIN.values()} | {wording for wording, _ in _COUNTED.values()},
    ("coop/passbooks/narrations.py", "_CORRECTED[corrected.group(1)]"): set(_CORRECTED.values()),
    # a refusal's words: read from the services by refusal_sites() below; words the counter
    # already put in its language pass through unchanged
    ("coop/api/counter/web.py", "str(refusal)"): set(),
    ("coop/api/counter/web.py", "refusal.detail"): set(),
    ("coop/api/counter/web.py", "refusal.template"): set(),
}
"""Where a value reaches tr() that the test cannot read from the code, and what it can be."""

EXTRA_MSGIDS = set().union(*DYNAMIC.values())

PLACEHOLDER = re.compile(r"\{[^{}]*\}")
ACRONYMS = ("APR", "CSV", "PAR30", "A6")  # A6: the paper size
OWN_SCRIPT = {"kn": "\u0c80-\u0cff", "bn": "\u0980-\u09ff", "hi": "\u0900-\u097f"}
NATIVE_DIGITS = {"kn": "\u0ce6-\u0cef", "bn": "\u09e6-\u09ef", "hi": "\u0966-\u096f"}


@dataclass(frozen=True)
class Site:
    """One tr() call: where it is, the argument as written, and the msgids it was read as."""

    file: str
    line: int
    argument: str
    msgids: frozenset[str]
    complete: bool


# --- reading the Python ------------------------------------------------------------------


class _Module:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        self.parent: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parent[child] = node

    def scopes(self, node: ast.AST) -> Iterator[ast.AST]:
        """The functions around `node`, innermost first, then the module."""
        while node in self.parent:
            node = self.parent[node]
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                yield node
        yield self.tree

    def values_of(self, name: str, at: ast.AST) -> list[ast.expr] | None:
        """What `name` is assigned where `at` reads it, or None if it is bound some other way
        (a parameter, a loop, unpacking)."""
        for scope in self.scopes(at):
            values: list[ast.expr] = []
            other = False
            if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                arguments = scope.args
                other = name in {a.arg for a in (*arguments.posonlyargs, *arguments.args,
                                                 *arguments.kwonlyargs)}
            for node in ast.walk(scope):
                if isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Name) and target.id == name:
                            values.append(node.value)
                        elif any(isinstance(n, ast.Name) and n.id == name
                                 for n in ast.walk(target)):
                            other = True
                elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.NamedExpr) \
                        and isinstance(node.target, ast.Name) and node.target.id == name:
                    if isinstance(node, ast.AugAssign) or node.value is None:
                        other = True
                    else:
                        values.append(node.value)
                elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension | ast.withitem) \
                        and any(isinstance(n, ast.Name) and n.id == name
                                for n in ast.walk(getattr(node, "target", None)
                                                  or getattr(node, "optional_vars", None)
                                                  or ast.Pass())):
                    other = True
            if other:
                return None
            if values:
                return values
        return None

    def table(self, node: ast.expr) -> ast.Dict | None:
        if isinstance(node, ast.Dict):
            return node
        if isinstance(node, ast.Name):
            values = self.values_of(node.id, node)
            if values and len(values) == 1 and isinstance(values[0], ast.Dict):
                return values[0]
        return None

    def strings(self, node: ast.expr, depth: int = 0) -> tuple[set[str], bool]:
        """The strings `node` can be, and whether that is all it can be."""
        if depth > 8:
            return set(), False
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}, True
        parts: list[ast.expr] | None = None
        if isinstance(node, ast.IfExp):
            parts = [node.body, node.orelse]
        elif isinstance(node, ast.BoolOp):
            parts = list(node.values)
        elif isinstance(node, ast.Name):
            parts = self.values_of(node.id, node)
        elif isinstance(node, ast.Subscript):
            table = self.table(node.value)
            parts = [v for v in table.values] if table is not None else None
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "get" and node.args:
            table = self.table(node.func.value)
            if table is not None:
                parts = [*table.values, *node.args[1:2]]
        if parts is None:
            return set(), False
        found: set[str] = set()
        complete = True
        for part in parts:
            words, whole = self.strings(part, depth + 1)
            found |= words
            complete = complete and whole
        return found, complete


def _is_tr(func: ast.expr) -> bool:
    if isinstance(func, ast.Name | ast.Attribute):
        return (func.id if isinstance(func, ast.Name) else func.attr) == "tr"
    if isinstance(func, ast.Call):  # Translator("kn")("...")
        made = func.func
        name = made.id if isinstance(made, ast.Name) else \
            made.attr if isinstance(made, ast.Attribute) else ""
        return name in ("Translator", "translator")
    return False


def python_sites() -> Iterator[Site]:
    for path in sorted(CODE.rglob("*.py")):
        module = _Module(path)
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Call) and _is_tr(node.func) and node.args:
                argument = node.args[0]
                msgids, complete = module.strings(argument)
                yield Site(str(path.relative_to(ROOT)), node.lineno, ast.unparse(argument),
                           frozenset(msgids), complete)


REFUSALS_NOT_SHOWN = ("coop/cli", "coop/api/controllers/", "coop/api/idempotency.py",
                      "coop/members/vault.py", "coop/backup.py", "coop/config.py", "coop/db.py",
                      "coop/db_statements.py",
                      "coop/i18n/", "coop/errors.py",
                      "coop/tls.py",  # `coop tls init` only
                      "coop/passbooks/typeset.py",  # fonts missing: the server's fault
                      "coop/migrations/")  # Alembic's scripts: run by Alembic, never imported
"""Where refusals are API-, CLI- or start-up-only (the counter never shows them)."""


def _error_class(module: object, func: ast.expr) -> bool:
    if isinstance(func, ast.Attribute) and func.attr == "said":
        func = func.value
    found: object = None
    if isinstance(func, ast.Name):
        found = getattr(module, func.id, None)
    elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        found = getattr(getattr(module, func.value.id, None), func.attr, None)
    return isinstance(found, type) and issubclass(found, CoopError)


def refusal_sites() -> Iterator[Site]:
    for path in sorted(CODE.rglob("*.py")):
        file = str(path.relative_to(ROOT))
        if file.startswith(REFUSALS_NOT_SHOWN):
            continue
        module = importlib.import_module(
            ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"))
        for node in ast.walk(_Module(path).tree):
            if isinstance(node, ast.Call) and node.args \
                    and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str) and _error_class(module, node.func):
                yield Site(file, node.lineno, repr(node.args[0].value),
                           frozenset({node.args[0].value}), True)


# --- reading the templates -----------------------------------------------------------------

LITERAL = re.compile(r"""\btr\(\s*(?:"([^"]*)"|'([^']*)')""")
VARIABLE = re.compile(r"""\btr\(\s*([^"'\s,)][^,)]*?)\s*[,)]""")


def template_sites() -> Iterator[Site]:
    for path in sorted(TEMPLATES.glob("*.html")):
        text = path.read_text(encoding="utf-8")
        file = str(path.relative_to(ROOT))
        for match in LITERAL.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            msgid = match.group(1) if match.group(1) is not None else match.group(2)
            yield Site(file, line, repr(msgid), frozenset({msgid}), True)
        for match in VARIABLE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            yield Site(file, line, match.group(1), frozenset(), False)


@cache
def sites() -> tuple[Site, ...]:
    return (*python_sites(), *refusal_sites(), *template_sites())


def _words(msgid: str) -> bool:
    """False for a msgid that is nothing but placeholders ("{amount}"): nothing to translate."""
    return any(ch.isalpha() for ch in PLACEHOLDER.sub("", msgid))


@cache
def msgids_in_code() -> frozenset[str]:
    found = set(EXTRA_MSGIDS)
    for site in sites():
        found |= site.msgids
    return frozenset(m for m in found if _words(m))


# --- reading the catalogue -----------------------------------------------------------------


@cache
def catalogue(path: Path) -> dict[str, str]:
    with path.open("rb") as handle:
        messages = read_po(handle)
    return {str(m.id): str(m.string or "") for m in messages if m.id}


def template() -> dict[str, str]:
    return catalogue(LOCALES / "coop.pot")


def language(code: str) -> dict[str, str]:
    return catalogue(LOCALES / code / "LC_MESSAGES" / "coop.po")


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


# --- the tests -----------------------------------------------------------------------------


@pytest.mark.slow
def test_the_extractor_finds_the_calls_it_should() -> None:
    found = msgids_in_code()
    for msgid in ("Savings passbook", "DUPLICATE", "{count}, every two weeks",
                  "{amount} on average over the year, counted day by day", "Cash deposit",
                  "Find a member", "Deposited {amount}.",
                  "Loan {loan}: {amount} paid out in cash.",
                  "the available balance is {amount}", "{code} has exited"):
        assert msgid in found


def test_every_value_reaching_tr_is_known() -> None:
    unknown = [f"{site.file}:{site.line}: tr({site.argument})" for site in sites()
               if not site.complete and (site.file, site.argument) not in DYNAMIC]
    assert not unknown, ("tr() is given a value the test cannot read; list what it can be "
                         "in DYNAMIC:\n" + "\n".join(unknown))


def test_every_msgid_in_the_code_is_in_the_catalogue() -> None:
    missing = sorted(msgids_in_code() - set(template()))
    assert not missing, "not in coop.pot:\n" + "\n".join(missing)


def test_the_catalogue_has_no_empty_msgid() -> None:
    assert all(msgid.strip() for msgid in template())


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_msgid_is_translated(code: str) -> None:
    texts = language(code)
    untranslated = sorted(m for m in template() if not texts.get(m, "").strip())
    assert not untranslated, f"{code}: not translated:\n" + "\n".join(untranslated)


@pytest.mark.parametrize("code", TRANSLATED)
def test_placeholders_are_kept(code: str) -> None:
    texts = language(code)
    changed = [f"{m!r} -> {texts[m]!r}" for m in template()
               if texts.get(m) and placeholders(m) != placeholders(texts[m])]
    assert not changed, f"{code}: placeholders differ:\n" + "\n".join(changed)


@pytest.mark.parametrize("code", TRANSLATED)
def test_no_msgid_the_catalogue_lacks(code: str) -> None:
    extra = sorted(set(language(code)) - set(template()))
    assert not extra, f"{code}: not in coop.pot:\n" + "\n".join(extra)


@pytest.mark.parametrize("code", sorted(OWN_SCRIPT))
def test_indian_scripts_use_their_own_letters_and_ascii_digits(code: str) -> None:
    latin = re.compile("[A-Za-z]")
    native = re.compile(f"[{NATIVE_DIGITS[code]}]")
    own = re.compile(f"[{OWN_SCRIPT[code]}]")
    wrong = []
    for msgid, text in language(code).items():
        bare = PLACEHOLDER.sub("", text)
        for acronym in ACRONYMS:
            bare = bare.replace(acronym, "")
        if latin.search(bare) or native.search(bare) or (_words(msgid) and not own.search(bare)):
            wrong.append(f"{msgid!r} -> {text!r}")
    assert not wrong, f"{code}: Latin letters, native digits or no {code} text:\n" + \
        "\n".join(wrong)


def _layout_faults(text: str) -> list[str]:
    """Lines of a .po/.pot file a union merge can break: every `msgid` must be followed, after
    its continuation strings, by its `msgstr`, with nothing (no comment, no blank line, no
    second msgid) in between; and no msgid may appear twice."""
    faults: list[str] = []
    seen: set[str] = set()
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.startswith("msgid "):
            continue
        following = number
        while following < len(lines) and lines[following].startswith('"'):
            following += 1
        if following >= len(lines) or not lines[following].startswith("msgstr "):
            faults.append(f"line {number}: {line} is not followed by its msgstr")
        whole = line + "".join(lines[number:following])
        if whole in seen and whole != 'msgid ""':
            faults.append(f"line {number}: {line} appears twice")
        seen.add(whole)
    return faults


@pytest.mark.parametrize("path", [LOCALES / "coop.pot",
                                  *(LOCALES / code / "LC_MESSAGES" / "coop.po"
                                    for code in TRANSLATED)],
                         ids=lambda path: path.parts[-3] if path.suffix == ".po" else "pot")
def test_each_catalogue_file_is_well_formed(path: Path) -> None:
    faults = _layout_faults(path.read_text(encoding="utf-8"))
    assert not faults, f"{path}:\n" + "\n".join(faults)


def test_the_layout_check_finds_what_a_union_merge_breaks() -> None:
    good = 'msgid "Cash"\nmsgstr "ನಗದು"\n\nmsgid "Bank"\nmsgstr "ಬ್ಯಾಂಕ್"\n'
    assert _layout_faults(good) == []
    assert _layout_faults('msgid "Cash"\n# a comment\nmsgstr "ನಗದು"\n')
    assert _layout_faults('msgid "Cash"\nmsgid "Bank"\nmsgstr "ಬ್ಯಾಂಕ್"\n')
    assert _layout_faults(good + good)

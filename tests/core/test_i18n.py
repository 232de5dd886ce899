"""Every message a person can see has a French translation; languages are negotiated."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import lakana
from lakana.core import i18n

SOURCE = Path(lakana.__file__).parent
#: Error classes whose first argument is a message id (domains' subclasses are found too).
ERROR_BASES = {"LakanaError", "Invalid", "NotFound", "Forbidden", "Unauthenticated", "Conflict",
               "TooLarge", "TooManyRequests"}
#: Constructors whose first argument (or ``label=``) is a message id shown in the interface.
LABELLED = {"MenuEntry", "DashboardCard", "Msg"}
METHOD_MAP = [("**.py", "python"), ("**/templates/**.html", "jinja2.ext:babel_extract")]
OPTIONS_MAP = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n",
                                        "newstyle_gettext": "true", "trimmed": "false"}}


def _babel_messages() -> Iterator[tuple[str, str]]:
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(SOURCE), METHOD_MAP, OPTIONS_MAP):
        msgid = message[0] if isinstance(message, (tuple, list)) else message
        if msgid:
            yield str(msgid), f"{filename}:{lineno}"


def _error_classes(trees: dict[Path, ast.Module]) -> set[str]:
    names = set(ERROR_BASES)
    grew = True
    while grew:  # subclasses of subclasses, in any order
        grew = False
        for tree in trees.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in names and any(
                        isinstance(b, ast.Name) and b.id in names for b in node.bases):
                    names.add(node.name)
                    grew = True
    return names


def _callee(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _first_string(node: ast.Call, keyword: str | None = None) -> str | None:
    if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value,
                                                                           str):
        return node.args[0].value
    for kw in node.keywords:
        if kw.arg == keyword and isinstance(kw.value, ast.Constant):
            return str(kw.value.value)
    return None


def _ast_messages() -> Iterator[tuple[str, str]]:
    trees = {p: ast.parse(p.read_text(encoding="utf-8")) for p in SOURCE.rglob("*.py")}
    errors = _error_classes(trees)
    for path, tree in trees.items():
        where = path.relative_to(SOURCE)
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) \
                    and _callee(node.exc) in errors:
                found = _first_string(node.exc)
                if found:
                    yield found, f"{where}:{node.lineno}"
            elif isinstance(node, ast.Call) and _callee(node) in LABELLED:
                found = _first_string(node, "label")
                if found:
                    yield found, f"{where}:{node.lineno}"
            elif isinstance(node, ast.ClassDef) and node.name in errors:
                for item in node.body:  # the error's title, shown as the problem's title
                    if isinstance(item, ast.Assign) and isinstance(item.value, ast.Constant) \
                            and any(isinstance(t, ast.Name) and t.id == "title"
                                    for t in item.targets):
                        yield str(item.value.value), f"{where}:{item.lineno}"


def all_msgids() -> dict[str, list[str]]:
    """Every message id in the source, with where it appears."""
    found: dict[str, list[str]] = {}
    for msgid, where in [*_babel_messages(), *_ast_messages()]:
        found.setdefault(msgid, []).append(where)
    return found


def french_catalog() -> dict[str, str]:
    """Merged French translations of every registered catalog."""
    merged: dict[str, str] = {}
    for po_file in i18n.catalog_files("fr"):
        with po_file.open("rb") as handle:
            for message in read_po(handle, locale="fr"):
                if not message.id or message.fuzzy:
                    continue
                msgid = message.id[0] if isinstance(message.id, (tuple, list)) else message.id
                string = message.string
                text = string[0] if isinstance(string, (tuple, list)) else string
                if text and text.strip():
                    merged[str(msgid)] = text
    return merged


def test_extraction_finds_the_kinds_of_messages() -> None:
    # Given the source tree / When messages are extracted
    found = all_msgids()
    # Then gettext calls, template strings, error raises, role labels and menu labels are in
    assert "Wrong e-mail address or password." in found  # raise Unauthenticated("...")
    assert "Skip to content" in found  # template _("...")
    assert "Platform administrator" in found  # ROLE_LABELS through N_()
    assert "Users" in found  # MenuEntry label
    assert "Too many attempts" in found  # an error class's title
    assert "%(num)s recovery code left" in found  # ngettext in a template


def test_every_message_has_a_french_translation() -> None:
    # Given every message id of the source and the merged French catalogs
    found = all_msgids()
    french = french_catalog()
    # When looking each one up
    missing = sorted(m for m in found if m not in french)
    # Then none is missing
    report = "\n".join(f"  {m!r}  ({', '.join(found[m][:2])})" for m in missing)
    assert not missing, f"{len(missing)} message(s) lack a French translation:\n{report}"


def test_translations_keep_their_placeholders() -> None:
    # Given the French catalog / Then each translation uses the same %(name)s placeholders
    import re

    pattern = re.compile(r"%\((\w+)\)s")
    french = french_catalog()
    wrong = [m for m, t in french.items()
             if set(pattern.findall(m)) != set(pattern.findall(t))]
    assert not wrong, f"placeholders differ in: {wrong}"


def test_negotiation_prefers_supported_languages() -> None:
    # Given Accept-Language headers / Then the best supported language wins, French by default
    assert i18n.negotiate("en-GB,en;q=0.9,fr;q=0.8") == "en"
    assert i18n.negotiate("de-DE, fr;q=0.5") == "fr"
    assert i18n.negotiate("de") == "fr"
    assert i18n.negotiate(None) == "fr"
    assert i18n.normalize_language("en_US") == "en"


def test_gettext_and_ngettext_follow_the_current_language() -> None:
    # Given a message with a translation / When read in each language
    with i18n.use_language("fr"):
        assert i18n.gettext("Log in") == "Se connecter"
        assert i18n.ngettext("%(num)s user", "%(num)s users", 2) == "2 utilisateurs"
        assert i18n.ngettext("%(num)s user", "%(num)s users", 1) == "1 utilisateur"
    with i18n.use_language("en"):
        # Then English is the message id itself
        assert i18n.gettext("Log in") == "Log in"
        assert i18n.ngettext("%(num)s user", "%(num)s users", 2) == "2 users"


def test_a_message_id_has_one_french_translation_across_catalogs() -> None:
    # Catalogs of every package are merged into one: the same English text translated two
    # ways would show one of them at random places (e.g. "Open" as a verb on a status).
    seen: dict[str, tuple[str, str]] = {}
    clashes = []
    for path in sorted(SOURCE.rglob("locale/fr/*.po")):
        with path.open("rb") as handle:
            catalog = read_po(handle)
        for message in catalog:
            if not message.id or not message.string or isinstance(message.id, (tuple, list)):
                continue
            first = seen.setdefault(str(message.id), (str(message.string), path.name))
            if first[0] != message.string:
                clashes.append(f"{message.id!r}: {first[0]!r} ({first[1]}) vs "
                               f"{message.string!r} ({path.name})")
    assert not clashes, "\n".join(clashes)

"""Translations: gettext catalogs (French first, English second), merged from every package.

Message ids are English. Each package keeps its French catalog in ``.po`` files that are
read at start-up (no compiled ``.mo`` to go stale); domains add theirs with
:func:`register_catalog_dir`. The language of the current request or command lives in a
context variable so templates, errors and services all speak it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

LANGUAGES: tuple[str, ...] = ("fr", "en")
DEFAULT_LANGUAGE = "fr"

_current: ContextVar[str] = ContextVar("lakana_language", default=DEFAULT_LANGUAGE)
_catalog_dirs: list[Path] = [Path(__file__).parent / "locale"]
_messages: dict[str, dict[str, str | tuple[str, ...]]] | None = None


def register_catalog_dir(path: Path) -> None:
    """Add a folder holding ``<lang>/*.po`` catalogs (called by domains when they plug in)."""
    global _messages
    if path not in _catalog_dirs:
        _catalog_dirs.append(path)
        _messages = None


def catalog_files(language: str) -> list[Path]:
    """Every ``.po`` file registered for ``language``."""
    return sorted(p for d in _catalog_dirs for p in (d / language).glob("*.po"))


def _load() -> dict[str, dict[str, str | tuple[str, ...]]]:
    global _messages
    if _messages is None:
        loaded: dict[str, dict[str, str | tuple[str, ...]]] = {}
        for language in LANGUAGES:
            table: dict[str, str | tuple[str, ...]] = {}
            for po_file in catalog_files(language):
                with po_file.open("rb") as handle:
                    catalog = read_po(handle, locale=language)
                for message in catalog:
                    if not message.id or not message.string or message.fuzzy:
                        continue
                    msgid = message.id
                    key = str(msgid[0] if isinstance(msgid, (tuple, list)) else msgid)
                    string = message.string
                    table[key] = tuple(string) if isinstance(string, (tuple, list)) else string
            loaded[language] = table
        _messages = loaded
    return _messages


def normalize_language(value: str | None) -> str:
    """Map a language tag (``fr-ML``, ``en_US``) to a supported language, French by default."""
    if value:
        short = value.replace("_", "-").split("-")[0].strip().lower()
        if short in LANGUAGES:
            return short
    return DEFAULT_LANGUAGE


def negotiate(accept_language: str | None) -> str:
    """Pick the best supported language from an ``Accept-Language`` header."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    choices: list[tuple[float, str]] = []
    for part in accept_language.split(","):
        pieces = part.strip().split(";q=")
        tag = pieces[0].strip()
        try:
            quality = float(pieces[1]) if len(pieces) > 1 else 1.0
        except ValueError:
            quality = 0.0
        short = tag.split("-")[0].lower()
        if short in LANGUAGES:
            choices.append((quality, short))
    if not choices:
        return DEFAULT_LANGUAGE
    return max(choices, key=lambda c: c[0])[1]


def current_language() -> str:
    """The language of the current request or command."""
    return _current.get()


@contextmanager
def use_language(language: str) -> Iterator[None]:
    """Speak ``language`` inside the block."""
    token = _current.set(normalize_language(language))
    try:
        yield
    finally:
        _current.reset(token)


def set_language(language: str) -> None:
    """Set the language for the rest of the current context (a request)."""
    _current.set(normalize_language(language))


class Msg(str):
    """A parameter that is itself a message id (``what=Msg("institution")``), translated
    along with the message it fills."""

    __slots__ = ()


def _translate_params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: gettext(v) if isinstance(v, Msg) else v for k, v in params.items()}


def gettext(message: str, **params: Any) -> str:
    """Translate ``message`` into the current language and fill ``%(name)s`` parameters."""
    found = _load().get(current_language(), {}).get(message)
    text = found[0] if isinstance(found, tuple) else (found or message)
    return text % _translate_params(params) if params else text


def ngettext(singular: str, plural: str, n: int, **params: Any) -> str:
    """Translate a message whose form depends on ``n``."""
    found = _load().get(current_language(), {}).get(singular)
    if isinstance(found, tuple):
        index = 0 if (n <= 1 if current_language() == "fr" else n == 1) else 1
        text = found[min(index, len(found) - 1)]
    else:
        text = singular if n == 1 else plural
    params.setdefault("num", n)
    return text % params


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it now (translated when shown)."""
    return message


def translate(message: str, **params: Any) -> str:
    """Translate a message id held in a variable; its literal is extracted where it is written."""
    return gettext(message, **params)


_ = gettext

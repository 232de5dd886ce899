"""Offline checks for the JSON Schema formats that vendored standards use (OSCAL, CSAF).

``jsonschema`` checks ``date-time`` and ``uri`` only when optional packages are installed
(rfc3339-validator, rfc3987), and does nothing otherwise. These small checks fill the gap
without a network or extra dependency: :func:`format_checker` returns the validator class's
own checkers completed with them.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urlsplit

from jsonschema import FormatChecker  # type: ignore[import-untyped]

_WHITESPACE = re.compile(r"[\s\x00-\x1f\x7f]")


def is_date_time(value: object) -> bool:
    """RFC 3339 date-time with a time zone (non-strings pass: ``type`` checks those)."""
    if not isinstance(value, str):
        return True
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return parsed.tzinfo is not None and "T" in value.upper()


def is_uri_reference(value: object) -> bool:
    """A URI reference: no white space or control character, and parseable."""
    if not isinstance(value, str):
        return True
    if _WHITESPACE.search(value):
        return False
    try:
        urlsplit(value)
    except ValueError:  # such as a broken IPv6 host
        return False
    return True


def is_uri(value: object) -> bool:
    """An absolute URI: a URI reference with a scheme."""
    if not isinstance(value, str):
        return True
    return is_uri_reference(value) and bool(urlsplit(value).scheme)


def format_checker(validator_class: Any) -> Any:
    """``validator_class``'s format checkers, completed offline for date-time, uri and
    uri-reference when the optional packages that check them are missing."""
    checker = FormatChecker(formats=())
    checker.checkers = dict(validator_class.FORMAT_CHECKER.checkers)
    local = {"date-time": is_date_time, "uri": is_uri, "uri-reference": is_uri_reference}
    for name, check in local.items():
        if name not in checker.checkers:
            checker.checks(name)(check)
    return checker

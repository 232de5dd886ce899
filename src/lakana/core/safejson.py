"""Parse JSON from outside (STIX bundles, MISP events, CSAF documents) with limits.

``json.loads`` alone accepts a 10,000-level nesting (it then fails with a ``RecursionError``
deep in the caller), arrays of millions of items, ``NaN`` and invalid UTF-8 decoded
leniently. Files from partners go through :func:`loads`, which refuses each of those with a
clear 4xx error before any of the content is used.
"""

from __future__ import annotations

import json
from typing import Any

from lakana.core.errors import Invalid, TooLarge

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_DEPTH = 32
DEFAULT_MAX_VALUES = 2_000_000


def _refuse_constant(name: str) -> Any:
    raise Invalid("%(what)s: %(value)s is not allowed in JSON.", what="JSON", value=name)


def _check_shape(value: Any, *, what: str, max_depth: int, max_values: int) -> None:
    # Iterative walk: a recursive one would itself overflow on the inputs it must refuse.
    stack: list[tuple[Any, int]] = [(value, 1)]
    seen = 0
    while stack:
        item, depth = stack.pop()
        seen += 1
        if seen > max_values:
            raise TooLarge("%(what)s has more than %(max)s values.", what=what, max=max_values)
        if isinstance(item, dict | list):
            if depth > max_depth:
                raise Invalid("%(what)s is nested more than %(max)s levels deep.", what=what,
                              max=max_depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def loads(data: bytes | str, *, what: str = "JSON", max_bytes: int = DEFAULT_MAX_BYTES,
          max_depth: int = DEFAULT_MAX_DEPTH, max_values: int = DEFAULT_MAX_VALUES) -> Any:
    """Parse ``data`` as JSON, refusing oversize, too deep or too big documents.

    ``what`` names the document in error messages (e.g. ``"STIX bundle"``). Raises
    :class:`TooLarge` (413) for size and value-count limits, :class:`Invalid` (422) for
    invalid UTF-8, invalid JSON, ``NaN``/``Infinity`` and nesting deeper than ``max_depth``.
    """
    size = len(data.encode() if isinstance(data, str) else data)
    if size > max_bytes:
        raise TooLarge("%(what)s is larger than %(max)s bytes.", what=what, max=max_bytes)
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise Invalid("%(what)s is not valid UTF-8 (byte %(position)s).", what=what,
                          position=exc.start) from None
    else:
        text = data
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise Invalid("%(what)s is nested more than %(max)s levels deep.", what=what,
                      max=max_depth) from None
    except json.JSONDecodeError as exc:
        raise Invalid("%(what)s is not valid JSON: %(reason)s (line %(line)s, column "
                      "%(column)s).", what=what, reason=exc.msg, line=exc.lineno,
                      column=exc.colno) from None
    _check_shape(value, what=what, max_depth=max_depth, max_values=max_values)
    return value

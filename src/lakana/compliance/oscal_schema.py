"""Validation against NIST's official OSCAL JSON schema (the vendored "complete" schema).

The schema (``schemas/oscal_complete_schema.json``, OSCAL :data:`OSCAL_VERSION`, JSON Schema
draft-07) is read once, when first needed. Its ``pattern`` keywords use Unicode property
escapes (``\\p{L}``, ``\\p{N}``) that Python's ``re`` does not know, so patterns are evaluated
with the ``regex`` package. Formats are checked offline: jsonschema's own checkers where its
optional libraries are installed, else the small local ones below (never a network call).

Each problem names its place as a JSON path (``$.catalog.groups[3].controls[7].id``, the
format of :func:`lakana.compliance.oscal.json_path`) with a translatable message.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regex  # type: ignore[import-untyped]  # no type stubs
from jsonschema import Draft7Validator, validators  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]

from lakana.core import jsonformats
from lakana.core.i18n import N_

SCHEMA_FILE = Path(__file__).parent / "schemas" / "oscal_complete_schema.json"
#: The OSCAL release of the vendored schema, written by every Lakana export.
OSCAL_VERSION = "1.2.3"
#: At most this many problems are listed (the rest are counted).
MAX_PROBLEMS = 50
_DEFAULT_REF = Draft7Validator.VALIDATORS["$ref"]

#: What a ``pattern`` failure means, by the OSCAL datatype that carries the pattern.
_PATTERN_MESSAGES = {
    "TokenDatatype": N_("%(value)s is not an OSCAL token: it must begin with a letter or _ "
                        "and hold only letters, digits, dots, dashes and underscores."),
    "UUIDDatatype": N_("%(value)s is not a version 4 or 5 UUID."),
    "DateTimeWithTimezoneDatatype": N_("%(value)s is not a date and time with a time zone "
                                       "(such as 2026-01-15T00:00:00Z)."),
    "DateDatatype": N_("%(value)s is not a date (such as 2026-01-15)."),
    "URIDatatype": N_("%(value)s is not an absolute URI (such as https://example.org/ns)."),
    "StringDatatype": N_("The text must not be empty, nor begin or end with a space."),
    "MarkupLineDatatype": N_("The text must fit on one line."),
}


@dataclass(frozen=True)
class SchemaProblem:
    """One place where a document departs from the schema: JSON path, message id, params."""

    path: str
    message: str
    params: dict[str, str] = field(default_factory=dict)
    #: The schema keyword that failed.
    keyword: str = ""

    @property
    def text(self) -> str:
        """The message in English, filled in."""
        return self.message % self.params if self.params else self.message


# --- the validator -----------------------------------------------------------------------

@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    return regex.compile(pattern)


def _pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]
             ) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _compiled(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _local_ref(validator: Any, ref: str, instance: Any, schema: dict[str, Any]
               ) -> Iterator[ValidationError]:
    """``$ref``: the schema's own definitions are looked up in a dict (resolving each
    reference through jsonschema's resolver costs a quarter of the validation time); any
    other reference goes the usual way."""
    target = _definitions_by_ref().get(ref)
    if target is None:
        yield from _DEFAULT_REF(validator, ref, instance, schema)
        return
    yield from validator.descend(instance, target)


def _pattern_properties(validator: Any, patterns: dict[str, Any], instance: Any,
                        schema: dict[str, Any]) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if _compiled(pattern).search(key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _format_checker() -> Any:
    """jsonschema's draft-7 checkers, completed offline for the formats OSCAL uses."""
    return jsonformats.format_checker(Draft7Validator)


@functools.cache
def _schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return loaded


@functools.cache
def _definitions_by_ref() -> dict[str, Any]:
    return {f"#/definitions/{name}": definition
            for name, definition in _schema()["definitions"].items()}


@functools.cache
def _datatypes() -> dict[str, str]:
    """Each pattern of the schema's datatypes → the datatype's name."""
    found: dict[str, str] = {}
    for name, definition in _schema()["definitions"].items():
        if not name.endswith("Datatype"):
            continue
        for part in [definition, *definition.get("allOf", [])]:
            if "pattern" in part:
                found.setdefault(part["pattern"], name)
    return found


def models() -> list[str]:
    """The root keys the schema knows (``catalog``, ``profile``, ``assessment-results``...)."""
    return [branch["required"][0] for branch in _schema()["oneOf"]]


@functools.cache
def _validator(model: str) -> Any:
    """A validator of a ``{model: {...}}`` document: the complete schema with its top-level
    ``oneOf`` narrowed to the branch of ``model``, so errors point into the model."""
    schema = _schema()
    branch = next((b for b in schema["oneOf"] if b.get("required") == [model]), None)
    if branch is None:
        raise ValueError(f"unknown OSCAL model: {model}")
    narrowed = {k: v for k, v in schema.items() if k != "oneOf"} | branch
    cls = validators.extend(Draft7Validator, {"$ref": _local_ref, "pattern": _pattern,
                                              "patternProperties": _pattern_properties})
    return cls(narrowed, format_checker=_format_checker())


# --- problems ----------------------------------------------------------------------------

def _path(parts: Any) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _sort_key(problem: SchemaProblem) -> tuple[Any, ...]:
    parts = regex.findall(r"\[(\d+)\]|\.([^.\[]+)", problem.path)
    return (*((0, int(i), "") if i else (1, 0, name) for i, name in parts), problem.message)


def _value(instance: Any) -> str:
    text = instance if isinstance(instance, str) else json.dumps(instance, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def _unknown_keys(error: ValidationError) -> list[str]:
    known = set(error.schema.get("properties", {}))
    patterns = [_compiled(p) for p in error.schema.get("patternProperties", {})]
    return sorted(k for k in error.instance
                  if k not in known and not any(p.search(k) for p in patterns))


def _closest_branch(error: ValidationError) -> list[ValidationError]:
    """The errors of the ``anyOf``/``oneOf`` branch the value most likely meant: the one
    whose shape fits (no unknown or missing keys, right type), then with fewest errors."""
    branches: dict[Any, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)

    def misfit(errors: list[ValidationError]) -> tuple[int, int]:
        shape = 0
        for sub in errors:
            if sub.relative_path:
                continue
            if sub.validator == "additionalProperties":
                shape += len(_unknown_keys(sub))
            elif sub.validator in ("required", "type"):
                shape += 1
        return shape, len(errors)

    return min(branches.values(), key=misfit)


def _simple(keyword: str, expected: Any) -> tuple[str, dict[str, str]] | None:
    if keyword == "type":
        names = " | ".join(expected) if isinstance(expected, list) else str(expected)
        return N_("The value must be of JSON type %(expected)s, not %(value)s."), {
            "expected": names}
    if keyword == "format":
        return N_("%(value)s is not a valid %(expected)s."), {"expected": str(expected)}
    if keyword == "enum":
        return N_("Unknown value %(value)s; allowed: %(allowed)s."), {
            "allowed": ", ".join(map(str, expected))}
    if keyword == "minItems":
        return N_("The list needs at least %(min)s item(s)."), {"min": str(expected)}
    if keyword == "minimum":
        return N_("The value must be at least %(min)s."), {"min": str(expected)}
    return None


def _describe(error: ValidationError) -> list[SchemaProblem]:
    path = _path(error.absolute_path)
    keyword, expected, instance = error.validator, error.validator_value, error.instance
    if keyword in ("anyOf", "oneOf") and error.context:
        return [p for sub in _closest_branch(error) for p in _describe(sub)]
    if keyword == "required":
        return [SchemaProblem(_path([*error.absolute_path, name]), N_("This value is required."),
                              {}, keyword)
                for name in expected if isinstance(instance, dict) and name not in instance]
    if keyword == "additionalProperties":
        return [SchemaProblem(_path([*error.absolute_path, name]),
                              N_("Unknown property %(name)s: the OSCAL schema does not allow "
                                 "it here."), {"name": name}, keyword)
                for name in _unknown_keys(error)]
    if keyword == "pattern":
        message = _PATTERN_MESSAGES.get(_datatypes().get(expected, ""))
        if message is None:
            return [SchemaProblem(path, N_("%(value)s does not have the expected form "
                                           "(%(pattern)s)."),
                                  {"value": _value(instance), "pattern": expected}, keyword)]
        return [SchemaProblem(path, message, {"value": _value(instance)}, keyword)]
    simple = _simple(keyword, expected)
    if simple is not None:
        message, params = simple
        return [SchemaProblem(path, message, {"value": _value(instance), **params}, keyword)]
    return [SchemaProblem(path, N_("Not valid against the OSCAL schema: %(detail)s."),
                          {"detail": error.message[:200]}, keyword)]


def schema_errors(doc: Any, model: str, limit: int = MAX_PROBLEMS
                  ) -> tuple[list[SchemaProblem], int]:
    """The problems of ``doc`` (a ``{model: {...}}`` document) against the official schema,
    sorted by path and cut to ``limit``, with how many there were in all."""
    found: dict[tuple[str, str], SchemaProblem] = {}
    format_only: dict[tuple[str, str], SchemaProblem] = {}
    for error in _validator(model).iter_errors(doc):
        for problem in _describe(error):
            target = format_only if problem.keyword == "format" else found
            target.setdefault((problem.path, problem.text), problem)
    # a value that fails its datatype's pattern is told once, not also for its format
    described = {path for path, _text in found}
    found.update({k: p for k, p in format_only.items() if p.path not in described})
    ordered = sorted(found.values(), key=_sort_key)
    return ordered[:limit], len(ordered)


def schema_problems(doc: Any, model: str) -> list[tuple[str, str]]:
    """``(json path, message in English)`` for each problem of ``doc`` against the official
    OSCAL schema of ``model`` (``catalog``, ``profile``, ``assessment-results``...), sorted by
    path, at most :data:`MAX_PROBLEMS`; empty when the document is valid."""
    problems, _total = schema_errors(doc, model)
    return [(p.path, p.text) for p in problems]

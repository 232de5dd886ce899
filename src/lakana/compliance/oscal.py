"""OSCAL JSON: parse and check catalogs and profiles, and write them back.

A document is first checked against NIST's official OSCAL JSON schema
(:mod:`lakana.compliance.oscal_schema`, OSCAL 1.2.3; documents of OSCAL 1.0.x and 1.1.x are
accepted when they also fit it). Only the subset of OSCAL that Lakana uses is then modelled
(with Pydantic); keys OSCAL allows but Lakana does not read are accepted and kept, since the
source is stored and exported as it came. Every problem names its place in the document as a
JSON path such as ``$.catalog.groups[3].controls[7].id``; all problems are reported at once.

Lakana's own properties and parts live in the namespace :data:`NS` (English texts, tiers,
mappings, weights, legal sources, the maturity scale).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lakana.compliance import oscal_schema
from lakana.compliance.oscal_schema import OSCAL_VERSION as OSCAL_VERSION  # re-exported
from lakana.core.errors import Invalid
from lakana.core.i18n import N_, Msg
from lakana.core.web.errors import VALIDATION_MESSAGES

NS = "https://lakana.ml/ns/oscal"
#: The OSCAL versions Lakana reads; it writes :data:`OSCAL_VERSION`.
SUPPORTED_OSCAL = re.compile(r"^1\.[012]\.\d+$")
KINDS = {"requirement": "requirement", "legal-obligation": "legal"}
TIERS = ("1", "2", "3")


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Prop(_Model):
    """An OSCAL property."""

    name: str = Field(min_length=1)
    value: str
    ns: str | None = None


class Part(_Model):
    """An OSCAL part (statement, guidance...)."""

    id: str | None = None
    name: str = Field(min_length=1)
    ns: str | None = None
    prose: str | None = None
    parts: list[Part] = []


class Control(_Model):
    """An OSCAL control: one requirement."""

    id: str = Field(min_length=1, max_length=80)
    class_: str | None = Field(default=None, alias="class")
    title: str = Field(min_length=1, max_length=300)
    props: list[Prop] = []
    parts: list[Part] = []


class Group(_Model):
    """An OSCAL group: one domain."""

    id: str = Field(min_length=1, max_length=80)
    class_: str | None = Field(default=None, alias="class")
    title: str = Field(min_length=1, max_length=300)
    props: list[Prop] = []
    controls: list[Control] = []


class Metadata(_Model):
    """OSCAL metadata."""

    title: str = Field(min_length=1, max_length=300)
    version: str = Field(min_length=1, max_length=60)
    oscal_version: str = Field(alias="oscal-version", min_length=1)
    last_modified: str = Field(alias="last-modified", min_length=1)
    props: list[Prop] = []


class Resource(_Model):
    """A back-matter resource (Lakana keeps its maturity scale in one)."""

    uuid: str
    title: str | None = None
    props: list[Prop] = []


class BackMatter(_Model):
    """OSCAL back matter."""

    resources: list[Resource] = []


class CatalogBody(_Model):
    """The ``catalog`` object."""

    uuid: str = Field(min_length=1)
    metadata: Metadata
    groups: list[Group] = Field(min_length=1)
    back_matter: BackMatter | None = Field(default=None, alias="back-matter")


class CatalogDocument(_Model):
    """An OSCAL catalog document."""

    catalog: CatalogBody


class WithIds(_Model):
    """A selection of controls by id."""

    with_ids: list[str] = Field(alias="with-ids", min_length=1)


class Import(_Model):
    """One import of a profile."""

    href: str = Field(min_length=1)
    include_all: dict[str, Any] | None = Field(default=None, alias="include-all")
    include_controls: list[WithIds] | None = Field(default=None, alias="include-controls")
    exclude_controls: list[WithIds] | None = Field(default=None, alias="exclude-controls")


class ProfileBody(_Model):
    """The ``profile`` object."""

    uuid: str = Field(min_length=1)
    metadata: Metadata
    imports: list[Import] = Field(min_length=1)
    merge: dict[str, Any] | None = None


class ProfileDocument(_Model):
    """An OSCAL profile document."""

    profile: ProfileBody


# --- what the rest of the domain reads ------------------------------------------------------

@dataclass(frozen=True)
class ParsedRequirement:
    """A control, read and checked."""

    control_id: str
    kind: str
    title_fr: str
    title_en: str
    statement_fr: str
    statement_en: str
    guidance_fr: str
    guidance_en: str
    tiers: tuple[str, ...]
    weight: int
    iso_refs: tuple[str, ...]
    csf_refs: tuple[str, ...]
    legal_source: str


@dataclass(frozen=True)
class ParsedDomain:
    """A group, read and checked."""

    code: str
    title_fr: str
    title_en: str
    requirements: tuple[ParsedRequirement, ...]


@dataclass(frozen=True)
class ParsedCatalog:
    """A catalog document, read and checked, with its canonical digest and source."""

    catalog_id: str
    version: str
    uuid: str
    title_fr: str
    title_en: str
    oscal_version: str
    last_modified: str
    domains: tuple[ParsedDomain, ...]
    maturity: tuple[tuple[int, str, str], ...]
    sha256: str
    source: dict[str, Any]


@dataclass(frozen=True)
class ParsedImport:
    """One import of a profile: which catalog version, which ids in and out (with paths)."""

    href: str
    path: str
    include_all: bool
    include_ids: tuple[tuple[str, str], ...]
    exclude_ids: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ParsedProfile:
    """A profile document, read and checked (imports not resolved yet)."""

    profile_id: str
    version: str
    uuid: str
    title_fr: str
    title_en: str
    oscal_version: str
    imports: tuple[ParsedImport, ...]
    sha256: str
    source: dict[str, Any]


@dataclass
class _Problems:
    items: list[dict[str, Any]] = field(default_factory=list)

    def add(self, path: str, message: str, **params: Any) -> None:
        self.items.append({"path": path, "message": message,
                           "params": {k: str(v) for k, v in params.items()}})

    def raise_if_any(self, what: str) -> None:
        if self.items:
            raise Invalid("The OSCAL %(what)s is invalid (%(count)s problem(s)); nothing was "
                          "imported.", what=Msg(what), count=len(self.items), errors=self.items)


def canonical(doc: Any) -> str:
    """The canonical JSON text of a document (sorted keys, no spaces), for digests."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(doc: Any) -> str:
    """SHA-256 of the canonical JSON text."""
    return hashlib.sha256(canonical(doc).encode("utf-8")).hexdigest()


def json_path(loc: tuple[int | str, ...] | list[int | str]) -> str:
    """A Pydantic location as a JSON path: ``("catalog", 3)`` → ``$.catalog[3]``."""
    out = "$"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def load_json(content: bytes | str) -> Any:
    """Decode a JSON document, refusing bad text with its line and column."""
    try:
        text = content.decode("utf-8-sig") if isinstance(content, bytes) else content
        return json.loads(text)
    except UnicodeDecodeError:
        raise Invalid("The file is not UTF-8 text.", errors=[
            {"path": "$", "message": N_("The file is not UTF-8 text.")}]) from None
    except json.JSONDecodeError as exc:
        raise Invalid("The file is not valid JSON (line %(line)s, column %(column)s).",
                      line=exc.lineno, column=exc.colno, errors=[
                          {"path": "$", "message": N_("The body is not valid JSON.")}]) from None


def _schema_check(doc: dict[str, Any], what: str, problems: _Problems) -> None:
    """Add the problems of ``doc`` against the official OSCAL schema of ``what``."""
    found, total = oscal_schema.schema_errors(doc, what)
    for item in found:
        problems.add(item.path, item.message, **item.params)
    if total > len(found):
        problems.add("$", N_("%(count)s more problems against the OSCAL schema are not "
                             "listed."), count=total - len(found))


def _structure(model: type[BaseModel], doc: Any, what: str) -> tuple[Any, _Problems]:
    """The document checked against the official schema, then read with ``model``; the
    problems found so far come back (raised at once when the document cannot be read)."""
    if not isinstance(doc, dict) or what not in doc:
        raise Invalid("This is not an OSCAL %(what)s: the top-level key %(key)s is missing.",
                      what=Msg(what), key=what, errors=[{"path": "$." + what,
                                          "message": N_("This value is required.")}])
    problems = _Problems()
    _schema_check(doc, what, problems)
    try:
        return model.model_validate(doc), problems
    except ValidationError as exc:
        known = {item["path"] for item in problems.items}
        for err in exc.errors():
            path = json_path(err["loc"])
            if path in known:  # the schema already told what is wrong there
                continue
            ctx = dict(err.get("ctx") or {})
            message = VALIDATION_MESSAGES.get(err["type"], N_("Not a valid value: %(value)s."))
            problems.add(path, message, value=str(err.get("input", ""))[:100],
                         allowed=ctx.get("expected", ""),
                         min=ctx.get("min_length", ""), max=ctx.get("max_length", ""))
        problems.raise_if_any(what)
    raise AssertionError  # pragma: no cover


def _props(props: list[Prop], name: str) -> list[str]:
    return [p.value for p in props if p.name == name and p.ns == NS]


def _prop(props: list[Prop], name: str) -> str | None:
    found = _props(props, name)
    return found[0] if found else None


def _check_version(meta: Metadata, base: str, problems: _Problems) -> None:
    if not SUPPORTED_OSCAL.match(meta.oscal_version):
        problems.add(f"{base}.metadata.oscal-version",
                     N_("Unknown OSCAL version %(version)s; supported: 1.0.x, 1.1.x and "
                        "1.2.x."),
                     version=meta.oscal_version)


def _required_prop(props: list[Prop], name: str, path: str, problems: _Problems) -> str:
    value = _prop(props, name)
    if not value or not value.strip():
        problems.add(path, N_("The property %(name)s (namespace %(ns)s) is required."),
                     name=name, ns=NS)
        return ""
    return value.strip()


class _Ids:
    """Every id of the document, with where it was first seen."""

    def __init__(self, problems: _Problems) -> None:
        self.seen: dict[str, str] = {}
        self.problems = problems

    def add(self, ident: str | None, path: str) -> None:
        if ident is None:
            return
        if ident in self.seen:
            self.problems.add(path, N_("Duplicate id %(id)s: already used at %(other)s."),
                              id=ident, other=self.seen[ident])
        else:
            self.seen[ident] = path


def _parts(parts: list[Part], path: str, ids: _Ids) -> dict[str, str]:
    texts: dict[str, str] = {}
    for index, part in enumerate(parts):
        here = f"{path}[{index}]"
        ids.add(part.id, f"{here}.id")
        _parts(part.parts, f"{here}.parts", ids)
        texts.setdefault(part.name, (part.prose or "").strip())
    return texts


def _control(control: Control, path: str, ids: _Ids, problems: _Problems
             ) -> ParsedRequirement:
    ids.add(control.id, f"{path}.id")
    texts = _parts(control.parts, f"{path}.parts", ids)
    kind = KINDS.get(control.class_ or "requirement")
    if kind is None:
        problems.add(f"{path}.class", N_("Unknown value %(value)s; allowed: %(allowed)s."),
                     value=control.class_, allowed=", ".join(KINDS))
    for name in ("statement", "statement-en"):
        if not texts.get(name):
            problems.add(f"{path}.parts", N_("The part %(name)s is required."), name=name)
    tiers = tuple(_props(control.props, "applies-to-tier")) or TIERS
    for tier in tiers:
        if tier not in TIERS:
            problems.add(f"{path}.props", N_("Unknown criticality tier %(value)s; allowed: "
                                             "1, 2, 3."), value=tier)
    raw_weight = _prop(control.props, "weight") or "1"
    if raw_weight not in ("1", "2", "3"):
        problems.add(f"{path}.props", N_("The weight must be 1, 2 or 3, not %(value)s."),
                     value=raw_weight)
    legal = (_prop(control.props, "legal-source") or "").strip()
    if kind == "legal" and not legal:
        problems.add(f"{path}.props", N_("A legal obligation needs its legal-source property."))
    return ParsedRequirement(
        control_id=control.id, kind=kind or "requirement", title_fr=control.title.strip(),
        title_en=_required_prop(control.props, "title-en", f"{path}.props", problems),
        statement_fr=texts.get("statement", ""), statement_en=texts.get("statement-en", ""),
        guidance_fr=texts.get("guidance", ""), guidance_en=texts.get("guidance-en", ""),
        tiers=tuple(sorted(set(tiers))),
        weight=int(raw_weight) if raw_weight in ("1", "2", "3") else 1,
        iso_refs=tuple(_props(control.props, "iso27001-2022")),
        csf_refs=tuple(_props(control.props, "nist-csf-2.0")), legal_source=legal)


def _maturity(back: BackMatter | None, problems: _Problems) -> tuple[tuple[int, str, str], ...]:
    if back is None:
        return ()
    for index, resource in enumerate(back.resources):
        if _prop(resource.props, "resource-kind") != "maturity-scale":
            continue
        path = f"$.catalog.back-matter.resources[{index}].props"
        levels = []
        for level in range(6):
            fr = _required_prop(resource.props, f"maturity-level-{level}", path, problems)
            en = _required_prop(resource.props, f"maturity-level-{level}-en", path, problems)
            levels.append((level, fr, en))
        return tuple(levels)
    return ()


def parse_catalog(content: bytes | str | dict[str, Any]) -> ParsedCatalog:
    """Read and check an OSCAL catalog; :class:`Invalid` lists every problem with its path."""
    doc = content if isinstance(content, dict) else load_json(content)
    parsed, problems = _structure(CatalogDocument, doc, "catalog")
    cat = parsed.catalog
    _check_version(cat.metadata, "$.catalog", problems)
    meta_path = "$.catalog.metadata.props"
    catalog_id = _required_prop(cat.metadata.props, "catalog-id", meta_path, problems)
    if catalog_id and not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,79}", catalog_id):
        problems.add(meta_path, N_("The catalog id %(value)s must be lower-case letters, "
                                   "digits, dots, dashes or underscores."), value=catalog_id)
    title_en = _required_prop(cat.metadata.props, "title-en", meta_path, problems)
    ids = _Ids(problems)
    domains = []
    for g_index, group in enumerate(cat.groups):
        g_path = f"$.catalog.groups[{g_index}]"
        ids.add(group.id, f"{g_path}.id")
        requirements = tuple(
            _control(control, f"{g_path}.controls[{c_index}]", ids, problems)
            for c_index, control in enumerate(group.controls))
        domains.append(ParsedDomain(
            code=group.id, title_fr=group.title.strip(),
            title_en=_required_prop(group.props, "title-en", f"{g_path}.props", problems),
            requirements=requirements))
    maturity = _maturity(cat.back_matter, problems)
    problems.raise_if_any("catalog")
    return ParsedCatalog(
        catalog_id=catalog_id, version=cat.metadata.version.strip(), uuid=cat.uuid,
        title_fr=cat.metadata.title.strip(), title_en=title_en,
        oscal_version=cat.metadata.oscal_version, last_modified=cat.metadata.last_modified,
        domains=tuple(domains), maturity=maturity, sha256=digest(doc), source=doc)


def _selection(items: list[WithIds] | None, path: str) -> tuple[tuple[str, str], ...]:
    out = []
    for index, item in enumerate(items or []):
        for id_index, ident in enumerate(item.with_ids):
            out.append((ident, f"{path}[{index}].with-ids[{id_index}]"))
    return tuple(out)


def parse_profile(content: bytes | str | dict[str, Any]) -> ParsedProfile:
    """Read and check an OSCAL profile (its imports are resolved by the service)."""
    doc = content if isinstance(content, dict) else load_json(content)
    parsed, problems = _structure(ProfileDocument, doc, "profile")
    body = parsed.profile
    _check_version(body.metadata, "$.profile", problems)
    meta_path = "$.profile.metadata.props"
    profile_id = _required_prop(body.metadata.props, "profile-id", meta_path, problems)
    title_en = _required_prop(body.metadata.props, "title-en", meta_path, problems)
    if "modify" in doc["profile"]:
        problems.add("$.profile.modify", N_("Profile modifications (modify) are not supported "
                                            "yet."))
    imports = []
    for index, item in enumerate(body.imports):
        path = f"$.profile.imports[{index}]"
        if item.include_all is None and not item.include_controls:
            problems.add(path, N_("An import needs include-all or include-controls."))
        imports.append(ParsedImport(
            href=item.href, path=path, include_all=item.include_all is not None,
            include_ids=_selection(item.include_controls, f"{path}.include-controls"),
            exclude_ids=_selection(item.exclude_controls, f"{path}.exclude-controls")))
    problems.raise_if_any("profile")
    return ParsedProfile(
        profile_id=profile_id, version=body.metadata.version.strip(), uuid=body.uuid,
        title_fr=body.metadata.title.strip(), title_en=title_en,
        oscal_version=body.metadata.oscal_version, imports=tuple(imports),
        sha256=digest(doc), source=doc)


def resolved_catalog(*, profile: dict[str, Any],
                     selections: list[tuple[dict[str, Any], list[str]]]) -> dict[str, Any]:
    """The "resolved profile catalog": an OSCAL catalog holding only the selected controls.

    ``selections`` pairs each imported catalog's source document with the control ids the
    profile keeps from it; groups of the same id are merged in import order ("as-is").
    """
    meta = profile["profile"]["metadata"]
    profile_props = [p for p in meta.get("props", []) if p.get("name") != "profile-id"]
    profile_id = next((p["value"] for p in meta.get("props", [])
                       if p.get("name") == "profile-id"), "profile")
    groups: dict[str, dict[str, Any]] = {}
    resources: list[dict[str, Any]] = []
    for source, kept in selections:
        wanted = set(kept)
        catalog = source["catalog"]
        for group in catalog.get("groups", []):
            controls = [c for c in group.get("controls", []) if c.get("id") in wanted]
            if not controls:
                continue
            target = groups.setdefault(group["id"], {**group, "controls": []})
            target["controls"].extend(controls)
        for resource in catalog.get("back-matter", {}).get("resources", []):
            if resource not in resources:
                resources.append(resource)
    body: dict[str, Any] = {
        "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{profile['profile']['uuid']}#resolved")),
        "metadata": {**meta, "oscal-version": OSCAL_VERSION, "props": [
            *profile_props, {"name": "catalog-id", "ns": NS, "value": f"{profile_id}-resolved"},
            {"name": "resolution-tool", "value": "Lakana"}],
                     "links": [{"href": f"#{profile['profile']['uuid']}",
                                "rel": "source-profile"}]},
        "groups": list(groups.values()),
    }
    if resources:
        body["back-matter"] = {"resources": resources}
    return {"catalog": body}

"""OASIS CSAF 2.0: build an advisory's document, check it against the official schema, sign
it with OpenPGP, and write the files of the directory-based distribution.

* **Schema**: the vendored official schemas (``schemas/``, see ``PROVENANCE.md``) are loaded
  into a :class:`referencing.Registry` under the URLs that reference them, so validation
  never fetches anything. Problems name their place as a JSON path (``$.document.title``).
* **Document**: one document per advisory, ``lang`` ``fr`` (French first); the optional
  English title, summary and details travel as notes titled "(English)", so that the signed
  document is one file with one tracking id whatever the reader's language. An advisory
  about products or CVEs is a ``csaf_security_advisory``; one without (a scam wave) a
  ``csaf_informational_advisory``. The link to a case is never exported.
* **Signature**: CSAF 2.0 asks for a detached OpenPGP signature (``.asc``) and ``.sha256`` /
  ``.sha512`` files. The platform's Ed25519 OpenPGP key is created on first use in the data
  folder (mode 0600) with PGPy; GnuPG's ``gpgv`` verifies what it signs.
* **Distribution**: ``provider-metadata.json``, ``index.txt`` and ``changes.csv`` of the
  TLP:WHITE (TLP 2.0 CLEAR) directory.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import re
import threading
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT7

from lakana.core import jsonformats
from lakana.core.config import Settings

with warnings.catch_warnings():
    # PGPy 0.6 imports ``imghdr`` (deprecated); the warning says nothing about our use.
    warnings.simplefilter("ignore", DeprecationWarning)
    import pgpy  # type: ignore[import-untyped]  # no type stubs
    from pgpy.constants import (  # type: ignore[import-untyped]
        EllipticCurveOID,
        HashAlgorithm,
        KeyFlags,
        PubKeyAlgorithm,
    )
    from pgpy.errors import PGPError  # type: ignore[import-untyped]

SCHEMA_DIR = Path(__file__).parent / "schemas"
CSAF_SCHEMA_ID = "https://docs.oasis-open.org/csaf/csaf/v2.0/csaf_json_schema.json"
#: The official provider schema, when it is vendored (see PROVENANCE.md); else Lakana's own.
PROVIDER_SCHEMA_FILES = ("provider_json_schema.json", "lakana_provider_metadata_schema.json")
_REFERENCED = {  # URL the CSAF schema references -> (file, specification when no $schema)
    "https://www.first.org/cvss/cvss-v2.0.json": ("cvss-v2.0.json", DRAFT4),
    "https://www.first.org/cvss/cvss-v3.0.json": ("cvss-v3.0.json", DRAFT4),
    "https://www.first.org/cvss/cvss-v3.1.json": ("cvss-v3.1.json", DRAFT7),
}
MAX_PROBLEMS = 50
#: Nesting accepted in a CSAF file from outside (product trees nest two levels per branch).
MAX_DEPTH = 64

PUBLISHER_NAME = "CSIRT national du Mali"
PUBLISHER_CONTACT = "Centre national de réponse aux incidents informatiques (CSIRT)"
GENERATOR = {"name": "Lakana", "version": "0.1.0"}
TLP_URL = "https://www.first.org/tlp/"
#: TLP 2.0 (stored) -> the TLP 1.0 label CSAF 2.0 knows.
CSAF_TLP = {"clear": "WHITE", "green": "GREEN", "amber": "AMBER"}
SEVERITY_TEXT = {"low": "Faible", "medium": "Moyenne", "high": "Élevée",
                 "critical": "Critique"}
REMEDIATION_TITLES = {"vendor_fix": "Correctif de l'éditeur", "mitigation": "Atténuation",
                      "workaround": "Contournement", "none_available": "Aucune mesure",
                      "no_fix_planned": "Aucun correctif prévu"}
WELL_KNOWN = "/.well-known/csaf"
PROVIDER_METADATA_PATH = f"{WELL_KNOWN}/provider-metadata.json"
WHITE_DIR = f"{WELL_KNOWN}/white"


# --- schema --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    """One place where a document departs from the schema."""

    path: str
    message: str


def _load(name: str) -> Any:
    return json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))


@functools.cache
def _registry() -> Registry[Any]:
    resources = [(CSAF_SCHEMA_ID, Resource.from_contents(_load("csaf_json_schema.json")))]
    for url, (name, spec) in _REFERENCED.items():
        resources.append((url, Resource.from_contents(_load(name), default_specification=spec)))
    registry: Registry[Any] = Registry().with_resources(resources)
    return registry.crawl()


def _format_checker() -> FormatChecker:
    """jsonschema's checkers, completed offline for the formats CSAF uses."""
    checker: FormatChecker = jsonformats.format_checker(Draft202012Validator)
    return checker


@functools.cache
def _csaf_validator() -> Any:
    return Draft202012Validator(_load("csaf_json_schema.json"), registry=_registry(),
                                format_checker=_format_checker())


def provider_schema_file() -> str:
    """The provider-metadata schema in use: the official one when vendored, else Lakana's."""
    return next(name for name in PROVIDER_SCHEMA_FILES if (SCHEMA_DIR / name).is_file())


@functools.cache
def _provider_validator() -> Any:
    return Draft202012Validator(_load(provider_schema_file()), registry=_registry(),
                                format_checker=_format_checker())


def json_path(parts: Iterable[Any]) -> str:
    """``$.document.notes[0].text`` from a jsonschema path."""
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _problems(validator: Any, doc: Any) -> list[Problem]:
    found: list[Problem] = []
    errors: Iterator[ValidationError] = validator.iter_errors(doc)
    for error in errors:
        found.append(Problem(json_path(error.absolute_path), error.message[:300]))
        if len(found) >= MAX_PROBLEMS:
            break
    return sorted(found, key=lambda p: p.path)


def validate_document(doc: Any) -> list[Problem]:
    """The problems of ``doc`` against the official CSAF 2.0 schema (empty: valid)."""
    return _problems(_csaf_validator(), doc)


def validate_provider_metadata(doc: Any) -> list[Problem]:
    """The problems of a ``provider-metadata.json`` (empty: valid)."""
    return _problems(_provider_validator(), doc)


# --- the document ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Content:
    """What a CSAF document is built from (an advisory's fields, or a candidate revision)."""

    tracking_id: str
    title_fr: str
    summary_fr: str
    details_fr: str
    audience: str
    tlp: str
    severity: str
    title_en: str = ""
    summary_en: str = ""
    details_en: str = ""
    cves: Sequence[str] = ()
    products: Sequence[Mapping[str, Any]] = ()
    remediations: Sequence[Mapping[str, Any]] = ()
    references: Sequence[Mapping[str, Any]] = ()
    #: ``final`` for a publication, ``draft`` for a preview.
    status: str = "draft"
    revisions: Sequence[Mapping[str, Any]] = ()
    initial_release_date: dt.datetime | None = None
    current_release_date: dt.datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def csaf_date(moment: dt.datetime) -> str:
    """A CSAF date-time: UTC, seconds, ``Z``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def file_name(tracking_id: str) -> str:
    """The file name CSAF 2.0 (5.1) derives from a tracking id: lower case, every character
    but ``+``, ``-``, letters and digits replaced by ``_``, then ``.json``."""
    return re.sub(r"[^+\-a-z0-9]+", "_", tracking_id.lower()) + ".json"


def relative_path(tracking_id: str, initial_release: dt.datetime) -> str:
    """``2026/ml-csirt-2026-0001.json``: the year folder is the initial release's year."""
    return f"{initial_release.year}/{file_name(tracking_id)}"


def _version_range(affected: str) -> str:
    text = affected.strip()
    if text.startswith("vers:"):
        return text
    return "vers:generic/" + "|".join(part for part in text.replace(",", " ").split())


def _product_tree(products: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any] | None,
                                                                     list[str], list[str]]:
    """The vendor > product > version branches, and the ids of affected and fixed products."""
    vendors: dict[str, dict[str, Any]] = {}
    affected_ids: list[str] = []
    fixed_ids: list[str] = []
    counter = 0

    def leaf(category: str, name: str, full_name: str) -> dict[str, Any]:
        nonlocal counter
        counter += 1
        return {"category": category, "name": name,
                "product": {"product_id": f"CSAFPID-{counter:04d}", "name": full_name}}

    for item in products:
        vendor, product = str(item["vendor"]).strip(), str(item["product"]).strip()
        vendor_branch = vendors.setdefault(vendor, {"category": "vendor", "name": vendor,
                                                    "branches": []})
        leaves: list[dict[str, Any]] = []
        if str(item.get("affected") or "").strip():
            version_range = _version_range(str(item["affected"]))
            leaves.append(leaf("product_version_range", version_range,
                               f"{vendor} {product} {str(item['affected']).strip()}"))
            affected_ids.append(leaves[-1]["product"]["product_id"])
        for version in str(item.get("fixed") or "").replace(";", ",").split(","):
            if version.strip():
                leaves.append(leaf("product_version", version.strip(),
                                   f"{vendor} {product} {version.strip()}"))
                fixed_ids.append(leaves[-1]["product"]["product_id"])
        if leaves:
            vendor_branch["branches"].append({"category": "product_name", "name": product,
                                              "branches": leaves})
    branches = [v for v in vendors.values() if v["branches"]]
    return ({"branches": branches} if branches else None), affected_ids, fixed_ids


def _notes(content: Content, *, remediations_as_notes: bool) -> list[dict[str, Any]]:
    notes: list[dict[str, Any]] = []
    pairs = (("summary", "Résumé", content.summary_fr), ("details", "Détails", content.details_fr),
             ("summary", "Title (English)", content.title_en),
             ("summary", "Summary (English)", content.summary_en),
             ("details", "Details (English)", content.details_en))
    for category, title, text in pairs:
        if text.strip():
            notes.append({"category": category, "title": title, "text": text.strip()})
    if remediations_as_notes:
        for item in content.remediations:
            text = str(item.get("details", "")).strip()
            if item.get("url"):
                text += f"\n{item['url']}"
            notes.append({"category": "general", "text": text,
                          "title": REMEDIATION_TITLES.get(str(item.get("category")),
                                                          "Mesures recommandées")})
    if not notes:
        notes.append({"category": "summary", "title": "Résumé", "text": content.title_fr})
    return notes


def _remediation(item: Mapping[str, Any], product_ids: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"category": str(item["category"]),
                           "details": str(item["details"]).strip(),
                           "product_ids": product_ids}
    if item.get("url"):
        out["url"] = str(item["url"])
    return out


def _vulnerabilities(content: Content, affected: list[str], fixed: list[str]
                     ) -> list[dict[str, Any]]:
    status: dict[str, list[str]] = {}
    if affected:
        status["known_affected"] = affected
    if fixed:
        status["fixed"] = fixed
    description = (content.summary_fr or content.title_fr).strip()
    base: dict[str, Any] = {"notes": [{"category": "description", "title": "Description",
                                       "text": description}]}
    if status:
        base["product_status"] = status
    targets = affected or fixed
    if targets and content.remediations:
        base["remediations"] = [_remediation(r, targets) for r in content.remediations]
    if not content.cves:
        return [{"title": content.title_fr, **base}]
    return [{"cve": cve, **base} for cve in content.cves]


def _tracking(content: Content, now: dt.datetime) -> dict[str, Any]:
    revisions = [{"number": str(r["number"]), "date": str(r["date"]),
                  "summary": str(r["summary"])} for r in content.revisions]
    if not revisions:  # a draft's preview: CSAF wants at least one revision
        revisions = [{"number": "0", "date": csaf_date(now), "summary": "Brouillon."}]
    initial = content.initial_release_date or now
    current = content.current_release_date or now
    return {"id": content.tracking_id, "status": content.status,
            "version": revisions[-1]["number"], "revision_history": revisions,
            "initial_release_date": csaf_date(initial),
            "current_release_date": csaf_date(current),
            "generator": {"engine": dict(GENERATOR), "date": csaf_date(now)}}


def self_url(base_url: str, content: Content, advisory_id: int | None = None) -> str:
    """Where the published document lives: the public TLP:WHITE directory, or the staff path."""
    base = base_url.rstrip("/")
    if content.tlp == "clear":
        initial = content.initial_release_date or dt.datetime.now(dt.UTC)
        return f"{base}{WHITE_DIR}/{relative_path(content.tracking_id, initial)}"
    return f"{base}/csirt/advisories/{advisory_id or 0}/csaf/{file_name(content.tracking_id)}"


def build_document(content: Content, *, base_url: str, advisory_id: int | None = None,
                   now: dt.datetime | None = None) -> dict[str, Any]:
    """The CSAF 2.0 document of ``content`` (not validated: see :func:`validate_document`)."""
    now = now or dt.datetime.now(dt.UTC)
    tree, affected, fixed = _product_tree(content.products)
    security = bool(content.cves or tree)
    base = base_url.rstrip("/")
    references = [{"category": "self", "summary": "Document CSAF de l'avis",
                   "url": self_url(base_url, content, advisory_id)}]
    references += [{"category": "external", "url": str(r["url"]),
                    "summary": str(r.get("summary") or r["url"])} for r in content.references]
    document: dict[str, Any] = {
        "category": "csaf_security_advisory" if security else "csaf_informational_advisory",
        "csaf_version": "2.0",
        "distribution": {"text": f"TLP:{content.tlp.upper()} (TLP 2.0)",
                         "tlp": {"label": CSAF_TLP[content.tlp], "url": TLP_URL}},
        "lang": "fr",
        "notes": _notes(content, remediations_as_notes=not (security and (affected or fixed))),
        "publisher": {"category": "coordinator", "name": PUBLISHER_NAME, "namespace": base,
                      "contact_details": f"{PUBLISHER_CONTACT} — {base}"},
        "references": references,
        "title": content.title_fr,
        "tracking": _tracking(content, now),
    }
    document["aggregate_severity"] = {"namespace": f"{base}/advisories",
                                      "text": SEVERITY_TEXT.get(content.severity,
                                                                content.severity)}
    doc: dict[str, Any] = {"document": document}
    if tree is not None:
        doc["product_tree"] = tree
    if security:
        doc["vulnerabilities"] = _vulnerabilities(content, affected, fixed)
    return doc


def serialize(doc: Mapping[str, Any]) -> bytes:
    """The exact bytes that are published, hashed and signed (UTF-8, indented)."""
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def digests(data: bytes) -> tuple[str, str]:
    """SHA-256 and SHA-512 of ``data`` in hexadecimal."""
    return hashlib.sha256(data).hexdigest(), hashlib.sha512(data).hexdigest()


def hash_file(digest: str, name: str) -> str:
    """The content of a ``.sha256`` / ``.sha512`` file (``sha256sum``'s format)."""
    return f"{digest}  {name}\n"


# --- OpenPGP --------------------------------------------------------------------------------

_KEY_LOCK = threading.Lock()
_KEYS: dict[Path, Any] = {}


def key_path(settings: Settings) -> Path:
    """Where the platform's OpenPGP signing key (armored, unprotected, 0600) lives."""
    return settings.resolved_home / "keys" / "csaf-openpgp-private.asc"


def _new_key() -> Any:
    key = pgpy.PGPKey.new(PubKeyAlgorithm.EdDSA, EllipticCurveOID.Ed25519)
    uid = pgpy.PGPUID.new(PUBLISHER_NAME, comment="CSAF")
    key.add_uid(uid, usage={KeyFlags.Sign, KeyFlags.Certify},
                hashes=[HashAlgorithm.SHA512, HashAlgorithm.SHA256])
    return key


def _write_new(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(str(_new_key()))


def signing_key(settings: Settings) -> Any:
    """The platform's OpenPGP key, created on first use."""
    path = key_path(settings)
    with _KEY_LOCK:
        if path not in _KEYS or not path.exists():
            if not path.exists():
                _write_new(path)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                key, _ = pgpy.PGPKey.from_blob(path.read_text(encoding="ascii"))
            _KEYS[path] = key
        return _KEYS[path]


def fingerprint(settings: Settings) -> str:
    """The signing key's fingerprint (40 hexadecimal digits, upper case)."""
    return str(signing_key(settings).fingerprint).replace(" ", "")


def public_key(settings: Settings) -> str:
    """The signing key's public part, armored (``/.well-known/csaf/openpgp/<fpr>.asc``)."""
    return str(signing_key(settings).pubkey)


def sign(settings: Settings, data: bytes) -> str:
    """A detached, armored OpenPGP signature of ``data``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return str(signing_key(settings).sign(data, hash=HashAlgorithm.SHA512))


def verify(data: bytes, signature: str, public_key_armored: str) -> bool:
    """Whether ``signature`` (armored, detached) is a valid signature of ``data`` by the key."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            key, _ = pgpy.PGPKey.from_blob(public_key_armored)
            parsed = pgpy.PGPSignature.from_blob(signature)
            return bool(key.verify(data, parsed))
        except (PGPError, ValueError, TypeError, NotImplementedError):
            return False


# --- distribution ---------------------------------------------------------------------------

def provider_metadata(*, base_url: str, key_fingerprint: str, last_updated: dt.datetime
                      ) -> dict[str, Any]:
    """``/.well-known/csaf/provider-metadata.json``: a provider with one public (TLP:WHITE)
    directory, not listed nor mirrored by aggregators (the centre decides that later)."""
    base = base_url.rstrip("/")
    return {
        "canonical_url": f"{base}{PROVIDER_METADATA_PATH}",
        "distributions": [{"directory_url": f"{base}{WHITE_DIR}/"}],
        "last_updated": csaf_date(last_updated),
        "list_on_CSAF_aggregators": False,
        "metadata_version": "2.0",
        "mirror_on_CSAF_aggregators": False,
        "public_openpgp_keys": [{"fingerprint": key_fingerprint,
                                 "url": f"{base}{WELL_KNOWN}/openpgp/{key_fingerprint}.asc"}],
        "publisher": {"category": "coordinator", "name": PUBLISHER_NAME, "namespace": base,
                      "contact_details": f"{PUBLISHER_CONTACT} — {base}"},
        "role": "csaf_trusted_provider",
    }


def index_txt(paths: Iterable[str]) -> str:
    """``index.txt``: every document's path relative to the directory, one per line."""
    return "".join(f"{p}\n" for p in sorted(paths))


def changes_csv(entries: Iterable[tuple[str, dt.datetime]]) -> str:
    """``changes.csv``: ``"path","current release date"``, newest change first."""
    rows = sorted(entries, key=lambda e: (e[1], e[0]), reverse=True)
    return "".join(f'"{path}","{csaf_date(moment)}"\n' for path, moment in rows)

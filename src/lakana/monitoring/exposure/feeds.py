"""Vulnerability feeds imported offline from files: CISA KEV (JSON catalog) and NVD CVE
JSON 2.0, stored as product version ranges and loaded as an in-memory index for the
software check.

Products are normalised to one name per product (``nginx``, ``apache_httpd``, ``openssh``,
``php``...) through a small alias table of CPE and KEV vendor/product pairs, so that a
``Server: nginx/1.18.0`` header matches NVD's ``cpe:2.3:a:f5:nginx`` ranges.

KEV entries carry no versions. A KEV CVE marks the NVD rows of the same CVE as known
exploited; only when no NVD row exists for that CVE does the KEV entry apply to every
version of the product (``version = "*"``). This join is made when the index is loaded,
so the two feeds can be imported in any order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakana.core.audit import record
from lakana.core.auth.rbac import Actor
from lakana.core.errors import Invalid
from lakana.monitoring.exposure.models import FeedImport, KnownVulnerability
from lakana.monitoring.exposure.permissions import ExposurePermission

MAX_FEED_BYTES = 200 * 1024 * 1024
SOURCES = ("kev", "nvd")

#: (vendor, product) as written by CPE or KEV, lower-cased with "_" for spaces -> product.
PRODUCT_ALIASES: dict[tuple[str, str], str] = {
    ("f5", "nginx"): "nginx", ("nginx", "nginx"): "nginx", ("igor_sysoev", "nginx"): "nginx",
    ("apache", "http_server"): "apache_httpd", ("apache", "httpd"): "apache_httpd",
    ("openbsd", "openssh"): "openssh", ("openssh", "openssh"): "openssh",
    ("php", "php"): "php",
    ("microsoft", "internet_information_services"): "iis", ("microsoft", "iis"): "iis",
    ("proftpd", "proftpd"): "proftpd", ("proftpd_project", "proftpd"): "proftpd",
    ("vsftpd_project", "vsftpd"): "vsftpd", ("beasts", "vsftpd"): "vsftpd",
}


def canonical_product(vendor: str, product: str) -> str:
    """The product name used by the index for a vendor/product pair (aliases applied;
    otherwise the product itself, lower-cased)."""
    key = (_slug(vendor), _slug(product))
    return PRODUCT_ALIASES.get(key, key[1])


def version_key(version: str) -> tuple[tuple[int, int, str], ...]:
    """A sort key for versions such as ``2.4.49``, ``7.4p1`` or ``1.0.2k``: numeric parts
    compare as numbers, letter parts as text, a number sorts after letters at the same
    place, and a prefix sorts first (``1.0 < 1.0a < 1.0.1``)."""
    return tuple((1, int(tok), "") if tok.isdigit() else (0, 0, tok)
                 for tok in re.findall(r"\d+|[a-z]+", version.lower()))


@dataclass(frozen=True)
class _Row:
    cve_id: str
    vendor: str
    product: str
    version: str
    start_incl: str
    start_excl: str
    end_incl: str
    end_excl: str
    known_exploited: bool
    ransomware: bool
    cvss: float | None
    title: str
    source: str

    def matches(self, version: str) -> bool:
        if self.version == "*":
            return True
        key = version_key(version)
        if self.version:
            return key == version_key(self.version)
        return ((not self.start_incl or key >= version_key(self.start_incl))
                and (not self.start_excl or key > version_key(self.start_excl))
                and (not self.end_incl or key <= version_key(self.end_incl))
                and (not self.end_excl or key < version_key(self.end_excl)))


class FeedIndex:
    """The imported feeds in memory, by product (implements ``VulnerabilityIndex``)."""

    def __init__(self, rows: list[_Row]) -> None:
        self._by_product: dict[str, list[_Row]] = defaultdict(list)
        for row in rows:
            self._by_product[row.product].append(row)

    def lookup(self, product: str, version: str) -> list[Mapping[str, Any]]:
        """Known vulnerabilities of ``product`` at ``version``, one per CVE, worst first."""
        found: dict[str, dict[str, Any]] = {}
        for row in self._by_product.get(product, []):
            if not row.matches(version):
                continue
            hit = found.setdefault(row.cve_id, {"cve_id": row.cve_id, "known_exploited": False,
                                                "ransomware": False, "cvss_score": None,
                                                "title": row.title})
            hit["known_exploited"] |= row.known_exploited
            hit["ransomware"] |= row.ransomware
            if row.cvss is not None:
                hit["cvss_score"] = max(row.cvss, hit["cvss_score"] or 0.0)
        return sorted(found.values(), key=lambda h: (not h["known_exploited"],
                                                     -(h["cvss_score"] or 0.0), h["cve_id"]))


def import_feed(*, session: Session, actor: Actor, source: str, data: bytes,
                filename: str) -> FeedImport:
    """Import a KEV or NVD file; the same file twice is one import. Raises ``Invalid`` with
    the position of the first problem; nothing is written for a malformed file."""
    actor.require(ExposurePermission.FEEDS_MANAGE)
    if source not in SOURCES:
        raise Invalid("Unknown feed source %(source)s.", source=source)
    if len(data) > MAX_FEED_BYTES:
        raise Invalid("The feed file is larger than %(limit)s MiB.",
                      limit=MAX_FEED_BYTES // (1024 * 1024))
    digest = hashlib.sha256(data).hexdigest()
    existing = session.scalars(select(FeedImport).where(
        FeedImport.source == source, FeedImport.sha256 == digest)).first()
    if existing is not None:
        return existing
    document = _parse_json(data)
    version, rows = _parse_kev(document) if source == "kev" else _parse_nvd(document)
    feed = FeedImport(source=source, filename=filename[:300], sha256=digest,
                      feed_version=version[:60], entries=len(rows), imported_by=actor.name)
    session.add(feed)
    session.flush()
    _store(session, feed, rows)
    record(session=session, actor=actor, action="exposure.feed.import",
           object_type="exposure.feed_import", object_id=feed.id, object_repr=feed.filename,
           details={"source": source, "sha256": digest, "entries": len(rows),
                    "feed_version": feed.feed_version})
    return feed


def list_imports(*, session: Session, actor: Actor) -> list[FeedImport]:
    """The feed imports, newest first."""
    actor.require(ExposurePermission.READ)
    return list(session.scalars(select(FeedImport).order_by(FeedImport.imported_at.desc(),
                                                            FeedImport.id.desc())))


def load_index(session: Session) -> FeedIndex:
    """The stored feeds as an in-memory index (KEV joined to NVD by CVE, see the module)."""
    kev: dict[str, KnownVulnerability] = {}
    nvd: list[KnownVulnerability] = []
    for row in session.scalars(select(KnownVulnerability)):
        if row.source == "kev":
            kev[row.cve_id] = row
        else:
            nvd.append(row)
    with_ranges = {row.cve_id for row in nvd}
    rows = [_row(r, kev.get(r.cve_id)) for r in nvd]
    rows += [_row(r, r) for cve, r in kev.items() if cve not in with_ranges]
    return FeedIndex(rows)


def _row(row: KnownVulnerability, kev: KnownVulnerability | None) -> _Row:
    return _Row(row.cve_id, row.vendor, row.product, row.version, row.version_start_including,
                row.version_start_excluding, row.version_end_including,
                row.version_end_excluding, kev is not None or row.known_exploited,
                bool(kev and kev.ransomware), row.cvss_score,
                kev.title if kev is not None and kev.title else row.title, row.source)


def _store(session: Session, feed: FeedImport, rows: list[dict[str, Any]]) -> None:
    """Insert new rows and refresh the ones already known (same source and match key)."""
    existing = {r.match_key: r for r in session.scalars(
        select(KnownVulnerability).where(KnownVulnerability.source == feed.source))}
    for fields in rows:
        key = hashlib.sha256("|".join(str(fields[k]) for k in _KEY_FIELDS).encode()).hexdigest()
        row = existing.get(key)
        if row is None:
            row = KnownVulnerability(source=feed.source, match_key=key)
            session.add(row)
            existing[key] = row
        for name, value in fields.items():
            setattr(row, name, value)
        row.feed_import_id = feed.id
    session.flush()


_KEY_FIELDS = ("cve_id", "vendor", "product", "version", "version_start_including",
               "version_start_excluding", "version_end_including", "version_end_excluding")


def _parse_json(data: bytes) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Invalid("The feed is not UTF-8 (byte %(offset)s).", offset=exc.start) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise Invalid("JSON syntax error at line %(line)s, column %(column)s: %(error)s.",
                      line=exc.lineno, column=exc.colno, error=exc.msg) from None


def _bad(path: str, problem: str) -> Invalid:
    return Invalid("Invalid feed at %(path)s: %(problem)s.", path=path, problem=problem,
                   errors=[{"loc": path, "msg": problem}])


def _get(obj: Any, path: str, key: str, kind: type, *, required: bool = True) -> Any:
    """``obj[key]`` checked for type; a missing optional key gives None."""
    if not isinstance(obj, dict):
        raise _bad(path, "expected an object")
    if key not in obj or obj[key] is None:
        if required:
            raise _bad(f"{path}.{key}" if path else key, "missing")
        return None
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise _bad(f"{path}.{key}" if path else key, f"expected {_KINDS.get(kind, 'value')}")
    return value


_KINDS: dict[type, str] = {str: "a string", list: "a list", dict: "an object", bool: "a boolean"}
_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$")


def _cve(value: str, path: str) -> str:
    if not _CVE.match(value):
        raise _bad(path, "not a CVE identifier")
    return value


def _date(value: str | None, path: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        raise _bad(path, "not a date") from None


def _parse_kev(doc: Any) -> tuple[str, list[dict[str, Any]]]:
    entries = _get(doc, "", "vulnerabilities", list)
    version = str(_get(doc, "", "catalogVersion", str, required=False) or "")
    rows: list[dict[str, Any]] = []
    for index, entry in enumerate(entries):
        path = f"vulnerabilities[{index}]"
        cve = _cve(_get(entry, path, "cveID", str), f"{path}.cveID")
        vendor = _get(entry, path, "vendorProject", str)
        product = _get(entry, path, "product", str)
        rows.append({
            "cve_id": cve, "vendor": _slug(vendor),
            "product": canonical_product(vendor, product), "version": "*",
            "version_start_including": "", "version_start_excluding": "",
            "version_end_including": "", "version_end_excluding": "",
            "known_exploited": True, "cvss_score": None,
            "ransomware": (_get(entry, path, "knownRansomwareCampaignUse", str,
                                required=False) or "").lower() == "known",
            "title": (_get(entry, path, "vulnerabilityName", str, required=False) or "")[:300],
            "description": _get(entry, path, "shortDescription", str, required=False) or "",
            "published": _date(_get(entry, path, "dateAdded", str, required=False),
                               f"{path}.dateAdded")})
    return version, rows


def _parse_nvd(doc: Any) -> tuple[str, list[dict[str, Any]]]:
    if _get(doc, "", "format", str) != "NVD_CVE":
        raise _bad("format", "expected NVD_CVE")
    entries = _get(doc, "", "vulnerabilities", list)
    version = str(_get(doc, "", "timestamp", str, required=False) or "")
    rows: list[dict[str, Any]] = []
    for index, entry in enumerate(entries):
        path = f"vulnerabilities[{index}].cve"
        cve = _get(entry, f"vulnerabilities[{index}]", "cve", dict)
        cve_id = _cve(_get(cve, path, "id", str), f"{path}.id")
        common = {"cve_id": cve_id, "known_exploited": False, "ransomware": False,
                  "cvss_score": _cvss(cve, path), "title": cve_id,
                  "description": _description(cve, path)[:4000],
                  "published": _date(_get(cve, path, "published", str, required=False),
                                     f"{path}.published")}
        for cpath, match in _cpe_matches(cve, path):
            rows.append({**common, **_range(match, cpath)})
    return version, rows


def _cvss(cve: Any, path: str) -> float | None:
    metrics = _get(cve, path, "metrics", dict, required=False) or {}
    for name in ("cvssMetricV40", "cvssMetricV31", "cvssMetricV30", "cvssMetricV2"):
        for i, metric in enumerate(_get(metrics, f"{path}.metrics", name, list,
                                        required=False) or []):
            data = _get(metric, f"{path}.metrics.{name}[{i}]", "cvssData", dict)
            score = data.get("baseScore")
            if not isinstance(score, int | float) or isinstance(score, bool):
                raise _bad(f"{path}.metrics.{name}[{i}].cvssData.baseScore", "expected a number")
            return float(score)
    return None


def _description(cve: Any, path: str) -> str:
    for i, item in enumerate(_get(cve, path, "descriptions", list, required=False) or []):
        if _get(item, f"{path}.descriptions[{i}]", "lang", str) == "en":
            return str(_get(item, f"{path}.descriptions[{i}]", "value", str))
    return ""


def _cpe_matches(cve: Any, path: str) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for c, config in enumerate(_get(cve, path, "configurations", list, required=False) or []):
        cpath = f"{path}.configurations[{c}]"
        for n, node in enumerate(_get(config, cpath, "nodes", list)):
            npath = f"{cpath}.nodes[{n}]"
            for m, match in enumerate(_get(node, npath, "cpeMatch", list, required=False) or []):
                mpath = f"{npath}.cpeMatch[{m}]"
                if _get(match, mpath, "vulnerable", bool):
                    found.append((mpath, match))
    return found


def _range(match: dict[str, Any], path: str) -> dict[str, Any]:
    parts = _get(match, path, "criteria", str).split(":")
    if len(parts) < 6 or parts[:2] != ["cpe", "2.3"]:
        raise _bad(f"{path}.criteria", "not a CPE 2.3 name")
    bounds = {field: (_get(match, path, name, str, required=False) or "")[:60]
              for field, name in (("version_start_including", "versionStartIncluding"),
                                  ("version_start_excluding", "versionStartExcluding"),
                                  ("version_end_including", "versionEndIncluding"),
                                  ("version_end_excluding", "versionEndExcluding"))}
    exact = parts[5] if parts[5] not in ("*", "-", "") else ""
    if exact and len(parts) > 6 and parts[6] not in ("*", "-", ""):
        exact += parts[6]  # the CPE "update" part: openssh 7.4 p1 -> 7.4p1
    if not exact and not any(bounds.values()):
        exact = "*"  # every version of the product
    return {"vendor": _slug(parts[3])[:100], "product": canonical_product(parts[3], parts[4]),
            "version": exact[:60], **bounds}


def _slug(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())

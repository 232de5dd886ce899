"""Compliance fixtures: small OSCAL catalogs and profiles in the shipped files' format."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from lakana.compliance import service
from lakana.compliance.oscal import NS
from lakana.core.auth.rbac import Actor, Role, permissions_for, system_actor

ADMIN = system_actor("tests")


def actor_of(role: Role, institution_id: int | None = None) -> Actor:
    """An actor holding ``role``, without a database user."""
    return Actor(user_id=None, name=f"{role.value}@tests", role=role,
                 institution_id=institution_id, permissions=permissions_for(role))


def _p(name: str, value: str) -> dict[str, str]:
    return {"name": name, "ns": NS, "value": value}


def control(ident: str, *, legal: bool = False, tiers: tuple[str, ...] = ("1", "2", "3"),
            iso: tuple[str, ...] = ("A.5.1",), csf: tuple[str, ...] = ("GV.OC",)
            ) -> dict[str, Any]:
    """A control in the shipped format."""
    props = [_p("title-en", f"Title {ident}"), *(_p("applies-to-tier", t) for t in tiers),
             *(_p("iso27001-2022", r) for r in iso), *(_p("nist-csf-2.0", r) for r in csf),
             _p("weight", "2")]
    if legal:
        props.append(_p("legal-source", "Loi n°2013-015, art. 5"))
    return {"id": ident, "class": "legal-obligation" if legal else "requirement",
            "title": f"Titre {ident} — sécurité", "props": props,
            "parts": [{"id": f"{ident}_smt", "name": "statement",
                       "prose": f"L'institution doit {ident} (énoncé)."},
                      {"name": "statement-en", "ns": NS,
                       "prose": f"The institution shall {ident}."},
                      {"id": f"{ident}_gdn", "name": "guidance", "prose": f"Conseil {ident}."},
                      {"name": "guidance-en", "ns": NS, "prose": f"Guidance {ident}."}]}


def catalog_doc(catalog_id: str = "ml-test", version: str = "2026.1",
                groups: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """A small catalog: groups ``gov`` (gov-1..3, gov-3 legal) and ``net`` (net-1..2)."""
    groups = groups or {"gov": ["gov-1", "gov-2", "gov-3"], "net": ["net-1", "net-2"]}
    maturity = [_p("resource-kind", "maturity-scale")]
    for level in range(6):
        maturity += [_p(f"maturity-level-{level}", f"Niveau {level}"),
                     _p(f"maturity-level-{level}-en", f"Level {level}")]
    return {"catalog": {
        "uuid": "0b8c1f44-7d2e-4c4a-9a0e-000000000001",
        "metadata": {"title": f"Référentiel {catalog_id}", "version": version,
                     "oscal-version": "1.1.2", "last-modified": "2026-01-15T00:00:00Z",
                     "props": [_p("title-en", f"Baseline {catalog_id}"),
                               _p("catalog-id", catalog_id)],
                     "remarks": "Test catalog."},
        "groups": [{"id": code, "class": "domain", "title": f"Domaine {code}",
                    "props": [_p("title-en", f"Domain {code}")],
                    "controls": [control(i, legal=i == "gov-3",
                                         tiers=("2", "3") if i == "net-2" else ("1", "2", "3"),
                                         iso=("A.8.20",) if code == "net" else ("A.5.1",),
                                         csf=("PR.IR",) if code == "net" else ("GV.OC",))
                                 for i in ids]}
                   for code, ids in groups.items()],
        "back-matter": {"resources": [{"uuid": "0b8c1f44-7d2e-4c4a-9a0e-000000000002",
                                       "title": "Échelle de maturité", "props": maturity}]}}}


def profile_doc(profile_id: str = "small", version: str = "2026.1",
                imports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A profile of ``ml-test@2026.1`` that drops ``net-2`` by default."""
    return {"profile": {
        "uuid": "0b8c1f44-7d2e-4c4a-9a0e-0000000000f1",
        "metadata": {"title": f"Profil {profile_id}", "version": version,
                     "oscal-version": "1.1.2", "last-modified": "2026-01-15T00:00:00Z",
                     "props": [_p("title-en", f"Profile {profile_id}"),
                               _p("profile-id", profile_id)]},
        "imports": imports if imports is not None else [
            {"href": "ml-test@2026.1", "include-all": {},
             "exclude-controls": [{"with-ids": ["net-2"]}]}],
        "merge": {"as-is": True}}}


def changed(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy of a catalog with one statement changed."""
    other = copy.deepcopy(doc)
    other["catalog"]["groups"][0]["controls"][0]["parts"][0]["prose"] = "Autre énoncé."
    return other


def load(session_factory: sessionmaker[Session], doc: dict[str, Any]) -> int:
    """Import a catalog (or profile) document, committed; returns its id."""
    with session_factory.begin() as session:
        if "profile" in doc:
            return service.import_profile(session=session, actor=ADMIN, content=doc)[0].id
        return service.import_catalog(session=session, actor=ADMIN, content=doc)[0].id


@pytest.fixture
def version_id(session_factory: sessionmaker[Session]) -> int:
    """The small test catalog, imported."""
    return load(session_factory, catalog_doc())

"""Advisories over HTTP: the public CSAF distribution, public and staff pages, the API, and
``lakana csirt advisory-export``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from lakana.core.auth.models import User
from lakana.core.config import Settings
from lakana.csirt import advisory_demo, csaf
from lakana.csirt.advisory_models import Advisory
from lakana.csirt.cli import app as cli_app
from tests.conftest import csrf_from
from tests.csirt.test_advisories import create, publish

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def published(session_factory: sessionmaker[Session], settings: Settings
              ) -> dict[str, Advisory]:
    """The three demo advisories published, and a public draft."""
    made = {name: publish(session_factory, settings, create(session_factory, data).id)
            for name, data in (("scam", advisory_demo.SCAM), ("cms", advisory_demo.CMS),
                               ("vpn", advisory_demo.VPN))}
    made["draft"] = create(session_factory, advisory_demo.SCAM | {"title_fr": "Brouillon"})
    return made


def _path(advisory: Advisory) -> str:
    assert advisory.initial_release_date is not None
    return csaf.relative_path(advisory.tracking_id, advisory.initial_release_date)


# --- public distribution ---------------------------------------------------------------------

def test_provider_metadata_is_schema_valid_and_names_the_key(
        client: TestClient, settings: Settings, published: dict[str, Advisory]) -> None:
    response = client.get("/.well-known/csaf/provider-metadata.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    doc = response.json()
    assert csaf.validate_provider_metadata(doc) == []
    base = settings.base_url.rstrip("/")
    assert doc["canonical_url"] == f"{base}/.well-known/csaf/provider-metadata.json"
    assert doc["distributions"] == [{"directory_url": f"{base}/.well-known/csaf/white/"}]
    key = doc["public_openpgp_keys"][0]
    assert key["fingerprint"] == csaf.fingerprint(settings)
    served = client.get(key["url"].removeprefix(base))
    assert served.status_code == 200 and "PUBLIC KEY" in served.text
    assert client.get("/.well-known/csaf/openpgp/" + "0" * 40 + ".asc").status_code == 404


def test_white_directory_lists_only_published_clear_advisories(
        client: TestClient, published: dict[str, Advisory]) -> None:
    index = client.get("/.well-known/csaf/white/index.txt")
    assert index.status_code == 200
    assert index.text.splitlines() == sorted([_path(published["scam"]),
                                              _path(published["cms"])])
    changes = client.get("/.well-known/csaf/white/changes.csv").text.splitlines()
    assert {line.split(",")[0].strip('"') for line in changes} == set(index.text.split())
    # the GREEN advisory and the draft are absent
    for hidden in ("vpn", "draft"):
        assert published[hidden].tracking_id.lower() not in index.text
    year = _path(published["scam"]).split("/")[0]
    listing = client.get(f"/.well-known/csaf/white/{year}/")
    assert listing.status_code == 200
    assert csaf.file_name(published["scam"].tracking_id) + ".asc" in listing.text
    assert csaf.file_name(published["vpn"].tracking_id) not in listing.text


def test_public_document_hashes_and_signature_match(
        client: TestClient, settings: Settings, published: dict[str, Advisory]) -> None:
    path = _path(published["cms"])
    document = client.get(f"/.well-known/csaf/white/{path}")
    assert document.status_code == 200
    data = document.content
    assert csaf.validate_document(json.loads(data)) == []
    name = path.split("/")[1]
    assert client.get(f"/.well-known/csaf/white/{path}.sha256").text == \
        f"{hashlib.sha256(data).hexdigest()}  {name}\n"
    assert client.get(f"/.well-known/csaf/white/{path}.sha512").text == \
        f"{hashlib.sha512(data).hexdigest()}  {name}\n"
    signature = client.get(f"/.well-known/csaf/white/{path}.asc").text
    key = client.get(f"/.well-known/csaf/openpgp/{csaf.fingerprint(settings)}.asc").text
    assert csaf.verify(data, signature, key)
    assert not csaf.verify(data.replace(b"3.2.7", b"3.2.6", 1), signature, key)


def test_green_advisory_and_drafts_are_absent_from_anonymous_pages(
        client: TestClient, published: dict[str, Advisory]) -> None:
    listing = client.get("/advisories")
    assert listing.status_code == 200
    assert published["scam"].tracking_id in listing.text
    assert published["vpn"].tracking_id not in listing.text
    assert "Brouillon" not in listing.text
    for hidden in ("vpn", "draft"):
        advisory = published[hidden]
        assert client.get(f"/advisories/{advisory.tracking_id}").status_code == 404
        year = advisory.created_at.year
        name = csaf.file_name(advisory.tracking_id)
        assert client.get(f"/.well-known/csaf/white/{year}/{name}").status_code == 404
        assert client.get(f"/csirt/advisories/{advisory.id}",
                          follow_redirects=False).status_code == 303
    assert client.get("/api/v1/csirt/advisories").status_code == 401


def test_public_detail_in_french_first(client: TestClient,
                                       published: dict[str, Advisory]) -> None:
    page = client.get(f"/advisories/{published['scam'].tracking_id}")
    assert page.status_code == 200
    text = page.text
    assert text.index("Vague de SMS") < text.index("Wave of fraudulent")
    assert "code secret Mobile Money" in text and 'lang="en"' in text


def test_html_in_titles_is_rendered_inert(session_factory: sessionmaker[Session],
                                          settings: Settings, client: TestClient,
                                          login_as: Callable[[User], TestClient],
                                          analyst: User) -> None:
    advisory = publish(session_factory, settings, create(
        session_factory, advisory_demo.SCAM | {"title_fr": "Arnaque " + XSS,
                                               "summary_fr": XSS, "title_en": XSS}).id)
    for page in (client.get("/advisories"), client.get(f"/advisories/{advisory.tracking_id}"),
                 login_as(analyst).get(f"/csirt/advisories/{advisory.id}")):
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
        assert "&lt;script&gt;" in page.text


# --- staff pages ------------------------------------------------------------------------------

def test_analyst_writes_publishes_and_revises_through_the_pages(
        login_as: Callable[[User], TestClient], analyst: User,
        session_factory: sessionmaker[Session], settings: Settings) -> None:
    browser = login_as(analyst)
    form = browser.get("/csirt/advisories/new")
    assert form.status_code == 200
    created = browser.post("/csirt/advisories/new", data={
        "csrf_token": csrf_from(form.text), "title_fr": "Faille du pare-feu Pare-Sable",
        "summary_fr": "Une faille permet de contourner le filtrage.", "audience": "institutions",
        "tlp": "amber", "severity": "high", "cves": "CVE-2026-50001, cve-2026-50002",
        "products": "Sable Systems | Pare-Sable | >=4.0 <4.3.1 | 4.3.1",
        "remediations": "vendor_fix | Mettre à jour vers 4.3.1 | https://sable.example/sa-1\n"
                        "mitigation | Limiter l'accès à l'interface d'administration",
        "references": "https://sable.example/sa-1 | Bulletin SA-1"}, follow_redirects=False)
    assert created.status_code == 303, created.text[:800]
    location = created.headers["location"].split("?")[0]
    advisory_id = int(location.rsplit("/", 1)[1])
    with session_factory() as session:
        row = session.get(Advisory, advisory_id)
        assert row is not None and row.cves == ["CVE-2026-50001", "CVE-2026-50002"]
        assert row.products == [{"vendor": "Sable Systems", "product": "Pare-Sable",
                                 "affected": ">=4.0 <4.3.1", "fixed": "4.3.1"}]
        assert row.remediations[1] == {"category": "mitigation", "details":
                                       "Limiter l'accès à l'interface d'administration"}
    detail = browser.get(location)
    assert detail.status_code == 200
    done = browser.post(f"{location}/publish", data={"csrf_token": csrf_from(detail.text),
                                                     "version": "1"}, follow_redirects=False)
    assert done.status_code == 303
    page = browser.get(done.headers["location"])
    assert "publié" in page.text.lower() or "published" in page.text.lower()
    # a revision through the edit form republishes at once
    edit = browser.get(f"{location}/edit")
    assert edit.status_code == 200 and "revision_summary" in edit.text
    with session_factory() as session:
        row = session.get(Advisory, advisory_id)
        assert row is not None
        version = row.version
        name = csaf.file_name(row.tracking_id)
    values = {"csrf_token": csrf_from(edit.text), "version": str(version),
              "title_fr": "Faille du pare-feu Pare-Sable", "summary_fr": "Exploitée.",
              "audience": "institutions", "tlp": "amber", "severity": "critical",
              "cves": "CVE-2026-50001", "products": "Sable Systems | Pare-Sable | <4.3.1 | 4.3.1",
              "revision_summary": "Exploitation observée."}
    revised = browser.post(f"{location}/edit", data=values, follow_redirects=False)
    assert revised.status_code == 303, revised.text[:800]
    with session_factory() as session:
        row = session.get(Advisory, advisory_id)
        assert row is not None and len(row.revisions) == 2 and row.severity == "critical"
    download = browser.get(f"{location}/csaf/{name}")
    assert download.status_code == 200 and "attachment" in download.headers[
        "content-disposition"]
    assert json.loads(download.content)["document"]["tracking"]["version"] == "2"
    signature = browser.get(f"{location}/csaf/{name}.asc").text
    assert csaf.verify(download.content, signature, csaf.public_key(settings))
    assert browser.get(f"{location}/csaf/other.json").status_code == 404


def test_form_errors_keep_what_was_typed(login_as: Callable[[User], TestClient],
                                         analyst: User) -> None:
    browser = login_as(analyst)
    form = browser.get("/csirt/advisories/new")
    refused = browser.post("/csirt/advisories/new", data={
        "csrf_token": csrf_from(form.text), "title_fr": "Arnaque au faux conseiller",
        "summary_fr": "Texte gardé", "audience": "public", "tlp": "green",
        "severity": "medium"})
    assert refused.status_code == 422
    assert "Texte gardé" in refused.text and "TLP:CLEAR" in refused.text
    bad_cve = browser.post("/csirt/advisories/new", data={
        "csrf_token": csrf_from(form.text), "title_fr": "Avis", "summary_fr": "Texte",
        "audience": "public", "tlp": "clear", "severity": "medium", "cves": "CVE-1"})
    assert bad_cve.status_code == 422 and 'aria-invalid="true"' in bad_cve.text


def test_focal_point_reads_institution_advisories_but_cannot_write(
        login_as: Callable[[User], TestClient], focal_a: User,
        published: dict[str, Advisory]) -> None:
    browser = login_as(focal_a)
    listing = browser.get("/csirt/advisories")
    assert listing.status_code == 200
    assert published["vpn"].tracking_id in listing.text
    assert "Brouillon" not in listing.text
    assert browser.get(f"/csirt/advisories/{published['vpn'].id}").status_code == 200
    assert browser.get(f"/csirt/advisories/{published['draft'].id}").status_code == 404
    assert browser.get("/csirt/advisories/new").status_code == 403
    page = browser.get(f"/csirt/advisories/{published['vpn'].id}")
    refused = browser.post(f"/csirt/advisories/{published['vpn'].id}/edit",
                           data={"csrf_token": csrf_from(page.text)})
    assert refused.status_code == 403


# --- API --------------------------------------------------------------------------------------

def test_api_create_patch_publish_and_read(api_as: Callable[[User], TestClient],
                                           analyst: User, focal_a: User,
                                           settings: Settings) -> None:
    api = api_as(analyst)
    created = api.post("/api/v1/csirt/advisories", json=advisory_demo.VPN)
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["etag"] == '"1"' and body["status"] == "draft"
    url = f"/api/v1/csirt/advisories/{body['id']}"
    stale = api.patch(url, json={"severity": "high"}, headers={"If-Match": '"7"'})
    assert stale.status_code == 409
    patched = api.patch(url, json={"severity": "high"}, headers={"If-Match": '"1"'})
    assert patched.status_code == 200 and patched.json()["severity"] == "high"
    preview = api.get(f"{url}/csaf")
    assert preview.headers["x-csaf-status"] == "draft-preview"
    assert preview.json()["document"]["tracking"]["status"] == "draft"
    done = api.post(f"{url}/publish", json={"version": patched.json()["version"]})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "published" and done.json()["csaf_sha256"]
    document = api.get(f"{url}/csaf")
    assert document.headers["x-csaf-status"] == "published"
    assert hashlib.sha256(document.content).hexdigest() == done.json()["csaf_sha256"]
    # a published advisory changes only through /revise
    assert api.patch(url, json={"severity": "low", "version": done.json()["version"]}
                     ).status_code == 409
    revised = api.post(f"{url}/revise", json={"version": done.json()["version"],
                                              "revision_summary": "Correctif 9.4.3.",
                                              "products": [{"vendor": "Nordlys Networks",
                                                            "product": "PortiqueVPN",
                                                            "affected": "<9.4.3",
                                                            "fixed": "9.4.3"}]})
    assert revised.status_code == 200, revised.text
    assert len(revised.json()["revisions"]) == 2
    # a focal point reads it, without the case link, and cannot write
    focal = api_as(focal_a)
    assert focal.get(url).status_code == 200
    assert focal.get(url).json()["case_id"] is None
    assert focal.post("/api/v1/csirt/advisories", json=advisory_demo.CMS).status_code == 403
    assert focal.post(f"{url}/revise", json={"version": 1, "revision_summary": "x" * 5}
                      ).status_code == 403


def test_api_publish_reports_schema_paths(api_as: Callable[[User], TestClient],
                                          analyst: User,
                                          session_factory: sessionmaker[Session]) -> None:
    api = api_as(analyst)
    created = api.post("/api/v1/csirt/advisories", json=advisory_demo.CMS).json()
    with session_factory.begin() as session:
        row = session.get(Advisory, created["id"])
        assert row is not None
        # only an older writer could store this
        row.products = [{"vendor": "Baobab CMS", "product": "", "affected": "<3"}]
    refused = api.post(f"/api/v1/csirt/advisories/{created['id']}/publish",
                       json={"version": 2})
    assert refused.status_code == 422
    paths = [e["path"] for e in refused.json()["errors"]]
    assert "$.product_tree.branches[0].branches[0].name" in paths, paths
    with session_factory() as session:
        row = session.get(Advisory, created["id"])
        assert row is not None and row.status == "draft" and row.csaf_document is None


def test_api_refuses_red_and_green_public(api_as: Callable[[User], TestClient],
                                          analyst: User) -> None:
    api = api_as(analyst)
    red = api.post("/api/v1/csirt/advisories", json=advisory_demo.VPN | {"tlp": "TLP:RED"})
    assert red.status_code == 422 and red.json()["errors"][0]["field"] == "tlp"
    green = api.post("/api/v1/csirt/advisories", json=advisory_demo.SCAM | {"tlp": "green"})
    assert green.status_code == 422


# --- CLI --------------------------------------------------------------------------------------

def test_cli_exports_the_signed_document(settings: Settings, engine: Engine,
                                         monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                         session_factory: sessionmaker[Session]) -> None:
    monkeypatch.setenv("LAKANA_HOME", str(settings.home))
    monkeypatch.setenv("LAKANA_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("LAKANA_SECRET_KEY", "x" * 32)
    advisory = publish(session_factory, settings, create(session_factory,
                                                         advisory_demo.VPN).id)
    runner = CliRunner()
    output = tmp_path / "avis.json"
    done = runner.invoke(cli_app, ["advisory-export", advisory.tracking_id.lower(),
                                   "--output", str(output)])
    assert done.exit_code == 0, done.output
    data = output.read_bytes()
    assert advisory.csaf_document is not None and data == advisory.csaf_document.encode()
    assert Path(f"{output}.sha256").read_text() == \
        f"{hashlib.sha256(data).hexdigest()}  avis.json\n"
    assert csaf.verify(data, Path(f"{output}.asc").read_text(), csaf.public_key(settings))
    validated = runner.invoke(cli_app, ["csaf-validate", str(output)])
    assert validated.exit_code == 0, validated.output
    missing = runner.invoke(cli_app, ["advisory-export", "ML-CSIRT-1999-0001"])
    assert missing.exit_code != 0

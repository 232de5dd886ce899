"""CSAF 2.0 building blocks: the official schema (offline), documents of the demo advisories,
provider metadata, OpenPGP signatures (checked by GnuPG too when it is installed), the
distribution files and ``lakana csirt csaf-validate`` on hostile files."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lakana.core.config import Settings
from lakana.csirt import advisory_demo, csaf
from lakana.csirt.advisories import AdvisoryCreate
from lakana.csirt.cli import app

BASE = "https://lakana.example.ml"
NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
runner = CliRunner()


def content(data: dict[str, Any], **extra: Any) -> csaf.Content:
    """The CSAF content of a demo-like advisory, as published once."""
    checked = AdvisoryCreate.model_validate(data)
    values = checked.model_dump(exclude={"case_id"})
    values["tlp"] = values["tlp"].lower()
    values["products"] = [p for p in values["products"]]
    values |= {"tracking_id": "ML-CSIRT-2026-0007", "status": "final",
               "revisions": [{"number": "1", "date": csaf.csaf_date(NOW),
                              "summary": "Publication initiale."}],
               "initial_release_date": NOW, "current_release_date": NOW}
    values.update(extra)
    return csaf.Content(**values)


@pytest.mark.parametrize("data", [advisory_demo.SCAM, advisory_demo.VPN, advisory_demo.CMS],
                         ids=["scam", "vpn", "cms"])
def test_documents_of_the_demo_advisories_pass_the_official_schema(data: dict[str, Any]
                                                                    ) -> None:
    # Given a realistic advisory
    doc = csaf.build_document(content(data), base_url=BASE, advisory_id=3, now=NOW)
    # Then its CSAF document passes the official OASIS schema
    assert csaf.validate_document(doc) == []
    document = doc["document"]
    assert document["csaf_version"] == "2.0" and document["lang"] == "fr"
    assert document["tracking"]["id"] == "ML-CSIRT-2026-0007"
    assert document["publisher"]["category"] == "coordinator"


def test_vulnerability_advisory_maps_products_cves_and_remediations() -> None:
    doc = csaf.build_document(content(advisory_demo.VPN), base_url=BASE, advisory_id=3,
                              now=NOW)
    document = doc["document"]
    assert document["category"] == "csaf_security_advisory"
    assert document["distribution"]["tlp"]["label"] == "GREEN"
    assert document["aggregate_severity"]["text"] == "Critique"
    vendor = doc["product_tree"]["branches"][0]
    assert vendor["category"] == "vendor" and vendor["name"] == "Nordlys Networks"
    leaves = [leaf for product in vendor["branches"] for leaf in product["branches"]]
    assert {leaf["name"] for leaf in leaves} == {"vers:generic/>=9.0.0|<9.4.2", "9.4.2",
                                                 "vers:generic/>=8.0.0|<8.6.11", "8.6.11"}
    cves = [v["cve"] for v in doc["vulnerabilities"]]
    assert cves == ["CVE-2026-31337", "CVE-2026-31338"]
    status = doc["vulnerabilities"][0]["product_status"]
    assert len(status["known_affected"]) == 2 and len(status["fixed"]) == 2
    assert {r["category"] for r in doc["vulnerabilities"][0]["remediations"]} == {
        "vendor_fix", "mitigation", "workaround"}
    # the English version travels as notes; the staff path is the document's own URL
    titles = {n["title"] for n in document["notes"]}
    assert {"Résumé", "Détails", "Title (English)", "Summary (English)"} <= titles
    assert document["references"][0] == {
        "category": "self", "summary": "Document CSAF de l'avis",
        "url": f"{BASE}/csirt/advisories/3/csaf/ml-csirt-2026-0007.json"}


def test_scam_advisory_is_informational_and_lives_in_the_white_folder() -> None:
    doc = csaf.build_document(content(advisory_demo.SCAM), base_url=BASE, now=NOW)
    assert doc["document"]["category"] == "csaf_informational_advisory"
    assert "vulnerabilities" not in doc and "product_tree" not in doc
    assert doc["document"]["distribution"]["tlp"]["label"] == "WHITE"
    assert doc["document"]["references"][0]["url"] == \
        f"{BASE}/.well-known/csaf/white/2026/ml-csirt-2026-0007.json"
    # remediations become notes (an informational advisory has no vulnerabilities)
    assert any(n["category"] == "general" and "code secret" in n["text"]
               for n in doc["document"]["notes"])


@pytest.mark.parametrize(("change", "path"), [
    (lambda d: d["document"]["tracking"].__setitem__("id", " ML-1"), "$.document.tracking.id"),
    (lambda d: d["document"].__setitem__("lang", 5), "$.document.lang"),
    (lambda d: d["vulnerabilities"][0].__setitem__("cve", "CVE-26-1"),
     "$.vulnerabilities[0].cve"),
    (lambda d: d["document"]["tracking"].__setitem__("current_release_date", "hier"),
     "$.document.tracking.current_release_date"),
    (lambda d: d["document"]["publisher"].__setitem__("namespace", "pas une uri"),
     "$.document.publisher.namespace"),
    (lambda d: d["vulnerabilities"][0].__setitem__("scores", [{
        "products": ["CSAFPID-0001"], "cvss_v3": {"version": "3.1", "vectorString": "x",
                                                  "baseScore": 99, "baseSeverity": "X"}}]),
     "$.vulnerabilities[0].scores[0].cvss_v3"),
])
def test_a_broken_field_fails_with_its_path(change: Any, path: str) -> None:
    doc = csaf.build_document(content(advisory_demo.VPN), base_url=BASE, now=NOW)
    broken = copy.deepcopy(doc)
    change(broken)
    problems = csaf.validate_document(broken)
    assert path in [p.path for p in problems], problems


def test_a_valid_cvss_score_resolves_the_vendored_first_schema() -> None:
    doc = csaf.build_document(content(advisory_demo.VPN), base_url=BASE, now=NOW)
    doc["vulnerabilities"][0]["scores"] = [{"products": ["CSAFPID-0001"], "cvss_v3": {
        "version": "3.1", "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "baseScore": 9.8, "baseSeverity": "CRITICAL"}}]
    assert csaf.validate_document(doc) == []


def test_vendored_schemas_match_their_provenance() -> None:
    provenance = (csaf.SCHEMA_DIR / "PROVENANCE.md").read_text(encoding="utf-8")
    for name in ("csaf_json_schema.json", "cvss-v2.0.json", "cvss-v3.0.json", "cvss-v3.1.json",
                 "lakana_provider_metadata_schema.json"):
        digest = hashlib.sha256((csaf.SCHEMA_DIR / name).read_bytes()).hexdigest()
        assert digest in provenance, name
    schema = json.loads((csaf.SCHEMA_DIR / "csaf_json_schema.json").read_text())
    assert schema["$id"] == csaf.CSAF_SCHEMA_ID


def test_file_names_follow_csaf_rules() -> None:
    assert csaf.file_name("ML-CSIRT-2026-0001") == "ml-csirt-2026-0001.json"
    assert csaf.file_name("Avis 2026/01:x") == "avis_2026_01_x.json"
    assert csaf.relative_path("ML-CSIRT-2026-0001", NOW) == "2026/ml-csirt-2026-0001.json"


def test_provider_metadata_passes_its_schema(settings: Settings) -> None:
    key = csaf.fingerprint(settings)
    doc = csaf.provider_metadata(base_url=BASE, key_fingerprint=key, last_updated=NOW)
    assert csaf.validate_provider_metadata(doc) == []
    assert doc["public_openpgp_keys"] == [
        {"fingerprint": key, "url": f"{BASE}/.well-known/csaf/openpgp/{key}.asc"}]
    broken = copy.deepcopy(doc)
    broken["role"] = "csaf_partner"
    broken["publisher"]["category"] = "government"
    del broken["canonical_url"]
    paths = {p.path for p in csaf.validate_provider_metadata(broken)}
    assert {"$.role", "$.publisher.category", "$"} <= paths


def test_signature_verifies_and_a_one_byte_change_fails(settings: Settings) -> None:
    data = csaf.serialize(csaf.build_document(content(advisory_demo.CMS), base_url=BASE,
                                              now=NOW))
    signature = csaf.sign(settings, data)
    public = csaf.public_key(settings)
    assert signature.startswith("-----BEGIN PGP SIGNATURE-----")
    assert csaf.verify(data, signature, public)
    tampered = bytearray(data)
    tampered[len(tampered) // 2] ^= 0x01
    assert not csaf.verify(bytes(tampered), signature, public)
    assert not csaf.verify(data, signature.replace("A", "B", 1), public)


def test_key_is_created_once_with_mode_0600(settings: Settings) -> None:
    first = csaf.fingerprint(settings)
    path = csaf.key_path(settings)
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(first) == 40 and csaf.fingerprint(settings) == first
    assert "PRIVATE" not in csaf.public_key(settings)


@pytest.mark.skipif(shutil.which("gpgv") is None or shutil.which("gpg") is None,
                    reason="GnuPG is not installed")
def test_gnupg_verifies_the_signature(settings: Settings, tmp_path: Path) -> None:
    # Given a document signed by Lakana, and GnuPG given only the published public key
    data = csaf.serialize(csaf.build_document(content(advisory_demo.SCAM), base_url=BASE,
                                              now=NOW))
    (tmp_path / "doc.json").write_bytes(data)
    (tmp_path / "doc.json.asc").write_text(csaf.sign(settings, data))
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    keyring = tmp_path / "key.gpg"
    dearmored = subprocess.run(["gpg", "--homedir", str(home), "--dearmor"],
                               input=csaf.public_key(settings).encode(), capture_output=True,
                               check=True)
    keyring.write_bytes(dearmored.stdout)

    def gpgv() -> int:
        return subprocess.run(["gpgv", "--keyring", str(keyring), str(tmp_path / "doc.json.asc"),
                               str(tmp_path / "doc.json")], capture_output=True).returncode

    # Then gpgv accepts it, and refuses it once the document changes
    assert gpgv() == 0
    (tmp_path / "doc.json").write_bytes(data.replace(b"Mobile Money", b"Mobile Monay", 1))
    assert gpgv() != 0


def test_index_and_changes_files() -> None:
    later = NOW + dt.timedelta(days=3)
    entries = [("2026/ml-csirt-2026-0002.json", later), ("2025/ml-csirt-2025-0009.json", NOW)]
    assert csaf.index_txt(p for p, _ in entries) == \
        "2025/ml-csirt-2025-0009.json\n2026/ml-csirt-2026-0002.json\n"
    assert csaf.changes_csv(entries).splitlines() == [
        '"2026/ml-csirt-2026-0002.json","2026-03-05T09:30:00Z"',
        '"2025/ml-csirt-2025-0009.json","2026-03-02T09:30:00Z"']


# --- lakana csirt csaf-validate --------------------------------------------------------------

def test_cli_validates_a_good_document(tmp_path: Path) -> None:
    path = tmp_path / "avis.json"
    path.write_bytes(csaf.serialize(csaf.build_document(content(advisory_demo.VPN),
                                                        base_url=BASE, now=NOW)))
    done = runner.invoke(app, ["csaf-validate", str(path)])
    assert done.exit_code == 0, done.output
    assert "valid CSAF 2.0" in done.output


def test_cli_lists_schema_problems_with_paths(tmp_path: Path) -> None:
    doc = csaf.build_document(content(advisory_demo.VPN), base_url=BASE, now=NOW)
    doc["document"]["csaf_version"] = "1.2"
    path = tmp_path / "avis.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    done = runner.invoke(app, ["csaf-validate", str(path)])
    assert done.exit_code == 1
    assert "$.document.csaf_version" in done.output


@pytest.mark.parametrize(("payload", "message"), [
    ("[" * 5000 + "]" * 5000, "nested more than"),
    ('{"document": NaN}', "is not allowed in JSON"),
    (b'{"document": "\xff\xfe"}', "not valid UTF-8"),
    ('{"document": ', "not valid JSON"),
    ("[" + ",".join(["1"] * 10) + "]", "not valid against the CSAF 2.0 schema"),
])
def test_cli_refuses_hostile_files_with_a_message(tmp_path: Path, payload: str | bytes,
                                                  message: str) -> None:
    path = tmp_path / "hostile.json"
    if isinstance(payload, bytes):
        path.write_bytes(payload)
    else:
        path.write_text(payload, encoding="utf-8")
    done = runner.invoke(app, ["csaf-validate", str(path)])
    assert done.exit_code == 1, done.output
    assert message in done.output
    assert "Traceback" not in done.output


def test_cli_refuses_a_missing_file(tmp_path: Path) -> None:
    done = runner.invoke(app, ["csaf-validate", str(tmp_path / "absent.json")])
    assert done.exit_code == 1 and "no such file" in done.output

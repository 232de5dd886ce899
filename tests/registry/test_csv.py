"""CSV import and export: round trip, encodings, malformed files, all-or-nothing, skipping."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from lakana.core.audit.ledger import pending_count
from lakana.core.errors import Invalid, TooLarge
from lakana.registry import csv_io, service
from lakana.registry.schemas import InstitutionCreate
from tests.registry.conftest import ADMIN, ledger_count

LIMIT = 1_000_000
HEADER = "acronym,name,kind,parent_acronym,region,sector,criticality_tier,contacts\n"
GOOD = (HEADER
        + "MEF,Ministère de l'Économie et des Finances,ministry,,bamako,finance,1,"
          "Awa Traoré|DSI|awa@example.ml|+223 20 22 33 44\n"
        + "DGI,Direction Générale des Impôts,directorate,MEF,bamako,finance,1,\n")


def _import(db: Session, text: str | bytes, skip: bool = False) -> csv_io.ImportReport:
    content = text.encode("utf-8") if isinstance(text, str) else text
    return csv_io.import_institutions(session=db, actor=ADMIN, content=content,
                                      max_bytes=LIMIT, skip_invalid=skip)


def test_import_then_export_round_trip(db: Session) -> None:
    # Given a UTF-8 file with a parent and a child (child listed after)
    report = _import(db, GOOD)
    db.flush()
    # Then both are created, with the hierarchy and accents intact
    assert (report.created, report.updated, report.applied) == (2, 0, True)
    assert pending_count(db) == 2  # one ledger entry per created row, in this transaction
    dgi = service.get_institution_by_acronym(session=db, actor=ADMIN, acronym="dgi")
    assert dgi.parent is not None and dgi.parent.acronym == "MEF"
    # When exported, the file starts with a BOM and lists the parent by acronym
    text = csv_io.export_institutions(session=db, actor=ADMIN)
    assert text.startswith("\ufeffacronym,name")
    assert "DGI,Direction Générale des Impôts,directorate,MEF" in text
    assert "Awa Traoré|DSI|awa@example.ml|+223 20 22 33 44" in text
    # And re-importing the export changes nothing
    again = _import(db, text.encode("utf-8"))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)


def test_formula_cells_are_neutralised_both_ways() -> None:
    # Given a cell a spreadsheet would run as a formula
    # Then export prefixes it with a quote, and import removes the quote again
    assert csv_io._cell("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")"
    assert csv_io._clean("'+223 20 22 33 44") == "+223 20 22 33 44"
    assert csv_io._clean("'quoted") == "'quoted"


def test_semicolon_separated_file_with_bom(db: Session) -> None:
    # Given a file saved by a French spreadsheet: BOM, semicolons
    text = "\ufeffacronym;name;kind;region;sector;criticality_tier\r\n" \
           "CANAM;Caisse Nationale d'Assurance Maladie;public_body;bamako;social_protection;1\r\n"
    # Then it imports
    assert _import(db, text).created == 1


def test_import_updates_by_acronym(db: Session) -> None:
    # Given MEF registered, and a file renaming it
    _import(db, GOOD)
    db.flush()
    text = "acronym,name,kind,region,sector,criticality_tier\n" \
           "mef,Ministère des Finances,ministry,bamako,finance,1\n"
    # When imported, MEF is updated, its parent and contacts untouched (columns absent)
    report = _import(db, text)
    assert (report.created, report.updated) == (0, 1)
    mef = service.get_institution_by_acronym(session=db, actor=ADMIN, acronym="MEF")
    assert mef.name == "Ministère des Finances" and len(mef.contacts) == 1


def test_latin1_file_is_refused_with_a_clear_message(db: Session) -> None:
    # Given the same file saved as Windows-1252
    # When imported, Then it is refused, saying why and what to do, and nothing is written
    with pytest.raises(Invalid, match="UTF-8.*Latin-1") as caught:
        _import(db, GOOD.encode("cp1252"))
    assert caught.value.params["line"] == 2
    assert service.count_institutions(db, ADMIN) == 0


@pytest.mark.parametrize(("text", "match"), [
    (HEADER.replace("region", "province"), "Unknown column"),
    (HEADER.replace("kind", "name"), "more than once"),
    ("acronym,name\nX,Y\n", "Missing required"),
    ('acronym,name,kind,region,sector,criticality_tier\n"MEF,"x"y,ministry\n', "malformed"),
    ("", "empty"),
    ("acronym\x00,name\n", "binary"),
])
def test_bad_files_are_refused_whole(db: Session, text: str, match: str) -> None:
    # Given a file with a bad header, bad quoting, or no content
    # When imported, Then it is refused with a reason and nothing is written
    with pytest.raises(Invalid, match=match):
        _import(db, text)
    assert service.count_institutions(db, ADMIN) == 0


def test_oversize_file_is_refused(db: Session) -> None:
    # Given a file over the limit, Then it is refused as too large
    with pytest.raises(TooLarge):
        csv_io.import_institutions(session=db, actor=ADMIN, content=GOOD.encode() * 10,
                                   max_bytes=100)


BAD_ROWS = (HEADER
            + "MEF,Ministère,ministry,,bamako,finance,1,\n"
            + "DGI,Direction,planet,MEF,bamako,finance,1,\n"          # unknown kind
            + "MEF,Doublon,ministry,,bamako,finance,1,\n"             # duplicate acronym
            + "DGD,Douanes,directorate,NOPE,bamako,finance,5,\n"      # unknown parent, tier
            + "TOO,Few,values\n"                                      # wrong shape
            + "DNTCP,Trésor,directorate,MEF,bamako,finance,1,x|y|not-an-email|\n")


def test_all_or_nothing_reports_every_bad_row(db: Session) -> None:
    # Given a file where most rows are wrong
    # When imported without skipping, Then nothing is written and each row is reported
    with pytest.raises(Invalid) as caught:
        _import(db, BAD_ROWS)
    rows = sorted({e["row"] for e in caught.value.errors})
    assert rows == [3, 4, 5, 6, 7]
    columns = {(e["row"], e["column"]) for e in caught.value.errors}
    assert (3, "kind") in columns and (4, "acronym") in columns
    assert (5, "criticality_tier") in columns
    assert service.count_institutions(db, ADMIN) == 0
    assert ledger_count(db) == 0


def test_skip_invalid_writes_the_good_rows(db: Session) -> None:
    # Given the same file, imported with skip_invalid
    report = _import(db, BAD_ROWS, skip=True)
    db.flush()
    # Then only the good row is written, the others reported
    assert (report.created, report.skipped, report.applied) == (1, 5, True)
    assert {e.row for e in report.errors} == {3, 4, 5, 6, 7}
    assert service.count_institutions(db, ADMIN) == 1


def test_cycle_across_file_and_database_is_reported(db: Session) -> None:
    # Given A > B stored
    a = service.create_institution(session=db, actor=ADMIN, data=InstitutionCreate(
        name="Alpha", acronym="A", kind="ministry", region="bamako", sector="finance",
        criticality_tier=1))
    service.create_institution(session=db, actor=ADMIN, data=InstitutionCreate(
        name="Beta", acronym="B", kind="agency", region="bamako", sector="finance",
        criticality_tier=1, parent_id=a.id))
    db.flush()
    # When a file makes A a child of B
    text = "acronym,name,kind,parent_acronym,region,sector,criticality_tier\n" \
           "A,Alpha,ministry,B,bamako,finance,1\n"
    # Then the row is reported as a cycle
    with pytest.raises(Invalid) as caught:
        _import(db, text)
    assert "cycle" in caught.value.errors[0]["message"]


def test_systems_import_and_scope(db: Session) -> None:
    # Given institutions MEF and DGI
    _import(db, GOOD)
    db.flush()
    text = ("institution_acronym,name,criticality,data_classification,hosting,personal_data,"
            "biometric_data,endpoints\n"
            "DGI,e-Impôts,critical,restricted,government_datacentre,oui,non,"
            "https://eimpots.example.ml/;eimpots.example.ml;192.0.2.7\n"
            "MEF,Messagerie,high,internal,own_premises,yes,no,\n")
    # When systems are imported
    report = csv_io.import_systems(session=db, actor=ADMIN, content=text.encode(),
                                   max_bytes=LIMIT)
    db.flush()
    # Then they exist with their endpoints, each kind recognised
    assert report.created == 2
    out = csv_io.export_systems(session=db, actor=ADMIN)
    assert "https://eimpots.example.ml/;eimpots.example.ml;192.0.2.7" in out
    systems, _ = service.list_systems(session=db, actor=ADMIN)
    kinds = sorted(e.kind for s in systems for e in s.endpoints)
    assert kinds == ["domain", "ip", "url"]
    # And a bad endpoint or an unknown owner is reported on its row
    bad = ("institution_acronym,name,criticality,data_classification,hosting,endpoints\n"
           "DGI,Portail,high,public,national_cloud,https://exa mple.ml\n"
           "XYZ,Autre,high,public,national_cloud,\n")
    with pytest.raises(Invalid) as caught:
        csv_io.import_systems(session=db, actor=ADMIN, content=bad.encode(), max_bytes=LIMIT)
    assert {(e["row"], e["column"]) for e in caught.value.errors} == {
        (2, "endpoints"), (3, "institution_acronym")}

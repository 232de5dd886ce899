"""Spreadsheet round trip: XLSX and CSV out, a new version in, row/column errors."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy.orm import Session, sessionmaker

from lakana.compliance import service, spreadsheet
from lakana.core.errors import Invalid
from tests.compliance.conftest import ADMIN


def _sheet(content: bytes) -> list[tuple[object, ...]]:
    return list(load_workbook(io.BytesIO(content))["requirements"].iter_rows(values_only=True))


def test_xlsx_round_trip(session_factory: sessionmaker[Session], version_id: int) -> None:
    # Given the XLSX export of a version
    with session_factory() as session:
        first = spreadsheet.export_xlsx(session=session, actor=ADMIN,
                                        catalog_version_id=version_id)
    # When it is imported as a new version and exported again
    with session_factory.begin() as session:
        new, created = spreadsheet.import_spreadsheet(
            session=session, actor=ADMIN, content=first, filename="c.xlsx",
            catalog_id="ml-test", version="2026.2")
        new_id = new.id
    with session_factory() as session:
        second = spreadsheet.export_xlsx(session=session, actor=ADMIN,
                                         catalog_version_id=new_id)
        levels = service.get_catalog_version(session=session, actor=ADMIN,
                                             catalog_version_id=new_id).maturity_levels
    # Then the rows are identical, and the maturity scale came along
    assert created and _sheet(first) == _sheet(second)
    assert len(_sheet(first)) == 6 and [m.text_en for m in levels][5] == "Level 5"
    # And importing the same file as the same version again is a no-op
    with session_factory.begin() as session:
        _again, created = spreadsheet.import_spreadsheet(
            session=session, actor=ADMIN, content=first, filename="c.xlsx",
            catalog_id="ml-test", version="2026.2")
    assert not created


def test_csv_round_trip(session_factory: sessionmaker[Session], version_id: int) -> None:
    # Given the CSV export (UTF-8 with a BOM)
    with session_factory() as session:
        text = spreadsheet.export_csv(session=session, actor=ADMIN,
                                      catalog_version_id=version_id)
    assert text.startswith("\ufeffdomain,domain_title_fr")
    # When imported as another version / Then exported identically
    with session_factory.begin() as session:
        new, _ = spreadsheet.import_spreadsheet(
            session=session, actor=ADMIN, content=text.encode("utf-8"), filename="c.csv",
            catalog_id="ml-test", version="2026.3")
        new_id = new.id
    with session_factory() as session:
        assert spreadsheet.export_csv(session=session, actor=ADMIN,
                                      catalog_version_id=new_id) == text


def test_formula_cells_stay_text(session_factory: sessionmaker[Session]) -> None:
    # Given a CSV whose statement starts with "=" (as a spreadsheet would run it)
    header = ",".join(spreadsheet.COLUMNS)
    row = "d1,Domaine,Domain,r-1,requirement,Titre,Title,'=1+1,=2,,,1,1,A.5.1,GV.OC,"
    with session_factory.begin() as session:
        version, _ = spreadsheet.import_spreadsheet(
            session=session, actor=ADMIN, content=f"{header}\n{row}\n".encode(),
            filename="x.csv", catalog_id="ml-csv", version="1", title_fr="T", title_en="T")
        requirement = service.all_requirements(session=session, actor=ADMIN,
                                               catalog_version_id=version.id)[0]
        # Then the prefix is removed on import and put back on export
        assert requirement.statement_fr == "=1+1"
        text = spreadsheet.export_csv(session=session, actor=ADMIN,
                                      catalog_version_id=version.id)
        assert "'=1+1" in text


def test_bad_rows_are_refused_with_row_and_column(session_factory: sessionmaker[Session]
                                                  ) -> None:
    # Given a CSV with a bad tier on row 2, a missing statement and a duplicate id on row 3
    header = ",".join(spreadsheet.COLUMNS)
    good = "d1,Domaine,Domain,r-1,requirement,Titre,Title,Énoncé,Statement,,,1;4,1,,,"
    bad = "d1,,,r-1,legal,Titre,Title,,Statement,,,,7,,,"
    content = f"{header}\n{good}\n{bad}\n".encode()
    # When imported
    with session_factory() as session, pytest.raises(Invalid) as caught:
        spreadsheet.import_spreadsheet(session=session, actor=ADMIN, content=content,
                                       filename="x.csv", catalog_id="ml-x", version="1")
    # Then every problem names its row and column, and nothing is written
    found = {(e["row"], e["column"]) for e in caught.value.errors}
    assert {(2, "tiers"), (3, "statement_fr"), (3, "weight"), (3, "legal_source"),
            (3, "id")} <= found
    with session_factory() as session:
        assert service.list_catalogs(session=session, actor=ADMIN) == []


def test_unknown_and_missing_columns(session_factory: sessionmaker[Session]) -> None:
    # Given a header with an unknown column and without title_en
    content = b"domain,id,title_fr,statement_fr,statement_en,colour\nd,r,t,s,s,red\n"
    with session_factory() as session, pytest.raises(Invalid) as caught:
        spreadsheet.import_spreadsheet(session=session, actor=ADMIN, content=content,
                                       filename="x.csv", catalog_id="ml-x", version="1")
    assert {(e["row"], e["column"]) for e in caught.value.errors} == {
        (1, "colour"), (1, "title_en")}

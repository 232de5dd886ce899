"""Attendance sheets: CSV (UTF-8 with or without BOM) and XLSX, all or nothing, each
refusal with its row and column (unknown people, duplicates, bad scores, wrong encoding,
a session too small)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from openpyxl import Workbook  # type: ignore[import-untyped]
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lakana.awareness.training import service, sheets
from lakana.awareness.training.models import Enrolment, TrainingCertificate
from lakana.awareness.training.schemas import EnrolmentCreate
from lakana.core.auth.rbac import Role
from lakana.core.errors import Forbidden, Invalid
from tests.awareness.training.conftest import ADMIN, actor_of
from tests.conftest import Factory


def _xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _problems(exc: pytest.ExceptionInfo[Invalid]) -> list[tuple[int, str]]:
    return [(e["row"], e["column"]) for e in exc.value.errors]


def _count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def three(factory: Factory, make_trainee: Callable[..., int]) -> list[int]:
    """Three trainees of institution AAA: awa@, moussa@ and fanta@example.ml."""
    inst = factory.institution("AAA")
    return [make_trainee(inst, f"{name}@example.ml", name=name.title())
            for name in ("awa", "moussa", "fanta")]


def test_a_good_csv_sheet_records_outcomes_and_certificates(
        db: Session, three: list[int], make_session: Callable[..., int]) -> None:
    # Given a session of three seats where Awa is already enrolled
    session_id = make_session(seats=3)
    service.enrol(session=db, actor=ADMIN, data=EnrolmentCreate(session_id=session_id,
                                                                trainee_id=three[0]))
    # When a French sheet with a BOM, semicolons and accents in headers is imported
    sheet = ("E-mail;Nom;Présent;Résultat;Note\r\n"
             "AWA@example.ml;Awa;oui;réussi;88\r\n"
             "moussa@example.ml;Moussa;oui;échoué;40\r\n"
             "fanta@example.ml;Fanta;non;absent;\r\n").encode("utf-8-sig")
    report = sheets.import_attendance(session=db, actor=ADMIN, session_id=session_id,
                                      data=sheet)
    # Then every row is recorded, the two others enrolled, one certificate issued
    assert report.model_dump() == {"rows": 3, "enrolled": 2, "updated": 3, "certificates": 1}
    rows = {e.trainee_id: e for e in db.scalars(select(Enrolment))}
    assert (rows[three[0]].outcome, rows[three[0]].score) == ("completed", 88)
    assert (rows[three[1]].outcome, rows[three[1]].attended) == ("failed", True)
    assert (rows[three[2]].outcome, rows[three[2]].attended) == ("no_show", False)
    assert _count(db, TrainingCertificate) == 1


def test_a_sheet_of_addresses_records_presence(
        db: Session, three: list[int], make_session: Callable[..., int]) -> None:
    session_id = make_session(seats=3)
    report = sheets.import_attendance(session=db, actor=ADMIN, session_id=session_id,
                                      data=b"email\nawa@example.ml\nmoussa@example.ml\n")
    assert report.enrolled == 2
    assert {e.attended for e in db.scalars(select(Enrolment))} == {True}


def test_an_xlsx_sheet_is_read(db: Session, three: list[int],
                               make_session: Callable[..., int]) -> None:
    session_id = make_session(seats=3)
    data = _xlsx([["courriel", "résultat", "note"], ["awa@example.ml", "completed", 95],
                  [None, None, None], ["moussa@example.ml", "failed", 12.0]])
    report = sheets.import_attendance(session=db, actor=ADMIN, session_id=session_id,
                                      data=data)
    assert (report.rows, report.certificates) == (2, 1)


def test_bad_rows_refuse_the_whole_sheet_with_row_and_column(
        db: Session, three: list[int], make_session: Callable[..., int]) -> None:
    # Given a sheet with one good row and a problem on every other row
    session_id = make_session(seats=10)
    sheet = ("email,attended,outcome,score\n"
             "awa@example.ml,yes,completed,90\n"        # row 2: good
             "nobody@example.ml,yes,completed,80\n"     # row 3: unknown person
             "awa@example.ml,yes,completed,90\n"        # row 4: duplicate of row 2
             "moussa@example.ml,yes,completed,120\n"    # row 5: score out of range
             "fanta@example.ml,yes,completed,beaucoup\n"  # row 6: score not a number
             "not-an-address,yes,completed,50\n"        # row 7: not an e-mail address
             "fanta@example.ml,peut-être,done,\n"       # row 8: duplicate, checked first
             ).encode()
    # When it is imported / Then it is refused with each problem's row and column
    with pytest.raises(Invalid) as refused:
        sheets.import_attendance(session=db, actor=ADMIN, session_id=session_id, data=sheet)
    assert _problems(refused) == [(3, "email"), (4, "email"), (5, "score"), (6, "score"),
                                  (7, "email"), (8, "email")]
    duplicate = refused.value.errors[1]
    assert duplicate["first_row"] == 2 and "Duplicate row" in duplicate["message"]
    assert "2 problems" not in str(refused.value) and "6 problems" in str(refused.value)
    # And nothing was written, not even the good row
    db.flush()
    assert _count(db, Enrolment) == 0 and _count(db, TrainingCertificate) == 0


def test_bad_attendance_and_outcome_values_name_their_column(
        db: Session, three: list[int], make_session: Callable[..., int]) -> None:
    session_id = make_session(seats=10)
    sheet = ("email,attended,outcome,score\n"
             "awa@example.ml,peut-être,completed,1\n"
             "moussa@example.ml,yes,done,2\n"
             "fanta@example.ml,no,no-show,3\n").encode()
    with pytest.raises(Invalid) as refused:
        sheets.import_attendance(session=db, actor=ADMIN, session_id=session_id, data=sheet)
    assert _problems(refused) == [(2, "attended"), (3, "outcome"), (4, "score")]


def test_a_session_too_small_refuses_the_sheet(
        db: Session, three: list[int], make_session: Callable[..., int]) -> None:
    session_id = make_session(seats=2)
    sheet = b"email\nawa@example.ml\nmoussa@example.ml\nfanta@example.ml\n"
    with pytest.raises(Invalid) as refused:
        sheets.import_attendance(session=db, actor=ADMIN, session_id=session_id, data=sheet)
    assert _problems(refused) == [(4, "email")]
    assert "session is full" in refused.value.errors[0]["message"]
    assert _count(db, Enrolment) == 0


def test_encodings(db: Session, three: list[int], make_session: Callable[..., int]) -> None:
    session_id = make_session(seats=10)
    # A Windows-1252 sheet (é as one byte on row 3) is refused, with the row
    latin = "email,résultat\nawa@example.ml,réussi\nmoussa@example.ml,échoué\n"
    with pytest.raises(Invalid) as refused:
        sheets.import_attendance(session=db, actor=ADMIN, session_id=session_id,
                                 data=latin.encode("cp1252"))
    assert "not in UTF-8" in str(refused.value) and _problems(refused) == [(1, "")]
    with pytest.raises(Invalid) as refused:
        sheets.import_attendance(session=db, actor=ADMIN, session_id=session_id,
                                 data="email\nawa@example.ml\nmoussa@example.ml,échoué\n"
                                 .encode("latin-1"))
    assert refused.value.params["row"] == 3
    # UTF-16 is refused too
    with pytest.raises(Invalid, match="UTF-16"):
        sheets.import_attendance(session=db, actor=ADMIN, session_id=session_id,
                                 data=latin.encode("utf-16"))
    assert _count(db, Enrolment) == 0
    # The same sheet in UTF-8, without BOM, is accepted
    report = sheets.import_attendance(session=db, actor=ADMIN, session_id=session_id,
                                      data=latin.encode("utf-8"))
    assert report.rows == 2 and report.certificates == 1


def test_unreadable_or_shapeless_sheets(db: Session, make_session: Callable[..., int]
                                        ) -> None:
    session_id = make_session()
    for data, expected in ((b"", "empty"), (b"name,score\nAwa,3\n", "no e-mail column"),
                           (b"PK\x03\x04garbage", "XLSX"),
                           (b"\xd0\xcf\x11\xe0old", ".xls")):
        with pytest.raises(Invalid, match=expected):
            sheets.import_attendance(session=db, actor=ADMIN, session_id=session_id,
                                     data=data)


def test_only_the_agency_imports(db: Session, factory: Factory,
                                 make_session: Callable[..., int]) -> None:
    inst = factory.institution("AAA")
    session_id = make_session()
    with pytest.raises(Forbidden):
        sheets.import_attendance(session=db, actor=actor_of(Role.FOCAL_POINT, inst),
                                 session_id=session_id, data=b"email\n")


def test_a_second_sheet_revokes_and_restores_certificates_and_ledgers_each_change(
        db: Session, three: list[int], make_session: Callable[..., int]) -> None:
    # Given a sheet that completed all three people
    from lakana.core.audit.models import AuditEntry

    session_id = make_session(seats=3)
    done = ("email;résultat\nawa@example.ml;réussi\nmoussa@example.ml;réussi\n"
            "fanta@example.ml;réussi\n")
    first = sheets.import_attendance(session=db, actor=ADMIN, session_id=session_id,
                                     data=done.encode())
    db.commit()
    assert first.model_dump() == {"rows": 3, "enrolled": 3, "updated": 3, "certificates": 3}
    # When a corrected sheet fails Moussa, then another completes him again
    failed = done.replace("moussa@example.ml;réussi", "moussa@example.ml;échoué")
    second = sheets.import_attendance(session=db, actor=ADMIN, session_id=session_id,
                                      data=failed.encode())
    db.commit()
    revoked = db.scalars(select(TrainingCertificate)
                         .where(TrainingCertificate.revoked_on.is_not(None))).all()
    third = sheets.import_attendance(session=db, actor=ADMIN, session_id=session_id,
                                     data=done.encode())
    db.commit()
    # Then his certificate was revoked, then restored (no second certificate)
    assert second.certificates == 0 and [c.full_name for c in revoked] == ["Moussa"]
    assert third.certificates == 1 and _count(db, TrainingCertificate) == 3
    assert db.scalar(select(func.count()).select_from(TrainingCertificate)
                     .where(TrainingCertificate.revoked_on.is_not(None))) == 0
    # And each change is ledgered one by one, not only the import
    actions = [a for (a,) in db.execute(select(AuditEntry.action)
                                        .where(AuditEntry.action.like("awareness.%")))]
    assert actions.count("awareness.enrolment.create") == 3
    assert actions.count("awareness.enrolment.result") == 5
    assert actions.count("awareness.training_certificate.issue") == 3
    assert actions.count("awareness.training_certificate.revoke") == 1
    assert actions.count("awareness.training_certificate.restore") == 1
    assert actions.count("awareness.session.attendance_import") == 3

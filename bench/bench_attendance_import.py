"""Import of a 50,000-row attendance sheet (issue 9): time and peak memory.

One training session of 50,000 seats, 50,000 registered public servants spread over 20
institutions, none enrolled yet. The sheet lists each person with attendance, outcome and
score (70 % completed, 20 % failed, 10 % no-show), so the import enrols 50,000 people, records
50,000 results and issues 35,000 certificates, each ledgered on its own.

Measured in the same run, each in a fresh process and a fresh SQLite database:

- the floor: parse the CSV with the ``csv`` module and insert the 50,000 enrolment rows with
  one raw ``executemany``: no checks, no ledger, no certificates;
- the whole import of the CSV sheet and of the same sheet as XLSX (``sheets.import_attendance``:
  read, check every row, batched writes, ledger, commit);
- the row-by-row path the import used before (``add_enrolment`` + ``apply_result`` for each
  row, one flush after each write), on the first 10,000 rows only, because it is slow:
  its rate is given per row and extrapolated to 50,000.

Peak memory is the process's peak resident set size during the step (Linux ``VmHWM`` after
resetting it through ``/proc/self/clear_refs``), so nothing slows the code it measures.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import multiprocessing
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert

ROWS = 50_000
OLD_PATH_ROWS = 10_000
INSTITUTIONS = 20


def _sheet_rows(count: int) -> list[list[Any]]:
    rows: list[list[Any]] = [["E-mail", "Nom", "Présent", "Résultat", "Note"]]
    for n in range(count):
        kind = n % 10
        if kind < 7:
            rows.append([f"agent{n:05d}@fonction-publique.ml", f"Agent {n}", "oui", "réussi",
                         60 + n % 40])
        elif kind < 9:
            rows.append([f"agent{n:05d}@fonction-publique.ml", f"Agent {n}", "oui", "échoué",
                         n % 50])
        else:
            rows.append([f"agent{n:05d}@fonction-publique.ml", f"Agent {n}", "non", "absent",
                         ""])
    return rows


def _csv(rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def _xlsx(rows: list[list[Any]]) -> bytes:
    from openpyxl import Workbook  # type: ignore[import-untyped]

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


class _Home:
    """A fresh home (ledger key, secret), SQLite database, 20 institutions, the people
    registered and one session of 50,000 seats."""

    def __init__(self) -> None:
        from lakana.awareness.training import service
        from lakana.awareness.training.models import Trainee
        from lakana.awareness.training.schemas import CourseCreate, CourseKind, SessionCreate
        from lakana.core.audit.signing import create_key
        from lakana.core.auth.rbac import system_actor
        from lakana.core.db import make_session_factory
        from lakana.models import metadata
        from lakana.registry import service as registry
        from lakana.registry.schemas import InstitutionCreate

        self.path = Path(tempfile.mkdtemp(prefix="lakana-bench-attendance-"))
        create_key(self.path / "keys" / "ledger-ed25519.pem")
        (self.path / "secret.key").write_text(secrets.token_urlsafe(32))
        self.engine = create_engine(f"sqlite:///{self.path / 'lakana.db'}")
        metadata.create_all(self.engine)
        self.factory = make_session_factory(self.engine)
        actor = system_actor("bench")
        with self.factory.begin() as session:
            ids = [registry.create_institution(session=session, actor=actor,
                                               data=InstitutionCreate(
                name=f"Ministère {n}", acronym=f"MIN{n:02d}", kind="ministry",
                region="bamako", sector="government", criticality_tier=2)).id
                   for n in range(INSTITUTIONS)]
            session.execute(insert(Trainee), [
                {"institution_id": ids[n % INSTITUTIONS], "full_name": f"Agent {n}",
                 "email": f"agent{n:05d}@fonction-publique.ml", "created_by": "bench"}
                for n in range(ROWS)])
            course = service.create_course(session=session, actor=actor, data=CourseCreate(
                kind=CourseKind.CLASSROOM, title="Hygiène numérique", duration_hours=3))
            self.session_id = service.create_session(
                session=session, actor=actor, data=SessionCreate(
                    course_id=course.id, starts_on=dt.date(2026, 10, 5),
                    ends_on=dt.date(2026, 10, 6), seats=ROWS)).id

    def close(self) -> None:
        """Close the database and remove the home."""
        self.engine.dispose()
        shutil.rmtree(self.path, ignore_errors=True)


def _floor(home: _Home, data: bytes) -> int:
    from lakana.awareness.training.models import Enrolment, Trainee

    reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";")
    next(reader)
    emails = [cells[0] for cells in reader]
    with home.factory.begin() as session:
        ids = dict(session.query(Trainee.email, Trainee.id))
        session.execute(insert(Enrolment), [
            {"session_id": home.session_id, "trainee_id": ids[email], "institution_id": 1,
             "attended": True, "outcome": "completed", "score": 80} for email in emails])
    return len(emails)


def _import(home: _Home, data: bytes) -> int:
    from lakana.awareness.training import sheets
    from lakana.core.auth.rbac import system_actor

    with home.factory.begin() as session:
        report = sheets.import_attendance(session=session, actor=system_actor("bench"),
                                          session_id=home.session_id, data=data)
    assert report.rows == ROWS and report.certificates == ROWS * 7 // 10, report
    return report.rows


def _row_by_row(home: _Home, data: bytes) -> int:
    """The import's write step as it was before batching: each row through the service's
    one-at-a-time functions (checks and parsing as in the import)."""
    from lakana.awareness.training import service, sheets
    from lakana.core.auth.rbac import system_actor

    actor = system_actor("bench")
    columns, rows = sheets.read_sheet(data)
    rows = rows[:OLD_PATH_ROWS]
    with home.factory.begin() as session:
        found = service.get_session(session=session, actor=actor, session_id=home.session_id)
        errors: list[dict[str, Any]] = []
        checked = [(str(r.cells["email"]).lower(), sheets._row_result(r, columns, errors))
                   for r in rows]
        assert not errors, errors[:3]
        people = service.trainees_by_email(session, [email for email, _r in checked])
        for email, result in checked:
            assert result is not None
            enrolment = service.add_enrolment(session, actor, found, people[email])
            service.apply_result(session, actor, enrolment, result)
    return len(rows)


def _peak_rss_reset() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def _peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _child(step: str, data: bytes, queue: Any) -> None:
    from lakana.app import core_plugins, domains, register_all

    register_all([*core_plugins(), *domains()])
    home = _Home()
    try:
        run: Callable[[_Home, bytes], int] = {"floor": _floor, "import": _import,
                                              "row": _row_by_row}[step]
        _peak_rss_reset()
        before = _peak_rss_mib()
        started = time.perf_counter()
        rows = run(home, data)
        elapsed = time.perf_counter() - started
        queue.put((rows, elapsed, _peak_rss_mib(), before))
    finally:
        home.close()


def _measure(step: str, data: bytes) -> tuple[int, float, float, float]:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=_child, args=(step, data, queue))
    process.start()
    result = queue.get(timeout=1800)
    process.join()
    if process.exitcode != 0:
        raise SystemExit(f"{step} failed with exit code {process.exitcode}")
    return result  # type: ignore[no-any-return]


def main() -> None:
    """Build the sheets, measure each step in its own process, print the table."""
    rows = _sheet_rows(ROWS)
    as_csv, as_xlsx = _csv(rows), _xlsx(rows)
    steps = [("floor", as_csv, "floor: csv.reader + one raw executemany INSERT (no checks, "
                               "no ledger, no certificates)"),
             ("import", as_csv, "whole import, CSV sheet (read, check, batched writes, "
                                "ledger, certificates, commit)"),
             ("import", as_xlsx, "whole import, XLSX sheet"),
             ("row", as_csv, f"before batching: row-by-row writes, first {OLD_PATH_ROWS:,} "
                             "rows (CSV)")]
    print(f"\nAttendance sheet of {ROWS:,} rows: CSV {len(as_csv) / 2**20:.1f} MiB, XLSX "
          f"{len(as_xlsx) / 2**20:.1f} MiB; 35,000 certificates issued; SQLite; each step in "
          "a fresh process and database\n")
    print("| step | rows | time (s) | rows/s | time for 50,000 rows (s) | peak RSS (MiB) |"
          " RSS before (MiB) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    floor_time = 0.0
    for step, data, label in steps:
        count, elapsed, peak, before = _measure(step, data)
        whole = elapsed * ROWS / count
        if step == "floor":
            floor_time = whole
        extrapolated = " (extrapolated)" if count != ROWS else ""
        ratio = f", {whole / floor_time:.0f}× floor" if floor_time and step != "floor" else ""
        print(f"| {label} | {count:,} | {elapsed:.2f} | {count / elapsed:,.0f} | "
              f"{whole:.1f}{extrapolated}{ratio} | {peak:.0f} | {before:.0f} |")


if __name__ == "__main__":
    main()

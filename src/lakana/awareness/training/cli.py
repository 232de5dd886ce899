"""``lakana awareness training``: the catalogue, trainees, enrolments, attendance sheets,
completion rates and certificate checks (the CLI acts with every permission; every change is
ledgered)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from lakana.awareness.training import certificates, service, sheets
from lakana.awareness.training.schemas import (
    CourseCreate,
    EnrolmentCreate,
    SessionCreate,
    TraineeCreate,
)
from lakana.core.auth.rbac import Actor, system_actor
from lakana.core.cli_support import cli_transaction, echo_json, fail, friendly_errors
from lakana.core.errors import LakanaError
from lakana.core.i18n import use_language
from lakana.core.web.errors import validation_message
from lakana.registry import service as registry_service

app = typer.Typer(no_args_is_help=True, help="Training catalogue, tracking and certificates.")


def _actor() -> Actor:
    """The CLI acts with every permission (built late: domains grant theirs at start-up)."""
    return system_actor("lakana cli", "cli")


def _invalid(exc: ValidationError) -> None:
    with use_language("en"):
        fail("; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {validation_message(dict(e))}"
                       for e in exc.errors()), 2)


@app.command("courses")
@friendly_errors
def courses() -> None:
    """The catalogue, with each course's sessions."""
    actor = _actor()
    with cli_transaction() as session:
        for course in service.list_courses(session=session, actor=actor):
            typer.echo(f"{course.id:5} {course.kind:11} {course.duration_hours:4} h  "
                       f"{course.title}")
            for s in service.list_sessions(session=session, actor=actor, course_id=course.id):
                typer.echo(f"      session {s.id}: {s.starts_on} → {s.ends_on} {s.place} "
                           f"({service.seats_taken(session, s.id)}/{s.seats} seats)")


@app.command("add-course")
@friendly_errors
def add_course(
    title: Annotated[str, typer.Option("--title")],
    kind: Annotated[str, typer.Option("--kind", help="elearning, classroom or university.")],
    hours: Annotated[int, typer.Option("--hours", help="Duration in hours.")],
    provider: Annotated[str, typer.Option("--provider")] = "",
    url: Annotated[str | None, typer.Option("--url", help="Link of an e-learning course.")]
    = None,
    description: Annotated[str, typer.Option("--description")] = "",
) -> None:
    """Add a course to the catalogue; prints its id."""
    try:
        data = CourseCreate(kind=kind, title=title, duration_hours=hours,
                            provider=provider, url=url, description=description)
    except ValidationError as exc:
        _invalid(exc)
        return
    with cli_transaction() as session:
        typer.echo(str(service.create_course(session=session, actor=_actor(), data=data).id))


@app.command("add-session")
@friendly_errors
def add_session(
    course_id: Annotated[int, typer.Argument(help="Course id.")],
    starts: Annotated[str, typer.Option("--starts", help="First day, YYYY-MM-DD.")],
    ends: Annotated[str, typer.Option("--ends", help="Last day, YYYY-MM-DD.")],
    seats: Annotated[int, typer.Option("--seats")],
    place: Annotated[str, typer.Option("--place")] = "",
) -> None:
    """Schedule a session of a course; prints its id."""
    try:
        data = SessionCreate(course_id=course_id, starts_on=starts,
                             ends_on=ends, seats=seats, place=place)
    except ValidationError as exc:
        _invalid(exc)
        return
    with cli_transaction() as session:
        typer.echo(str(service.create_session(session=session, actor=_actor(), data=data).id))


@app.command("add-trainee")
@friendly_errors
def add_trainee(
    institution: Annotated[str, typer.Option("--institution", help="Institution acronym.")],
    name: Annotated[str, typer.Option("--name")],
    email: Annotated[str, typer.Option("--email")],
    staff_number: Annotated[str | None, typer.Option("--staff-number")] = None,
) -> None:
    """Register a public servant; prints the trainee's id."""
    actor = _actor()
    with cli_transaction() as session:
        inst = registry_service.get_institution_by_acronym(session=session, actor=actor,
                                                           acronym=institution)
        try:
            data = TraineeCreate(institution_id=inst.id, full_name=name, email=email,
                                 staff_number=staff_number)
        except ValidationError as exc:
            _invalid(exc)
            return
        typer.echo(str(service.create_trainee(session=session, actor=actor, data=data).id))


@app.command("enrol")
@friendly_errors
def enrol(session_id: Annotated[int, typer.Argument(help="Session id.")],
          trainee_id: Annotated[int, typer.Argument(help="Trainee id.")]) -> None:
    """Enrol a trainee in a session (refused when the session is full)."""
    with cli_transaction() as session:
        found = service.enrol(session=session, actor=_actor(),
                              data=EnrolmentCreate(session_id=session_id,
                                                   trainee_id=trainee_id))
        typer.echo(str(found.id))


@app.command("import")
@friendly_errors
def import_sheet(session_id: Annotated[int, typer.Argument(help="Session id.")],
                 path: Annotated[Path, typer.Argument(help="CSV (UTF-8) or XLSX sheet.")]
                 ) -> None:
    """Import a session's attendance sheet: all rows or none; each problem is printed with
    its row and column."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        fail(f"{path}: {exc.strerror}", 2)
        return
    with use_language("en"):
        try:
            with cli_transaction() as session:
                report = sheets.import_attendance(session=session, actor=_actor(),
                                                  session_id=session_id, data=data)
        except LakanaError as exc:
            for problem in exc.errors:
                typer.echo(f"row {problem.get('row')}, column {problem.get('column')}: "
                           f"{problem.get('message')} {problem.get('value', '')}".rstrip(),
                           err=True)
            fail(str(exc), 2)
            return
    typer.echo(f"{report.rows} rows: {report.enrolled} enrolled, {report.updated} updated, "
               f"{report.certificates} certificates issued")


@app.command("completion")
@friendly_errors
def completion(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Completion per institution and for the nation."""
    with cli_transaction() as session:
        table = service.completion_table(session=session, actor=_actor())
    if as_json:
        echo_json(table.model_dump(mode="json"))
        return
    for row in [*table.institutions, table.total]:
        rate = "-" if row.completion_rate is None else f"{row.completion_rate} %"
        typer.echo(f"{row.acronym or 'nation':12} trainees {row.trainees:5} trained "
                   f"{row.people_trained:5} completions {row.completions:5} rate {rate}")


@app.command("verify")
@friendly_errors
def verify(code: Annotated[str, typer.Argument(help="Verification code.")]) -> None:
    """Check a certificate's code (as the public page does)."""
    with cli_transaction() as session, use_language("en"):
        result = certificates.verify(session=session, code=code)
    state = "REVOKED" if result.revoked else "valid"
    typer.echo(f"{state}: {result.full_name} — {result.course_title} "
               f"({result.issued_on.isoformat()})")

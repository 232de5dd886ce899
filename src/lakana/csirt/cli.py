"""``lakana csirt ...``: report an incident, list cases, show one (for scripts and operators).

Commands act as the CLI (every permission). ``report`` prints the new case's reference alone
on standard output, so a script can capture it; ``--json FILE`` (``-`` for standard input)
reads a whole report in the API's format, options given on the command line override it.
Errors are one line on stderr with a non-zero exit status.

Other CSIRT modules may add their own commands to :data:`app`.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from lakana.core import i18n
from lakana.core.auth.rbac import Actor, system_actor
from lakana.core.cli_support import cli_transaction, echo_json, fail, friendly_errors
from lakana.core.errors import Invalid
from lakana.core.web.errors import validation_message
from lakana.csirt import service, taxonomy
from lakana.csirt.schemas import CaseQuery, CaseReport
from lakana.registry import service as registry_service

app = typer.Typer(no_args_is_help=True, help="Incident response centre: cases.")

AsJson = Annotated[bool, typer.Option("--json", help="JSON output.")]
#: Largest report read from a file or standard input (a description is at most 20 000
#: characters; the rest is small).
MAX_INPUT = 256 * 1024


def _actor() -> Actor:
    """The CLI acts with every permission (built late: domains grant theirs at start-up)."""
    return system_actor("lakana cli", "cli")


def _read(source: str) -> str:
    if source == "-":
        return sys.stdin.read(MAX_INPUT + 1)[:MAX_INPUT + 1]
    path = Path(source)
    if not path.is_file():
        fail(f"no such file: {source}")
    return path.read_text(encoding="utf-8")[:MAX_INPUT + 1]


def _report_data(json_file: str | None, options: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if json_file is not None:
        try:
            loaded = json.loads(_read(json_file))
        except json.JSONDecodeError as exc:
            fail(f"not valid JSON: {exc}")
        if not isinstance(loaded, dict):
            fail("the JSON report must be an object")
        data.update(loaded)
    data.update({k: v for k, v in options.items() if v is not None})
    return data


def _institution_id(session: Session, acronym: str | None) -> int | None:
    """The id of the institution called ``acronym`` (None when not given); unknown: 422."""
    if acronym is None:
        return None
    found = registry_service.get_institution_id_by_acronym(session=session, acronym=acronym)
    if found is None:
        raise Invalid("The institution %(id)s does not exist.", id=acronym[:40])
    return found


@app.command("report")
@friendly_errors
def report(
    institution: Annotated[str | None, typer.Option(help="Acronym of the institution.")] = None,
    title: Annotated[str | None, typer.Option(help="Short title (200 characters).")] = None,
    description_file: Annotated[str | None, typer.Option(
        help="File holding the description, - for standard input.")] = None,
    klass: Annotated[str | None, typer.Option("--class", help="Taxonomy class id.")] = None,
    kind: Annotated[str | None, typer.Option("--type", help="Taxonomy type id.")] = None,
    tlp: Annotated[str | None, typer.Option(help="TLP label (CLEAR … RED).")] = None,
    template: Annotated[str | None, typer.Option(help="Case template id.")] = None,
    json_file: Annotated[str | None, typer.Option(
        "--json", help="A report in the API's JSON format (file, or - for stdin).")] = None,
) -> None:
    """Report an incident; prints the new case's reference."""
    data = _report_data(json_file, {
        "title": title, "taxonomy_class": klass, "taxonomy_type": kind, "tlp": tlp,
        "template": template,
        "description": _read(description_file) if description_file is not None else None})
    with cli_transaction() as session:
        if institution is not None:
            data["institution_id"] = _institution_id(session, institution)
        try:
            body = CaseReport(**data)
        except ValidationError as exc:
            for item in exc.errors():
                where = ".".join(str(p) for p in item.get("loc", ())) or "report"
                typer.echo(f"{where}: {validation_message(dict(item))}", err=True)
            raise typer.Exit(2) from None
        case = service.report_case(session=session, actor=_actor(), data=body,
                                   source="institution" if body.institution_id else None)
        reference = case.reference
    typer.echo(reference)


@app.command("list")
@friendly_errors
def list_cases(
    status: Annotated[str | None, typer.Option(help="Only cases in this status.")] = None,
    institution: Annotated[str | None, typer.Option(help="Acronym of the institution.")]
    = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    as_json: AsJson = False,
) -> None:
    """List cases, newest first."""
    with cli_transaction() as session:
        institution_id = None
        if institution is not None:
            institution_id = registry_service.get_institution_id_by_acronym(
                session=session, acronym=institution) or -1
        try:
            query = CaseQuery(status=status, institution_id=institution_id, limit=limit)
        except ValidationError:
            raise Invalid("Unknown status %(value)s.", value=(status or "")[:20]) from None
        rows, total = service.list_cases(session=session, actor=_actor(), query=query)
        names = service.institution_names(session=session)
        items: list[dict[str, str]] = [
            {"reference": c.reference or "", "title": c.title, "status": c.status,
             "severity": c.severity, "tlp": c.tlp,
             "institution": names.get(c.institution_id or 0, ""),
             "reported_at": c.reported_at.isoformat(timespec="minutes")} for c in rows]
    if as_json:
        echo_json({"items": items, "total": total})
        return
    table = Table("Reference", "Title", "Institution", "Severity", "Status", "TLP", "Reported")
    for item in items:
        table.add_row(item["reference"], item["title"], item["institution"], item["severity"],
                      item["status"], item["tlp"].upper(), item["reported_at"])
    Console().print(table)
    typer.echo(f"{total} case(s)")


@app.command("show")
@friendly_errors
def show(reference: str, as_json: AsJson = False) -> None:
    """Show one case by its reference (INC-2026-00042)."""
    with cli_transaction() as session:
        case = service.get_by_reference(session=session, actor=_actor(), reference=reference)
        names = service.institution_names(session=session)
        with i18n.use_language("en"):
            reasons = [r.text() for r in service.assess(session, case).reasons]
        users = service.user_names(session=session, user_ids={case.assignee_id})
        item: dict[str, Any] = {
            "reference": case.reference, "title": case.title, "status": case.status,
            "severity": case.severity,
            "severity_reasons": reasons,
            "tlp": case.tlp, "institution": names.get(case.institution_id or 0, ""),
            "classification": taxonomy.label(case.taxonomy_class, case.taxonomy_type, "en"),
            "assignee": users.get(case.assignee_id or 0, ""), "source": case.source,
            "reported_at": case.reported_at.isoformat(timespec="minutes"),
            "closure_reason": case.closure_reason, "description": case.description,
            "tasks": [{"title": t.title, "status": t.status,
                       "due_date": t.due_date.isoformat() if t.due_date else None}
                      for t in case.tasks]}
    if as_json:
        echo_json(item)
        return
    for key in ("reference", "title", "institution", "status", "severity", "tlp",
                "classification", "assignee", "source", "reported_at", "closure_reason"):
        typer.echo(f"{key:<16}{item[key] or '-'}")
    for reason in item["severity_reasons"]:
        typer.echo(f"{'':<16}· {reason}")
    if item["description"]:
        typer.echo("")
        typer.echo(item["description"])
    for task in item["tasks"]:
        typer.echo(f"[{task['status']}] {task['title']} ({task['due_date'] or '-'})")


# --- MISP exchange (see lakana.csirt.misp) ----------------------------------------------

def _read_bytes(source: str, limit: int) -> bytes:
    if source == "-":
        return sys.stdin.buffer.read(limit + 1)
    path = Path(source)
    if not path.is_file():
        fail(f"no such file: {source}")
    with path.open("rb") as handle:
        return handle.read(limit + 1)


@app.command("export-misp")
@friendly_errors
def export_misp(
    reference: str,
    output: Annotated[str | None, typer.Option(
        "--output", "-o", help="File to write (standard output when left out).")] = None,
) -> None:
    """Export a case as a MISP event (JSON); refused for TLP:AMBER+STRICT and TLP:RED cases."""
    from lakana.csirt import misp

    with cli_transaction() as session:
        case = service.get_by_reference(session=session, actor=_actor(), reference=reference)
        body = misp.export_json(misp.export_case(session=session, actor=_actor(),
                                                 case_id=case.id))
    if output is None:
        typer.echo(body.decode("utf-8"))
    else:
        Path(output).write_bytes(body)


@app.command("import-misp")
@friendly_errors
def import_misp(
    file: Annotated[str, typer.Argument(help="MISP event JSON file, - for standard input.")],
    institution: Annotated[str | None, typer.Option(
        help="Acronym of the institution affected.")] = None,
    skip_invalid: Annotated[bool, typer.Option(
        "--skip-invalid", help="Leave out attributes with an invalid value instead of "
        "refusing the file.")] = False,
    as_json: AsJson = False,
) -> None:
    """Import MISP events as partner cases (again: only new indicators are added)."""
    from lakana.csirt import misp

    data = _read_bytes(file, misp.MAX_BYTES)
    try:
        with cli_transaction() as session:
            institution_id = _institution_id(session, institution)
            result = misp.import_events(session=session, actor=_actor(), data=data,
                                        institution_id=institution_id,
                                        skip_invalid=skip_invalid)
    except Invalid as exc:
        with i18n.use_language("en"):
            for item in exc.errors:
                typer.echo(f"{item.get('field', '')}: {item.get('value', '')} "
                           f"{i18n.gettext(str(item['message']), **item.get('params', {}))}",
                           err=True)
        raise
    with i18n.use_language("en"):
        from lakana.csirt.misp_api import import_out

        out = import_out(result)
    if as_json:
        echo_json(out.model_dump())
        return
    for event in out.events:
        typer.echo(f"{event.reference}\t{'created' if event.created else 'updated'}\t"
                   f"+{event.added} indicator(s)\t{event.event_uuid}")
        for bad in event.invalid:
            typer.echo(f"  left out {bad.field} ({bad.type}) {bad.value}: {bad.message}",
                       err=True)
    for skipped in out.skipped:
        typer.echo(f"skipped {skipped.count} attribute(s) of type {skipped.type}", err=True)


# --- STIX 2.1 exchange (see lakana.csirt.stix_export and stix_import) --------------------

def _since(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        fail(f"not an ISO date or date-time: {value[:40]}")
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed


@app.command("export-stix")
@friendly_errors
def export_stix(
    output: Annotated[str | None, typer.Option(
        "--output", "-o", help="File to write (standard output when left out).")] = None,
    since: Annotated[str | None, typer.Option(
        help="Only cases changed since this ISO date or date-time (UTC).")] = None,
    cases: Annotated[list[str] | None, typer.Option(
        "--case", help="Only this case (a reference; repeat for several).")] = None,
) -> None:
    """Export shareable cases as one STIX 2.1 bundle (TLP:AMBER+STRICT and TLP:RED left out)."""
    from lakana.csirt import stix_export

    when = _since(since)
    with cli_transaction() as session:
        case_ids = None
        if cases:
            case_ids = [service.get_by_reference(session=session, actor=_actor(),
                                                 reference=ref).id for ref in cases]
        if output is None:
            stats = stix_export.write_bundle(session, sys.stdout, actor=_actor(), since=when,
                                             case_ids=case_ids)
        else:
            with Path(output).open("w", encoding="utf-8") as handle:
                stats = stix_export.write_bundle(session, handle, actor=_actor(), since=when,
                                                 case_ids=case_ids)
        stix_export.record_export(session=session, actor=_actor(), stats=stats, since=when)
    typer.echo(f"{stats.cases} case(s), {stats.observables} indicator(s), {stats.objects} "
               f"STIX object(s); left out: {stats.not_shareable} case(s) and "
               f"{stats.observables_withheld} indicator(s) not shareable", err=True)


@app.command("import-stix")
@friendly_errors
def import_stix(
    file: Annotated[str, typer.Argument(help="STIX 2.1 bundle (JSON), - for standard input.")],
    institution: Annotated[str | None, typer.Option(
        help="Acronym of the institution affected.")] = None,
    as_json: AsJson = False,
) -> None:
    """Import a STIX 2.1 bundle as partner cases: all or nothing; again: only what is new."""
    from lakana.csirt import stix_import

    data = _read_bytes(file, stix_import.MAX_BYTES)
    try:
        with cli_transaction() as session:
            institution_id = _institution_id(session, institution)
            result = stix_import.import_bundle(session=session, actor=_actor(), data=data,
                                               institution_id=institution_id)
    except Invalid as exc:
        for item in exc.errors:
            typer.echo(" ".join(str(item.get(k, "")) for k in ("object", "value", "message")
                                if item.get(k)), err=True)
        raise
    if as_json:
        echo_json({"bundle_id": result.bundle_id, "cases_created": result.cases_created,
                   "cases_updated": result.cases_updated,
                   "observables_added": result.observables_added,
                   "observables_known": result.observables_known, "skipped": result.skipped})
        return
    for reference in result.cases_created:
        typer.echo(f"{reference}\tcreated")
    for reference in result.cases_updated:
        typer.echo(f"{reference}\tupdated")
    typer.echo(f"+{result.observables_added} indicator(s), {result.observables_known} "
               f"already known, {len(result.skipped)} object(s) skipped", err=True)


# --- advisories (CSAF 2.0) ---------------------------------------------------------------

#: Largest CSAF file ``csaf-validate`` reads.
MAX_CSAF_BYTES = 20 * 1024 * 1024


@app.command("advisory-export")
@friendly_errors
def advisory_export(
    tracking_id: str,
    output: Annotated[Path | None, typer.Option("--output", "-o",
                                                help="Write the document (and, when it is "
                                                     "published, its .asc, .sha256 and "
                                                     ".sha512) here.")] = None,
) -> None:
    """Export an advisory's CSAF 2.0 document: the signed bytes as published, or the
    unsigned preview of a draft (said on stderr)."""
    from lakana.core.cli_support import cli_settings
    from lakana.csirt import advisories, csaf

    settings = cli_settings()
    with cli_transaction(settings) as session:
        found = advisories.get_by_tracking_id(session=session, actor=_actor(),
                                              tracking_id=tracking_id)
        advisory, data, published = advisories.csaf_bytes(
            session=session, actor=_actor(), settings=settings, advisory_id=found.id)
        extra = {".asc": advisory.csaf_signature or "",
                 ".sha256": csaf.hash_file(advisory.csaf_sha256 or "", ""),
                 ".sha512": csaf.hash_file(advisory.csaf_sha512 or "", "")}
    if not published:
        typer.echo(f"{advisory.tracking_id} is a draft: unsigned preview", err=True)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    output.write_bytes(data)
    if published:
        for suffix, text in extra.items():
            if suffix != ".asc":
                text = text.rstrip("\n").rstrip() + f"  {output.name}\n"
            Path(f"{output}{suffix}").write_text(text, encoding="utf-8")
    typer.echo(str(output), err=True)


@app.command("csaf-validate")
def csaf_validate(file: Path) -> None:
    """Check a CSAF 2.0 file against the official schema (offline); exit status 1 when it is
    not valid JSON, too deep or too big, or departs from the schema."""
    from lakana.core import safejson
    from lakana.core.errors import LakanaError
    from lakana.csirt import csaf

    if not file.is_file():
        fail(f"no such file: {file}")
    with file.open("rb") as handle:
        data = handle.read(MAX_CSAF_BYTES + 1)
    try:
        doc = safejson.loads(data, what="CSAF document", max_bytes=MAX_CSAF_BYTES,
                             max_depth=csaf.MAX_DEPTH)
    except LakanaError as exc:
        with i18n.use_language("en"):
            fail(i18n.gettext(exc.message, **exc.params), 1)
    problems = csaf.validate_document(doc)
    if problems:
        for problem in problems:
            typer.echo(f"{problem.path}: {problem.message}", err=True)
        fail(f"{file.name}: not valid against the CSAF 2.0 schema ({len(problems)} "
             f"problem(s))", 1)
    typer.echo(f"{file.name}: valid CSAF 2.0")


@app.command("share")
@friendly_errors
def share(
    reference: Annotated[str, typer.Argument(help="Case reference, e.g. INC-2026-00042.")],
    group: Annotated[str, typer.Option("--group", help="Sharing group name.")],
    stop: Annotated[bool, typer.Option("--stop", help="Stop sharing instead.")] = False,
) -> None:
    """Share a case with a sharing group of partner CERTs (again: new versions only), or stop
    sharing it. TLP:AMBER+STRICT and TLP:RED cases are refused."""
    from lakana.core.auth import sharing
    from lakana.csirt import sharing_service

    with cli_transaction() as session:
        found = sharing.get_group_by_name(session=session, name=group)
        case = service.get_by_reference(session=session, actor=_actor(), reference=reference)
        if stop:
            shares = sharing_service.list_shares(session=session, actor=_actor(),
                                                 case_id=case.id, group_id=found.id)
            if not shares:
                raise Invalid("%(reference)s is not shared with %(group)s.",
                              reference=case.reference, group=found.name)
            withdrawn = sum(sharing_service.unshare(session=session, actor=_actor(),
                                                    share_id=row.id) for row in shares)
            typer.echo(f"{case.reference}: no longer shared with {found.name} "
                       f"({withdrawn} objects withdrawn)")
            return
        result = sharing_service.share_case(session=session, actor=_actor(), case_id=case.id,
                                            group_id=found.id)
        typer.echo(f"{case.reference}: shared with {found.name} ({result.added} objects "
                   f"added, {result.withdrawn} withdrawn)")

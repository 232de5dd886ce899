"""``lakana biometry enrollment``: submit a packet file as a registration client would, and
export a person's finger template as an ISO/IEC 19794-2 record."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from lakana.biometry import enrollment as intake
from lakana.biometry import runtime
from lakana.biometry.api_enrollment import MAX_PACKET_BYTES
from lakana.biometry.registry_search import registry_gallery
from lakana.biometry.schemas import EnrollmentPacket
from lakana.core.auth.rbac import Actor, system_actor
from lakana.core.cli_support import cli_settings, cli_transaction, echo_json, fail, friendly_errors
from lakana.core.errors import LakanaError

app = typer.Typer(no_args_is_help=True)


def _actor() -> Actor:
    """The CLI acts with every permission (built late: domains grant theirs at start-up)."""
    return system_actor("lakana cli", "cli")


@app.command("submit")
@friendly_errors
def submit(
    packet_file: Annotated[Path, typer.Argument(help="An enrollment packet (JSON).",
                                                exists=True, dir_okay=False)],
    no_dedup: Annotated[bool, typer.Option(
        "--no-dedup", help="Store the packet without deduplicating it now.")] = False,
) -> None:
    """Take in one enrollment packet; prints the enrollment, its state and quality."""
    if packet_file.stat().st_size > MAX_PACKET_BYTES:
        fail(f"the packet file is larger than {MAX_PACKET_BYTES} bytes", 2)
    try:
        packet = EnrollmentPacket.model_validate_json(packet_file.read_bytes())
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                          for e in exc.errors(include_input=False)[:10])
        fail(f"the packet is not valid: {where}", 2)
        raise  # pragma: no cover  (fail exits)
    settings = cli_settings()
    try:
        with cli_transaction(settings) as session:
            result = intake.submit_packet(session=session, actor=_actor(),
                                          store=runtime.keystore(settings),
                                          engine=runtime.engine(settings), packet=packet,
                                          deduplicate=not no_dedup,
                                          gallery=registry_gallery(settings))
    except LakanaError as exc:
        # The refused transaction was rolled back; the refusal is ledgered in its own.
        with cli_transaction(settings) as session:
            intake.ledger_refusal(session=session, actor=_actor(), packet_id=packet.packet_id,
                                  status=exc.status, reason=intake.refusal_reason(exc))
        raise
    echo_json({"enrollment_id": result.enrollment_id, "person_id": result.person_id,
               "state": result.state, "replayed": result.replayed,
               "quality": [{"modality": q.modality, "position": q.position,
                            "quality": q.quality, "minutiae": q.minutiae}
                           for q in result.quality]})


@app.command("export-template")
@friendly_errors
def export_template(
    person_id: Annotated[int, typer.Argument(help="The person's id in the registry.")],
    position: Annotated[int, typer.Argument(help="Finger position (1 right thumb … 10 left "
                                                 "little finger).", min=1, max=10)],
    out: Annotated[Path, typer.Argument(help="Where to write the ISO/IEC 19794-2 record.",
                                        dir_okay=False)],
) -> None:
    """Write the ISO/IEC 19794-2:2005 record of a person's active finger (ledgered)."""
    settings = cli_settings()
    with cli_transaction(settings) as session:
        data = intake.export_template(session=session, actor=_actor(),
                                      store=runtime.keystore(settings), person_id=person_id,
                                      position=position)
    out.write_bytes(data)
    out.chmod(0o600)
    typer.echo(f"{out}: {len(data)} bytes (ISO/IEC 19794-2:2005, finger {position})")

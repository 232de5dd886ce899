"""Export of a ledger range with its proof, the offline check, and the ``lakana audit`` CLI."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from lakana.core import cli_support
from lakana.core.audit import configure_ledger, record, signing
from lakana.core.audit.cli import app as audit_cli
from lakana.core.audit.models import AuditEntry
from lakana.core.audit.proof import verify_document
from lakana.core.audit.service import export_range
from lakana.core.auth.rbac import system_actor
from lakana.core.config import Settings
from lakana.core.errors import Invalid

runner = CliRunner()


@pytest.fixture
def ledger(session_factory: sessionmaker[Session], settings: Settings) -> None:
    """Ten entries, one per transaction, with a checkpoint every 4 (at 4 and 8)."""
    configure_ledger(session_factory, settings.model_copy(update={"ledger_checkpoint_every": 4}))
    for i in range(10):
        with session_factory.begin() as session:
            record(session=session, actor=system_actor("tester"), action="test.thing.update",
                   object_type="test.thing", object_id=i, object_repr=f"Élément {i}",
                   after={"i": i})


def exported(session_factory: sessionmaker[Session], settings: Settings, first: int,
             last: int) -> dict[str, Any]:
    """Export a range as the platform would."""
    path = settings.effective_ledger_key_path
    with session_factory.begin() as session:
        return export_range(session=session, actor=system_actor("tester"),
                            key=signing.load_private_key(path), from_seq=first, to_seq=last,
                            known_keys=signing.trusted_keys(path))


def platform_key(settings: Settings) -> list[Any]:
    """The platform's public key, as an auditor would have received it."""
    return [signing.load_private_key(settings.effective_ledger_key_path).public_key()]


@pytest.mark.usefixtures("ledger")
def test_export_verifies_offline(session_factory: sessionmaker[Session],
                                 settings: Settings) -> None:
    # Given an export of entries 3 to 9 (holding the checkpoints at 4 and 8)
    document = exported(session_factory, settings, 3, 9)
    # When it is checked with the platform's public key
    check = verify_document(json.loads(json.dumps(document)), platform_key(settings))
    # Then it is valid, anchored on entry 2's hash, with both checkpoints
    assert check.ok, check.reason
    assert (check.entries, check.checkpoints) == (7, 2)
    assert document["anchor"] != "0" * 64 and document["first_seq"] == 3


@pytest.mark.usefixtures("ledger")
def test_export_is_ledgered(session_factory: sessionmaker[Session], settings: Settings,
                            db: Session) -> None:
    # Given an export of entries 1 to 10 / When it is made
    exported(session_factory, settings, 1, 10)
    # Then the export itself is the 11th entry of the ledger
    last = db.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
    assert last is not None and (last.seq, last.action, last.object_id) == (
        11, "core.audit.export", "1-10")


@pytest.mark.usefixtures("ledger")
@pytest.mark.parametrize("first,last", [(0, 3), (5, 4), (8, 99)])
def test_export_refuses_bad_ranges(session_factory: sessionmaker[Session], settings: Settings,
                                   first: int, last: int) -> None:
    # Given ten entries / When an impossible range is asked / Then it is refused
    with pytest.raises(Invalid):
        exported(session_factory, settings, first, last)


def _tamper_entry(doc: dict[str, Any]) -> None:
    doc["entries"][2]["actor"] = "Mallory"


def _drop_entry(doc: dict[str, Any]) -> None:
    del doc["entries"][3]


def _move_end(doc: dict[str, Any]) -> None:
    doc["entries"].pop()


def _forge_statement(doc: dict[str, Any]) -> None:
    doc["exported_at"] = "2000-01-01T00:00:00.000000Z"


def _forge_checkpoint(doc: dict[str, Any]) -> None:
    doc["checkpoints"][0]["hash"] = "b" * 64


@pytest.mark.usefixtures("ledger")
@pytest.mark.parametrize("tamper,reason", [
    (_tamper_entry, "entry 5 was altered"),
    (_drop_entry, "entry 6 is missing"),
    (_move_end, "the entries do not end where the statement says"),
    (_forge_statement, "the signature of the export statement is invalid"),
    (_forge_checkpoint, "the signature of the checkpoint at seq 4 is invalid"),
])
def test_tampered_export_is_refused(session_factory: sessionmaker[Session], settings: Settings,
                                    tamper: Any, reason: str) -> None:
    # Given a valid export of entries 3 to 9, then tampered with
    document = copy.deepcopy(exported(session_factory, settings, 3, 9))
    tamper(document)
    # When checked offline / Then it is refused with the precise reason
    check = verify_document(document, platform_key(settings))
    assert not check.ok
    assert check.reason.startswith(reason), check.reason


@pytest.mark.usefixtures("ledger")
def test_export_signed_by_another_key_is_refused(session_factory: sessionmaker[Session],
                                                 settings: Settings, tmp_path: Path) -> None:
    # Given an export whose statement and embedded key were replaced by an impostor's
    document = exported(session_factory, settings, 3, 9)
    impostor = signing.create_key(tmp_path / "impostor.pem")
    document["statement"]["key_id"] = signing.key_id(impostor)
    # When checked with the platform's key / Then the statement's key is not trusted
    check = verify_document(document, platform_key(settings))
    assert not check.ok and "untrusted key" in check.reason


# --- CLI --------------------------------------------------------------------------------

@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    """Point the CLI at the test database and key through ``LAKANA_*`` variables."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LAKANA_HOME", str(settings.home))
    monkeypatch.setenv("LAKANA_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("LAKANA_SECRET_KEY", "cli-tests")
    return settings


@pytest.mark.usefixtures("ledger")
def test_cli_verify_reports_intact_and_broken_chains(cli_env: Settings, engine: Engine) -> None:
    # Given an intact ledger / When `lakana audit verify` runs / Then it exits 0
    result = runner.invoke(audit_cli, ["verify"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ledger intact: 10 entries, 2 signed checkpoints")
    # Given entry 5 altered in the database / When verified again
    with engine.begin() as conn:
        conn.execute(text("UPDATE core_audit_entry SET action = 'x' WHERE seq = 5"))
    result = runner.invoke(audit_cli, ["verify"])
    # Then it exits 1 with a one-line reason
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "lakana: altered at seq 5: Entry 5 was altered: its content no longer matches its "
        "hash."]
    # And --json gives the same verdict for scripts
    result = runner.invoke(audit_cli, ["verify", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output)["problem"] == {
        "kind": "altered", "seq": 5,
        "reason": "Entry 5 was altered: its content no longer matches its hash."}


@pytest.mark.usefixtures("ledger")
def test_cli_export_then_verify_export_without_database(
        cli_env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an export written by `lakana audit export` and the published public key
    out = tmp_path / "proof.json"
    result = runner.invoke(audit_cli, ["export", "--from", "2", "--to", "9", "-o", str(out)])
    assert result.exit_code == 0, result.output
    pem = tmp_path / "platform.pem"
    pem.write_text(runner.invoke(audit_cli, ["public-key"]).output)
    # And no settings nor database reachable any more
    monkeypatch.setattr(cli_support, "cli_settings", _no_settings)
    monkeypatch.setenv("LAKANA_DATABASE_URL", "postgresql://nowhere.invalid/none")
    # When the export is checked offline
    result = runner.invoke(audit_cli, ["verify-export", str(out), "--public-key", str(pem)])
    # Then it is valid
    assert result.exit_code == 0, result.output
    assert "export valid: entries 2 to 9, 2 checkpoints" in result.output
    # And once an entry is edited in the file, it fails with a one-line reason
    document = json.loads(out.read_text())
    document["entries"][0]["object_repr"] = "autre chose"
    out.write_text(json.dumps(document))
    result = runner.invoke(audit_cli, ["verify-export", str(out), "--public-key", str(pem)])
    assert result.exit_code == 1
    assert result.output.strip() == ("lakana: entry 2 was altered: its content does not match "
                                     "its hash")


def _no_settings() -> Settings:
    raise AssertionError("verify-export must not read settings")


@pytest.mark.usefixtures("ledger")
def test_cli_checkpoint_signs_the_head(cli_env: Settings) -> None:
    # Given ten entries / When `lakana audit checkpoint` runs
    result = runner.invoke(audit_cli, ["checkpoint"])
    # Then it reports the signed head
    assert result.exit_code == 0, result.output
    assert result.output.startswith("checkpoint signed at entry 10 ")
    # And the verification now counts three checkpoints
    assert "3 signed checkpoints" in runner.invoke(audit_cli, ["verify"]).output


def test_cli_verify_export_rejects_garbage(tmp_path: Path) -> None:
    # Given a file that is not an export / When checked / Then it fails with a reason
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    result = runner.invoke(audit_cli, ["verify-export", str(bad)])
    assert result.exit_code == 1
    assert "not a Lakana ledger export" in result.output

"""The data protection authority's export of the ledger: the registry's entries in full, the
others reduced to their place in the chain, with a proof that still verifies offline and
refuses any tampering."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.biometry import oversight
from lakana.core.audit import configure_ledger, record, signing
from lakana.core.audit.models import AuditEntry
from lakana.core.audit.proof import verify_document
from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role, system_actor
from lakana.core.auth.service import actor_for
from lakana.core.config import Settings
from lakana.core.errors import Forbidden
from tests.conftest import Factory


@pytest.fixture
def mixed_ledger(session_factory: sessionmaker[Session], settings: Settings) -> None:
    """Twelve entries alternating between a CSIRT case and the registry, with a checkpoint
    every 4 entries."""
    configure_ledger(session_factory, settings.model_copy(update={"ledger_checkpoint_every": 4}))
    for i in range(12):
        with session_factory.begin() as session:
            if i % 2:
                record(session=session, actor=system_actor("tester"),
                       action="biometry.person.issue", object_type="biometry_person",
                       object_id=i, object_repr=f"person {i}")
            else:
                record(session=session, actor=system_actor("tester"),
                       action="csirt.case.create", object_type="csirt_case", object_id=i,
                       object_repr=f"Rançongiciel au ministère {i}")


def _export(session_factory: sessionmaker[Session], settings: Settings, actor: Any,
            **kwargs: Any) -> dict[str, Any]:
    path = settings.effective_ledger_key_path
    with session_factory.begin() as session:
        return oversight.ledger_export(session=session, actor=actor,
                                       key=signing.load_private_key(path),
                                       known_keys=signing.trusted_keys(path), **kwargs)


def _platform_key(settings: Settings) -> list[Any]:
    return [signing.load_private_key(settings.effective_ledger_key_path).public_key()]


@pytest.mark.usefixtures("mixed_ledger")
def test_registry_export_discloses_only_registry_entries_and_verifies(
        session_factory: sessionmaker[Session], settings: Settings, factory: Factory) -> None:
    auditor = actor_for(factory.user(Role.PROTECTION_AUDITOR))
    document = _export(session_factory, settings, auditor, from_seq=1, to_seq=12)
    # The registry's entries are whole; the CSIRT's keep only their sequence and hashes
    disclosed = [e for e in document["entries"] if not e.get("redacted")]
    assert [e["action"] for e in disclosed] == ["biometry.person.issue"] * 6
    assert document["redacted"] == 6
    assert "Rançongiciel" not in json.dumps(document, ensure_ascii=False)
    # And the proof verifies offline with the platform's key, checkpoints included
    check = verify_document(json.loads(json.dumps(document)), _platform_key(settings))
    assert check.ok, check.reason
    assert check.checkpoints == 3 and "6 entries of other domains redacted" in check.reason
    # And the export itself is in the ledger
    with session_factory() as session:
        assert session.scalars(select(AuditEntry).where(
            AuditEntry.action == "biometry.ledger.export")).one().actor_id == auditor.user_id


def _alter_disclosed(document: dict[str, Any]) -> None:
    next(e for e in document["entries"] if not e.get("redacted"))["object_repr"] = "person 99"


def _alter_redacted_hash(document: dict[str, Any]) -> None:
    entries = document["entries"]
    index = next(i for i, e in enumerate(entries) if e.get("redacted") and i + 1 < len(entries))
    entries[index]["hash"] = "f" * 64
    entries[index + 1]["prev_hash"] = "f" * 64


def _drop_entries_signature(document: dict[str, Any]) -> None:
    del document["entries_signature"]


@pytest.mark.usefixtures("mixed_ledger")
@pytest.mark.parametrize(("tamper", "reason"), [
    (_alter_disclosed, "entry"),
    (_alter_redacted_hash, "entry"),
    (_drop_entries_signature, "the signature over the redacted entries is invalid"),
])
def test_tampered_registry_export_is_refused(session_factory: sessionmaker[Session],
                                             settings: Settings, tamper: Callable[..., None],
                                             reason: str) -> None:
    document = copy.deepcopy(_export(session_factory, settings, system_actor("tester"),
                                     from_seq=1, to_seq=12))
    tamper(document)
    check = verify_document(document, _platform_key(settings))
    assert not check.ok and check.reason.startswith(reason), check.reason


@pytest.mark.usefixtures("mixed_ledger")
def test_registry_export_needs_oversight(session_factory: sessionmaker[Session],
                                         settings: Settings, factory: Factory) -> None:
    with pytest.raises(Forbidden):
        _export(session_factory, settings, actor_for(factory.user(Role.ENROLMENT_AGENT)))


@pytest.mark.usefixtures("mixed_ledger")
def test_registry_export_download(api_as: Callable[[User], TestClient],
                                  login_as: Callable[[User], TestClient], factory: Factory,
                                  settings: Settings) -> None:
    auditor = factory.user(Role.PROTECTION_AUDITOR)
    answer = api_as(auditor).get("/api/v1/biometry/oversight/ledger-export")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-disposition"].startswith("attachment")
    assert verify_document(answer.json(), _platform_key(settings)).ok
    browser = login_as(auditor)
    board = browser.get("/biometry/oversight")
    assert 'action="/biometry/oversight/ledger-export"' in board.text
    page = browser.get("/biometry/oversight/ledger-export?from_seq=2&to_seq=9")
    assert page.status_code == 200 and page.json()["first_seq"] == 2
    refused = api_as(factory.user(Role.CSIRT_ANALYST)).get(
        "/api/v1/biometry/oversight/ledger-export")
    assert refused.status_code == 403

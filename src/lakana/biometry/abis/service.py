"""The ABIS operations: take a request message, answer Ping / PendingJobs / ReferenceCount
at once, queue Insert / Identify / Delete as durable jobs, and run those jobs.

Durability: the request row (unique ``requestId``) and its job are added in the caller's
transaction; the job writes the reference, its sealed samples and the response in *one*
transaction, after checking that the request is not already done. A worker that dies
before that commit leaves nothing behind and the job is run again; one that dies after it
leaves a done request that the next run only acknowledges. So each request gets exactly
one response and an Insert makes at most one reference.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lakana.biometry.abis import cbeff, fetch, messages, samples
from lakana.biometry.abis.messages import AbisFailure, AbisRequestMessage, FailureReason
from lakana.biometry.abis.resident import resident_gallery
from lakana.biometry.engine import Candidate, MatchingEngine, Probe
from lakana.biometry.matching.shards import ShardError
from lakana.biometry.matching.thresholds import load_calibration, threshold_for_fpir
from lakana.biometry.models import AbisReference, AbisRequest, AbisSample, SealedObject
from lakana.biometry.permissions import BiometryPermission as P
from lakana.biometry.protection.keystore import MasterKeyStore
from lakana.biometry.protection.sealed import open_object, seal_object
from lakana.core.audit import record
from lakana.core.auth.rbac import Actor
from lakana.core.config import Settings
from lakana.core.db import utcnow
from lakana.core.errors import Conflict, NotFound
from lakana.core.i18n import Msg
from lakana.core.jobs.service import enqueue

log = logging.getLogger("lakana.biometry.abis")

PROCESS_TASK = "biometry.abis.process"
KIND_FINGER = "abis.finger"
KIND_FACE = "abis.face"
KIND_CBEFF = "abis.cbeff"
#: Candidates returned when the request sets no ``maxResults`` flag, and the most allowed.
DEFAULT_MAX_RESULTS = 100
MAX_RESULTS = 1000
#: How long an Identify waits for Inserts queued before it (the specification: every
#: earlier Insert must be serviced first) before it searches anyway.
INSERT_WAIT_SECONDS = 60.0
QUEUED = "queued"
DONE = "done"
_BIOMETRIC_TYPES = {"finger": "FIR", "face": "FID"}
#: Candidates the resident gallery proposes for re-scoring (or ``maxResults`` if more).
SHORTLIST = 50


@dataclass(frozen=True)
class Answer:
    """What the HTTP layer sends back: a message and its status (200 answered, 202
    queued)."""

    status: int
    body: dict[str, Any]


def reference_owner(reference_pk: int) -> str:
    """The owner bound into the AAD of an ABIS reference's sealed samples."""
    return f"abis-reference:{reference_pk}"


def pending_marker(row: AbisRequest) -> dict[str, Any]:
    """What a queued request answers: no ``returnValue`` yet (Lakana's own field)."""
    return {"id": row.operation, "requestId": row.request_id, "lakanaState": row.state}


def _digest(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _ledger(session: Session, actor: Actor, action: str, row: AbisRequest | None,
            details: dict[str, Any]) -> None:
    record(session=session, actor=actor, action=action, object_type="biometry.abis_request",
           object_id=row.id if row else None,
           object_repr=f"{details.get('operation', '')} {details.get('requestId', '')}"[:200],
           details=details)


def _answer_of(row: AbisRequest) -> Answer:
    if row.state == DONE and row.response_json:
        return Answer(200, json.loads(row.response_json))
    return Answer(202, pending_marker(row))


# --- taking a request -------------------------------------------------------------------

def submit(*, session: Session, actor: Actor, store: MasterKeyStore,
           body: Any) -> Answer:
    """Take one ABIS request message (parsed JSON); the caller owns the transaction."""
    actor.require(P.ABIS)
    raw = body if isinstance(body, dict) else {}
    try:
        if not isinstance(body, dict):
            raise AbisFailure(FailureReason.INVALID_STRUCTURE, "not a JSON object")
        try:
            message = AbisRequestMessage.model_validate(body)
        except ValidationError:
            raise AbisFailure(FailureReason.INVALID_STRUCTURE, "field types") from None
        messages.check_request(message)
    except AbisFailure as exc:
        message_id = raw.get("id") if isinstance(raw.get("id"), str) else None
        request_id = raw.get("requestId") if isinstance(raw.get("requestId"), str) else None
        _ledger(session, actor, "biometry.abis.refused", None, {
            "operation": (message_id or "")[:40], "requestId": (request_id or "")[:80],
            "failureReason": exc.reason.value, "why": exc.detail[:200]})
        return Answer(200, messages.failure(message_id, request_id, exc.reason))
    assert message.id is not None and message.requestId is not None
    digest = _digest(raw)
    existing = session.scalar(select(AbisRequest).where(
        AbisRequest.request_id == message.requestId))
    if existing is not None:
        return _replay(existing, digest)
    stored = {k: v for k, v in raw.items() if k != "lakanaCbeff"}
    row = AbisRequest(request_id=message.requestId, operation=message.id, digest=digest,
                      reference_id=message.referenceId or "", request_json=json.dumps(stored))
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # the same requestId raced in from another process
        again = session.scalar(select(AbisRequest).where(
            AbisRequest.request_id == message.requestId))
        if again is None:
            raise
        return _replay(again, digest)
    _ledger(session, actor, "biometry.abis.request", row, {
        "operation": message.id, "requestId": message.requestId,
        "referenceId": message.referenceId or ""})
    if message.id in messages.IMMEDIATE_OPERATIONS:
        _done(session, actor, row, _immediate(session, message))
        return _answer_of(row)
    if message.lakanaCbeff:
        try:
            document = base64.b64decode(message.lakanaCbeff, validate=True)
        except (binascii.Error, ValueError):
            _done(session, actor, row, messages.failure(
                message.id, message.requestId, FailureReason.INVALID_CBEFF))
            return _answer_of(row)
        row.cbeff_object_id = seal_object(
            session=session, store=store, kind=KIND_CBEFF,
            owner_ref=f"abis-request:{row.id}", plaintext=document).id
    # Inserts and Deletes go first: an Identify must see every Insert queued before it.
    row.job_id = enqueue(session, PROCESS_TASK, {"request": row.id},
                         unique_key=f"{PROCESS_TASK}:{row.id}",
                         priority=0 if message.id == messages.IDENTIFY else 10)
    return _answer_of(row)


def _replay(row: AbisRequest, digest: str) -> Answer:
    if row.digest != digest:
        raise Conflict("The ABIS request %(request_id)s was already received with other "
                       "content.", request_id=row.request_id)
    return _answer_of(row)


def _immediate(session: Session, message: AbisRequestMessage) -> dict[str, Any]:
    assert message.id is not None and message.requestId is not None
    if message.id == messages.PENDING_JOBS:
        pending = session.scalar(select(func.count()).select_from(AbisRequest).where(
            AbisRequest.state == QUEUED,
            AbisRequest.operation.in_(messages.QUEUED_OPERATIONS))) or 0
        return messages.success(message.id, message.requestId, jobscount=str(pending))
    if message.id == messages.REFERENCE_COUNT:
        count = session.scalar(select(func.count()).select_from(AbisReference)) or 0
        return messages.success(message.id, message.requestId, count=str(count))
    return messages.success(message.id, message.requestId)


def _done(session: Session, actor: Actor, row: AbisRequest, response: dict[str, Any]) -> None:
    """Record the response, end the request, drop its inline CBEFF, ledger the outcome."""
    row.response_json = json.dumps(response)
    row.state = DONE
    row.done_at = utcnow()
    if row.cbeff_object_id is not None:
        session.execute(delete(SealedObject).where(SealedObject.id == row.cbeff_object_id))
        row.cbeff_object_id = None
    session.flush()
    details = {"operation": row.operation, "requestId": row.request_id,
               "referenceId": row.reference_id, "returnValue": response.get("returnValue")}
    if "failureReason" in response:
        details["failureReason"] = response["failureReason"]
    if "candidateList" in response:
        details["candidates"] = response["candidateList"]["count"]
    _ledger(session, actor, f"biometry.abis.{row.operation.rsplit('.', 1)[-1].lower()}", row,
            details)


def get_response(*, session: Session, actor: Actor, request_id: str) -> Answer:
    """The response of ``request_id`` (200), or the pending marker (202)."""
    actor.require(P.ABIS)
    row = session.scalar(select(AbisRequest).where(AbisRequest.request_id == request_id))
    if row is None:
        raise NotFound("This %(what)s does not exist or is not visible to you.",
                       what=Msg("ABIS request"))
    return _answer_of(row)


# --- running a queued request -----------------------------------------------------------

def threshold_for(target_fpir: int | None, gallery_size: int, engine: MatchingEngine,
                  calibration: Path | None = None) -> float:
    """The score threshold for MOSIP's ``targetFPIR`` (round(-10·log10(FPIR)), so 30 is one
    false positive identification in 1,000 searches); the engine's own threshold when the
    flag is absent or the gallery empty. The impostor scores come from the calibration file
    (``biometry_fpir_calibration``); without one, or with an unreadable one (logged),
    :func:`threshold_for_fpir` answers the engine's threshold: never lower."""
    if target_fpir is None or gallery_size < 1 or target_fpir <= 0:
        return engine.match_threshold
    rate = math.pow(10.0, -target_fpir / 10.0)
    scores = None
    if calibration is not None:
        try:
            scores = _calibration_scores(calibration, calibration.stat().st_mtime_ns)
        except (OSError, ValueError) as exc:
            log.error("ABIS: the FPIR calibration file cannot be used (%s); the engine's "
                      "threshold applies", exc)
    return threshold_for_fpir(rate, gallery_size, scores,
                              engine_threshold=engine.match_threshold)


@lru_cache(maxsize=4)
def _calibration_scores(path: Path, _mtime_ns: int) -> Any:
    """The impostor scores of a calibration file, read again when the file changes."""
    return load_calibration(path).scores


def process(*, session_factory: sessionmaker[Session], settings: Settings, actor: Actor,
            store: MasterKeyStore, engine: MatchingEngine, request_pk: int,
            last_attempt: bool) -> None:
    """Run one queued request to its response (idempotent: a done request is left alone).

    A protocol failure becomes a failure response; an unexpected error is raised for the
    job to retry, and on the last attempt becomes failure reason 3 (unexpected error)."""
    with session_factory() as session:
        row = session.get(AbisRequest, request_pk)
        if row is None or row.state == DONE:
            return
        message = AbisRequestMessage.model_validate(json.loads(row.request_json))
        cbeff_id = row.cbeff_object_id
        document = None
        if cbeff_id is not None:
            sealed = session.get(SealedObject, cbeff_id)
            document = open_object(store=store, obj=sealed) if sealed else None
    try:
        _run(session_factory=session_factory, settings=settings, actor=actor, store=store,
             engine=engine, request_pk=request_pk, message=message, document=document)
    except AbisFailure as exc:
        log.info("ABIS request %s failed (%s): %s", message.requestId, exc.reason.value,
                 exc.detail)
        _finish_failure(session_factory, actor, request_pk, message, exc.reason)
    except Exception:
        if not last_attempt:
            raise
        log.exception("ABIS request %s: unexpected error on the last attempt",
                      message.requestId)
        _finish_failure(session_factory, actor, request_pk, message,
                        FailureReason.UNEXPECTED_ERROR)


def _finish_failure(session_factory: sessionmaker[Session], actor: Actor, request_pk: int,
                    message: AbisRequestMessage, reason: FailureReason) -> None:
    with session_factory.begin() as session:
        row = session.get(AbisRequest, request_pk)
        if row is not None and row.state != DONE:
            _done(session, actor, row, messages.failure(message.id, message.requestId, reason))


def _locked(session: Session, request_pk: int) -> AbisRequest | None:
    """The request row, locked on PostgreSQL; ``None`` when it is already done."""
    row = session.scalar(select(AbisRequest).where(AbisRequest.id == request_pk)
                         .with_for_update())
    return row if row is not None and row.state != DONE else None


def _templates(document: bytes | None, message: AbisRequestMessage, settings: Settings,
               engine: MatchingEngine) -> list[samples.Template]:
    if document is None:
        if not message.reference_url:
            raise AbisFailure(FailureReason.MISSING_REFERENCE_URL)
        document = fetch.fetch_reference(message.reference_url, settings=settings)
    return samples.extract(cbeff.parse_cbeff(document), engine)


def _run(*, session_factory: sessionmaker[Session], settings: Settings, actor: Actor,
         store: MasterKeyStore, engine: MatchingEngine, request_pk: int,
         message: AbisRequestMessage, document: bytes | None) -> None:
    """The slow part (fetch, extraction, search) runs outside the writing transaction,
    which is short: on SQLite a long read turned write fails when another writer went
    first."""
    assert message.id is not None and message.requestId is not None
    response = messages.success(message.id, message.requestId)
    templates: list[samples.Template] = []
    if message.id == messages.INSERT:
        templates = _templates(document, message, settings, engine)
    elif message.id == messages.IDENTIFY:
        _wait_for_earlier_inserts(session_factory, request_pk)
        with session_factory() as session:
            response = _identify(session=session, settings=settings, store=store,
                                 engine=engine, message=message, document=document)
    with session_factory.begin() as session:
        row = _locked(session, request_pk)
        if row is None:
            return
        if message.id == messages.INSERT:
            _insert(session, store, row, message, templates)
        elif message.id == messages.DELETE:
            _delete(session, message.referenceId or "")
        _done(session, actor, row, response)


def _insert(session: Session, store: MasterKeyStore, row: AbisRequest,
            message: AbisRequestMessage, templates: list[samples.Template]) -> None:
    reference_id = message.referenceId or ""
    if session.scalar(select(AbisReference.id).where(
            AbisReference.reference_id == reference_id)) is not None:
        raise AbisFailure(FailureReason.REFERENCE_ID_EXISTS)
    reference = AbisReference(reference_id=reference_id, request_id=row.request_id)
    session.add(reference)
    session.flush()
    for template in templates:
        sealed = seal_object(session=session, store=store,
                             kind=KIND_FINGER if template.modality == "finger" else KIND_FACE,
                             owner_ref=reference_owner(reference.id),
                             plaintext=template.template)
        session.add(AbisSample(reference_pk=reference.id, modality=template.modality,
                               position=template.position, template_object_id=sealed.id,
                               quality=template.quality))
    session.flush()


def _delete(session: Session, reference_id: str) -> None:
    reference = session.scalar(select(AbisReference).where(
        AbisReference.reference_id == reference_id))
    if reference is None:
        raise AbisFailure(FailureReason.REFERENCE_ID_NOT_FOUND)
    sealed_ids = [i for i in session.scalars(select(AbisSample.template_object_id).where(
        AbisSample.reference_pk == reference.id)) if i is not None]
    session.execute(delete(AbisSample).where(AbisSample.reference_pk == reference.id))
    if sealed_ids:
        session.execute(delete(SealedObject).where(SealedObject.id.in_(sealed_ids)))
    session.execute(delete(AbisReference).where(AbisReference.id == reference.id))
    session.flush()


def _wait_for_earlier_inserts(session_factory: sessionmaker[Session], request_pk: int
                              ) -> None:
    deadline = time.monotonic() + INSERT_WAIT_SECONDS
    while time.monotonic() < deadline:
        with session_factory() as session:
            earlier = session.scalar(select(func.count()).select_from(AbisRequest).where(
                AbisRequest.id < request_pk, AbisRequest.state == QUEUED,
                AbisRequest.operation == messages.INSERT)) or 0
        if not earlier:
            return
        time.sleep(0.5)
    log.warning("ABIS identify %s: earlier inserts still queued after %ss; searching anyway",
                request_pk, INSERT_WAIT_SECONDS)


def _reference_probes(session: Session, store: MasterKeyStore,
                      reference_pks: list[int] | None) -> Iterator[tuple[int, Probe]]:
    """(reference pk, probe) of the given references, or of all, opened one at a time."""
    stmt = select(AbisSample).order_by(AbisSample.reference_pk, AbisSample.id)
    if reference_pks is not None:
        stmt = stmt.where(AbisSample.reference_pk.in_(reference_pks))
    current: int | None = None
    fingers: dict[int, bytes] = {}
    face = b""
    for sample in session.scalars(stmt):
        if sample.reference_pk != current:
            if current is not None:
                yield current, Probe(fingers=fingers, face=face)
            current, fingers, face = sample.reference_pk, {}, b""
        sealed = session.get(SealedObject, sample.template_object_id) \
            if sample.template_object_id is not None else None
        if sealed is None:
            continue
        data = open_object(store=store, obj=sealed)
        if sample.modality == "face":
            face = data
        else:
            fingers[sample.position] = data
    if current is not None:
        yield current, Probe(fingers=fingers, face=face)


def _identify(*, session: Session, settings: Settings, store: MasterKeyStore,
              engine: MatchingEngine, message: AbisRequestMessage,
              document: bytes | None) -> dict[str, Any]:
    assert message.id is not None and message.requestId is not None
    probe_pk: int | None = None
    if message.referenceId:
        probe_pk = session.scalar(select(AbisReference.id).where(
            AbisReference.reference_id == message.referenceId))
        if probe_pk is None:
            raise AbisFailure(FailureReason.REFERENCE_ID_NOT_FOUND)
        probe = next((p for _, p in _reference_probes(session, store, [probe_pk])), Probe())
    else:
        probe = samples.probe_of(_templates(document, message, settings, engine))
    names: dict[int, str] = {}
    inserted_by: dict[int, str] = {}
    for pk, ref, request_id in session.execute(
            select(AbisReference.id, AbisReference.reference_id, AbisReference.request_id)):
        names[pk] = ref
        inserted_by[pk] = request_id
    wanted = message.gallery_ids
    if wanted is not None:
        allowed = set(wanted)
        gallery_pks = [pk for pk, ref in names.items() if ref in allowed and pk != probe_pk]
    else:
        gallery_pks = [pk for pk in names if pk != probe_pk]
    max_results = min(message.flag_int("maxResults") or DEFAULT_MAX_RESULTS, MAX_RESULTS)
    threshold = threshold_for(message.flag_int("targetFPIR"), len(gallery_pks), engine,
                              settings.biometry_fpir_calibration)
    found: Sequence[Candidate] = []
    resident: list[Candidate] | None = None
    if gallery_pks and wanted is None and settings.biometry_abis_shards > 0:
        try:
            resident = _identify_resident(session=session, settings=settings, store=store,
                                          engine=engine, probe=probe, probe_pk=probe_pk,
                                          current=inserted_by, max_results=max_results)
        except ShardError as exc:  # the gallery is dropped and rebuilt at the next search
            log.error("ABIS identify: the resident gallery failed (%s); searching the "
                      "sealed gallery instead", exc)
    if resident is not None:
        found = resident
    elif gallery_pks:
        found = engine.identify(probe, _reference_probes(session, store, gallery_pks),
                                max_results=max_results)
    candidates = [{"referenceId": names[c.reference_id],
                   "analytics": {"internalScore": f"{c.score:.0f}",
                                 "confidence": engine.band(c.score)},
                   "modalities": _modalities(c.scores)}
                  for c in found if c.score >= threshold and c.reference_id in names]
    return messages.success(message.id, message.requestId, candidateList={
        "count": str(len(candidates)), "candidates": candidates,
        "analytics": {"threshold": f"{threshold:.0f}",
                      "gallerySize": str(len(gallery_pks))}})


def _identify_resident(*, session: Session, settings: Settings, store: MasterKeyStore,
                       engine: MatchingEngine, probe: Probe, probe_pk: int | None,
                       current: dict[int, str], max_results: int) -> list[Candidate]:
    """What :meth:`MatchingEngine.identify` answers, with the resident sharded gallery
    proposing the short list that alone is unsealed and re-scored."""
    gallery = resident_gallery(settings.effective_database_url,
                               settings.biometry_abis_shards, "abis")
    return gallery.identify(probe, current=current, engine=engine, max_results=max_results,
                            exclude=probe_pk, shortlist=SHORTLIST,
                            load=lambda pks: _reference_probes(session, store, pks))


def _modalities(scores: dict[str, float]) -> list[dict[str, Any]]:
    best: dict[str, float] = {}
    for key, value in scores.items():
        kind = _BIOMETRIC_TYPES.get(key.split(":", 1)[0])
        if kind is not None:
            best[kind] = max(best.get(kind, 0.0), value)
    return [{"biometricType": kind, "analytics": {"internalScore": f"{value:.0f}"}}
            for kind, value in sorted(best.items())]


def count_references(*, session: Session) -> int:
    """How many ABIS references are held."""
    return session.scalar(select(func.count()).select_from(AbisReference)) or 0


"""Demo data of the biometric registry (fictitious people, synthetic biometrics): persons
enrolled through deduplication, one possible duplicate waiting for an adjudicator, the
relying services, a few of their accesses, and a citizen's complaint."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lakana.biometry import citizen, persons, relying, runtime, synthetic
from lakana.biometry.models import Person, RelyingService, ServiceAccess
from lakana.core.auth.rbac import Actor
from lakana.core.cli_support import cli_settings
from lakana.core.db import utcnow

#: The citizen whose transparency page the README shows (number and phone fictitious).
DEMO_CITIZEN_PHONE = "+22370000001"
DEMO_PERSONS = 12


def load_demo(*, session: Session, actor: Actor) -> dict[str, int]:
    """Enrol the demo persons (once), register the services, record their accesses."""
    counts = relying.load_demo(session=session, actor=actor)
    if session.scalar(select(func.count()).select_from(Person)):
        return counts
    settings = cli_settings()
    store = runtime.keystore(settings)
    enrollments = synthetic.demo_people(session=session, actor=actor, store=store,
                                        engine=runtime.engine(settings), count=DEMO_PERSONS,
                                        duplicates=1)
    first = session.scalars(select(Person).where(Person.status == "active")
                            .order_by(Person.id)).first()
    if first is not None:
        found = persons.demographics_of(session=session, store=store, person=first)
        if found is not None:
            persons.seal_demographics(session=session, store=store, person=first,
                                      demographics=found.model_copy(
                                          update={"phone": DEMO_CITIZEN_PHONE}))
        services = {s.code: s for s in session.scalars(select(RelyingService))}
        now = utcnow()
        accesses = [("ceni", "verify", "voter_verification", "match", "high", 3),
                    ("ceni", "attributes", "voter_verification", "released", "", 3),
                    ("cnss", "verify", "social_security_benefit", "match", "medium", 1),
                    ("cnss", "identify", "voter_roll_deduplication", "refused", "", 0)]
        for code, operation, purpose, outcome, band, days_ago in accesses:
            if code in services:
                session.add(ServiceAccess(
                    service_id=services[code].id, person_id=first.id, operation=operation,
                    purpose=purpose, outcome=outcome, score_band=band,
                    reason="purpose not held" if outcome == "refused" else "",
                    request_id=f"demo-{code}-{operation}",
                    at=now - dt.timedelta(days=days_ago, hours=2)))
        citizen.file_complaint(session=session, person=first, body=(
            "La Caisse nationale de sécurité sociale a consulté mon dossier alors que je ne "
            "perçois aucune prestation. Je demande des explications (démonstration)."),
            service_id=services["cnss"].id if "cnss" in services else None)
    counts.update({"enrollments": len(enrollments)})
    return counts

"""Demo incidents: three fictitious cases worked by the demo analyst, loaded once."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.auth.models import User
from lakana.core.auth.rbac import system_actor
from lakana.csirt import demo, tasks_service
from lakana.csirt.models import Case, CaseNote
from lakana.registry import demo as registry_demo


def test_demo_cases(session_factory: sessionmaker[Session]) -> None:
    # Given the registry's demo institutions
    actor = system_actor("tests")
    with session_factory.begin() as session:
        registry_demo.load_demo(session=session, actor=actor)
        # When the demo incidents are loaded twice
        assert demo.load_demo(session=session, actor=actor) == {"cases": 3}
    with session_factory.begin() as session:
        assert demo.load_demo(session=session, actor=actor) == {"cases": 0}
    with session_factory() as session:
        # Then each is in the stated stage, assigned to the demo analyst
        cases = {c.title: c for c in session.scalars(select(Case))}
        analyst = session.scalar(select(User).where(User.email == demo.ANALYST[0]))
        assert analyst is not None and analyst.role == "csirt_analyst" and analyst.mfa_enabled
        assert {c.status for c in cases.values()} == {"containment", "closed",
                                                       "investigation"}
        assert all(c.assignee_id == analyst.id for c in cases.values())
        assert cases[demo.DEFACEMENT].closure_reason == "resolved"
        phishing = cases[demo.PHISHING]
        assert phishing.severity == "critical" and phishing.tasks
        notes = session.scalars(select(CaseNote).where(CaseNote.case_id == phishing.id)).all()
        assert sorted(n.tlp for n in notes) == ["amber", "red"]
        events = tasks_service.timeline(session=session, actor=actor, case_id=phishing.id)
        assert sum(e.kind == "incident" for e in events) == 3

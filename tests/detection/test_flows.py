"""Alerts leaving the domain: a CSIRT case with the alert's source addresses as observables."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.errors import Conflict, Forbidden
from lakana.csirt.models import Case
from lakana.monitoring.detection import flows, service
from lakana.monitoring.detection.models import DetectionAlert
from tests.detection import service_fixtures
from tests.detection.service_fixtures import World

world = service_fixtures.world


def test_open_case_from_alert(world: World, session_factory: sessionmaker[Session]) -> None:
    lines = [f"Dec 10 06:55:0{i} web01 sshd[1]: Invalid user u{i} from 203.0.113.9"
             for i in range(3)]
    with session_factory.begin() as session:
        service.ingest(session=session, actor=world.focal_a, lines=lines,
                       system_id=world.a_system)
    with session_factory() as session:
        (alert,) = session.scalars(select(DetectionAlert))
    with session_factory.begin() as session, pytest.raises(Forbidden):
        flows.open_case(session=session, actor=world.focal_a, alert_id=alert.id)
    with session_factory.begin() as session:
        reference = flows.open_case(session=session, actor=world.analyst, alert_id=alert.id)
    with session_factory() as session:
        (case,) = session.scalars(select(Case))
        fresh = session.get(DetectionAlert, alert.id)
        assert fresh is not None
        assert (fresh.status, fresh.case_id, fresh.case_reference) == (
            "escalated", case.id, reference)
        assert case.source == "detection" and case.institution_id == world.a
        assert case.system_id == world.a_system
        assert (case.taxonomy_class, case.taxonomy_type) == ("intrusion-attempts",
                                                             "brute-force")
        assert "203.0.113.9" in case.description and "u2" in case.description
    with session_factory.begin() as session, pytest.raises(Conflict):
        flows.open_case(session=session, actor=world.analyst, alert_id=alert.id)

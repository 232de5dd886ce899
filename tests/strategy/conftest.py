"""Strategy fixtures: actors, the institutions the shipped plan names, and plan files."""

from __future__ import annotations

import pytest
import yaml

from lakana.core.auth.rbac import system_actor
from lakana.strategy import permissions
from lakana.strategy.demo import DRAFT_PLAN
from tests.conftest import Factory

permissions.register()  # before the system actor below collects every permission
ADMIN = system_actor("tests")


def plan_acronyms() -> set[str]:
    """Every institution acronym the shipped draft plan names."""
    plan = yaml.safe_load(DRAFT_PLAN.read_text(encoding="utf-8"))
    return {acronym for axis in plan["axes"] for objective in axis["objectives"]
            for action in objective["actions"]
            for acronym in [action["lead"], *action["partners"]]}


@pytest.fixture
def institutions(factory: Factory) -> dict[str, int]:
    """The institutions of the draft plan, in the registry; their ids by acronym."""
    return {acronym: factory.institution(acronym) for acronym in sorted(plan_acronyms())}


SMALL_PLAN = """\
axes:
- code: A1
  title: Gouvernance
  objectives:
  - code: A1.O1
    title: Cadre juridique
    actions:
    - code: A1.O1.AC1
      title: Décrets d'application
      lead: MJDH
      starts_on: 2026-01-01
      ends_on: 2026-12-31
      depends_on: [A1.O1.AC3]
    - code: A1.O1.AC2
      title: Référentiel national
      lead: ANSSI-ML
      partners: [MEF]
      starts_on: 2026-01-01
      ends_on: 2026-12-31
      depends_on: [A1.O1.AC1]
      milestones:
      - {code: A1.O1.AC2.M1, title: Arrêté publié, due_on: 2026-06-30}
    - code: A1.O1.AC3
      title: Ligne budgétaire
      lead: MEF
      starts_on: 2026-01-01
      ends_on: 2026-12-31
    indicators:
    - code: IND-01
      name: Textes adoptés
      unit: textes
      baseline: {value: 1, year: 2025}
      targets: {2026: 3, 2027: 5}
"""

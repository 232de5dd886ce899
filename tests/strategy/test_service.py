"""Plan import and export: the shipped draft plan, idempotence, round trips in YAML and XLSX,
and every bad input refused with its place and nothing written."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook  # type: ignore[import-untyped]
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.audit.models import AuditEntry
from lakana.core.auth.rbac import Role
from lakana.core.errors import Conflict, Forbidden, Invalid
from lakana.strategy import service, transfer
from lakana.strategy.demo import DRAFT_PLAN
from lakana.strategy.models import StrategyAction, StrategyAxis, StrategyIndicator
from lakana.strategy.schemas import ActionUpdate
from tests.awareness.campaigns.conftest import actor_of
from tests.strategy.conftest import ADMIN, SMALL_PLAN


def _import(sf: sessionmaker[Session], content: bytes, name: str = "plan.yaml") -> object:
    with sf.begin() as session:
        return service.import_plan(session=session, actor=ADMIN, content=content,
                                   filename=name)


def _export(sf: sessionmaker[Session], fmt: str) -> bytes:
    with sf() as session:
        return service.export_plan(session=session, actor=ADMIN, fmt=fmt)


def _count(sf: sessionmaker[Session], model: type) -> int:
    with sf() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _refused(sf: sessionmaker[Session], content: bytes, name: str = "plan.yaml"
             ) -> list[dict[str, object]]:
    with pytest.raises(Invalid) as caught, sf.begin() as session:
        service.import_plan(session=session, actor=ADMIN, content=content, filename=name)
    assert _count(sf, StrategyAxis) == 0  # nothing written
    return caught.value.errors


def test_shipped_plan_imports_cleanly_and_twice_is_a_no_op(
        session_factory: sessionmaker[Session], institutions: dict[str, int]) -> None:
    # Given the shipped draft plan
    content = DRAFT_PLAN.read_bytes()
    # When it is imported
    first = _import(session_factory, content)
    # Then its three axes, about nine objectives, actions and ten indicators are there
    assert _count(session_factory, StrategyAxis) == 3
    assert _count(session_factory, StrategyIndicator) >= 10
    assert first.created > 50 and first.updated == first.deleted == 0  # type: ignore[attr-defined]
    with session_factory() as session:
        plan = service.get_plan(session=session, actor=ADMIN)
        action = plan.axes[0].objectives[0].actions[1]
        assert action.lead == "ANSSI-ML" and action.depends_on == ["A1.O1.AC1"]
        assert plan.axes[2].objectives[0].indicators[1].targets[2030] == 4
        ledgered = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    # When it is imported again, nothing changes (and nothing more is ledgered)
    second = _import(session_factory, content)
    assert (second.created, second.updated, second.deleted) == (0, 0, 0)  # type: ignore[attr-defined]
    assert _count(session_factory, AuditEntry) == ledgered


@pytest.mark.parametrize("fmt", ["yaml", "xlsx"])
def test_export_imports_back_unchanged(fmt: str, session_factory: sessionmaker[Session],
                                       institutions: dict[str, int]) -> None:
    # Given the draft plan, with an action edited by the agency
    _import(session_factory, DRAFT_PLAN.read_bytes())
    with session_factory.begin() as session:
        found = session.scalars(select(StrategyAction).where(
            StrategyAction.code == "A1.O1.AC2")).one()
        service.update_action(session=session, actor=ADMIN, action_id=found.id,
                              data=ActionUpdate(status="done", version=found.version,
                                                milestones_done=["A1.O1.AC2.M1"]))
    yaml_before = _export(session_factory, "yaml")
    # When it is exported and imported back
    exported = _export(session_factory, fmt)
    result = _import(session_factory, exported, f"plan.{fmt}")
    # Then nothing changes, and the export is the same again
    assert (result.created, result.updated, result.deleted) == (0, 0, 0)  # type: ignore[attr-defined]
    assert _export(session_factory, "yaml") == yaml_before
    assert b"done_on: 20" in yaml_before


def test_xlsx_export_is_text_only(session_factory: sessionmaker[Session],
                                  institutions: dict[str, int]) -> None:
    _import(session_factory, DRAFT_PLAN.read_bytes())
    book = load_workbook(io.BytesIO(_export(session_factory, "xlsx")))
    assert book.sheetnames == list(transfer.COLUMNS)
    assert [c.value for c in book["targets"][1]] == ["indicator", "year", "value"]
    assert all(c.data_type == "s" for row in book["actions"].iter_rows() for c in row
               if c.value is not None)


def test_a_file_without_an_entity_removes_it(session_factory: sessionmaker[Session],
                                             institutions: dict[str, int]) -> None:
    _import(session_factory, SMALL_PLAN.encode())
    smaller = SMALL_PLAN.replace("      milestones:\n      - {code: A1.O1.AC2.M1, title: Arrêté "
                                 "publié, due_on: 2026-06-30}\n", "")
    result = _import(session_factory, smaller.encode())
    assert result.deleted == 1 and result.created == 0  # type: ignore[attr-defined]


def _at(text: str, needle: str, nth: int = 0) -> int:
    """The line number of the ``nth`` line of ``text`` holding ``needle``."""
    return [n for n, line in enumerate(text.splitlines(), 1) if needle in line][nth]


def _line(errors: list[dict[str, object]], text: str) -> dict[str, object]:
    found = [e for e in errors if text in str(e["params"]) or text in str(e["message"])]
    assert found, errors
    return found[0]


def test_unknown_code_is_refused_with_its_line(session_factory: sessionmaker[Session],
                                               institutions: dict[str, int]) -> None:
    bad = SMALL_PLAN.replace("depends_on: [A1.O1.AC3]", "depends_on: [A9.O9.AC9]")
    errors = _refused(session_factory, bad.encode())
    assert _line(errors, "A9.O9.AC9")["line"] == _at(bad, "A9.O9.AC9")


def test_unknown_acronym_is_refused_with_its_line(session_factory: sessionmaker[Session],
                                                  institutions: dict[str, int]) -> None:
    bad = SMALL_PLAN.replace("partners: [MEF]", "partners: [NOPE]")
    errors = _refused(session_factory, bad.encode())
    item = _line(errors, "NOPE")
    assert item["line"] == _at(bad, "- code: A1.O1.AC2")
    assert "Unknown institution" in str(item["message"])


def test_dependency_cycle_is_refused_with_its_path_and_line(
        session_factory: sessionmaker[Session], institutions: dict[str, int]) -> None:
    # Given AC1 → AC3, AC2 → AC1, and now AC3 → AC2: a cycle
    bad = SMALL_PLAN.replace("      lead: MEF\n      starts_on",
                             "      lead: MEF\n      depends_on: [A1.O1.AC2]\n      starts_on")
    errors = _refused(session_factory, bad.encode())
    item = _line(errors, "cycle")
    assert item["params"] == {"path": "A1.O1.AC1 → A1.O1.AC3 → A1.O1.AC2 → A1.O1.AC1"}
    # reported where the dependency closing the cycle is written
    assert item["line"] == _at(bad, "depends_on: [A1.O1.AC1]")


def test_duplicate_code_and_target_outside_the_plan_are_refused(
        session_factory: sessionmaker[Session], institutions: dict[str, int]) -> None:
    bad = SMALL_PLAN.replace("code: A1.O1.AC3", "code: A1.O1.AC2").replace(
        "2027: 5}", "2031: 5}")
    errors = _refused(session_factory, bad.encode())
    assert _line(errors, "more than once")["line"] == _at(bad, "- code: A1.O1.AC2", 1)
    assert _line(errors, "2031")["line"] == _at(bad, "2031")


def test_malformed_yaml_and_non_utf8_are_refused_with_their_line(
        session_factory: sessionmaker[Session], institutions: dict[str, int]) -> None:
    broken = SMALL_PLAN.replace("title: Cadre juridique", "title: [Cadre juridique")
    assert _refused(session_factory, broken.encode())[0]["line"] in (
        _at(broken, "[Cadre"), _at(broken, "[Cadre") + 1)
    latin = SMALL_PLAN.encode("latin-1")
    assert _refused(session_factory, latin)[0]["line"] == _at(SMALL_PLAN, "Décrets")
    alias = b"axes:\n- &a {code: A1, title: Gouvernance}\n- *a\n"
    assert "alias" in str(_refused(session_factory, alias)[0]["message"])


def test_bad_xlsx_rows_name_their_sheet_and_row(session_factory: sessionmaker[Session],
                                                institutions: dict[str, int]) -> None:
    _import(session_factory, SMALL_PLAN.encode())
    book = load_workbook(io.BytesIO(_export(session_factory, "xlsx")))
    book["targets"].append(["IND-01", "2031", "9"])
    book["actions"]["E2"] = "NOPE"
    book["objectives"]["B2"] = "A9"
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(Invalid) as caught, session_factory.begin() as session:
        service.import_plan(session=session, actor=ADMIN, content=out.getvalue(),
                            filename="plan.xlsx")
    places = {(e["sheet"], e["row"]) for e in caught.value.errors}
    assert places == {("targets", 4), ("actions", 2), ("objectives", 2)}


def test_a_badly_shaped_yaml_is_refused_with_its_line(
        session_factory: sessionmaker[Session], institutions: dict[str, int]) -> None:
    shaped = "axes:\n  code: A1\n"
    assert _refused(session_factory, shaped.encode())[0]["line"] == 2
    unknown = SMALL_PLAN.replace("  title: Gouvernance\n", "  title: Gouvernance\n  owner: X\n")
    item = _refused(session_factory, unknown.encode())[0]
    assert item["line"] == 2 and "owner" in str(item["params"])


def test_action_edit_checks_version_and_permission(session_factory: sessionmaker[Session],
                                                   institutions: dict[str, int]) -> None:
    _import(session_factory, SMALL_PLAN.encode())
    with session_factory() as session:
        ident = session.scalar(select(StrategyAction.id).where(
            StrategyAction.code == "A1.O1.AC2")) or 0
    focal = actor_of(Role.FOCAL_POINT, institutions["MEF"])
    with pytest.raises(Forbidden), session_factory() as session:
        service.update_action(session=session, actor=focal, action_id=ident,
                              data=ActionUpdate(status="done", version=1))
    with pytest.raises(Conflict), session_factory() as session:
        service.update_action(session=session, actor=ADMIN, action_id=ident,
                              data=ActionUpdate(status="done", version=7))
    with session_factory.begin() as session:
        found = service.update_action(session=session, actor=ADMIN, action_id=ident,
                                      data=ActionUpdate(status="late", budget_committed=5,
                                                        version=1))
        assert found.version == 2

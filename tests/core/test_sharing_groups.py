"""Partner role and sharing groups: a partner reads nothing by default; groups are scriptable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from lakana.core.auth import sharing
from lakana.core.auth.cli import sharing_app, user_app
from lakana.core.auth.models import SharingGroupMember, User
from lakana.core.auth.rbac import Actor, CorePermission, Role, permissions_for, system_actor
from lakana.core.config import Settings
from lakana.core.errors import Conflict, Forbidden, Invalid, NotFound
from tests.conftest import PASSWORD, Factory

runner = CliRunner()


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    """Point the CLI at the test database."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LAKANA_HOME", str(settings.home))
    monkeypatch.setenv("LAKANA_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("LAKANA_SECRET_KEY", "cli-tests")
    return settings


def test_partner_role_holds_no_domain_read_permission() -> None:
    # Given the permissions every domain granted / Then a partner holds none of the reads
    held = permissions_for(Role.PARTNER)
    reads = {p for p in permissions_for(Role.INSTITUTION_VIEWER) if p.endswith(":read")}
    assert reads, "institution viewers read something"
    assert not held & reads - {CorePermission.NOTIFICATION_READ}
    assert "csirt:sharing:pull" in held


def test_groups_are_created_once_with_valid_names(db: Session) -> None:
    actor = system_actor()
    group = sharing.create_group(session=db, actor=actor, name=" ECOWAS-certs ",
                                 description="CERTs of ECOWAS")
    assert group.name == "ecowas-certs"
    with pytest.raises(Conflict):
        sharing.create_group(session=db, actor=actor, name="ecowas-certs")
    for bad in ("x", "has space", "<script>", "a" * 61, "-lead"):
        with pytest.raises(Invalid):
            sharing.create_group(session=db, actor=actor, name=bad)
    with pytest.raises(NotFound):
        sharing.get_group_by_name(session=db, name="nope")


def test_only_partners_join_and_only_administrators_manage(db: Session, factory: Factory) -> None:
    partner_id, analyst_id = factory.user(Role.PARTNER).id, factory.user(Role.CSIRT_ANALYST).id
    group = sharing.create_group(session=db, actor=system_actor(), name="g1")
    partner, analyst = db.get(User, partner_id), db.get(User, analyst_id)
    assert partner is not None and analyst is not None
    with pytest.raises(Invalid):
        sharing.add_member(session=db, actor=system_actor(), group=group, user=analyst)
    outsider = Actor(user_id=analyst.id, name=analyst.email, role=Role.CSIRT_ANALYST,
                     permissions=permissions_for(Role.CSIRT_ANALYST))
    with pytest.raises(Forbidden):
        sharing.add_member(session=db, actor=outsider, group=group, user=partner)
    sharing.add_member(session=db, actor=system_actor(), group=group, user=partner)
    sharing.add_member(session=db, actor=system_actor(), group=group, user=partner)  # idempotent
    assert sharing.group_ids_of(session=db, user_id=partner.id) == {group.id}
    assert [u.email for u in sharing.members(session=db, group_id=group.id)] == [partner.email]
    sharing.remove_member(session=db, actor=system_actor(), group=group, user=partner)
    assert sharing.group_ids_of(session=db, user_id=partner.id) == set()


def test_cli_creates_a_partner_in_a_sharing_group(cli_env: Settings, db: Session) -> None:
    # Given a group created from the CLI
    result = runner.invoke(sharing_app, ["create", "ecowas-certs",
                                 "--description", "CERTs of ECOWAS"])
    assert result.exit_code == 0, result.output
    # When a partner is created in it with the password on stdin
    result = runner.invoke(user_app, ["create", "soc@cert.example.sn", "--role", "partner",
                                 "--sharing-group", "ecowas-certs", "--password-stdin"],
                           input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "ecowas-certs" in result.output
    # Then the membership exists and the listing shows it
    user = db.scalar(select(User).where(User.email == "soc@cert.example.sn"))
    assert user is not None and user.role == "partner" and user.institution_id is None
    assert db.scalar(select(SharingGroupMember).where(SharingGroupMember.user_id == user.id))
    listed = json.loads(runner.invoke(sharing_app, ["list", "--json"]).output)
    assert listed[0]["members"] == ["soc@cert.example.sn"]


def test_cli_refuses_unknown_group_and_groups_for_other_roles(cli_env: Settings,
                                                              db: Session) -> None:
    result = runner.invoke(user_app, ["create", "a@cert.example.sn", "--role", "partner",
                                 "--sharing-group", "missing", "--password-stdin"],
                           input=PASSWORD + "\n")
    assert result.exit_code != 0
    # Nothing half-written: the account was not created without its group
    assert db.scalar(select(User).where(User.email == "a@cert.example.sn")) is None
    result = runner.invoke(user_app, ["create", "b@agency.example.ml", "--role", "auditor",
                                 "--sharing-group", "x", "--password-stdin"],
                           input=PASSWORD + "\n")
    assert result.exit_code != 0 and "partner" in result.output

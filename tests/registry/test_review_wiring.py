"""Review: the registry plugs its institutions into the core's account pages and dashboard."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role
from tests.conftest import Factory


def test_admin_user_form_offers_the_registered_institutions(
        factory: Factory, login_as: Callable[[User], TestClient]) -> None:
    # Given a registered institution (and no test double for the core's hook)
    factory.institution("MEF", name="Ministère de l'Économie et des Finances")
    client = login_as(factory.user(Role.PLATFORM_ADMIN))
    # When the administrator opens the new-account form
    page = client.get("/admin/users/new")
    # Then the institution can be chosen for a focal point
    assert page.status_code == 200
    assert "MEF" in page.text


def test_focal_point_home_names_their_institution(
        factory: Factory, login_as: Callable[[User], TestClient]) -> None:
    # Given a focal point of an institution
    inst = factory.institution("DNTT", name="Direction nationale des transports")
    client = login_as(factory.user(Role.FOCAL_POINT, institution_id=inst))
    # When they open the home page / Then it names their institution
    assert "Direction nationale des transports" in client.get("/").text

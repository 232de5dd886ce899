"""HTML pages of remediation actions: list with overdue badge, forms with CSRF and versions."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from lakana.core.auth.rbac import Role
from tests.conftest import Factory, csrf_from


def test_focal_point_creates_edits_and_lists_actions(
        factory: Factory, login_as: Callable[..., TestClient]) -> None:
    a = factory.institution("AAA")
    browser = login_as(factory.user(Role.FOCAL_POINT, institution_id=a))
    page = browser.get("/compliance/actions/new")
    assert page.status_code == 200 and 'name="csrf_token"' in page.text
    form = {"csrf_token": csrf_from(page.text), "institution_id": str(a),
            "title": "Sauvegardes hors ligne", "description": "", "owner": "Awa",
            "due_date": "2020-01-15", "priority": "high", "control_id": ""}
    # Inline error, input kept
    bad = browser.post("/compliance/actions/new", data={**form, "title": ""})
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text
    assert 'value="Awa"' in bad.text
    saved = browser.post("/compliance/actions/new", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text[:400]
    listing = browser.get("/compliance/actions?overdue=true")
    assert "Sauvegardes hors ligne" in listing.text and "badge danger\">En retard<" in listing.text
    found = re.search(r"/compliance/actions/(\d+)/edit", listing.text)
    assert found is not None
    edit_path = f"{found.group(1)}/edit"
    edit = browser.get(f"/compliance/actions/{edit_path}")
    assert 'name="version" value="1"' in edit.text
    done = browser.post(f"/compliance/actions/{edit_path}",
                        data={**form, "csrf_token": csrf_from(edit.text), "status": "done",
                              "version": "1"}, follow_redirects=False)
    assert done.status_code == 303
    stale = browser.post(f"/compliance/actions/{edit_path}",
                         data={**form, "csrf_token": csrf_from(edit.text), "owner": "Moussa",
                               "status": "open", "version": "1"})
    assert stale.status_code == 409 and 'value="Moussa"' in stale.text
    assert "badge danger\">En retard<" not in browser.get("/compliance/actions").text


def test_post_without_csrf_is_refused(factory: Factory,
                                      login_as: Callable[..., TestClient]) -> None:
    a = factory.institution("AAA")
    browser = login_as(factory.user(Role.FOCAL_POINT, institution_id=a))
    refused = browser.post("/compliance/actions/new",
                           data={"institution_id": str(a), "title": "X"})
    assert refused.status_code == 403

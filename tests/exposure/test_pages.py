"""The exposure pages: dashboard, institution, findings, triage form, scans, feeds, letter."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.auth.rbac import Role
from lakana.monitoring.exposure.models import ExposureFinding
from tests.conftest import Factory, csrf_from
from tests.exposure.test_api import KEV, make_finding, make_scan, two  # noqa: F401

XSS = '<script>alert("x")</script>'


def test_institution_user_lands_on_their_page(
        two: dict[str, int], factory: Factory,  # noqa: F811
        login_as: Callable[..., TestClient]) -> None:
    # Given a focal point of A
    client = login_as(factory.user(Role.FOCAL_POINT, institution_id=two["a"]))
    # When they open the dashboard
    response = client.get("/exposure", follow_redirects=False)
    # Then they are sent to their institution's page, which shows their finding only
    assert response.status_code == 303
    assert response.headers["location"] == f"/exposure/institutions/{two['a']}"
    page = client.get(response.headers["location"])
    assert page.status_code == 200
    assert f"/exposure/findings/{two['finding_a']}" in page.text
    assert client.get(f"/exposure/institutions/{two['b']}").status_code == 404
    assert client.get(f"/exposure/findings/{two['finding_b']}").status_code == 404
    assert client.get(f"/exposure/scans/{two['scan_b']}").status_code == 404


def test_national_dashboard_lists_worst_first(
        two: dict[str, int], factory: Factory,  # noqa: F811
        login_as: Callable[..., TestClient]) -> None:
    client = login_as(factory.user(Role.AUDITOR))
    page = client.get("/exposure")
    assert page.status_code == 200
    assert "AAA" in page.text and "BBB" in page.text
    assert client.get("/exposure/findings?severity=critical").text.count(
        "/exposure/findings/") >= 1
    assert client.get("/exposure/findings?status=bogus").status_code == 422
    assert client.get("/exposure/findings/abc").status_code == 422


def test_finding_page_escapes_evidence_and_triages(
        two: dict[str, int], factory: Factory,  # noqa: F811
        session_factory: sessionmaker[Session], login_as: Callable[..., TestClient]) -> None:
    # Given a finding whose evidence a hostile server wrote
    finding_id = make_finding(session_factory, two["a"], subject=XSS,
                              evidence={"body": XSS, "nested": {"k": [1, 2]}})
    client = login_as(factory.user(Role.CSIRT_ANALYST))
    # When an analyst opens it
    page = client.get(f"/exposure/findings/{finding_id}")
    # Then the evidence is shown pretty-printed and escaped, with the triage form
    assert page.status_code == 200
    assert XSS not in page.text and "&lt;script&gt;" in page.text
    assert '"nested": {' in page.text.replace("&#34;", '"')
    assert f'action="/exposure/findings/{finding_id}/triage"' in page.text
    csrf = csrf_from(page.text)
    # When they accept the risk without a reason, then with one
    refused = client.post(f"/exposure/findings/{finding_id}/triage",
                          data={"csrf_token": csrf, "status": "accepted", "reason": "",
                                "version": "1"})
    assert refused.status_code == 422
    bad = client.post(f"/exposure/findings/{finding_id}/triage",
                      data={"csrf_token": csrf, "status": "nope", "reason": "x"})
    assert bad.status_code == 422
    done = client.post(f"/exposure/findings/{finding_id}/triage",
                       data={"csrf_token": csrf, "status": "accepted",
                             "reason": "Serveur de test", "version": "1"},
                       follow_redirects=False)
    # Then the decision is saved
    assert done.status_code == 303
    with session_factory() as session:
        finding = session.get(ExposureFinding, finding_id)
        assert finding is not None and finding.status == "accepted"
    # And a form without CSRF token is refused
    assert client.post(f"/exposure/findings/{finding_id}/triage",
                       data={"status": "open"}).status_code == 403


def test_focal_point_sees_no_triage_form_and_is_refused(
        two: dict[str, int], factory: Factory,  # noqa: F811
        login_as: Callable[..., TestClient]) -> None:
    client = login_as(factory.user(Role.FOCAL_POINT, institution_id=two["a"]))
    page = client.get(f"/exposure/findings/{two['finding_a']}")
    assert page.status_code == 200 and "/triage" not in page.text
    response = client.post(f"/exposure/findings/{two['finding_a']}/triage",
                           data={"csrf_token": csrf_from(page.text), "status": "open"})
    assert response.status_code == 403
    case = client.post(f"/exposure/findings/{two['finding_a']}/case",
                       data={"csrf_token": csrf_from(page.text)})
    assert case.status_code == 403


def test_scan_pages_and_htmx_fragment(
        two: dict[str, int], factory: Factory,  # noqa: F811
        session_factory: sessionmaker[Session], login_as: Callable[..., TestClient]) -> None:
    # Given a running scan of A
    running = make_scan(session_factory, two["a"], status="running", targets_total=10,
                        targets_done=4, finished_at=None)
    client = login_as(factory.user(Role.CSIRT_ANALYST))
    # When the page is opened, then polled by htmx
    page = client.get(f"/exposure/scans/{running}")
    fragment = client.get(f"/exposure/scans/{running}", headers={"HX-Request": "true"})
    # Then it polls every 2 s while running, and the fragment is only the progress block
    assert page.status_code == 200 and 'hx-trigger="every 2s"' in page.text
    assert "4 / 10" in page.text
    assert fragment.text.lstrip().startswith('<div id="scan-progress"')
    done = client.get(f"/exposure/scans/{two['scan_a']}")
    assert 'hx-trigger' not in done.text
    assert client.get("/exposure/scans").status_code == 200
    form = client.get("/exposure/scans/new")
    assert form.status_code == 200
    refused = client.post("/exposure/scans/new",
                          data={"csrf_token": csrf_from(form.text),
                                "institution_id": str(two["a"])})
    assert refused.status_code == 422  # no registered endpoint


def test_feed_page_imports_and_refuses(factory: Factory,
                                       login_as: Callable[..., TestClient]) -> None:
    client = login_as(factory.user(Role.CSIRT_ANALYST))
    page = client.get("/exposure/feeds")
    csrf = csrf_from(page.text)
    bad = client.post("/exposure/feeds", data={"csrf_token": csrf, "source": "kev"},
                      files={"file": ("kev.json", b"\xff\xfenot json")})
    assert bad.status_code == 422 and 'role="alert"' in bad.text
    done = client.post("/exposure/feeds", data={"csrf_token": csrf, "source": "kev"},
                       files={"file": ("kev.json", KEV)}, follow_redirects=False)
    assert done.status_code == 303
    assert "kev.json" in client.get("/exposure/feeds").text
    focal = login_as(factory.user(Role.FOCAL_POINT))
    assert focal.get("/exposure/feeds").status_code == 403


def test_letter_and_csv_downloads(two: dict[str, int], factory: Factory,  # noqa: F811
                                  login_as: Callable[..., TestClient]) -> None:
    client = login_as(factory.user(Role.FOCAL_POINT, institution_id=two["a"]))
    letter = client.get(f"/exposure/institutions/{two['a']}/letter.pdf")
    assert letter.status_code == 200
    assert letter.headers["content-type"] == "application/pdf"
    assert letter.content.startswith(b"%PDF")
    assert client.get(f"/exposure/institutions/{two['b']}/letter.pdf").status_code == 404
    csv = client.get("/exposure/findings.csv?status=open")
    assert csv.status_code == 200 and "tls.protocol.tls1_0" in csv.text
    assert "paths.git" not in csv.text

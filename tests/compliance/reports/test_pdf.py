"""Printable reports: PDF responses, their HTML previews, and the offline URL fetcher."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from lakana.compliance.reports import pdf
from lakana.core.auth.rbac import Role
from lakana.core.web import pdf as core_pdf
from tests.compliance.reports.conftest import Reports
from tests.conftest import Factory

Client = Callable[..., TestClient]


def test_fetcher_refuses_every_url_but_data() -> None:
    fetcher = core_pdf.OfflineFetcher()
    for url in ("http://127.0.0.1:9/x.css", "https://example.org/f.woff2",
                "file:///etc/passwd", "ftp://example.org/x"):
        with pytest.raises(ValueError, match="refused"):
            fetcher.fetch(url)
    assert fetcher.fetch("data:text/plain,bonjour").read() == b"bonjour"


def test_rendering_never_opens_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a page pointing at external resources, and a network that must not be touched
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("WeasyPrint tried to open a URL")

    monkeypatch.setattr(urllib.request.OpenerDirector, "open", no_network)
    html = ('<html><head><link rel="stylesheet" href="http://127.0.0.1:9/x.css"></head>'
            '<body><img src="http://127.0.0.1:9/x.png"><p>Bonjour</p></body></html>')
    # When it is rendered, then a PDF comes out all the same
    assert pdf.to_pdf(html).startswith(b"%PDF")


def test_institution_pdf_and_preview(reports: Reports, factory: Factory,
                                     login_as: Client) -> None:
    # Given the focal point of AG1, logged in
    browser = login_as(factory.user(Role.FOCAL_POINT, institution_id=reports.ag1))
    base = f"/compliance/campaigns/{reports.c2026}/institutions/{reports.ag1}/report"
    # When it downloads its report as PDF
    response = browser.get(f"/api/v1{base}.pdf")
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF") and len(response.content) > 10_000
    # Then the print preview shows the same figures, in French
    page = browser.get(base)
    assert page.status_code == 200
    text = page.text
    assert "Rapport de conformité" in text and 'class="badge big medium">60.0 / 100' in text
    assert "2e sur 4" in text  # rank among the 4 scored agencies
    assert "+Segmenter le réseau" in text and "En retard" in text  # overdue action
    assert "net-1" in text  # a gap
    for other in ("AG2", "AG3", "AG4", "HYPERLINK"):
        assert other not in text
    assert 'style="' not in text and "<script>" not in text
    assert f'href="/api/v1{base}.pdf"' in text


def test_national_pdf_and_preview(reports: Reports, factory: Factory,
                                  login_as: Client) -> None:
    browser = login_as(factory.user(Role.AGENCY_OFFICER))
    response = browser.get(f"/api/v1/compliance/campaigns/{reports.c2026}/report.pdf")
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF") and len(response.content) > 10_000
    page = browser.get(f"/compliance/campaigns/{reports.c2026}/report")
    assert page.status_code == 200
    text = page.text
    assert "Rapport national de conformité" in text
    assert 'class="badge big ok">72.7 / 100' in text  # national score
    assert ">76.7<" in text and ">50.0<" in text  # domains
    assert ">54.3<" in text  # the 2025 point of the trend
    assert "MIN" in text and "Ministères" in text
    assert 'style="' not in text


def test_national_report_is_for_the_agency(reports: Reports, factory: Factory,
                                           login_as: Client) -> None:
    browser = login_as(factory.user(Role.FOCAL_POINT, institution_id=reports.ag1))
    assert browser.get(f"/api/v1/compliance/campaigns/{reports.c2026}/report.pdf"
                       ).status_code == 403
    assert browser.get(f"/compliance/campaigns/{reports.c2026}/report").status_code == 403
    # and another institution's report does not exist for it
    assert browser.get(f"/api/v1/compliance/campaigns/{reports.c2026}/institutions/"
                       f"{reports.ag2}/report.pdf").status_code == 404

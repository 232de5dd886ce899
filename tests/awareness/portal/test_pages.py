"""The public portal: every page answers without an account, in French or English, and
stays light (HTML and every asset it references under 100 KB, nothing from another host)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from lakana.awareness.portal import service
from lakana.core.auth.rbac import system_actor
from lakana.core.config import Settings
from lakana.csirt import advisories, advisory_demo
from tests.conftest import csrf_from

#: The portal's own pages, then the public services it links to.
PORTAL_PAGES = ("/portail", "/portail/conseils")
LINKED_PAGES = ("/advisories", "/public/report", "/public/status", "/certificats/verifier")
BUDGET = 100 * 1024
ASSET = re.compile(r"<(?:link|script|img|source|iframe|embed|object)\b[^>]*?\b"
                   r"(?:href|src|data)=\"([^\"]+)\"", re.IGNORECASE)
CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)|@import\s+['\"]([^'\"]+)")


def _assets(html: str) -> list[str]:
    return ASSET.findall(html)


def _is_external(url: str) -> bool:
    return bool(re.match(r"^(?:[a-z][a-z0-9+.-]*:)?//", url, re.IGNORECASE)) and \
        not url.startswith(("http://testserver/", "https://testserver/"))


@pytest.mark.parametrize("path", PORTAL_PAGES + LINKED_PAGES)
def test_page_is_public_light_and_self_contained(client: TestClient, path: str) -> None:
    # Given an anonymous visitor
    # When they open the page
    page = client.get(path, follow_redirects=False)
    # Then it answers without an account
    assert page.status_code == 200, (path, page.status_code)
    total = len(page.content)
    seen: set[str] = set()
    for url in _assets(page.text):
        # And every asset it references comes from the same origin
        assert not _is_external(url), (path, url)
        if url in seen or url.startswith("data:"):
            continue
        seen.add(url)
        asset = client.get(url)
        assert asset.status_code == 200, (path, url)
        total += len(asset.content)
        if url.endswith(".css"):
            for found in CSS_URL.findall(asset.text):
                ref = found[0] or found[1]
                assert not _is_external(ref), (url, ref)
    # And the whole transfer stays under the budget of a slow mobile connection
    assert total < BUDGET, (path, total)


def test_portal_home_links_to_every_public_service(client: TestClient) -> None:
    page = client.get("/portail")
    assert "La sécurité numérique pour tous" in page.text
    for link in ("/portail/conseils", "/advisories", "/public/report", "/public/status",
                 "/certificats/verifier"):
        assert f'href="{link}"' in page.text, link
    for topic in service.advice("fr"):
        assert f'href="/portail/conseils#{topic.slug}"' in page.text


def test_advice_follows_the_visitors_language(client: TestClient) -> None:
    # Given a French-speaking visitor (the default)
    french = client.get("/portail/conseils")
    assert "Mots de passe et double authentification" in french.text
    assert "Orange Money" in french.text and 'lang="fr"' in french.text
    # When they switch to English with the language selector
    switched = client.post("/language", data={
        "csrf_token": csrf_from(french.text), "language": "en", "next": "/portail/conseils"},
        follow_redirects=False)
    assert switched.status_code in (302, 303)
    english = client.get("/portail/conseils")
    # Then the advice and the page are in English
    assert "Passwords and two-step verification" in english.text
    assert "Security advice" in english.text and 'lang="en"' in english.text
    assert "Mots de passe et double authentification" not in english.text


def test_browser_language_is_honoured_without_a_cookie(client: TestClient) -> None:
    page = client.get("/portail", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "Digital security for everyone" in page.text
    assert "Protecting children online" in page.text


def test_every_topic_is_written_in_french_and_english() -> None:
    french, english = service.advice("fr"), service.advice("en")
    assert len(french) == len(english) == 8
    assert [t.slug for t in french] == [t.slug for t in english]
    assert len({t.slug for t in french}) == 8
    for fr, en in zip(french, english, strict=True):
        assert fr.title != en.title and fr.tips and len(fr.tips) == len(en.tips)
    # An unknown language falls back to French
    assert service.advice("bm")[0].title == french[0].title


def test_portal_home_lists_the_latest_public_advisories(
        client: TestClient, session_factory: sessionmaker[Session], settings: Settings) -> None:
    # Given a public advisory published by the CSIRT
    actor = system_actor("tests")
    with session_factory.begin() as session:
        draft = advisories.create_advisory(
            session=session, actor=actor,
            data=advisories.AdvisoryCreate.model_validate(advisory_demo.SCAM))
        published = advisories.publish(session=session, actor=actor, settings=settings,
                                       advisory_id=draft.id, version=draft.version)
        tracking_id, title = published.tracking_id, published.title_fr
    # When an anonymous visitor opens the portal
    page = client.get("/portail")
    # Then it links to the advisory
    assert f'href="/advisories/{tracking_id}"' in page.text
    assert title.replace("'", "&#39;") in page.text
    assert client.get(f"/advisories/{tracking_id}").status_code == 200


def test_the_login_page_links_to_the_public_portal(client: TestClient) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert 'href="/portail"' in page.text and "Portail public" in page.text

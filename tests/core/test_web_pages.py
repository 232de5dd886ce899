"""The web shell: home dashboard per role, navigation, accessibility, htmx behaviour."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser

from fastapi.testclient import TestClient

from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role
from lakana.core.web.templating import STATIC_DIR
from tests.conftest import Factory

Login = Callable[[User], TestClient]


class _Form(HTMLParser):
    """Collects form controls and the ids of their labels."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.depth_in_label = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "label":
            self.depth_in_label += 1
            if found.get("for"):
                self.label_for.add(str(found["for"]))
        if tag in ("input", "select", "textarea") and found.get("type") not in (
                "hidden", "submit"):
            self.controls.append({**found, "wrapped": "yes" if self.depth_in_label else None})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.depth_in_label -= 1


def _unlabelled(html: str) -> list[str]:
    parser = _Form()
    parser.feed(html)
    return [str(c.get("name")) for c in parser.controls
            if not c["wrapped"] and c.get("id") not in parser.label_for
            and not c.get("aria-label")]


def test_anonymous_pages_show_no_navigation(client: TestClient) -> None:
    # Given an anonymous browser / When it opens the log-in page
    page = client.get("/login")
    # Then it has a language, a skip link, labelled fields, and no main navigation
    assert '<html lang="fr">' in page.text
    assert 'class="skip-link" href="#content"' in page.text and 'id="content"' in page.text
    assert 'class="main"' not in page.text
    assert _unlabelled(page.text) == []


def test_home_for_an_administrator(login_as: Login, factory: Factory) -> None:
    # Given an administrator and two more accounts
    factory.user(Role.AUDITOR)
    factory.user(Role.AUDITOR)
    page = login_as(factory.user(Role.PLATFORM_ADMIN)).get("/")
    # Then the home page shows the accounts block with the count and links to the ledger
    assert page.status_code == 200
    assert "Comptes" in page.text and '<p class="stat">3</p>' in page.text
    assert 'href="/admin/users"' in page.text and "Activité récente du registre" in page.text
    # And the navigation marks the current page
    assert re.search(r'<a href="/" aria-current="page">', page.text)


def test_home_for_an_auditor(login_as: Login, factory: Factory) -> None:
    # Given an auditor / Then the home page asks them to verify the ledger
    page = login_as(factory.user(Role.AUDITOR)).get("/")
    assert "Vérifier le registre d'audit" in page.text.replace("&#39;", "'")
    assert "Gérer les utilisateurs" not in page.text


def test_home_for_a_focal_point(login_as: Login, factory: Factory,
                                institution: Callable[[str], int],
                                institution_choices: None) -> None:
    # Given a focal point of an institution known through the plug-in hook
    user = factory.user(Role.FOCAL_POINT, institution_id=institution("MSAN"), mfa=False)
    page = login_as(user).get("/")
    # Then the home page names their institution and hides administration
    assert "Votre institution" in page.text and "MSAN" in page.text
    assert 'href="/admin/users"' not in page.text


def test_every_control_is_labelled(login_as: Login, factory: Factory) -> None:
    # Given an administrator / When the forms of the core are rendered
    target = factory.user(Role.AUDITOR)
    client = login_as(factory.user(Role.PLATFORM_ADMIN))
    for path in ("/", "/account", "/account/password", "/admin/users", "/admin/users/new",
                 f"/admin/users/{target.id}"):
        page = client.get(path)
        # Then each visible control has a label
        assert page.status_code == 200, path
        assert _unlabelled(page.text) == [], path
        assert '<html lang="fr">' in page.text


def test_english_pages(login_as: Login, factory: Factory) -> None:
    # Given an English-speaking account / Then pages are in English with lang="en"
    page = login_as(factory.user(Role.AUDITOR, language="en")).get("/")
    assert '<html lang="en">' in page.text and "Verify the audit ledger" in page.text


def test_htmx_request_with_expired_session_redirects_the_whole_page(client: TestClient) -> None:
    # Given an expired session / When htmx asks for a fragment
    client.cookies.set("lakana_session", "expired")
    response = client.get("/admin/users?q=x", headers={"HX-Request": "true"},
                          follow_redirects=False)
    # Then htmx is told to load the log-in page (not to swap it into the table)
    assert response.headers["hx-redirect"].startswith("/login?next=/admin/users")
    assert "expired=1" in response.headers["hx-redirect"]


def test_stylesheet_is_responsive_and_shows_focus() -> None:
    # Given the stylesheet / Then it has focus outlines, a small-screen layout and print rules
    css = (STATIC_DIR / "lakana.css").read_text()
    assert ":focus" in css and "outline" in css
    assert "@media (max-width" in css and "@media print" in css
    assert "prefers-reduced-motion" in css


def test_htmx_is_vendored(client: TestClient) -> None:
    # Given the base page / Then htmx is served from our own static folder
    page = client.get("/login")
    assert 'src="/static/vendor/htmx/htmx.min.js"' in page.text
    assert client.get("/static/vendor/htmx/htmx.min.js").status_code == 200

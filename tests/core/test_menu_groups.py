"""The main navigation: top-level links, and submenus gathering a domain's pages."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from lakana.core.auth.models import User
from lakana.core.auth.rbac import Role
from lakana.core.plugins import MenuEntry
from lakana.core.web.templating import group_menu
from tests.conftest import Factory


def test_entries_of_a_group_gather_where_the_first_appears() -> None:
    # Given entries in menu order, two of them in one group, apart
    entries = [MenuEntry("A", "/a", None), MenuEntry("B1", "/b/1", None, group="B"),
               MenuEntry("C", "/c", None), MenuEntry("B2", "/b/2", None, group="B")]
    # When grouped while /b/2/x is shown
    groups = group_menu(entries, "/b/2/x")
    # Then the group sits where its first entry was, holds both, and is current
    assert [(g.label, [e.label for e in g.entries], g.current) for g in groups] == [
        ("", ["A"], False), ("B", ["B1", "B2"], True), ("", ["C"], False)]


def test_the_page_shows_submenus_in_french(factory: Factory,
                                           login_as: Callable[[User], TestClient]) -> None:
    # Given a CSIRT analyst (many incident-response pages)
    browser = login_as(factory.user(Role.CSIRT_ANALYST))
    # When they open an incident page
    page = browser.get("/csirt/cases")
    assert page.status_code == 200
    # Then incident response is one submenu, marked current, holding its pages
    match = re.search(r'<details class="menu-group">\s*<summary class="current">'
                      r'Réponse aux incidents</summary>(.*?)</details>', page.text, re.S)
    assert match is not None
    assert 'href="/csirt/cases"' in match.group(1) and 'href="/csirt/queue"' in match.group(1)
    # And the registry stays top-level
    nav = page.text.split('<nav class="main"', 1)[1].split("</nav>", 1)[0]
    assert re.search(r'^\s*<a href="/registry/institutions"', nav, re.M)

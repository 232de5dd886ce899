"""Review: a notification's link can never lead off the site (it is followed by a redirect)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.errors import Invalid
from lakana.core.notifications import service


@pytest.mark.parametrize("link", ["/\\evil.example", "/\\/evil.example", "/\t/evil.example",
                                  "/ /evil.example", "/\r\nSet-Cookie:x=1"])
def test_links_that_browsers_read_as_foreign_are_refused(
        session_factory: sessionmaker[Session], link: str) -> None:
    # Given a link that starts with one slash but that browsers normalise to "//host"
    with session_factory() as session, pytest.raises(Invalid):
        # When a notification carries it / Then it is refused
        service.notify(session=session, user_ids=[1], title="x", link=link)

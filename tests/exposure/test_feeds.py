"""Importing the CISA KEV and NVD CVE 2.0 feeds, and the in-memory index."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lakana.core.auth.rbac import Actor, Role, permissions_for
from lakana.core.errors import Forbidden, Invalid
from lakana.monitoring.exposure import feeds
from lakana.monitoring.exposure.models import FeedImport, KnownVulnerability
from lakana.monitoring.exposure.permissions import ExposurePermission

DATA = Path(__file__).parent / "data"
# The analyst's permissions, explicit so the test does not depend on the role table.
ACTOR = Actor(user_id=None, name="analyst", role=None,
              permissions=frozenset({ExposurePermission.FEEDS_MANAGE, ExposurePermission.READ}))


def _import(db: Session, source: str, name: str) -> FeedImport:
    return feeds.import_feed(session=db, actor=ACTOR, source=source,
                             data=(DATA / name).read_bytes(), filename=name)


def _count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(KnownVulnerability)) or 0


@pytest.mark.parametrize(("version", "other", "expected"), [
    ("2.4.49", "2.4.50", -1), ("2.4.9", "2.4.49", -1), ("7.4p1", "7.4", 1),
    ("7.4p1", "7.4p2", -1), ("1.0.2k", "1.0.2", 1), ("1.0.1", "1.0a", 1),
    ("1.18.0", "1.18.0", 0), ("9.3p2", "9.3", 1), ("8.5", "10.0", -1),
])
def test_version_comparison(version: str, other: str, expected: int) -> None:
    # Given two versions, Then the tolerant key orders them as a person would
    a, b = feeds.version_key(version), feeds.version_key(other)
    assert (a > b) - (a < b) == expected


def test_nvd_import_and_lookup(db: Session) -> None:
    # Given the NVD sample, When imported
    feed = _import(db, "nvd", "nvd_sample.json")
    # Then each vulnerable CPE match is a row (the non-vulnerable one is skipped)
    assert feed.entries == 4 and feed.feed_version == "2024-06-01T00:00:00.000"
    index = feeds.load_index(db)
    # And the ranges match by product alias and version
    assert [h["cve_id"] for h in index.lookup("nginx", "1.18.0")] == ["CVE-2021-23017"]
    assert index.lookup("nginx", "1.20.1") == []
    assert index.lookup("openssh", "7.4p1")[0]["cvss_score"] == 9.8
    assert index.lookup("openssh", "9.3p2") == []
    assert [h["cve_id"] for h in index.lookup("apache_httpd", "2.4.49")] == ["CVE-2021-41773"]
    assert index.lookup("apache_httpd", "2.4.50") == []


def test_kev_marks_nvd_ranges_known_exploited(db: Session) -> None:
    # Given both feeds (KEV first: the order does not matter)
    _import(db, "kev", "kev_sample.json")
    _import(db, "nvd", "nvd_sample.json")
    index = feeds.load_index(db)
    # Then the KEV CVE with NVD ranges applies only within them, as known exploited
    hit = index.lookup("apache_httpd", "2.4.49")[0]
    assert hit["known_exploited"] and hit["ransomware"] and hit["cvss_score"] == 7.5
    assert index.lookup("apache_httpd", "2.4.50") == []
    # And a KEV-only CVE applies to every version of its product
    assert any(h["cve_id"] == "CVE-2099-0001" and h["known_exploited"]
               for h in index.lookup("openssh", "9.9p1"))


def test_reimport_is_idempotent(db: Session) -> None:
    # Given a feed imported once, When the same bytes are imported again
    first = _import(db, "nvd", "nvd_sample.json")
    rows = _count(db)
    again = _import(db, "nvd", "nvd_sample.json")
    # Then nothing is duplicated
    assert again.id == first.id and _count(db) == rows
    assert len(feeds.list_imports(session=db, actor=ACTOR)) == 1


@pytest.mark.parametrize(("source", "name", "message"), [
    ("nvd", "nvd_truncated.json", "line 4, column"),
    ("nvd", "nvd_missing_id.json", "vulnerabilities[1].cve.id: missing"),
    ("kev", "kev_bad_cve.json", "vulnerabilities[1].cveID: not a CVE identifier"),
    ("kev", "nvd_sample.json", "vulnerabilities[0].cveID: missing"),
    ("nvd", "kev_sample.json", "format: missing"),
])
def test_malformed_feed_refused_with_position(db: Session, source: str, name: str,
                                              message: str) -> None:
    # Given a malformed file, When imported, Then Invalid names the position
    with pytest.raises(Invalid) as caught:
        _import(db, source, name)
    assert message in str(caught.value)
    # And nothing was written
    assert _count(db) == 0
    assert db.scalar(select(func.count()).select_from(FeedImport)) == 0


def test_non_utf8_and_oversized_refused(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given bytes that are not UTF-8, Then they are refused with the byte offset
    with pytest.raises(Invalid, match="byte 3"):
        feeds.import_feed(session=db, actor=ACTOR, source="kev", data=b'{"a\xff"}',
                          filename="x.json")
    # Given a file over the cap, Then it is refused before parsing
    monkeypatch.setattr(feeds, "MAX_FEED_BYTES", 10)
    with pytest.raises(Invalid, match="larger"):
        feeds.import_feed(session=db, actor=ACTOR, source="kev", data=b"{}" * 10,
                          filename="x.json")


def test_import_requires_feeds_permission(db: Session) -> None:
    # Given an institution focal point, When importing, Then it is forbidden
    actor = Actor(user_id=None, name="focal", role=Role.FOCAL_POINT, institution_id=1,
                  permissions=permissions_for(Role.FOCAL_POINT))
    with pytest.raises(Forbidden):
        feeds.import_feed(session=db, actor=actor, source="kev", data=b"{}", filename="x.json")

"""Demo data: the baseline catalogs and profiles shipped with Lakana (``data/``).

Catalogs load first, then profiles (which import catalog versions); loading twice changes
nothing, since the same version with the same content is a no-op.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from lakana.compliance import service
from lakana.core.auth.rbac import Actor

DATA_DIR = Path(__file__).parent / "data"


def shipped_files(kind: str) -> list[Path]:
    """The shipped OSCAL files of ``kind`` (``catalogs`` or ``profiles``), by name."""
    return sorted((DATA_DIR / kind).glob("*.json"))


def load_demo(*, session: Session, actor: Actor) -> dict[str, int]:
    """Import every shipped catalog, then every shipped profile; returns what was new."""
    counts = {"catalogs": 0, "profiles": 0}
    for path in shipped_files("catalogs"):
        _, created = service.import_catalog(session=session, actor=actor,
                                            content=path.read_bytes())
        counts["catalogs"] += created
    for path in shipped_files("profiles"):
        _, created = service.import_profile(session=session, actor=actor,
                                            content=path.read_bytes())
        counts["profiles"] += created
    return counts

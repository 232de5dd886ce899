"""The ECSF role profiles and the staffing each criticality tier requires, read from the data
file shipped with the package (``data/ecsf.json``): data, not code."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DATA_FILE = Path(__file__).parent / "data" / "ecsf.json"
TIERS = (1, 2, 3)


@dataclass(frozen=True)
class RoleProfile:
    """One ECSF role profile, titled and described in French and English."""

    id: str
    title_fr: str
    title_en: str
    mission_fr: str
    mission_en: str

    def title(self, language: str) -> str:
        """The title in ``language`` (French unless English is asked)."""
        return self.title_en if language == "en" else self.title_fr

    def mission(self, language: str) -> str:
        """The one-line mission in ``language``."""
        return self.mission_en if language == "en" else self.mission_fr


@dataclass(frozen=True)
class Framework:
    """The role profiles, in the framework's order, and the staffing table per tier."""

    name: str
    version: str
    profiles: tuple[RoleProfile, ...]
    staffing: dict[int, dict[str, int]]

    def profile(self, profile_id: str) -> RoleProfile | None:
        """The profile with this identifier, if any."""
        return next((p for p in self.profiles if p.id == profile_id), None)

    def required(self, tier: int) -> dict[str, int]:
        """How many holders of each profile an institution of ``tier`` needs."""
        return self.staffing.get(tier, {})


def parse_framework(document: dict[str, Any]) -> Framework:
    """Check and build a framework from its JSON document (every staffing entry must name a
    known profile, with a count of 0 to 50, for tiers 1 to 3)."""
    profiles = tuple(RoleProfile(id=str(p["id"]), title_fr=str(p["title_fr"]),
                                 title_en=str(p["title_en"]), mission_fr=str(p["mission_fr"]),
                                 mission_en=str(p["mission_en"]))
                     for p in document["profiles"])
    known = {p.id for p in profiles}
    if len(known) != len(profiles):
        raise ValueError("duplicate role profile identifiers in the skills framework")
    staffing: dict[int, dict[str, int]] = {}
    for tier_text, counts in document.get("staffing", {}).items():
        tier = int(tier_text)
        if tier not in TIERS:
            raise ValueError(f"unknown criticality tier {tier_text!r} in the staffing table")
        for profile_id, count in counts.items():
            if profile_id not in known:
                raise ValueError(f"unknown role profile {profile_id!r} in the staffing table")
            if not isinstance(count, int) or not 0 <= count <= 50:
                raise ValueError(f"bad count {count!r} for {profile_id!r} in tier {tier}")
        staffing[tier] = {k: int(v) for k, v in counts.items() if v}
    return Framework(name=str(document["framework"]),
                     version=str(document["framework_version"]), profiles=profiles,
                     staffing=staffing)


@cache
def framework() -> Framework:
    """The framework shipped with Lakana (read once)."""
    return parse_framework(json.loads(DATA_FILE.read_text(encoding="utf-8")))

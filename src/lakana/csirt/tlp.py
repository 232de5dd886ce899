"""Traffic Light Protocol 2.0 (FIRST): labels, their order, and who may see what.

Inside Lakana a label limits who sees a case, a note, an attachment or an observable:

* **CLEAR** and **GREEN**: anyone who may see the case (GREEN may also be shared with the
  community: every institution, and partner CERTs).
* **AMBER**: the case's institution and the centre.
* **AMBER+STRICT**: the case's institution and the centre, never shared beyond them.
* **RED**: named people only: the author, the case's assignee and the reporter.

What leaves the platform (STIX, TAXII, MISP, CSAF) never carries AMBER+STRICT or RED.
"""

from __future__ import annotations

from enum import StrEnum

from lakana.core.auth.rbac import Actor
from lakana.core.errors import Invalid
from lakana.core.i18n import N_


class Tlp(StrEnum):
    """A TLP 2.0 label (lower-case, as stored)."""

    CLEAR = "clear"
    GREEN = "green"
    AMBER = "amber"
    AMBER_STRICT = "amber+strict"
    RED = "red"


#: From the least to the most restrictive.
ORDER: tuple[Tlp, ...] = (Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED)
LABELS: dict[Tlp, str] = {
    Tlp.CLEAR: N_("TLP:CLEAR"), Tlp.GREEN: N_("TLP:GREEN"), Tlp.AMBER: N_("TLP:AMBER"),
    Tlp.AMBER_STRICT: N_("TLP:AMBER+STRICT"), Tlp.RED: N_("TLP:RED"),
}
#: Labels that never leave the platform.
NEVER_SHARED: frozenset[Tlp] = frozenset({Tlp.AMBER_STRICT, Tlp.RED})


def parse(value: str | None, *, default: Tlp = Tlp.AMBER) -> Tlp:
    """A label from user input: ``"TLP:AMBER+STRICT"``, ``"amber+strict"``, ``"Amber"``…"""
    if value is None or not value.strip():
        return default
    text = value.strip().lower().removeprefix("tlp:")
    try:
        return Tlp(text)
    except ValueError:
        raise Invalid("Unknown TLP label %(label)s (use CLEAR, GREEN, AMBER, AMBER+STRICT or "
                      "RED).", label=value[:40]) from None


def rank(label: str) -> int:
    """The position of ``label`` in :data:`ORDER` (0 = CLEAR)."""
    return ORDER.index(Tlp(label))


def stricter(a: str, b: str) -> Tlp:
    """The more restrictive of two labels."""
    return Tlp(a) if rank(a) >= rank(b) else Tlp(b)


def shareable(label: str) -> bool:
    """Whether something with this label may leave the platform (exports, TAXII)."""
    return Tlp(label) not in NEVER_SHARED


def can_see(actor: Actor, label: str, *, named_user_ids: set[int | None]) -> bool:
    """Whether ``actor``, who already sees the case, may see an item labelled ``label``.

    Only RED narrows inside a visible case: the actor must be one of ``named_user_ids`` (the
    item's author, the case's assignee and reporter). The system actor (CLI, jobs) sees all.
    """
    if Tlp(label) is not Tlp.RED or actor.user_id is None and actor.role is None:
        return True
    return actor.user_id is not None and actor.user_id in named_user_ids

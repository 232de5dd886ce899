"""The purposes a relying service may invoke, what each allows and which attributes it
releases (data minimisation: the electoral body gets a name, a date of birth and a region,
never an image)."""

from __future__ import annotations

from dataclasses import dataclass

from lakana.core.i18n import N_


@dataclass(frozen=True)
class Purpose:
    """One lawful purpose: the operations it allows and the attributes it releases."""

    code: str
    label: str
    #: verify (1:1), identify (1:N), attributes.
    operations: frozenset[str]
    #: Demographic fields released by ``attributes`` (names of ``Demographics`` fields).
    attributes: tuple[str, ...]


PURPOSES: dict[str, Purpose] = {
    p.code: p for p in (
        Purpose("voter_verification", N_("Voter identification at the polling station"),
                frozenset({"verify", "attributes"}),
                ("surname", "given_names", "date_of_birth", "region")),
        Purpose("voter_roll_deduplication", N_("Deduplication of the voter roll"),
                frozenset({"identify"}), ()),
        Purpose("social_security_benefit", N_("Payment of a social security benefit"),
                frozenset({"verify", "attributes"}),
                ("surname", "given_names", "sex", "date_of_birth")),
        Purpose("civil_registry_update", N_("Update of the civil registry"),
                frozenset({"verify", "attributes"}),
                ("surname", "given_names", "sex", "date_of_birth", "place_of_birth",
                 "region")),
    )
}

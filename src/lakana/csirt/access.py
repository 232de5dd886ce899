"""Which cases an actor sees: scope by institution, then TLP:RED narrowing.

* The centre (national roles) sees every case, public reports included.
* An institution role sees its institution's cases; a case labelled TLP:RED only when the
  person reported it or is assigned to it.
* Public reports without an institution are seen by the centre only.

Every read of a case in any CSIRT module goes through :func:`get_case` or
:func:`restrict_cases`, so the rule lives here once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, or_
from sqlalchemy.orm import Session

from lakana.core.auth.rbac import Actor, ensure_in_scope, restrict
from lakana.core.errors import NotFound
from lakana.core.i18n import Msg
from lakana.csirt.models import Case
from lakana.csirt.permissions import CsirtPermission
from lakana.csirt.tlp import Tlp

CASE = Msg("case")


def restrict_cases(stmt: Select[Any], actor: Actor,
                   permission: str = CsirtPermission.CASE_READ) -> Select[Any]:
    """Limit ``stmt`` (which selects from :class:`Case`) to the cases ``actor`` sees."""
    stmt = restrict(stmt, actor=actor, permission=permission, scope=Case.institution_id)
    if actor.is_national:
        return stmt
    return stmt.where(or_(Case.tlp != Tlp.RED.value,
                          Case.reporter_user_id == actor.user_id,
                          Case.assignee_id == actor.user_id))


def can_see_case(actor: Actor, case: Case) -> bool:
    """Whether ``actor`` sees ``case`` (scope and TLP:RED), whatever the permission."""
    if actor.is_national:
        return True
    if actor.institution_id is None or case.institution_id != actor.institution_id:
        return False
    return case.tlp != Tlp.RED.value or actor.user_id in (case.reporter_user_id,
                                                         case.assignee_id)


def get_case(session: Session, actor: Actor, case_id: int,
             permission: str = CsirtPermission.CASE_READ, *, for_update: bool = False) -> Case:
    """The case ``case_id`` if ``actor`` sees it and holds ``permission``.

    An invisible case is reported as missing (404) so that its existence does not leak;
    a visible case without the permission gives 403.
    """
    case = session.get(Case, case_id, with_for_update=for_update)
    if case is None or not can_see_case(actor, case):
        raise NotFound("This %(what)s does not exist or is not visible to you.", what=CASE)
    ensure_in_scope(actor, case.institution_id, permission, what=CASE)
    return case

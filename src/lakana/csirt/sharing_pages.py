"""Pages of partner sharing: the centre's sharing overview, sharing one case, and the short
page partner CERTs land on (their collections, the TAXII address, how to make a token).

Scope and permissions come from :mod:`lakana.csirt.sharing_service`; a refused share (a
TLP:RED case) shows the case's sharing page again with the reason (422).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.errors import Invalid
from lakana.core.i18n import N_
from lakana.core.i18n import gettext as _
from lakana.core.web.forms import Form
from lakana.core.web.templating import render
from lakana.csirt import sharing_feed, sharing_service
from lakana.csirt import tlp as tlp_labels
from lakana.csirt.permissions import CsirtPermission

router = APIRouter(prefix="/csirt")

#: Notices shown after a redirect (``?done=...``): fixed texts, never the query's own text.
NOTICES: dict[str, str] = {
    "shared": N_("The case is shared: partners of the group can pull it now."),
    "refreshed": N_("The share was refreshed: new versions were added."),
    "unshared": N_("The case is no longer shared with this group."),
}



def _int(form: FormData, name: str) -> int:
    value = form.get(name, "")
    text = value.strip() if isinstance(value, str) else ""
    if not text.isdigit() or len(text) > 18:
        raise Invalid("Choose a sharing group.")
    return int(text)


def _notice(done: str | None) -> str | None:
    return NOTICES.get(done or "")


@router.get("/sharing")
def sharing_overview(request: Request, session: DbSession, actor: CurrentActor,
                     done: str | None = None) -> Response:
    """The sharing groups, their partner accounts, and what is shared with each."""
    groups = sharing_service.overview(session=session, actor=actor)
    counts = sharing_feed.count_served(session, [g.id for g in groups])
    return render(request, "csirt/sharing/overview.html", {
        "groups": groups, "counts": counts, "notice": _notice(done),
        "taxii_url": _taxii_url(request)})


def _case_page(request: Request, session: DbSession, actor: CurrentActor, case_id: int, *,
               problem: str | None = None, notice: str | None = None,
               status_code: int = 200) -> Response:
    case, groups, shares = sharing_service.groups_for_case(session=session, actor=actor,
                                                           case_id=case_id)
    shared_ids = {s.group_id for s in shares}
    return render(request, "csirt/sharing/case.html", {
        "case": case, "groups": [g for g in groups if g.id not in shared_ids],
        "shares": shares, "shareable": tlp_labels.shareable(case.tlp), "problem": problem,
        "notice": notice}, status_code=status_code)


@router.get("/sharing/cases/{case_id}")
def case_sharing(request: Request, case_id: int, session: DbSession, actor: CurrentActor,
                 done: str | None = None) -> Response:
    """Share one case with a sharing group (or see why it may not leave the platform)."""
    return _case_page(request, session, actor, case_id, notice=_notice(done))


@router.post("/sharing/cases/{case_id}")
def share_case(request: Request, case_id: int, form: Form, session: DbSession,
               actor: CurrentActor) -> Response:
    """Share the case with the chosen group (a re-share adds only new versions)."""
    try:
        sharing_service.share_case(session=session, actor=actor, case_id=case_id,
                                   group_id=_int(form, "group_id"))
    except Invalid as exc:
        session.rollback()
        return _case_page(request, session, actor, case_id,
                          problem=_(exc.message, **exc.params), status_code=422)
    return RedirectResponse(f"/csirt/sharing/cases/{case_id}?done=shared", status_code=303)


def _back(form: FormData, case_id: int, done: str) -> RedirectResponse:
    if form.get("back") == "overview":
        return RedirectResponse(f"/csirt/sharing?done={done}", status_code=303)
    return RedirectResponse(f"/csirt/sharing/cases/{case_id}?done={done}", status_code=303)


@router.post("/sharing/shares/{share_id}/refresh")
def refresh_share(share_id: int, form: Form, session: DbSession,
                  actor: CurrentActor) -> Response:
    """Share again after the case changed."""
    result = sharing_service.refresh_share(session=session, actor=actor, share_id=share_id)
    return _back(form, result.share.case_id, "refreshed")


@router.post("/sharing/shares/{share_id}/unshare")
def unshare(share_id: int, form: Form, session: DbSession, actor: CurrentActor) -> Response:
    """Stop sharing: the case's objects leave the group's collection at once."""
    share, _case = sharing_service.get_share(session=session, actor=actor, share_id=share_id)
    case_id = share.case_id
    sharing_service.unshare(session=session, actor=actor, share_id=share_id)
    return _back(form, case_id, "unshared")


def _taxii_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/taxii2/"


@router.get("/partner")
def partner_home(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    """A partner CERT's page: its collections, the TAXII address, and how to pull."""
    actor.require(CsirtPermission.SHARING_PULL)
    groups = sharing_service.pullable_groups(session=session, actor=actor)
    counts = sharing_feed.count_served(session, [g.id for g in groups])
    collections: list[dict[str, Any]] = [
        {"name": g.name, "description": g.description,
         "id": sharing_service.collection_id(g.id), "count": counts.get(g.id, 0)}
        for g in groups]
    return render(request, "csirt/sharing/partner.html", {
        "collections": collections, "taxii_url": _taxii_url(request),
        "api_root": _taxii_url(request) + "api/",
        "can_coordinate": actor.can(CsirtPermission.COORDINATE)})


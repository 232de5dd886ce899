"""HTML pages of the plan's editing by the agency: the edit forms of an axis, an objective and
an indicator (with the computed sources the installed domains offer, and their formulas), and
the forms adding an objective, an indicator or an action.

Everyone who reads the plan sees these pages; only the agency gets the form. Forms carry the
CSRF token and the version read; problems show the form again with the person's input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from lakana.core.auth.deps import CurrentActor, DbSession
from lakana.core.auth.rbac import Actor
from lakana.core.errors import LakanaError
from lakana.core.i18n import current_language, translate
from lakana.core.i18n import gettext as _
from lakana.core.web.errors import validation_message
from lakana.core.web.forms import Form
from lakana.core.web.templating import render
from lakana.strategy import editing, gci
from lakana.strategy.editing_schemas import (
    ActionCreate,
    IndicatorCreate,
    IndicatorUpdate,
    ObjectiveCreate,
    TextUpdate,
)
from lakana.strategy.models import StrategyIndicator
from lakana.strategy.permissions import StrategyPermission as P
from lakana.strategy.schemas import (
    DIRECTION_LABELS,
    FIRST_YEAR,
    FREQUENCY_LABELS,
    LAST_YEAR,
    SOURCE_LABELS,
)

router = APIRouter(prefix="/strategy")

YEARS = tuple(range(FIRST_YEAR, LAST_YEAR + 1))
INDICATOR_TEXT = ("name", "definition", "unit", "source_kind", "source_key", "frequency",
                  "responsible", "direction", "gci_pillar")
#: Fields that are empty (None) rather than "" when left blank.
OPTIONAL_NUMBERS = ("baseline_value", "baseline_year")


@dataclass
class Field:
    """One field of an edit form, as the template draws it."""

    name: str
    label: str
    kind: str = "text"  # text, textarea, number, date, select
    required: bool = False
    options: list[tuple[str, str]] = field(default_factory=list)
    hint: str = ""
    step: str = "any"


@dataclass
class EditForm:
    """What an edit page shows: its heading, where it posts, its fields and the values."""

    heading: str
    action: str
    back: str
    fields: list[Field]
    values: dict[str, Any]
    version: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _page(request: Request, actor: Actor, form: EditForm, *,
          errors: dict[str, str] | None = None, error: str | None = None,
          status_code: int = 200) -> Response:
    return render(request, "strategy/edit.html", {
        "form": form, "can_manage": actor.can(P.PLAN_MANAGE), "errors": errors or {},
        "error": error, "sources": [], "current_source": None, **form.extra},
        status_code=status_code)


def _field_name(loc: str) -> str:
    """The form field a problem's place names ("targets.2027" → "target_2027")."""
    parts = loc.split(".")
    if parts[0] == "targets" and len(parts) > 1:
        return f"target_{parts[1]}"
    return parts[0] or "version"


def _refused(request: Request, session: Session, actor: Actor, exc: Exception,
             form: EditForm) -> Response:
    """The form again with each problem beside its field (409 when stale, 422 when wrong)."""
    if isinstance(exc, ValidationError):
        errors = {_field_name(".".join(str(p) for p in e.get("loc", ()))):
                  validation_message(dict(e)) for e in exc.errors()}
        return _page(request, actor, form, errors=errors, status_code=422)
    assert isinstance(exc, LakanaError)
    session.rollback()
    if exc.status in (403, 404):
        raise exc
    errors = {_field_name(str(e["field"])): translate(str(e["message"]), **e.get("params", {}))
              for e in exc.errors if "field" in e}
    return _page(request, actor, form, errors=errors, error=_(exc.message, **exc.params),
                 status_code=exc.status)


def _texts(form: FormData, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: str(form.get(name, "")).strip() for name in names if name in form}


def _version(form: FormData) -> str | None:
    return str(form.get("version", "")).strip() or None


def _sent_version(form: FormData) -> int | None:
    """The version the refused form carried, to send again as it was."""
    sent = _version(form) or ""
    return int(sent) if sent.isdigit() else None


# --- axes and objectives --------------------------------------------------------------------

def _text_fields(with_code: bool) -> list[Field]:
    found = [Field("title", _("Title"), required=True),
             Field("description", _("Description"), kind="textarea")]
    if with_code:
        found.insert(0, Field("code", _("Code"), required=True,
                              hint=_("Letters, digits, dots, dashes; unique in the plan.")))
    return found


def _axis_form(session: Session, actor: Actor, axis_code: str,
               values: dict[str, Any] | None = None) -> EditForm:
    found = editing.get_axis(session=session, actor=actor, axis_code=axis_code)
    return EditForm(
        heading=_("Edit the axis %(code)s", code=found.code),
        action=f"/strategy/axes/{found.code}/edit", back=f"/strategy#axis-{found.code}",
        fields=_text_fields(False), version=found.version,
        values=values or {"title": found.title, "description": found.description})


@router.get("/axes/{axis_code}/edit")
def axis_edit(request: Request, axis_code: str, session: DbSession,
              actor: CurrentActor) -> Response:
    """An axis's title and description, with the edit form for the agency."""
    return _page(request, actor, _axis_form(session, actor, axis_code))


@router.post("/axes/{axis_code}/edit")
def axis_save(request: Request, axis_code: str, session: DbSession, actor: CurrentActor,
              form: Form) -> Response:
    """Save an axis, or show the form again (409 when someone saved it meanwhile)."""
    actor.require(P.PLAN_MANAGE)
    values = _texts(form, ("title", "description"))
    try:
        editing.update_axis(session=session, actor=actor, axis_code=axis_code,
                            data=TextUpdate(**values, version=_version(form)))
    except (ValidationError, LakanaError) as exc:
        shown = _axis_form(session, actor, axis_code, values)
        shown.version = _sent_version(form)
        return _refused(request, session, actor, exc, shown)
    return RedirectResponse(f"/strategy#axis-{axis_code}", status_code=303)


def _objective_form(session: Session, actor: Actor, objective_code: str,
                    values: dict[str, Any] | None = None) -> EditForm:
    found = editing.get_objective(session=session, actor=actor,
                                  objective_code=objective_code)
    return EditForm(
        heading=_("Edit the objective %(code)s", code=found.code),
        action=f"/strategy/objectives/{found.code}/edit",
        back=f"/strategy#objective-{found.code}", fields=_text_fields(False),
        version=found.version,
        values=values or {"title": found.title, "description": found.description})


@router.get("/objectives/{objective_code}/edit")
def objective_edit(request: Request, objective_code: str, session: DbSession,
                   actor: CurrentActor) -> Response:
    """An objective's title and description, with the edit form for the agency."""
    return _page(request, actor, _objective_form(session, actor, objective_code))


@router.post("/objectives/{objective_code}/edit")
def objective_save(request: Request, objective_code: str, session: DbSession,
                   actor: CurrentActor, form: Form) -> Response:
    """Save an objective, or show the form again (409 when someone saved it meanwhile)."""
    actor.require(P.PLAN_MANAGE)
    values = _texts(form, ("title", "description"))
    try:
        editing.update_objective(session=session, actor=actor, objective_code=objective_code,
                                 data=TextUpdate(**values, version=_version(form)))
    except (ValidationError, LakanaError) as exc:
        shown = _objective_form(session, actor, objective_code, values)
        shown.version = _sent_version(form)
        return _refused(request, session, actor, exc, shown)
    return RedirectResponse(f"/strategy#objective-{objective_code}", status_code=303)


def _new_objective_form(session: Session, actor: Actor, axis_code: str,
                        values: dict[str, Any] | None = None) -> EditForm:
    axis = editing.get_axis(session=session, actor=actor, axis_code=axis_code)
    return EditForm(
        heading=_("Add an objective to the axis %(code)s", code=axis.code),
        action=f"/strategy/axes/{axis.code}/objectives/new",
        back=f"/strategy#axis-{axis.code}", fields=_text_fields(True),
        values=values or {"code": f"{axis.code}.O{len(axis.objectives) + 1}"})


@router.get("/axes/{axis_code}/objectives/new")
def objective_new(request: Request, axis_code: str, session: DbSession,
                  actor: CurrentActor) -> Response:
    """The form adding an objective to an axis."""
    return _page(request, actor, _new_objective_form(session, actor, axis_code))


@router.post("/axes/{axis_code}/objectives/new")
def objective_create(request: Request, axis_code: str, session: DbSession,
                     actor: CurrentActor, form: Form) -> Response:
    """Add the objective, or show the form again (409 when its code is taken)."""
    actor.require(P.PLAN_MANAGE)
    values = _texts(form, ("code", "title", "description"))
    try:
        created = editing.create_objective(session=session, actor=actor, axis_code=axis_code,
                                           data=ObjectiveCreate(**values))
    except (ValidationError, LakanaError) as exc:
        return _refused(request, session, actor, exc,
                        _new_objective_form(session, actor, axis_code, values))
    return RedirectResponse(f"/strategy#objective-{created.code}", status_code=303)


# --- indicators -----------------------------------------------------------------------------

def _options(labels: dict[Any, str]) -> list[tuple[str, str]]:
    return [(key.value, _(label)) for key, label in labels.items()]


def _sources() -> list[dict[str, str]]:
    """The computed sources on offer, with their label and formula in the page's language."""
    return [{"key": key, "label": _(source.label), "formula": _(source.formula),
             "unit": source.unit} for key, source in editing.computed_sources().items()]


def _indicator_fields(with_code: bool, sources: list[dict[str, str]]) -> list[Field]:
    language = current_language()
    pillars = [("", _("No pillar"))] + [(p.code, p.title.get(language) or p.title["fr"])
                                   for p in gci.pillars()]
    found = [
        Field("name", _("Name"), required=True),
        Field("definition", _("Definition"), kind="textarea"),
        Field("unit", _("Unit")),
        Field("baseline_value", _("Baseline value"), kind="number"),
        Field("baseline_year", _("Baseline year"), kind="number", step="1"),
        Field("source_kind", _("Source of the value"), kind="select",
              options=_options(SOURCE_LABELS)),
        Field("source_key", _("Computed source"), kind="select",
              options=[("", "—")] + [(s["key"], f"{s['label']} ({s['key']})")
                                     for s in sources],
              hint=_("For a computed indicator only: the figure an installed domain "
                     "computes (formulas below).")),
        Field("frequency", _("Frequency"), kind="select", options=_options(FREQUENCY_LABELS)),
        Field("responsible", _("Responsible")),
        Field("direction", _("Direction"), kind="select", options=_options(DIRECTION_LABELS)),
        Field("gci_pillar", _("ITU GCI pillar"), kind="select", options=pillars),
        *(Field(f"target_{year}", _("Target %(year)s", year=year), kind="number",
                hint=_("Empty: no target this year.") if year == FIRST_YEAR else "")
          for year in YEARS)]
    if with_code:
        found.insert(0, Field("code", _("Code"), required=True,
                              hint=_("Letters, digits, dots, dashes; unique in the plan.")))
    return found


def _number(value: float | int | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def _indicator_values(found: StrategyIndicator) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(found, name) for name in INDICATOR_TEXT}
    values["baseline_value"] = _number(found.baseline_value)
    values["baseline_year"] = _number(found.baseline_year)
    for target in found.targets:
        values[f"target_{target.year}"] = _number(target.value)
    return values


def _indicator_extra(sources: list[dict[str, str]], key: str) -> dict[str, Any]:
    current = next((s for s in sources if s["key"] == key), None)
    return {"sources": sources, "current_source": current}


def _indicator_form(session: Session, actor: Actor, indicator_code: str,
                    values: dict[str, Any] | None = None) -> EditForm:
    found = editing.get_indicator(session=session, actor=actor, indicator_code=indicator_code)
    sources = _sources()
    shown = values or _indicator_values(found)
    return EditForm(
        heading=_("Edit the indicator %(code)s", code=found.code),
        action=f"/strategy/indicators/{found.code}/edit",
        back=f"/strategy/indicators/{found.code}", fields=_indicator_fields(False, sources),
        version=found.version, values=shown,
        extra=_indicator_extra(sources, str(shown.get("source_key", ""))))


def _indicator_input(form: FormData) -> dict[str, Any]:
    """The indicator's fields from the form: blanks are "no value", targets by year."""
    values = _texts(form, INDICATOR_TEXT)
    for name in OPTIONAL_NUMBERS:
        if name in form:
            values[name] = str(form.get(name, "")).strip() or None
    values["targets"] = {year: str(form.get(f"target_{year}", "")).strip() or None
                         for year in YEARS}
    return values


def _shown(values: dict[str, Any]) -> dict[str, Any]:
    """The person's input, as the form shows it again."""
    shown = {k: ("" if v is None else v) for k, v in values.items() if k != "targets"}
    for year, value in (values.get("targets") or {}).items():
        shown[f"target_{year}"] = value or ""
    return shown


@router.get("/indicators/{indicator_code}/edit")
def indicator_edit(request: Request, indicator_code: str, session: DbSession,
                   actor: CurrentActor) -> Response:
    """An indicator's definition, source and targets, with the edit form for the agency."""
    return _page(request, actor, _indicator_form(session, actor, indicator_code))


@router.post("/indicators/{indicator_code}/edit")
def indicator_save(request: Request, indicator_code: str, session: DbSession,
                   actor: CurrentActor, form: Form) -> Response:
    """Save an indicator, or show the form again (409 when someone saved it meanwhile)."""
    actor.require(P.PLAN_MANAGE)
    values = _indicator_input(form)
    try:
        editing.update_indicator(session=session, actor=actor, indicator_code=indicator_code,
                                 data=IndicatorUpdate(**values, version=_version(form)))
    except (ValidationError, LakanaError) as exc:
        shown = _indicator_form(session, actor, indicator_code, _shown(values))
        shown.version = _sent_version(form)
        return _refused(request, session, actor, exc, shown)
    return RedirectResponse(f"/strategy/indicators/{indicator_code}", status_code=303)


def _new_indicator_form(session: Session, actor: Actor, objective_code: str,
                        values: dict[str, Any] | None = None) -> EditForm:
    objective = editing.get_objective(session=session, actor=actor,
                                      objective_code=objective_code)
    sources = _sources()
    shown = values or {"source_kind": "manual", "frequency": "yearly", "direction": "higher"}
    return EditForm(
        heading=_("Add an indicator to the objective %(code)s", code=objective.code),
        action=f"/strategy/objectives/{objective.code}/indicators/new",
        back=f"/strategy#objective-{objective.code}", fields=_indicator_fields(True, sources),
        values=shown, extra=_indicator_extra(sources, str(shown.get("source_key", ""))))


@router.get("/objectives/{objective_code}/indicators/new")
def indicator_new(request: Request, objective_code: str, session: DbSession,
                  actor: CurrentActor) -> Response:
    """The form adding an indicator to an objective."""
    return _page(request, actor, _new_indicator_form(session, actor, objective_code))


@router.post("/objectives/{objective_code}/indicators/new")
def indicator_create(request: Request, objective_code: str, session: DbSession,
                     actor: CurrentActor, form: Form) -> Response:
    """Add the indicator, or show the form again (409 when its code is taken)."""
    actor.require(P.PLAN_MANAGE)
    values = {**_indicator_input(form), **_texts(form, ("code",))}
    try:
        created = editing.create_indicator(session=session, actor=actor,
                                           objective_code=objective_code,
                                           data=IndicatorCreate(**values))
    except (ValidationError, LakanaError) as exc:
        return _refused(request, session, actor, exc,
                        _new_indicator_form(session, actor, objective_code, _shown(values)))
    return RedirectResponse(f"/strategy/indicators/{created.code}", status_code=303)


# --- actions --------------------------------------------------------------------------------

ACTION_TEXT = ("code", "title", "description", "lead", "budget_estimate", "starts_on",
               "ends_on")


def _new_action_form(session: Session, actor: Actor, objective_code: str,
                     values: dict[str, Any] | None = None) -> EditForm:
    objective = editing.get_objective(session=session, actor=actor,
                                      objective_code=objective_code)
    return EditForm(
        heading=_("Add an action to the objective %(code)s", code=objective.code),
        action=f"/strategy/objectives/{objective.code}/actions/new",
        back=f"/strategy#objective-{objective.code}",
        fields=[Field("code", _("Code"), required=True,
                      hint=_("Letters, digits, dots, dashes; unique in the plan.")),
                Field("title", _("Title"), required=True),
                Field("description", _("Description"), kind="textarea"),
                Field("lead", _("Lead institution"), required=True,
                      hint=_("The institution's acronym in the registry.")),
                Field("partners", _("Partners"),
                      hint=_("Acronyms in the registry, separated by commas.")),
                Field("budget_estimate", _("Estimated budget (FCFA)"), kind="number",
                      step="1"),
                Field("starts_on", _("Starts on"), kind="date", required=True),
                Field("ends_on", _("Ends on"), kind="date", required=True)],
        values=values or {"code": f"{objective.code}.AC{len(objective.actions) + 1}",
                          "budget_estimate": "0", "starts_on": f"{FIRST_YEAR}-01-01",
                          "ends_on": f"{FIRST_YEAR}-12-31"})


@router.get("/objectives/{objective_code}/actions/new")
def action_new(request: Request, objective_code: str, session: DbSession,
               actor: CurrentActor) -> Response:
    """The form adding an action to an objective."""
    return _page(request, actor, _new_action_form(session, actor, objective_code))


@router.post("/objectives/{objective_code}/actions/new")
def action_create(request: Request, objective_code: str, session: DbSession,
                  actor: CurrentActor, form: Form) -> Response:
    """Add the action, or show the form again (409 when its code is taken)."""
    actor.require(P.PLAN_MANAGE)
    values = _texts(form, ACTION_TEXT)
    partners = str(form.get("partners", "")).strip()
    data: dict[str, Any] = {k: v for k, v in values.items() if v != "" or k == "lead"}
    data["partners"] = [p.strip() for p in partners.replace(";", ",").split(",") if p.strip()]
    try:
        created = editing.create_action(session=session, actor=actor,
                                        objective_code=objective_code,
                                        data=ActionCreate(**data))
    except (ValidationError, LakanaError) as exc:
        return _refused(request, session, actor, exc, _new_action_form(
            session, actor, objective_code, {**values, "partners": partners}))
    return RedirectResponse(f"/strategy/actions/{created.id}", status_code=303)

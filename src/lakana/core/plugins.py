"""How a domain plugs into the core: routers, permissions, menu entries, catalogs, CLI, demo.

The application factory receives an explicit list of :class:`DomainPlugin`; core never
branches on a domain's name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter
    from sqlalchemy.orm import Session

    from lakana.core.auth.rbac import Actor
    from lakana.core.indicators import IndicatorSource


@dataclass(frozen=True)
class MenuEntry:
    """A link in the main navigation, shown to actors holding ``permission``."""

    label: str
    path: str
    permission: str | None
    icon: str = ""
    order: int = 100
    #: The submenu it belongs to (a msgid, e.g. "Incidents"); "" for a top-level link.
    group: str = ""


@dataclass(frozen=True)
class DashboardCard:
    """A number on the home dashboard, computed for the actor."""

    label: str
    path: str
    permission: str
    count: Callable[[Session, Actor], int]


@dataclass(frozen=True)
class DemoStep:
    """A step of ``lakana demo``: fills the domain's demo data."""

    name: str
    run: Callable[..., Any]
    order: int = 100


@dataclass(frozen=True)
class DomainPlugin:
    """Everything a domain registers with the core."""

    name: str
    register_permissions: Callable[[], None]
    api_routers: tuple[APIRouter, ...] = ()
    pages_routers: tuple[APIRouter, ...] = ()
    templates_dir: Path | None = None
    catalog_dir: Path | None = None
    menu: tuple[MenuEntry, ...] = ()
    dashboard: tuple[DashboardCard, ...] = ()
    cli: typer.Typer | None = None
    #: More top-level command groups, by name (``lakana detect file`` beside ``lakana
    #: detection``): for commands people know by another name.
    commands: tuple[tuple[str, typer.Typer], ...] = ()
    demo: tuple[DemoStep, ...] = ()
    #: Full paths whose route reads the body itself under a tighter limit than the
    #: application's and ledgers its refusals: the global size check leaves them alone.
    own_body_limit_paths: tuple[str, ...] = ()
    #: Pages for visitors without an account (a public portal), linked from the login page;
    #: their ``permission`` is ignored.
    public_links: tuple[MenuEntry, ...] = ()
    #: Figures the domain computes for the strategy's indicators (see core/indicators.py).
    indicator_sources: tuple[IndicatorSource, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


_institution_lookup: Callable[[Session, str], int | None] | None = None


def register_institution_lookup(lookup: Callable[[Session, str], int | None]) -> None:
    """The registry tells the core how to find an institution's id by its acronym."""
    global _institution_lookup
    _institution_lookup = lookup


def lookup_institution(session: Session, acronym: str) -> int | None:
    """An institution's id by acronym, through the registered lookup."""
    if _institution_lookup is None:
        raise RuntimeError("no institution registry is plugged in")
    return _institution_lookup(session, acronym)


_institution_choices: Callable[[Session], list[tuple[int, str]]] | None = None


def register_institution_choices(choices: Callable[[Session], list[tuple[int, str]]]) -> None:
    """The registry tells the core how to list institutions ``(id, label)`` for selects."""
    global _institution_choices
    _institution_choices = choices


def institution_choices(session: Session) -> list[tuple[int, str]]:
    """Institutions to choose from, through the registered function (empty if none)."""
    if _institution_choices is None:
        return []
    return _institution_choices(session)


_indicator_sources: dict[str, IndicatorSource] = {}


def register_indicator_sources(plugins: Sequence[DomainPlugin]) -> None:
    """Remember the indicator sources the installed plugins declare, by key."""
    for plugin in plugins:
        for source in plugin.indicator_sources:
            _indicator_sources[source.key] = source


def indicator_sources() -> dict[str, IndicatorSource]:
    """The indicator sources of the installed domains, by key."""
    return dict(_indicator_sources)

"""Indicator sources: figures a domain computes from its own data for the strategy's
monitoring and evaluation.

A domain declares each figure it can give as an :class:`IndicatorSource` in its plugin
(``DomainPlugin.indicator_sources``). The strategy domain finds a source by its ``key``
(``"csirt.mttr_days"``), calls it for a period and shows the result with the source's
formula. The core names no domain: a key no installed domain declares is reported as "no
data", never as a number.

A source computes through its domain's services, as the national agency would see them (the
caller passes an actor holding national read rights). It answers a :class:`Measurement`:
either a value with the inputs it was computed from (so a figure in a report can be traced
back), or no value and the reason (no data in the period, a denominator of zero).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from lakana.core.auth.rbac import Actor


@dataclass(frozen=True)
class Period:
    """A span of days, both ends included (a year, a quarter, a month)."""

    start: dt.date
    end: dt.date

    @property
    def since(self) -> dt.datetime:
        """The first instant of the period (UTC)."""
        return dt.datetime.combine(self.start, dt.time(), tzinfo=dt.UTC)

    @property
    def until(self) -> dt.datetime:
        """The first instant after the period (UTC)."""
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)

    @classmethod
    def year(cls, year: int) -> Period:
        """The calendar year ``year``."""
        return cls(dt.date(year, 1, 1), dt.date(year, 12, 31))


@dataclass(frozen=True)
class Measurement:
    """What a source answers for a period.

    ``value`` is ``None`` when there is nothing to measure; ``reason`` then says why, in
    words a reader understands (a msgid, translated when shown, with ``reason_args``).
    ``inputs`` are the counts the value was computed from (numerator, denominator, number of
    cases…), kept with every snapshot so a published figure can be traced.
    """

    value: float | None
    inputs: Mapping[str, float | int | str] = field(default_factory=dict)
    reason: str = ""
    reason_args: Mapping[str, str | int] = field(default_factory=dict)

    @classmethod
    def none(cls, reason: str, **args: str | int) -> Measurement:
        """No value, for ``reason`` (a msgid with ``%(name)s`` placeholders)."""
        return cls(value=None, reason=reason, reason_args=args)


@dataclass(frozen=True)
class IndicatorSource:
    """A figure a domain can compute for any period.

    ``label`` and ``formula`` are msgids: the formula says in words how the value is
    computed ("institutions with a validated assessment ÷ active institutions × 100") and is
    shown beside every value. ``unit`` is the unit of the value ("%", "jours", "incidents").
    """

    key: str
    label: str
    formula: str
    unit: str
    compute: Callable[[Session, Actor, Period], Measurement]
    #: What the value's direction means: "higher" when more is better, "lower" otherwise.
    direction: str = "higher"

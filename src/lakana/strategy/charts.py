"""Charts of the strategy's follow-up as ready-to-embed inline SVG: indicators against their
targets, counts by traffic light, progress by axis, the actions' Gantt chart and an
indicator's history.

Pure functions over plain data (a snapshot's JSON, or the live evaluations as
``Evaluation.as_dict()``): the printable reports and the live dashboard draw the same charts.
Every text is escaped; each chart is ``role="img"`` with a ``<title>``; words are passed in
by the caller, already translated. Colours are SVG presentation attributes, never ``style``
attributes, so the strict CSP of the pages allows them; nothing is fetched.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

#: The traffic light of each indicator status (the reports' colours).
STATUS_COLOURS = {"met": "#0b6b3a", "near": "#b8860b", "off": "#b3261e", "none": "#888888"}
STATUS_ORDER = ("met", "near", "off", "none")
#: The colour of each action status in the Gantt chart and progress bars.
ACTION_COLOURS = {"planned": "#5b7083", "in_progress": "#1f5f99", "done": "#0b6b3a",
                  "late": "#b3261e", "cancelled": "#bbbbbb"}
TEXT = "#1c1c1c"
MUTED = "#555555"
GRID = "#d6d6d6"
FONT = 'font-family="DejaVu Sans, sans-serif"'

Number = Callable[[float], str]


def number(value: float) -> str:
    """A figure as the charts write it: thousands split by a narrow space, at most two
    decimals, no trailing zeros."""
    if float(value).is_integer():
        return f"{value:,.0f}".replace(",", "\u202f")
    return f"{value:,.2f}".rstrip("0").rstrip(".").replace(",", "\u202f")


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _svg(width: float, height: float, title: str, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:g}" height="{height:g}" '
            f'viewBox="0 0 {width:g} {height:g}" role="img" aria-label="{_e(title)}" {FONT} '
            f'font-size="10"><title>{_e(title)}</title>{"".join(body)}</svg>')


def _empty(title: str, message: str, width: float = 320) -> str:
    return _svg(width, 24, title, [f'<text x="4" y="16" fill="{MUTED}">{_e(message)}</text>'])


def _text(x: float, y: float, text: str, *, fill: str = TEXT, anchor: str = "start",
          size: float | None = None, weight: str = "") -> str:
    extra = (f' font-size="{size:g}"' if size else "") + (
        f' font-weight="{weight}"' if weight else "")
    return (f'<text x="{x:.1f}" y="{y:.1f}" fill="{fill}" text-anchor="{anchor}"{extra}>'
            f"{_e(text)}</text>")


def _rect(x: float, y: float, w: float, h: float, fill: str, tip: str = "") -> str:
    inner = f"<title>{_e(tip)}</title>" if tip else ""
    return (f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{h:.1f}" '
            f'fill="{fill}">{inner}</rect>')


def _clip(text: str, size: int) -> str:
    return text if len(text) <= size else text[:size - 1] + "…"


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def indicator_bars(evaluations: Sequence[Mapping[str, Any]], *, title: str = "Indicators",
                   no_data: str = "no data", target_label: str = "target",
                   lower_label: str = "lower is better", fmt: Number = number,
                   width: int = 640) -> str:
    """One horizontal bar per indicator: its value against a marker at its target, coloured
    by status, each scaled on its own (the largest of value, target and baseline fills the
    bar); an indicator without value says ``no_data`` instead of a bar. A lower-is-better
    indicator is marked ``↓`` and its target written ``≤``."""
    if not evaluations:
        return _empty(title, no_data)
    label_w, text_w, row = 150, 190, 22
    bar_w = width - label_w - text_w - 8
    body: list[str] = []
    for index, ev in enumerate(evaluations):
        y = index * row + 4
        value, target = _float(ev.get("value")), _float(ev.get("target"))
        baseline = _float(ev.get("baseline"))
        lower = ev.get("direction") == "lower"
        status = str(ev.get("status") or "none")
        colour = STATUS_COLOURS.get(status, STATUS_COLOURS["none"])
        unit = str(ev.get("unit") or "")
        code = str(ev.get("code", ""))
        name = str(ev.get("name", ""))
        body.append(f"<g><title>{_e(code)} — {_e(name)}</title>")
        body.append(_text(0, y + 12, _clip(code + (" ↓" if lower else ""), 22)))
        scale = max([abs(v) for v in (value, target, baseline) if v is not None] or [0.0])
        scale = scale or 1.0
        body.append(_rect(label_w, y + 3, bar_w, 12, "#f2f2f2"))
        if value is None:
            body.append(_text(label_w + 4, y + 13, no_data, fill=MUTED))
        else:
            body.append(_rect(label_w, y + 3, bar_w * min(max(value, 0.0) / scale, 1.0), 12,
                              colour))
        if target is not None:
            tx = label_w + bar_w * min(max(target, 0.0) / scale, 1.0)
            body.append(f'<line x1="{tx:.1f}" y1="{y:.1f}" x2="{tx:.1f}" y2="{y + 18:.1f}" '
                        f'stroke="{TEXT}" stroke-width="2"/>')
        shown = "—" if value is None else fmt(value)
        words = f"{shown} {unit}".strip()
        if target is not None:
            words += f" ({target_label} {'≤ ' if lower else ''}{fmt(target)})"
        if lower and target is None:
            words += f" ({lower_label})"
        body.append(_text(label_w + bar_w + 8, y + 13, _clip(words, 34), fill=TEXT))
        body.append("</g>")
    return _svg(width, len(evaluations) * row + 8, title, body)


def status_bar(counts: Mapping[str, int], *, labels: Mapping[str, str] | None = None,
               title: str = "Indicators by status", no_data: str = "no data",
               width: int = 480) -> str:
    """A stacked bar of how many indicators are met, near, off and without data, with a
    legend (``labels``: the words of each status)."""
    labels = labels or {s: s for s in STATUS_ORDER}
    total = sum(max(counts.get(s, 0), 0) for s in STATUS_ORDER)
    if total == 0:
        return _empty(title, no_data, width)
    body: list[str] = []
    x = 0.0
    for status in STATUS_ORDER:
        count = max(counts.get(status, 0), 0)
        if count:
            w = width * count / total
            body.append(_rect(x, 0, w, 18, STATUS_COLOURS[status],
                              f"{labels.get(status, status)}: {count}"))
            if w > 18:
                body.append(_text(x + w / 2, 13, str(count), fill="#ffffff", anchor="middle",
                                  weight="bold"))
            x += w
    lx = 0.0
    for status in STATUS_ORDER:
        words = f"{labels.get(status, status)} ({counts.get(status, 0)})"
        body.append(_rect(lx, 26, 10, 10, STATUS_COLOURS[status]))
        body.append(_text(lx + 14, 35, words))
        lx += 14 + 7 * len(words) + 12
    return _svg(max(width, lx), 42, title, body)


def axis_progress(axes: Sequence[Mapping[str, Any]], statuses: Mapping[str, str], *,
                  title: str = "Progress by axis", indicators_label: str = "Indicators",
                  actions_label: str = "Actions done", no_data: str = "no data",
                  width: int = 640) -> str:
    """Per axis (``PlanOut`` axes as JSON): the share of its indicators met, near, off and
    without data (``statuses``: each indicator's status by code), and the share of its
    actions done (cancelled ones left out)."""
    if not axes:
        return _empty(title, no_data)
    label_w, text_w = 170, 90
    bar_w = width - label_w - text_w
    body: list[str] = []
    y = 0.0
    for axis in axes:
        objectives = axis.get("objectives", [])
        codes = [i["code"] for o in objectives for i in o.get("indicators", [])]
        actions = [a for o in objectives for a in o.get("actions", [])
                   if a.get("status") != "cancelled"]
        done = sum(1 for a in actions if a.get("status") == "done")
        body.append(_text(0, y + 12, _clip(f"{axis.get('code', '')} {axis.get('title', '')}",
                                           40), weight="bold"))
        body.append(_text(label_w - 4, y + 28, indicators_label, fill=MUTED, anchor="end"))
        body.append(_rect(label_w, y + 18, bar_w, 12, "#f2f2f2"))
        x = float(label_w)
        for status in STATUS_ORDER:
            count = sum(1 for c in codes if statuses.get(c, "none") == status)
            if count:
                w = bar_w * count / len(codes)
                body.append(_rect(x, y + 18, w, 12, STATUS_COLOURS[status],
                                  f"{status}: {count}/{len(codes)}"))
                x += w
        met = sum(1 for c in codes if statuses.get(c) == "met")
        body.append(_text(label_w + bar_w + 6, y + 28,
                          f"{met}/{len(codes)}" if codes else no_data, fill=TEXT))
        body.append(_text(label_w - 4, y + 44, actions_label, fill=MUTED, anchor="end"))
        body.append(_rect(label_w, y + 34, bar_w, 12, "#f2f2f2"))
        if actions:
            body.append(_rect(label_w, y + 34, bar_w * done / len(actions), 12,
                              ACTION_COLOURS["done"]))
        body.append(_text(label_w + bar_w + 6, y + 44,
                          f"{done}/{len(actions)}" if actions else no_data, fill=TEXT))
        y += 54
    return _svg(width, y, title, body)


def _day(value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def gantt(actions: Sequence[Mapping[str, Any]], *, start: dt.date = dt.date(2026, 1, 1),
          end: dt.date = dt.date(2030, 12, 31), today: dt.date | None = None,
          title: str = "Schedule of the actions", today_label: str = "today",
          no_data: str = "no data", status_labels: Mapping[str, str] | None = None,
          width: int = 680) -> str:
    """One row per action (by code): a bar from ``starts_on`` to ``ends_on`` coloured by
    status, its milestones as diamonds (filled when done), a gridline per year and a line at
    ``today`` (when within the span)."""
    if not actions:
        return _empty(title, no_data)
    status_labels = status_labels or {}
    label_w, row, top = 90, 16, 16
    span = max((end - start).days, 1)
    chart_w = width - label_w - 4

    def x_of(day: dt.date) -> float:
        clamped = min(max(day, start), end)
        return label_w + chart_w * (clamped - start).days / span

    height = top + len(actions) * row + 6
    body: list[str] = []
    for year in range(start.year, end.year + 1):
        first = max(dt.date(year, 1, 1), start)
        x = x_of(first)
        body.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height:.1f}" '
                    f'stroke="{GRID}"/>')
        mid = x_of(min(dt.date(year, 7, 1), end))
        body.append(_text(mid, 10, str(year), fill=MUTED, anchor="middle"))
    for index, action in enumerate(actions):
        y = top + index * row
        code = str(action.get("code", ""))
        status = str(action.get("status") or "planned")
        body.append(_text(0, y + 11, _clip(code, 14), size=9))
        begins, ends = _day(action.get("starts_on")), _day(action.get("ends_on"))
        if begins is not None and ends is not None and ends >= start and begins <= end:
            x1, x2 = x_of(begins), x_of(ends)
            tip = (f"{code} — {action.get('title', '')} ({status_labels.get(status, status)}, "
                   f"{begins.isoformat()} → {ends.isoformat()})")
            body.append(_rect(x1, y + 3, max(x2 - x1, 2), 10,
                              ACTION_COLOURS.get(status, ACTION_COLOURS["planned"]), tip))
        for milestone in action.get("milestones", []):
            due = _day(milestone.get("due_on"))
            if due is None or not start <= due <= end:
                continue
            done = _day(milestone.get("done_on")) is not None
            mx, my = x_of(due), y + 8
            fill = TEXT if done else "#ffffff"
            body.append(f'<polygon points="{mx:.1f},{my - 5:.1f} {mx + 5:.1f},{my:.1f} '
                        f'{mx:.1f},{my + 5:.1f} {mx - 5:.1f},{my:.1f}" fill="{fill}" '
                        f'stroke="{TEXT}" stroke-width="1"><title>'
                        f"{_e(milestone.get('code', ''))} — {_e(milestone.get('title', ''))} "
                        f"({_e(due.isoformat())})</title></polygon>")
    if today is not None and start <= today <= end:
        tx = x_of(today)
        body.append(f'<line x1="{tx:.1f}" y1="{top - 4}" x2="{tx:.1f}" y2="{height:.1f}" '
                    f'stroke="#b3261e" stroke-width="1.5" stroke-dasharray="4 2"/>')
        anchor = "end" if tx > width - 60 else "start"
        body.append(_text(tx + (-3 if anchor == "end" else 3), top + 2, today_label,
                          fill="#b3261e", anchor=anchor, size=8))
    return _svg(width, height, title, body)


def history_line(points: Sequence[Mapping[str, Any]], *, title: str = "History",
                 value_label: str = "value", target_label: str = "target",
                 no_data: str = "no data", unit: str = "", fmt: Number = number,
                 width: int = 420, height: int = 160) -> str:
    """An indicator's values per period (``label``, ``value``, ``target``) as a solid line,
    and its targets as a dashed one; a missing value breaks the line."""
    figures = [v for p in points for v in (_float(p.get("value")), _float(p.get("target")))
               if v is not None]
    if not points or not figures:
        return _empty(title, no_data, width)
    left, right, top, bottom = 44, 10, 10, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    low = min(0.0, *figures)
    high = max(figures) if max(figures) > low else low + 1
    step = plot_w / max(len(points) - 1, 1)

    def xy(index: int, value: float) -> tuple[float, float]:
        x = left + (step * index if len(points) > 1 else plot_w / 2)
        return x, top + plot_h * (1 - (value - low) / (high - low))

    body = [f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" '
            f'y2="{top + plot_h}" stroke="{GRID}"/>']
    for value in (low, high):
        _x, y = xy(0, value)
        body.append(_text(left - 4, y + 3, fmt(value), fill=MUTED, anchor="end", size=8))
    for index, point in enumerate(points):
        x, _y = xy(index, low)
        body.append(_text(x, top + plot_h + 12, str(point.get("label", "")), fill=MUTED,
                          anchor="middle", size=8))
    for key, colour, dash in (("target", MUTED, ' stroke-dasharray="5 3"'),
                              ("value", STATUS_COLOURS["met"], "")):
        segment: list[str] = []
        segments: list[list[str]] = [segment]
        for index, point in enumerate(points):
            found = _float(point.get(key))
            if found is None:
                segment = []
                segments.append(segment)
                continue
            x, y = xy(index, found)
            segment.append(f"{x:.1f},{y:.1f}")
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"><title>'
                        f"{_e(point.get('label', ''))}: {_e(fmt(found))} {_e(unit)}"
                        "</title></circle>")
        for part in segments:
            if len(part) > 1:
                body.append(f'<polyline points="{" ".join(part)}" fill="none" '
                            f'stroke="{colour}" stroke-width="1.5"{dash}/>')
    ly = height - 6
    body.append(f'<line x1="{left}" y1="{ly - 3}" x2="{left + 18}" y2="{ly - 3}" '
                f'stroke="{STATUS_COLOURS["met"]}" stroke-width="1.5"/>')
    body.append(_text(left + 22, ly, f"{value_label}{' (' + unit + ')' if unit else ''}"))
    body.append(f'<line x1="{left + 150}" y1="{ly - 3}" x2="{left + 168}" y2="{ly - 3}" '
                f'stroke="{MUTED}" stroke-width="1.5" stroke-dasharray="5 3"/>')
    body.append(_text(left + 172, ly, target_label))
    return _svg(width, height, title, body)


def legend(items: Sequence[tuple[str, str]], *, title: str = "Key", width: int = 680) -> str:
    """A colour key: one swatch and its words per ``(colour, words)``, on one line (wrapping
    to the next when the line is full)."""
    if not items:
        return _empty(title, title, width)
    body: list[str] = []
    x, y = 0.0, 0.0
    for colour, words in items:
        span = 18 + 6.5 * len(words) + 16
        if x and x + span > width:
            x, y = 0.0, y + 18
        body.append(_rect(x, y + 3, 12, 12, colour))
        body.append(_text(x + 18, y + 13, words))
        x += span
    return _svg(width, y + 20, title, body)

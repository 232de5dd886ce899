"""The strategy's SVG charts: escaped text, accessible, no-data, lower-is-better, empty."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

from lakana.strategy import charts

SVG = "{http://www.w3.org/2000/svg}"


def _parsed(svg: str) -> ET.Element:
    """The chart parsed as XML (it must be well-formed), checked for role and title."""
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert root.find(f"{SVG}title") is not None and root.get("aria-label")
    return root


def _ev(code: str, value: float | None, target: float | None, status: str,
        direction: str = "higher", baseline: float | None = None) -> dict[str, object]:
    return {"code": code, "name": f"<{code}> & co", "unit": "%", "direction": direction,
            "value": value, "target": target, "baseline": baseline, "status": status}


def test_indicator_bars_colour_by_status_and_show_no_data_as_text() -> None:
    # Given a met, an off-track lower-is-better and a no-data indicator
    svg = charts.indicator_bars(
        [_ev("IND-1", 80, 70, "met"), _ev("IND-2", 12, 5, "off", "lower", baseline=20),
         _ev("IND-3", None, 50, "none")],
        title="Indicateurs <test>", no_data="pas de données", target_label="cible")
    root = _parsed(svg)
    # Then text is escaped, colours follow the status, no-data is words not a bar
    assert "<test>" not in svg and "&lt;test&gt;" in svg and "&lt;IND-1&gt; &amp; co" in svg
    fills = {r.get("fill") for r in root.iter(f"{SVG}rect")}
    assert charts.STATUS_COLOURS["met"] in fills and charts.STATUS_COLOURS["off"] in fills
    assert charts.STATUS_COLOURS["none"] not in fills
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "pas de données" in texts
    assert "IND-2 ↓" in texts and any("cible ≤ 5" in (t or "") for t in texts)
    # And the value bar of IND-1 is the full width (80 is the largest of its figures)
    widths = [float(r.get("width") or 0) for r in root.iter(f"{SVG}rect")
              if r.get("fill") == charts.STATUS_COLOURS["met"]]
    backgrounds = [float(r.get("width") or 0) for r in root.iter(f"{SVG}rect")
                   if r.get("fill") == "#f2f2f2"]
    assert widths == [backgrounds[0]]


def test_charts_handle_empty_input() -> None:
    for svg in (charts.indicator_bars([], no_data="vide"),
                charts.status_bar({}, no_data="vide"),
                charts.axis_progress([], {}, no_data="vide"),
                charts.gantt([], no_data="vide"),
                charts.history_line([], no_data="vide"),
                charts.history_line([{"label": "2026", "value": None, "target": None}],
                                    no_data="vide")):
        root = _parsed(svg)
        assert [t.text for t in root.iter(f"{SVG}text")] == ["vide"]


def test_status_bar_and_axis_progress() -> None:
    # Given counts by status, and an axis with two indicators and three actions
    bar = _parsed(charts.status_bar({"met": 2, "off": 1}, labels={"met": "Atteint"}))
    assert any("Atteint (2)" == t.text for t in bar.iter(f"{SVG}text"))
    axes = [{"code": "A1", "title": "Gouvernance & <coopération>", "objectives": [
        {"indicators": [{"code": "I1"}, {"code": "I2"}],
         "actions": [{"status": "done"}, {"status": "late"}, {"status": "cancelled"}]}]}]
    svg = charts.axis_progress(axes, {"I1": "met"}, actions_label="Actions réalisées")
    root = _parsed(svg)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    # Then one of two indicators is met, one of two live actions is done
    assert "1/2" in texts and texts.count("1/2") == 2
    assert "Gouvernance &amp; &lt;coop" in svg and "<coop" not in svg


def test_gantt_draws_bars_milestones_today_and_years() -> None:
    actions = [{"code": "A1.O1.AC1", "title": "Décrets <d'application>", "status": "done",
                "starts_on": "2026-01-15", "ends_on": "2026-12-31",
                "milestones": [{"code": "M1", "title": "Atelier", "due_on": "2026-06-30",
                                "done_on": "2026-06-20"},
                               {"code": "M2", "title": "Conseil", "due_on": "2026-12-15",
                                "done_on": None}]},
               {"code": "A3.O1.AC1", "title": "Hors plan", "status": "late",
                "starts_on": dt.date(2031, 1, 1), "ends_on": dt.date(2031, 6, 30),
                "milestones": []}]
    svg = charts.gantt(actions, today=dt.date(2027, 1, 15), today_label="aujourd'hui")
    root = _parsed(svg)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"2026", "2030", "A1.O1.AC1", "A3.O1.AC1", "aujourd'hui"} <= set(texts)
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("fill") in charts.ACTION_COLOURS.values()]
    assert len(bars) == 1  # the action after the plan's span draws no bar
    diamonds = list(root.iter(f"{SVG}polygon"))
    assert [d.get("fill") for d in diamonds] == [charts.TEXT, "#ffffff"]
    assert "&lt;d&#x27;application&gt;" in svg


def test_history_line_breaks_on_missing_values_and_dashes_targets() -> None:
    points = [{"label": "2026", "value": 3, "target": 3}, {"label": "2027", "value": None,
                                                          "target": 5},
              {"label": "2028", "value": 6, "target": 6}]
    root = _parsed(charts.history_line(points, unit="textes"))
    lines = list(root.iter(f"{SVG}polyline"))
    # Then only the targets make a line (the values are broken by the missing 2027)
    assert len(lines) == 1 and lines[0].get("stroke-dasharray")
    assert len(list(root.iter(f"{SVG}circle"))) == 5


def test_number_formats_without_exponent() -> None:
    assert charts.number(1234567) == "1\u202f234\u202f567"
    assert charts.number(12.5) == "12.5" and charts.number(0.125) == "0.12"

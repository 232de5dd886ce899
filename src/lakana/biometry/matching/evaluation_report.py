"""The evaluation report: Markdown and JSON, a DET curve and a score histogram (PNG), and
the impostor-score calibration file for :mod:`lakana.biometry.matching.thresholds`.

Plots use matplotlib's Agg canvas directly (no display, no pyplot global state) and its
bundled DejaVu font (nothing is downloaded). Every report opens with its provenance: which
figures come from real images and which from synthetic data, the latter marked
"synthetic — speed only" (generated prints separate perfectly; they say nothing of
accuracy on people).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lakana.biometry.matching.evaluation import EvaluationResult
from lakana.biometry.matching.thresholds import (
    Calibration,
    calibration_from_scores,
    save_calibration,
)

SYNTHETIC_LABEL = "synthetic — speed only"
REPORT_MD = "report.md"
REPORT_JSON = "report.json"
DET_PNG = "det.png"
SCORES_PNG = "scores.png"
CALIBRATION_JSON = "impostor-calibration.json"
_DET_TICKS = (0.0001, 0.001, 0.01, 0.05, 0.2, 0.5, 0.8)
_FIGURES = ("Failure to acquire and to enrol", "Score distributions",
            "FMR, FNMR, EER and DET curve", "FPIR, FNIR and rank-1 rate (1:N)",
            "Extraction and comparison times")


def write_report(result: EvaluationResult, out: Path) -> list[Path]:
    """Write the report files into ``out`` (created); return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if result.genuine.size and result.impostor.size:
        written.append(_det_plot(result, out / DET_PNG))
    if result.genuine.size or result.impostor.size:
        written.append(_score_plot(result, out / SCORES_PNG))
    if result.impostor.size:
        path = out / CALIBRATION_JSON
        save_calibration(calibration_of(result), path,
                         histogram=result.dataset.modality == "finger")
        written.append(path)
    document = report_json(result)
    (out / REPORT_JSON).write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n",
                                   encoding="utf-8")
    (out / REPORT_MD).write_text(report_markdown(result, document), encoding="utf-8")
    return [out / REPORT_MD, out / REPORT_JSON, *written]


def calibration_of(result: EvaluationResult) -> Calibration:
    """The run's impostor scores as a calibration (source: the data set's)."""
    return calibration_from_scores(result.impostor, engine=result.engine,
                                   modality=result.dataset.modality,
                                   source=result.dataset.source)


def provenance(result: EvaluationResult) -> dict[str, str]:
    """Each figure and what it comes from."""
    if result.dataset.source == "synthetic":
        origin = f"synthetic data ({SYNTHETIC_LABEL})"
    else:
        origin = f"real images ({len(result.dataset.samples)} files in "\
                 f"{result.dataset.root}, as supplied)"
    return dict.fromkeys(_FIGURES, origin)


def report_json(result: EvaluationResult) -> dict[str, Any]:
    """The report's figures as one JSON-ready object (rates as fractions)."""
    dataset = result.dataset
    point = result.at_threshold
    gfmr, gfnmr = result.generalised
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "protocol": "ISO/IEC 19795-1 technology evaluation (offline)",
        "engine": result.engine, "threshold": result.threshold,
        "dataset": {"root": str(dataset.root), "layout": dataset.layout,
                    "modality": dataset.modality, "source": dataset.source,
                    "label": SYNTHETIC_LABEL if dataset.source == "synthetic" else "real",
                    "samples": len(dataset.samples), "identities": dataset.identities,
                    "ignored_files": dataset.ignored, "skipped": dataset.skipped},
        "provenance": provenance(result),
        "enrolment": {"fta": _num(result.fta), "fte": _num(result.fte),
                      "fta_reasons": dict(result.reasons("fta")),
                      "fte_reasons": dict(result.reasons("fte")),
                      "mean_seconds": _num(_mean([e.seconds for e in result.enrolments
                                                  if e.template is not None]))},
        "verification": {
            "genuine_pairs": int(result.genuine.size),
            "impostor_pairs": int(result.impostor.size),
            "impostor_pairs_possible": result.impostor_pairs_possible,
            "eer": _num(result.eer), "eer_threshold": _num(result.eer_threshold),
            "at_threshold": None if point is None else
            {"threshold": point.threshold, "fmr": point.fmr, "fnmr": point.fnmr,
             "gfmr": _num(gfmr), "gfnmr": _num(gfnmr)},
            "fnmr_at_fmr": [{"fmr_target": p.fmr_target, "threshold": p.threshold,
                             "fmr": p.fmr, "fnmr": p.fnmr, "resolvable": p.resolvable}
                            for p in result.at_fmr],
            "genuine_scores": _summary(result.genuine),
            "impostor_scores": _summary(result.impostor),
            "mean_compare_seconds": result.compare_seconds},
        "identification": [
            {"gallery_size": r.gallery_size, "mated_searches": r.mated_searches,
             "nonmated_searches": r.nonmated_searches, "rank1": _num(r.rank1),
             "fnir": _num(r.fnir), "fpir": _num(r.fpir),
             "fpir_predicted": _num(r.fpir_predicted),
             "threshold_for_fpir_1pc": None if r.threshold_for_target is None else
             {"threshold": r.threshold_for_target.threshold,
              "fmr_target": r.threshold_for_target.fmr_target,
              "resolvable": r.threshold_for_target.resolvable,
              "extrapolated": r.threshold_for_target.extrapolated,
              "floored": r.threshold_for_target.floored}}
            for r in result.identification],
    }


def report_markdown(result: EvaluationResult, document: dict[str, Any]) -> str:
    """The human-readable report."""
    dataset = result.dataset
    lines = [f"# Accuracy evaluation — engine `{result.engine}` on `{dataset.root.name}`", "",
             f"Protocol: {document['protocol']}; {document['date']}; match threshold "
             f"{result.threshold:g} (a pair matches when its score is at or above it).", ""]
    lines += _provenance_section(result)
    lines += _enrolment_section(result)
    lines += _verification_section(result)
    lines += _identification_section(result)
    enrol_seconds = document["enrolment"]["mean_seconds"]
    lines += ["## Speed", "",
              f"- Extraction (decode, checks, template): "
              f"{_ms(enrol_seconds)} per sample, mean.",
              f"- Comparison (1:1, through the engine's `compare`): "
              f"{_ms(result.compare_seconds)} per pair, mean.", ""]
    return "\n".join(lines) + "\n"


def _provenance_section(result: EvaluationResult) -> list[str]:
    dataset = result.dataset
    lines = ["## Provenance", ""]
    if dataset.source == "synthetic":
        lines += [f"**All figures below are {SYNTHETIC_LABEL}.** The images were generated "
                  "by `lakana.biometry.synthetic` (no real person): generated prints of one "
                  "finger differ by a shift and noise only, so genuine and impostor scores "
                  "separate completely. They show that the harness runs and how fast the "
                  "engine is; they say nothing of its accuracy on people.", ""]
    else:
        lines += [f"All figures below come from **real images**: the {len(dataset.samples)} "
                  f"files of `{dataset.root}` ({dataset.layout} layout), as supplied; no "
                  "synthetic data is mixed in. They are only as representative as that "
                  "folder (its size, capture devices and population).", ""]
    lines += ["| Figure | Comes from |", "|---|---|"]
    lines += [f"| {figure} | {origin} |" for figure, origin in provenance(result).items()]
    lines += ["", f"Data set: {len(dataset.samples)} samples of {dataset.identities} "
              f"identities ({dataset.modality}, {dataset.layout} layout); "
              f"{dataset.ignored} files ignored (no layout match)"
              + "".join(f"; {count} skipped: {why}" for why, count in dataset.skipped.items())
              + ".", ""]
    return lines


def _enrolment_section(result: EvaluationResult) -> list[str]:
    total = len(result.enrolments)
    fta = sum(e.failure == "fta" for e in result.enrolments)
    fte = sum(e.failure == "fte" for e in result.enrolments)
    lines = ["## Acquisition and enrolment", "",
             "| Samples | Failure to acquire (FTA) | Failure to enrol (FTE) |", "|---|---|---|",
             f"| {total} | {fta} ({_pct(result.fta)}) | {fte} ({_pct(result.fte)}) |", ""]
    for kind, title in (("fta", "FTA reasons"), ("fte", "FTE reasons")):
        reasons = result.reasons(kind)
        if reasons:
            lines += [f"{title}:", ""]
            lines += [f"- {count} × {reason}" for reason, count in reasons.most_common()]
            lines.append("")
    return lines


def _verification_section(result: EvaluationResult) -> list[str]:
    lines = ["## Verification (1:1)", "",
             f"{result.genuine.size} genuine pairs (all); {result.impostor.size} impostor "
             f"pairs of {result.impostor_pairs_possible} possible"
             + (" (a seeded random sample)" if result.impostor.size
                < result.impostor_pairs_possible else " (all)") + ".", ""]
    if result.at_threshold is None:
        return lines + ["Not enough enrolled samples for genuine and impostor pairs: no "
                        "verification figures.", ""]
    point = result.at_threshold
    gfmr, gfnmr = result.generalised
    lines += ["| Figure | Value |", "|---|---|",
              f"| FMR at {point.threshold:g} | {_pct(point.fmr)} |",
              f"| FNMR at {point.threshold:g} | {_pct(point.fnmr)} |",
              f"| Generalised FMR / FNMR (FTA and FTE folded in) | {_pct(gfmr)} / "
              f"{_pct(gfnmr)} |",
              f"| EER | {_pct(result.eer)} (threshold {result.eer_threshold:g}) |"]
    for item in result.at_fmr:
        note = "" if item.resolvable else " — not resolvable: fewer than 1/FMR impostor pairs"
        lines.append(f"| FNMR at FMR ≤ {_pct(item.fmr_target or 0)} | {_pct(item.fnmr)} "
                     f"(threshold {item.threshold:g}){note} |")
    genuine, impostor = _summary(result.genuine), _summary(result.impostor)
    lines += ["", f"Genuine scores: {_range(genuine)}; impostor scores: {_range(impostor)}.",
              "", f"![DET curve]({DET_PNG})", "",
              "The DET curve plots FNMR against FMR on normal-deviate (probit) axes; rates "
              "of zero are drawn at the resolution limit (half of one pair).", "",
              f"![Score distributions]({SCORES_PNG})", ""]
    return lines


def _identification_section(result: EvaluationResult) -> list[str]:
    lines = ["## Identification (1:N)", ""]
    if not result.identification:
        return lines + ["Not enough identities with two enrolled samples: no 1:N figures.", ""]
    lines += [f"Gallery: the first enrolled sample of each identity; probe: its second. "
              f"Mated searches hold the mate and N−1 others, non-mated searches N others "
              f"(mate removed). FNIR and FPIR at {result.threshold:g} with a candidate list "
              f"of 10; rank-1 is closed-set (no threshold). Predicted FPIR = 1 − (1 − FMR)^N "
              f"from the 1:1 FMR.", "",
              "| N | Mated / non-mated searches | Rank-1 | FNIR | FPIR | FPIR predicted "
              "| Threshold for FPIR 1 % |", "|---|---|---|---|---|---|---|"]
    for row in result.identification:
        choice = row.threshold_for_target
        if choice is None:
            threshold = "n/a"
        else:
            notes = [note for flag, note in ((choice.extrapolated, "extrapolated"),
                                             (choice.floored, "engine floor")) if flag]
            threshold = f"{choice.threshold:g}" + (f" ({', '.join(notes)})" if notes else "")
        lines.append(f"| {row.gallery_size} | {row.mated_searches} / {row.nonmated_searches} "
                     f"| {_pct(row.rank1)} | {_pct(row.fnir)} | {_pct(row.fpir)} "
                     f"| {_pct(row.fpir_predicted)} | {threshold} |")
    return lines + [""]


def _det_plot(result: EvaluationResult, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fmr, fnmr = result.det
    # A rate of 0 has no probit: it is drawn at half of one pair of its own kind.
    floor_x, floor_y = 0.5 / result.impostor.size, 0.5 / result.genuine.size
    probit = NormalDist().inv_cdf

    def clamp(value: float, floor: float) -> float:
        return probit(min(max(value, floor), 1 - floor))

    x = [clamp(v, floor_x) for v in fmr]
    y = [clamp(v, floor_y) for v in fnmr]
    figure = Figure(figsize=(6, 6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot(x, y, drawstyle="steps-post", color="#1f4e79", label=result.engine)
    if result.at_threshold is not None:
        point = result.at_threshold
        axes.plot([clamp(point.fmr, floor_x)], [clamp(point.fnmr, floor_y)], "o",
                  color="#c0392b",
                  label=f"threshold {point.threshold:g}")
    low = probit(min(floor_x, floor_y, _DET_TICKS[0]))
    high = probit(_DET_TICKS[-1])
    ticks = [t for t in _DET_TICKS if probit(t) >= low]
    for setter, limits in ((axes.set_xticks, axes.set_xlim), (axes.set_yticks, axes.set_ylim)):
        setter([probit(t) for t in ticks], [_tick(t) for t in ticks])
        limits(low, high)
    axes.set_xlabel("False match rate (FMR)")
    axes.set_ylabel("False non-match rate (FNMR)")
    label = SYNTHETIC_LABEL if result.dataset.source == "synthetic" else "real images"
    axes.set_title(f"DET — {result.dataset.root.name} ({label})")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="upper right")
    figure.tight_layout()
    figure.savefig(path, format="png")
    return path


def _score_plot(result: EvaluationResult, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    both = np.concatenate([result.genuine, result.impostor])
    bins = [float(b) for b in np.linspace(float(both.min()), float(both.max()) + 1, 41)]
    for scores, name, colour in ((result.impostor, "impostor", "#c0392b"),
                                 (result.genuine, "genuine", "#1f4e79")):
        if scores.size:
            axes.hist(scores, bins=bins, alpha=0.6, color=colour, label=name,
                      weights=np.full(scores.size, 1 / scores.size))
    axes.axvline(result.threshold, color="black", linestyle="--",
                 label=f"threshold {result.threshold:g}")
    axes.set_xlabel("Score")
    axes.set_ylabel("Share of pairs")
    label = SYNTHETIC_LABEL if result.dataset.source == "synthetic" else "real images"
    axes.set_title(f"Score distributions ({label})")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, format="png")
    return path


def _tick(rate: float) -> str:
    return f"{rate * 100:g} %"


def _summary(scores: NDArray[np.float64]) -> dict[str, float] | None:
    if not scores.size:
        return None
    return {"count": int(scores.size), "min": float(scores.min()),
            "median": float(np.median(scores)), "max": float(scores.max())}


def _range(summary: dict[str, float] | None) -> str:
    if summary is None:
        return "none"
    return f"{summary['min']:g} to {summary['max']:g} (median {summary['median']:g})"


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _num(value: float) -> float | None:
    """JSON has no NaN: a figure that could not be computed is null."""
    return None if value is None or math.isnan(value) else float(value)


def _pct(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value * 100:.2f} %"


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None or math.isnan(seconds) else f"{seconds * 1000:.1f} ms"

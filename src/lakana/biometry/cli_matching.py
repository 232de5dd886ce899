"""``lakana biometry matching``: accuracy evaluation (ISO/IEC 19795-1) and thresholds.

- ``evaluate DATASET_DIR --out DIR`` runs the engine on a folder in the FVC, NIST SD302 or
  LFW layout and writes a report (Markdown, JSON, DET curve, score histogram) and the
  impostor-score calibration; ``--synthetic N`` first generates N synthetic fingers.
- ``calibrate DATASET_DIR --out FILE`` writes only the calibration (impostor scores).
- ``threshold --fpir 0.01 --gallery-size N --calibration FILE`` says which threshold holds
  that FPIR, and whether the calibration can show it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from lakana.core.cli_support import echo_json, fail, friendly_errors
from lakana.core.errors import Invalid

if TYPE_CHECKING:
    from lakana.biometry.matching.evaluation_datasets import Dataset

app = typer.Typer(no_args_is_help=True)

_LAYOUT_HELP = "fvc, sd302, lfw or auto (the layout most file names follow)."


@app.command("evaluate")
@friendly_errors
def evaluate_command(
    dataset_dir: Path | None = typer.Argument(
        None, help="Folder of images; with --synthetic, where to write them "
                   "(default OUT/synthetic-fvc)."),
    out: Path = typer.Option(..., "--out", help="Folder for the report."),
    layout: str = typer.Option("auto", "--layout", help=_LAYOUT_HELP),
    modality: str | None = typer.Option(None, "--modality",
                                        help="finger or face (default: the layout's)."),
    max_impostors: int = typer.Option(20_000, "--max-impostors", min=1,
                                      help="Impostor pairs at most (a seeded sample)."),
    max_gallery: int = typer.Option(200, "--max-gallery", min=2,
                                    help="Identities at most in the 1:N gallery."),
    ppi: int | None = typer.Option(None, "--ppi", min=250, max=2000,
                                   help="Resolution of finger images (default 500, or "
                                        "SD302's resolution field)."),
    synthetic: int | None = typer.Option(None, "--synthetic", min=1, max=10_000,
                                         help="Generate N synthetic fingers first (FVC "
                                              "layout; figures are synthetic — speed "
                                              "only)."),
    impressions: int = typer.Option(2, "--impressions", min=2, max=8,
                                    help="Impressions per synthetic finger."),
    seed: int = typer.Option(0, "--seed", help="Seed of the impostor and gallery samples."),
) -> None:
    """Measure FTA, FTE, FMR, FNMR, EER, DET, FPIR and FNIR on a folder of images."""
    from lakana.biometry.matching.evaluation import evaluate
    from lakana.biometry.matching.evaluation_report import write_report

    dataset = _dataset(dataset_dir, out, layout, modality, ppi, synthetic, impressions)
    result = evaluate(dataset, max_impostors=max_impostors, max_gallery=max_gallery,
                      seed=seed, progress=lambda message: typer.echo(f"… {message}",
                                                                     err=True))
    paths = write_report(result, out)
    label = "synthetic — speed only" if dataset.source == "synthetic" else "real images"
    typer.echo(f"{len(dataset.samples)} samples ({label}): FTA {_pct(result.fta)}, "
               f"FTE {_pct(result.fte)}, EER {_pct(result.eer)}")
    for path in paths:
        typer.echo(f"  {path}")


@app.command("calibrate")
@friendly_errors
def calibrate_command(
    dataset_dir: Path | None = typer.Argument(None, help="Folder of images (or, with "
                                                         "--synthetic, where to write "
                                                         "them)."),
    out: Path = typer.Option(..., "--out", help="Calibration file to write (JSON)."),
    layout: str = typer.Option("auto", "--layout", help=_LAYOUT_HELP),
    modality: str | None = typer.Option(None, "--modality", help="finger or face."),
    max_impostors: int = typer.Option(20_000, "--max-impostors", min=1,
                                      help="Impostor pairs at most (a seeded sample)."),
    ppi: int | None = typer.Option(None, "--ppi", min=250, max=2000,
                                   help="Resolution of finger images."),
    synthetic: int | None = typer.Option(None, "--synthetic", min=1, max=10_000,
                                         help="Generate N synthetic fingers first."),
    seed: int = typer.Option(0, "--seed", help="Seed of the impostor sample."),
) -> None:
    """Measure impostor scores on a folder and write them as a calibration file."""
    from lakana.biometry.matching.evaluation import evaluate
    from lakana.biometry.matching.evaluation_report import calibration_of
    from lakana.biometry.matching.thresholds import save_calibration

    dataset = _dataset(dataset_dir, out.parent / f"{out.stem}-data", layout, modality, ppi,
                       synthetic, 2)
    result = evaluate(dataset, max_impostors=max_impostors, gallery_sizes=(), max_gallery=2,
                      seed=seed)
    if not result.impostor.size:
        raise Invalid("Too few samples were enrolled to score any impostor pair.")
    calibration = calibration_of(result)
    save_calibration(calibration, out, histogram=dataset.modality == "finger")
    typer.echo(f"{result.impostor.size} impostor scores ({calibration.source}, "
               f"{calibration.engine}, {calibration.modality}) written to {out}")


@app.command("threshold")
@friendly_errors
def threshold_command(
    fpir: float = typer.Option(..., "--fpir", help="Target FPIR, e.g. 0.01."),
    gallery_size: int = typer.Option(..., "--gallery-size", help="References searched."),
    calibration: Path | None = typer.Option(None, "--calibration",
                                            help="Calibration file (from calibrate)."),
    engine_threshold: float = typer.Option(40.0, "--engine-threshold",
                                           help="The engine's own threshold (a floor)."),
) -> None:
    """The threshold that holds a target FPIR for a gallery size (JSON)."""
    from lakana.biometry.matching.thresholds import choose_threshold, load_calibration

    try:
        scores, source = None, "none"
        if calibration is not None:
            loaded = load_calibration(calibration)
            scores, source = loaded.scores, loaded.source
        choice = choose_threshold(fpir, gallery_size, scores,
                                  engine_threshold=engine_threshold, source=source)
    except ValueError as exc:
        fail(str(exc), 2)
        return
    echo_json({"threshold": choice.threshold, "fmr_target": choice.fmr_target,
               "resolvable": choice.resolvable, "extrapolated": choice.extrapolated,
               "floored": choice.floored, "source": choice.source,
               "impostor_scores": choice.impostor_count,
               "scores_needed": choice.scores_needed})


def _dataset(dataset_dir: Path | None, out: Path, layout: str, modality: str | None,
             ppi: int | None, synthetic: int | None, impressions: int) -> Dataset:
    from lakana.biometry.matching.evaluation_datasets import load_dataset, write_synthetic_fvc

    if modality not in (None, "finger", "face"):
        raise Invalid("Unknown modality %(modality)s (expected finger or face).",
                      modality=modality)
    if synthetic is not None:
        if layout not in ("auto", "fvc"):
            raise Invalid("A synthetic data set is in the FVC layout, not %(layout)s.",
                          layout=layout)
        dataset_dir = write_synthetic_fvc(dataset_dir or out / "synthetic-fvc", synthetic,
                                          impressions=impressions)
    if dataset_dir is None:
        raise Invalid("Give a data set folder, or --synthetic N to generate one.")
    return load_dataset(dataset_dir, layout=layout, modality=modality, ppi=ppi)


def _pct(value: float) -> str:
    return "n/a" if value != value else f"{value * 100:.2f} %"

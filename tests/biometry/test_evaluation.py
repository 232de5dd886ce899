"""The accuracy harness (ISO/IEC 19795-1): layouts, failures, 1:1 and 1:N figures, reports
and the CLI. Real figures come from the two public-domain portraits of tests/data/faces/;
fingerprint figures from synthetic prints (labelled so)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps
from typer.testing import CliRunner

from lakana.biometry.cli_matching import app
from lakana.biometry.engine import (
    Candidate,
    FaceSample,
    FingerSample,
    MatchingEngine,
    Probe,
)
from lakana.biometry.matching.evaluation import (
    FTA_UNDECODABLE,
    equal_error_rate,
    evaluate,
    rates,
)
from lakana.biometry.matching.evaluation_datasets import load_dataset
from lakana.biometry.matching.evaluation_report import SYNTHETIC_LABEL, write_report
from lakana.biometry.matching.thresholds import load_calibration
from lakana.biometry.synthetic import synthetic_finger
from lakana.core.errors import Invalid

FACES = Path(__file__).resolve().parents[1] / "data" / "faces"
runner = CliRunner()


# --- the synthetic FVC run, through the CLI ----------------------------------------------

@pytest.fixture(scope="module")
def synthetic_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``evaluate --synthetic 6`` (6 fingers × 2 impressions) written once for the module."""
    out = tmp_path_factory.mktemp("synthetic-report")
    result = runner.invoke(app, ["evaluate", "--synthetic", "6", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert SYNTHETIC_LABEL in result.output
    return out


def test_synthetic_prints_enrol_and_separate(synthetic_report: Path) -> None:
    report = json.loads((synthetic_report / "report.json").read_text())
    # Then every print enrolled, and every genuine score is above every impostor score
    assert report["dataset"]["samples"] == 12 and report["dataset"]["identities"] == 6
    assert report["enrolment"]["fta"] == 0 and report["enrolment"]["fte"] == 0
    verification = report["verification"]
    assert verification["genuine_pairs"] == 6 and verification["impostor_pairs"] == 60
    assert verification["genuine_scores"]["min"] > verification["impostor_scores"]["max"]
    assert verification["genuine_scores"]["min"] >= 40 > verification["impostor_scores"]["max"]
    assert verification["eer"] == 0.0
    # And FNMR at FMR 1 % cannot be shown with 60 impostor pairs, which the report says
    assert [p["resolvable"] for p in verification["fnmr_at_fmr"]] == [False, False, False]


def test_synthetic_report_files(synthetic_report: Path) -> None:
    # The DET curve and the histogram are real PNG images
    for name in ("det.png", "scores.png"):
        with Image.open(synthetic_report / name) as picture:
            assert picture.format == "PNG" and picture.width >= 400
    markdown = (synthetic_report / "report.md").read_text()
    # The provenance says synthetic, for every figure, and never "real images"
    assert f"**All figures below are {SYNTHETIC_LABEL}.**" in markdown
    assert markdown.count(f"synthetic data ({SYNTHETIC_LABEL})") == 5
    assert "come from **real images**" not in markdown
    # And the 1:N table is there, with one row for the whole gallery of 6
    assert "| N | Mated / non-mated searches | Rank-1 | FNIR | FPIR |" in markdown
    assert "| 6 | 6 / 6 | 100.00 % | 0.00 % | 0.00 % |" in markdown
    # And the calibration file can be read back, as synthetic
    calibration = load_calibration(synthetic_report / "impostor-calibration.json")
    assert calibration.source == "synthetic" and calibration.scores.size == 60


# --- failures to acquire and to enrol ----------------------------------------------------

def test_corrupt_and_blank_images_are_counted_not_fatal(tmp_path: Path) -> None:
    # Given an FVC folder: two good prints, a corrupt file, a blank print, and one finger
    # in TIFF (FVC's own format, re-encoded losslessly by the harness)
    (tmp_path / "101_1.png").write_bytes(synthetic_finger(11, 0))
    (tmp_path / "101_2.png").write_bytes(synthetic_finger(11, 1))
    (tmp_path / "102_1.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a PNG")
    blank = io.BytesIO()
    Image.new("L", (320, 400), 200).save(blank, "PNG")
    (tmp_path / "102_2.png").write_bytes(blank.getvalue())
    for impression in (0, 1):
        tiff = io.BytesIO()
        Image.open(io.BytesIO(synthetic_finger(12, impression))).save(tiff, "TIFF")
        (tmp_path / f"103_{impression + 1}.tif").write_bytes(tiff.getvalue())
    (tmp_path / "notes.txt").write_text("not an image, not in the layout")
    dataset = load_dataset(tmp_path, layout="fvc")
    assert len(dataset.samples) == 6 and dataset.ignored == 1
    # When evaluated
    result = evaluate(dataset)
    # Then the corrupt file is a failure to acquire and the blank one a failure to enrol
    assert result.fta == pytest.approx(1 / 6)
    assert result.fte == pytest.approx(1 / 5)
    assert result.reasons("fta") == {FTA_UNDECODABLE: 1}
    assert result.reasons("fte") == {"The fingerprint image is blank (no ridge contrast).": 1}
    # And the TIFF prints enrolled and matched
    assert result.genuine.size == 2 and result.genuine.min() >= 40
    gfmr, gfnmr = result.generalised
    assert gfnmr == pytest.approx(1 / 6 + 5 / 6 * 1 / 5)
    markdown = (write_report(result, tmp_path / "out")[0]).read_text()
    assert "1 × The fingerprint image is blank (no ridge contrast)." in markdown


# --- real faces (LFW layout) -------------------------------------------------------------

def test_real_faces_in_the_lfw_layout(tmp_path: Path) -> None:
    # Given an LFW folder: each portrait and a mirrored, re-encoded copy of it
    root = tmp_path / "lfw"
    for name in ("grace_hopper", "eileen_collins"):
        folder = root / name
        folder.mkdir(parents=True)
        picture = Image.open(FACES / f"{name}.jpg").convert("RGB")
        picture.save(folder / f"{name}_0001.jpg", quality=95)
        ImageOps.mirror(picture).save(folder / f"{name}_0002.jpg", quality=80)
    dataset = load_dataset(root)
    assert (dataset.layout, dataset.modality, dataset.source) == ("lfw", "face", "real")
    # When evaluated with the built-in engine and dlib's encoder
    result = evaluate(dataset)
    # Then both faces enrol, mates score high and the two people apart
    assert result.fte == 0 and result.genuine.size == 2 and result.impostor.size == 4
    assert result.genuine.min() >= 80 > 40 > result.impostor.max()
    assert result.eer == 0.0
    (row,) = result.identification
    assert (row.gallery_size, row.rank1, row.fnir, row.fpir) == (2, 1.0, 0.0, 0.0)
    markdown = write_report(result, tmp_path / "out")[0].read_text()
    assert "All figures below come from **real images**" in markdown
    assert SYNTHETIC_LABEL not in markdown


# --- metrics on a scripted engine ----------------------------------------------------------

class ScriptedEngine(MatchingEngine):
    """Scores decided by identity: mates 90 (except 105: 30), 101 against 102: 60, else 5."""

    name = "scripted"

    def __init__(self, labels: dict[bytes, str]) -> None:
        self.labels = labels

    def finger_from_image(self, image: bytes, *, position: int, ppi: int = 500
                          ) -> FingerSample:
        return FingerSample(position=position, wsq=None,
                            iso_template=self.labels[image].encode(), nfiq2=50, minutiae=30)

    def finger_from_template(self, iso_template: bytes, *, position: int) -> FingerSample:
        raise NotImplementedError

    def face_from_image(self, image: bytes) -> FaceSample:
        raise NotImplementedError

    def compare(self, probe: Probe, reference: Probe) -> Candidate:
        (left,) = probe.fingers.values()
        (right,) = reference.fingers.values()
        a, b = left.decode().split("_")[0], right.decode().split("_")[0]
        score = (30.0 if a == "105" else 90.0) if a == b \
            else 60.0 if {a, b} == {"101", "102"} else 5.0
        return Candidate(reference_id=0, score=score, scores={})

    def identify(self, probe: Probe, gallery: Iterable[tuple[int, Probe]], *,
                 max_results: int = 10) -> Sequence[Candidate]:
        raise NotImplementedError


def test_verification_and_identification_figures(tmp_path: Path) -> None:
    # Given five fingers × two impressions, each a distinct tiny PNG
    labels: dict[bytes, str] = {}
    for number, subject in enumerate(range(101, 106)):
        for impression in (1, 2):
            out = io.BytesIO()
            Image.new("L", (8, 8), number * 10 + impression).save(out, "PNG")
            labels[out.getvalue()] = f"{subject}_{impression}"
            (tmp_path / f"{subject}_{impression}.png").write_bytes(out.getvalue())
    result = evaluate(load_dataset(tmp_path), ScriptedEngine(labels), gallery_sizes=(3,))
    # Then 1:1: one genuine pair of five below 40, four impostor pairs of 40 above
    assert result.at_threshold is not None
    assert result.at_threshold.fnmr == pytest.approx(1 / 5)
    assert result.at_threshold.fmr == pytest.approx(4 / 40)
    # And 1:N over the whole gallery (5): 105's mate is missed, 101 and 102 find each other
    rows = {row.gallery_size: row for row in result.identification}
    assert sorted(rows) == [3, 5]
    full = rows[5]
    assert (full.mated_searches, full.nonmated_searches) == (5, 5)
    assert full.fnir == pytest.approx(1 / 5) and full.rank1 == 1.0
    assert full.fpir == pytest.approx(2 / 5)
    assert full.fpir_predicted == pytest.approx(1 - 0.9 ** 5)
    # And the threshold for 1 % FPIR must rise above the false 60s
    assert full.threshold_for_target is not None
    assert full.threshold_for_target.threshold > 60


def test_rates_and_equal_error_rate() -> None:
    genuine = np.array([3.0, 4.0, 5.0, 6.0])
    impostor = np.array([0.0, 1.0, 2.0, 3.0])
    fmr, fnmr = rates(genuine, impostor, np.array([0.0, 3.0, 4.0, 7.0]))
    assert fmr.tolist() == [1.0, 0.25, 0.0, 0.0]
    assert fnmr.tolist() == [0.0, 0.0, 0.25, 1.0]
    eer, threshold = equal_error_rate(genuine, impostor)
    assert eer == 0.125 and threshold == 3.0


# --- layouts ------------------------------------------------------------------------------

def test_sd302_names_give_subject_finger_and_resolution(tmp_path: Path) -> None:
    for name in ("00002302_A_500_roll_01.png", "00002302_B_1000_plain_01.png",
                 "00002302_A_500_slap_13.png", "00002303_U_500_roll_02.png", "README.txt"):
        (tmp_path / name).write_bytes(b"x")
    dataset = load_dataset(tmp_path)
    assert dataset.layout == "sd302" and dataset.modality == "finger"
    assert [(s.subject, s.position, s.ppi, s.identity) for s in dataset.samples] == [
        ("00002302", 1, 500, "00002302/1"), ("00002302", 1, 1000, "00002302/1"),
        ("00002303", 2, 500, "00002303/2")]
    assert dataset.skipped == {"not a single finger (FRGP outside 1-10)": 1}
    assert dataset.ignored == 1 and dataset.identities == 2


def test_fvc_sub_folders_are_separate_populations(tmp_path: Path) -> None:
    for folder in ("DB1_A", "DB2_A"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "101_1.tif").write_bytes(b"x")
    dataset = load_dataset(tmp_path, layout="fvc", ppi=569)
    assert [s.identity for s in dataset.samples] == ["DB1_A/101", "DB2_A/101"]
    assert {s.ppi for s in dataset.samples} == {569}


def test_dataset_errors(tmp_path: Path) -> None:
    with pytest.raises(Invalid, match="does not exist"):
        load_dataset(tmp_path / "missing")
    with pytest.raises(Invalid, match="is empty"):
        load_dataset(tmp_path)
    (tmp_path / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(Invalid, match="follows a known layout"):
        load_dataset(tmp_path)
    with pytest.raises(Invalid, match="Unknown data set layout"):
        load_dataset(tmp_path, layout="casia")
    (tmp_path / "101_1.png").write_bytes(b"x")
    with pytest.raises(Invalid, match="holds finger images, not face"):
        load_dataset(tmp_path, modality="face")


# --- CLI -------------------------------------------------------------------------------------

def test_cli_refuses_an_empty_folder_and_an_unknown_layout(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["evaluate", str(empty), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "is empty" in result.output
    (empty / "101_1.png").write_bytes(b"x")
    result = runner.invoke(app, ["evaluate", str(empty), "--layout", "nope", "--out",
                                 str(tmp_path / "o")])
    assert result.exit_code == 2 and "Unknown data set layout nope" in result.output
    result = runner.invoke(app, ["evaluate", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "--synthetic" in result.output


def test_cli_calibrate_then_threshold(tmp_path: Path) -> None:
    calibration = tmp_path / "cal.json"
    result = runner.invoke(app, ["calibrate", "--synthetic", "3", "--out", str(calibration)])
    assert result.exit_code == 0, result.output
    assert load_calibration(calibration).source == "synthetic"
    # Then 12 synthetic impostor scores cannot show the FMR a million-person gallery needs
    result = runner.invoke(app, ["threshold", "--fpir", "0.01", "--gallery-size", "1000000",
                                 "--calibration", str(calibration)])
    assert result.exit_code == 0, result.output
    choice = json.loads(result.output)
    assert choice["extrapolated"] and not choice["resolvable"] and choice["floored"]
    assert choice["threshold"] == 40 and choice["source"] == "synthetic"
    assert choice["impostor_scores"] == 12 and choice["scores_needed"] > 10**8
    result = runner.invoke(app, ["threshold", "--fpir", "1.5", "--gallery-size", "10"])
    assert result.exit_code == 2 and "strictly between 0 and 1" in result.output

"""Thresholds from a target FPIR, on impostor score distributions whose tails are known."""

from __future__ import annotations

import math
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest

from lakana.biometry.matching.thresholds import (
    calibration_from_scores,
    choose_threshold,
    empirical_fmr,
    fmr_for_fpir,
    fpir_for_fmr,
    load_calibration,
    save_calibration,
    threshold_for_fpir,
)

UNIFORM = np.arange(1000, dtype=np.float64)  # scores 0..999, one each


def test_fmr_for_fpir_inverts_the_independence_formula() -> None:
    # Given a 1 % FPIR target
    assert fmr_for_fpir(0.01, 1) == pytest.approx(0.01)
    # Then over 1,000 references each comparison may false-match at about FPIR / N
    fmr = fmr_for_fpir(0.01, 1000)
    assert fmr == pytest.approx(1 - 0.99 ** (1 / 1000), rel=1e-12)
    assert 0.01 / 1000 < fmr < 0.0101 / 1000
    assert fpir_for_fmr(fmr, 1000) == pytest.approx(0.01, rel=1e-12)
    # And stays precise for a national gallery (naive 1 - (1 - x) would lose digits)
    assert fmr_for_fpir(1e-3, 100_000_000) == pytest.approx(1e-11, rel=1e-3)


def test_threshold_is_the_smallest_score_whose_tail_meets_the_fmr() -> None:
    # Given 1,000 uniform impostor scores and a 5 % FPIR for one comparison
    choice = choose_threshold(0.05, 1, UNIFORM, engine_threshold=0)
    # Then 50 scores (950..999) are at or above the threshold, and no lower one qualifies
    assert choice.threshold == 950
    assert choice.resolvable and not choice.extrapolated and not choice.floored
    assert empirical_fmr(UNIFORM, 950) == pytest.approx(0.05)
    assert empirical_fmr(UNIFORM, 949) > 0.05
    assert choice.impostor_count == 1000 and choice.source == "real"


def test_threshold_follows_a_normal_tail() -> None:
    # Given 200,000 standard normal impostor scores and FPIR 1 % over 10 references
    scores = np.random.default_rng(8).standard_normal(200_000)
    choice = choose_threshold(0.01, 10, scores, engine_threshold=-math.inf)
    # Then the threshold is the normal quantile of 1 - FMR (about 3.09 sigma)
    expected = NormalDist().inv_cdf(1 - choice.fmr_target)
    assert choice.threshold == pytest.approx(expected, abs=0.05)
    assert empirical_fmr(scores, choice.threshold) <= choice.fmr_target
    assert threshold_for_fpir(0.01, 10, scores, engine_threshold=-math.inf) == choice.threshold


def test_too_few_scores_extrapolate_and_say_so() -> None:
    # Given 1,000 scores and an FMR target (5e-4) below 1/1000
    choice = choose_threshold(0.05, 100, UNIFORM, engine_threshold=0)
    # Then the largest score plus a tenth of the range is returned, flagged
    assert choice.extrapolated and not choice.resolvable
    assert choice.threshold == pytest.approx(999 + 99.9)
    assert choice.scores_needed == math.ceil(3 / choice.fmr_target) > 1000
    # And an explicit margin is honoured
    assert choose_threshold(0.05, 100, UNIFORM, engine_threshold=0, margin=1).threshold == 1000


def test_ties_at_the_top_cannot_be_split() -> None:
    # Given 10 impostor scores of 5 among 1,000 (1 % at 5)
    scores = np.array([5.0] * 10 + [1.0] * 990)
    assert choose_threshold(0.01, 1, scores, engine_threshold=0).threshold == 5
    # Then half that FMR cannot be resolved: everything at the top is tied
    assert choose_threshold(0.005, 1, scores, engine_threshold=0).extrapolated


def test_engine_threshold_is_a_floor_and_the_default_without_scores() -> None:
    # Given synthetic-like impostor scores (0 to 10) that would allow a threshold of 7
    scores = np.arange(11, dtype=np.float64).repeat(100)
    choice = choose_threshold(0.5, 1, scores, source="synthetic")
    assert choice.threshold == 40 and choice.floored and choice.source == "synthetic"
    # And without scores, the engine's threshold, marked as not measured
    bare = choose_threshold(0.01, 1000, None, engine_threshold=48)
    assert bare.threshold == 48 and not bare.resolvable and bare.source == "none"


@pytest.mark.parametrize("fpir", [0, 1, -0.1, 1.5, math.nan, True])
def test_fpir_must_be_a_probability(fpir: float) -> None:
    with pytest.raises(ValueError, match="FPIR must be strictly between 0 and 1"):
        threshold_for_fpir(fpir, 10)


@pytest.mark.parametrize("size", [0, -3, 1.5, True])
def test_gallery_size_must_be_a_positive_integer(size: int) -> None:
    with pytest.raises(ValueError, match="gallery size must be an integer of at least 1"):
        threshold_for_fpir(0.01, size)


def test_scores_must_be_finite_and_present() -> None:
    with pytest.raises(ValueError, match="finite"):
        choose_threshold(0.01, 1, [1.0, math.inf])
    with pytest.raises(ValueError, match="no impostor scores"):
        choose_threshold(0.01, 1, [])


@pytest.mark.parametrize("histogram", [True, False])
def test_calibration_round_trip(tmp_path: Path, histogram: bool) -> None:
    # Given integer impostor scores saved as a histogram or as a sorted sample
    scores = np.array([3, 0, 7, 3, 3, 12, 0], dtype=np.float64)
    calibration = calibration_from_scores(scores, engine="nbis", modality="finger",
                                          source="real", date="2026-01-02")
    path = tmp_path / "calibration.json"
    save_calibration(calibration, path, histogram=histogram)
    # Then the same distribution, in order, comes back with its metadata
    loaded = load_calibration(path)
    assert loaded.scores.tolist() == [0, 0, 3, 3, 3, 7, 12]
    assert (loaded.engine, loaded.modality, loaded.source, loaded.date) == \
        ("nbis", "finger", "real", "2026-01-02")


def test_bad_calibration_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not a readable calibration file"):
        load_calibration(path)
    path.write_text('{"format": "lakana-impostor-scores/1", "engine": "nbis", '
                    '"modality": "finger", "source": "real", "date": "2026-01-01", '
                    '"histogram": {"values": [1, 2], "counts": [3]}}')
    with pytest.raises(ValueError, match="of one length"):
        load_calibration(path)
    with pytest.raises(ValueError, match="source must be one of"):
        calibration_from_scores([1.0], engine="x", modality="finger", source="guessed")

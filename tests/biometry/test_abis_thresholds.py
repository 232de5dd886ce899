"""MOSIP's targetFPIR becomes a score threshold from the configured impostor calibration."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lakana.biometry.abis.service import threshold_for
from lakana.biometry.matching.thresholds import calibration_from_scores, save_calibration
from lakana.biometry.nbis_engine import NbisEngine


def _calibration(tmp_path: Path, top: float = 100.0) -> Path:
    scores = np.arange(10_000) * (top / 10_000)  # impostor scores spread over [0, top)
    path = tmp_path / "calibration.json"
    save_calibration(calibration_from_scores(scores, engine="nbis", modality="finger",
                                             source="synthetic"), path)
    return path


def test_a_calibration_raises_the_threshold_for_a_strict_fpir(tmp_path: Path) -> None:
    engine = NbisEngine()
    # targetFPIR 20 is an FPIR of 1 %; over 10 references that is an FMR of about 0.1 %,
    # which only the top ten of these 10,000 impostor scores reach.
    threshold = threshold_for(20, 10, engine, _calibration(tmp_path))
    assert 99.0 <= threshold <= 100.0
    assert threshold_for(20, 10, engine, None) == engine.match_threshold


def test_a_lax_fpir_never_lowers_the_engine_threshold(tmp_path: Path) -> None:
    engine = NbisEngine()
    # Impostors scoring 0 to 10 (Bozorth3 on synthetic prints) would put a lax target far
    # under the engine's validated operating point.
    low = _calibration(tmp_path, top=10.0)
    assert threshold_for(1, 10, engine, low) == engine.match_threshold


def test_an_unreadable_calibration_falls_back_to_the_engine_threshold(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    engine = NbisEngine()
    assert threshold_for(20, 10, engine, broken) == engine.match_threshold
    assert threshold_for(20, 10, engine, tmp_path / "missing.json") == engine.match_threshold

"""Input checks of the built-in engine's fingerprint intake."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from lakana.biometry.engine import AcquisitionError
from lakana.biometry.nbis_engine import NbisEngine
from lakana.biometry.synthetic import synthetic_finger

ENGINE = NbisEngine()


def test_size_is_checked_before_resampling(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a 1,900-pixel image declared at 250 ppi (3,800 pixels once at 500 ppi)
    picture = Image.effect_noise((1900, 1900), 60).convert("L")
    out = io.BytesIO()
    picture.save(out, "PNG")
    resized: list[object] = []
    monkeypatch.setattr(Image.Image, "resize", lambda self, *a, **k: resized.append(a))
    # Then it is refused with its size at 500 ppi, and never enlarged first
    with pytest.raises(AcquisitionError, match="3800×3800"):
        ENGINE.finger_from_image(out.getvalue(), position=2, ppi=250)
    assert resized == []


def test_only_the_documented_formats_are_accepted() -> None:
    # Given a real-looking print saved as BMP (decodable, but not a promised format)
    picture = Image.open(io.BytesIO(synthetic_finger(5)))
    out = io.BytesIO()
    picture.save(out, "BMP")
    with pytest.raises(AcquisitionError, match="BMP format"):
        ENGINE.finger_from_image(out.getvalue(), position=2)
    # While the same print as PNG is taken
    assert ENGINE.finger_from_image(synthetic_finger(5), position=2).minutiae >= 12

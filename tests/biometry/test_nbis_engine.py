"""Input checks of the built-in engine's fingerprint intake: sizes, formats, and prints or
templates with too few minutiae (a failure to acquire with the reason, never a crash)."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageFilter

from lakana.biometry.engine import AcquisitionError
from lakana.biometry.nbis_engine import MIN_MINUTIAE, NbisEngine
from lakana.biometry.synthetic import synthetic_finger
from tests.biometry.test_enrollment import finger_wsq, fingertip_png

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


def blurred_print(radius: float) -> bytes:
    """The real print, out of focus (``radius`` pixels of Gaussian blur)."""
    out = io.BytesIO()
    Image.open(io.BytesIO(finger_wsq())).convert("L").filter(
        ImageFilter.GaussianBlur(radius)).save(out, "PNG")
    return out.getvalue()


def with_minutiae(iso_template: bytes, count: int) -> bytes:
    """A real ISO/IEC 19794-2:2005 record (nbis-py's layout: finger position and minutiae
    count at bytes 24 and 25, 6-byte minutiae from byte 26) keeping its first ``count``
    minutiae, with its length header set right: a well-formed record of a poor capture."""
    body = iso_template[26:26 + 6 * count]
    length = 26 + len(body)
    return (iso_template[:8] + length.to_bytes(4, "big") + iso_template[12:25]
            + bytes([count]) + body)


def _minutiae_refusal(caught: pytest.ExceptionInfo[AcquisitionError]) -> int:
    """The minutiae count a refusal names, after checking it is the too-few-minutiae one."""
    error = caught.value
    assert error.message.startswith("Only %(count)s minutiae were found"), error.message
    assert error.params["minimum"] == MIN_MINUTIAE
    return int(error.params["count"])


@pytest.mark.parametrize("image", ["fingertip", "out of focus"])
def test_a_print_with_too_few_minutiae_is_a_failure_to_acquire(image: str) -> None:
    # Given a real print of which only a fingertip's patch touched the glass, or one so out
    # of focus that its ridges merge (NFIQ 2 cannot measure either)
    data = fingertip_png() if image == "fingertip" else blurred_print(6)
    # When the engine takes it
    with pytest.raises(AcquisitionError) as caught:
        ENGINE.finger_from_image(data, position=3)
    # Then it is refused for its minutiae, with their count and the minimum
    assert _minutiae_refusal(caught) < MIN_MINUTIAE
    assert "capture the finger again" in str(caught.value.message)


def test_a_print_whose_quality_cannot_be_measured_says_so() -> None:
    # Given the real print slightly out of focus: minutiae enough, but NFIQ 2 fails on it
    with pytest.raises(AcquisitionError) as caught:
        ENGINE.finger_from_image(blurred_print(2), position=3)
    # Then the reason names the quality measure, not a bare library error code
    assert "NFIQ 2" in caught.value.message and caught.value.params == {}


def test_a_template_with_too_few_minutiae_is_a_failure_to_acquire() -> None:
    # Given the real print's template (150 minutiae) cut to fewer than the minimum
    template = ENGINE.finger_from_image(finger_wsq(), position=3).iso_template
    poor = with_minutiae(template, MIN_MINUTIAE - 1)
    assert len(ENGINE.load_template(poor).get()) == MIN_MINUTIAE - 1  # well-formed
    # Then importing it is refused with the count
    with pytest.raises(AcquisitionError) as caught:
        ENGINE.finger_from_template(poor, position=3)
    assert _minutiae_refusal(caught) == MIN_MINUTIAE - 1
    # While the minimum itself is taken
    taken = ENGINE.finger_from_template(with_minutiae(template, MIN_MINUTIAE), position=3)
    assert taken.minutiae == MIN_MINUTIAE

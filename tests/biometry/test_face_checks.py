"""Face capture checks with dlib on a real photograph: one face, big enough, facing the
camera; drawings, crowds, tilted heads and tiny faces are refused with the reason."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from PIL import Image

from lakana.biometry.engine import AcquisitionError
from lakana.biometry.face_checks import _measure
from lakana.biometry.nbis_engine import NbisEngine
from lakana.biometry.synthetic import synthetic_face
from tests.biometry.faces import FACE_PATH, real_face

ENGINE = NbisEngine()


def _jpeg(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=92)
    return out.getvalue()


def test_real_portrait_is_accepted_and_stripped_of_metadata() -> None:
    photo = Image.open(FACE_PATH)
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    out = io.BytesIO()
    photo.save(out, "JPEG", exif=exif)
    sample = ENGINE.face_from_image(out.getvalue())
    assert (sample.width, sample.height) == photo.size
    assert 50 <= sample.score <= 100
    assert not Image.open(io.BytesIO(sample.image)).getexif()


def test_mirrored_and_fitted_portraits_pass() -> None:
    assert ENGINE.face_from_image(real_face(mirror=True)).score >= 50
    assert ENGINE.face_from_image(real_face(400, 500, fmt="JPEG")).score >= 50


@pytest.mark.parametrize("degrees", [25, -25])
def test_tilted_head_is_refused(degrees: int) -> None:
    tilted = Image.open(FACE_PATH).rotate(degrees, fillcolor=(128, 128, 128))
    with pytest.raises(AcquisitionError, match="tilted"):
        ENGINE.face_from_image(_jpeg(tilted))


def test_slight_tilt_is_accepted_with_a_lower_score() -> None:
    straight = ENGINE.face_from_image(_jpeg(Image.open(FACE_PATH)))
    tilted = ENGINE.face_from_image(_jpeg(Image.open(FACE_PATH).rotate(
        8, fillcolor=(128, 128, 128))))
    assert tilted.score < straight.score


def test_drawing_without_a_face_is_refused() -> None:
    with pytest.raises(AcquisitionError, match="No face was found"):
        ENGINE.face_from_image(synthetic_face(3))


def test_two_faces_are_refused() -> None:
    photo = Image.open(FACE_PATH).convert("RGB").resize((256, 300))
    pair = Image.new("RGB", (512, 700), (128, 128, 128))
    pair.paste(photo, (0, 0))
    pair.paste(photo, (256, 380))
    with pytest.raises(AcquisitionError, match="2 faces"):
        ENGINE.face_from_image(_jpeg(pair))


def test_small_face_in_a_big_picture_is_refused() -> None:
    canvas = Image.effect_noise((1200, 1500), 60).convert("RGB")
    canvas.paste(Image.open(FACE_PATH).convert("RGB").resize((200, 234)), (500, 600))
    with pytest.raises(AcquisitionError, match="too small"):
        ENGINE.face_from_image(_jpeg(canvas))


@dataclass
class _Point:
    x: float
    y: float


class _Shape:
    """Five landmarks as dlib gives them (eye corners, eye corners, nose base)."""

    def __init__(self, points: list[tuple[float, float]]) -> None:
        self.points = [_Point(x, y) for x, y in points]

    def part(self, index: int) -> _Point:
        return self.points[index]


class _Box:
    def width(self) -> int:
        return 200


def test_pose_measures_roll_and_yaw() -> None:
    # Level eyes, nose centred: facing the camera
    facing = _measure(_Box(), _Shape([(140, 100), (120, 100), (60, 100), (80, 100),
                                      (100, 150)]), 1.0)
    assert facing is not None and abs(facing.roll_degrees) < 1 and abs(facing.yaw) < 0.01
    # Nose far to one side of the eyes: the head is turned (yaw ~0.45)
    turned = _measure(_Box(), _Shape([(140, 100), (120, 100), (60, 100), (80, 100),
                                      (136, 150)]), 1.0)
    assert turned is not None and turned.yaw > 0.4
    # Landmarks that are not a face's (nose above the eyes) are not a face
    assert _measure(_Box(), _Shape([(140, 100), (120, 100), (60, 100), (80, 100),
                                    (100, 50)]), 1.0) is None

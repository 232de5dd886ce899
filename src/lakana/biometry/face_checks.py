"""Capture checks of a face image: exactly one face, big enough, looking at the camera.

dlib's HOG face detector finds the faces, and its 5-point landmark model (right eye's two
corners, left eye's two corners, the base of the nose; shipped in the
``face-recognition-models`` package, nothing downloaded) places the eyes and the nose. The
detector can fire on things that are not faces, so a box is a face only if its landmarks are
plausible (eyes level enough, nose between them). The 68-point model is not used: its
training data restricts commercial use.

Pose is estimated from the landmarks: *roll* is the angle of the line between the eyes;
*yaw* is how far the nose sits from the middle of the eyes, relative to the distance between
them (0 facing the camera, about 0.5 in profile).
"""

from __future__ import annotations

import importlib.util
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from lakana.biometry.engine import AcquisitionError

#: Largest side the detector looks at (larger images are scaled down first: speed).
DETECTION_SIDE = 800
#: The face must be at least this wide, in pixels of the original image.
MIN_FACE_PIXELS = 90
#: ...and at least this share of the image width (a portrait, not a crowd).
MIN_FACE_SHARE = 0.2
MAX_ROLL_DEGREES = 15.0
MAX_YAW = 0.25


@dataclass(frozen=True)
class FaceCheck:
    """What the checks measured on the one face found."""

    width: int
    roll_degrees: float
    yaw: float
    score: int


@dataclass(frozen=True)
class LocatedFace:
    """The one face that passed the checks, located for an encoder."""

    check: FaceCheck
    #: The RGB pixels the detector saw (the image scaled by ``scale``), as a NumPy array.
    pixels: Any
    scale: float
    #: dlib's rectangle and 5-point ``full_object_detection``, in ``pixels`` coordinates.
    box: Any
    shape: Any
    #: The 5 landmarks in the original image's coordinates (for a non-dlib encoder).
    landmarks: tuple[tuple[float, float], ...]


def _models_dir() -> Path:
    # Found without importing the package, whose __init__ needs setuptools' pkg_resources.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the face-recognition-models package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class FaceChecker:
    """The detector and the landmark model, loaded once; calls are serialised (dlib's
    objects are not documented as thread-safe, and each call is ~0.1 s)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._detector: Any = None
        self._predictor: Any = None

    def _load(self) -> None:
        import dlib

        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(
            str(_models_dir() / "shape_predictor_5_face_landmarks.dat"))

    def check(self, picture: Image.Image) -> FaceCheck:
        """Find exactly one plausible face and check its size and pose; raise
        :class:`AcquisitionError` saying what is wrong otherwise."""
        return self.locate(picture).check

    def locate(self, picture: Image.Image) -> LocatedFace:
        """:meth:`check`, also giving the image the detector saw, the face's box and its
        5-point landmarks (so an encoder aligns the face without detecting it again)."""
        import numpy as np

        scale = min(1.0, DETECTION_SIDE / max(picture.size))
        small = picture if scale == 1.0 else picture.resize(
            (round(picture.width * scale), round(picture.height * scale)),
            Image.Resampling.BILINEAR)
        pixels = np.asarray(small.convert("RGB"))
        with self._lock:
            if self._detector is None:
                self._load()
            boxes = list(self._detector(pixels, 1))
            faces = [(box, self._predictor(pixels, box)) for box in boxes]
        measured = [(m, box, shape) for m, box, shape in
                    ((_measure(box, shape, scale), box, shape) for box, shape in faces)
                    if m is not None]
        if not measured:
            raise AcquisitionError("No face was found in the image: the person must face the "
                                   "camera, with the whole face visible.")
        if len(measured) > 1:
            raise AcquisitionError("%(count)s faces were found in the image: exactly one is "
                                   "expected.", count=len(measured))
        face, box, shape = measured[0]
        if face.width < MIN_FACE_PIXELS or face.width < MIN_FACE_SHARE * picture.width:
            raise AcquisitionError("The face is too small (%(width)s pixels wide): come closer "
                                   "to the camera.", width=face.width)
        if abs(face.roll_degrees) > MAX_ROLL_DEGREES:
            raise AcquisitionError("The head is tilted (%(degrees).0f°): hold it straight.",
                                   degrees=face.roll_degrees)
        if abs(face.yaw) > MAX_YAW:
            raise AcquisitionError("The head is turned to the side: look straight at the "
                                   "camera.")
        landmarks = tuple((shape.part(i).x / scale, shape.part(i).y / scale)
                          for i in range(5))
        return LocatedFace(check=face, pixels=pixels, scale=scale, box=box, shape=shape,
                           landmarks=landmarks)


def _measure(box: Any, shape: Any, scale: float) -> FaceCheck | None:
    """Pose of one detection, or None if its landmarks are not those of a face."""
    points = [(shape.part(i).x / scale, shape.part(i).y / scale) for i in range(5)]
    first_eye = ((points[0][0] + points[1][0]) / 2, (points[0][1] + points[1][1]) / 2)
    second_eye = ((points[2][0] + points[3][0]) / 2, (points[2][1] + points[3][1]) / 2)
    nose = points[4]
    dx, dy = first_eye[0] - second_eye[0], first_eye[1] - second_eye[1]
    eye_distance = math.hypot(dx, dy)
    width = round(box.width() / scale)
    # The eyes of a face are apart by roughly a third of its width, and the nose is below them.
    if eye_distance < 0.15 * width or nose[1] <= min(first_eye[1], second_eye[1]):
        return None
    roll = math.degrees(math.atan2(dy, dx))
    middle_x = (first_eye[0] + second_eye[0]) / 2
    yaw = (nose[0] - middle_x) / eye_distance
    score = int(max(0.0, 100 - 2 * abs(roll) - 150 * abs(yaw)))
    return FaceCheck(width=width, roll_degrees=roll, yaw=yaw, score=score)

"""Face templates: the encoder plugin interface and the built-in dlib encoder.

An encoder turns one located face (:class:`lakana.biometry.face_checks.LocatedFace`: the
capture checks ran, detection is not repeated) into a 128-d float32 unit vector. The
built-in :class:`DlibFaceEncoder` aligns the face with dlib's 5-point landmarks
(``dlib.get_face_chip``, 150×150) and runs dlib's ResNet
(``dlib_face_recognition_resnet_model_v1.dat`` from the ``face-recognition-models``
package: nothing is downloaded). A licensed model (ONNX...) replaces it by implementing
:class:`FaceEncoder` with the landmarks of the located face.

Templates are bytes: ``LKFT``, format version, dimension, encoder version and name, then
the vector (float32, little-endian); :func:`unpack` parses them strictly. Two faces are
compared by the Euclidean distance of their unit vectors (0 same, 2 opposite; cosine
similarity = 1 - distance² / 2). dlib's operating point, a distance of 0.6 (99.38 % on
LFW), is between its raw descriptors, whose norms are about 1.4 (1.39 and 1.46 measured
here): on unit vectors it becomes about 0.42, :data:`MATCH_DISTANCE` (cosine ≈ 0.91).
:func:`face_score` maps it onto the engine's scale, where 40 is the match threshold.
"""

from __future__ import annotations

import math
import struct
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from lakana.biometry.engine import AcquisitionError
from lakana.biometry.face_checks import LocatedFace, _models_dir

MAGIC = b"LKFT"
FORMAT_VERSION = 1
#: Magic, format version, dimension, encoder version, length of the encoder's name.
_HEADER = struct.Struct(">4sBHBB")
MAX_DIM = 4096
#: dlib's threshold (0.6 between raw descriptors of norm ≈ 1.42) on unit vectors: two faces
#: closer than this are the same person.
MATCH_DISTANCE = 0.42
#: The engine's match threshold (score) that :data:`MATCH_DISTANCE` maps to.
MATCH_SCORE = 40.0


class FaceEncoder(ABC):
    """A face embedding model: one located face in, one unit vector out."""

    name: str = "encoder"
    version: int = 1
    dim: int = 128

    @abstractmethod
    def encode(self, picture: Image.Image, face: LocatedFace) -> NDArray[np.float32]:
        """The face's embedding: ``dim`` float32 values of Euclidean norm 1."""

    def template(self, picture: Image.Image, face: LocatedFace) -> bytes:
        """The face's template (header and vector), ready to seal."""
        return pack(self.encode(picture, face), encoder=self.name, version=self.version)


class DlibFaceEncoder(FaceEncoder):
    """dlib's ResNet (128-d) on the face aligned by its 5 landmarks."""

    name = "dlib-resnet-v1"
    version = 1
    dim = 128
    #: dlib's recommended chip: 150×150 pixels, 25 % padding around the landmarks.
    CHIP_SIZE = 150
    CHIP_PADDING = 0.25

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model: Any = None

    def encode(self, picture: Image.Image, face: LocatedFace) -> NDArray[np.float32]:
        """Align (dlib's face chip from the detector's pixels and landmarks) and embed."""
        import dlib

        chip = dlib.get_face_chip(face.pixels, face.shape, size=self.CHIP_SIZE,
                                  padding=self.CHIP_PADDING)
        with self._lock:
            if self._model is None:
                self._model = dlib.face_recognition_model_v1(
                    str(_models_dir() / "dlib_face_recognition_resnet_model_v1.dat"))
            descriptor = self._model.compute_face_descriptor(chip)
        return normalise(np.asarray(descriptor, dtype=np.float32))


@dataclass(frozen=True)
class FaceTemplate:
    """A parsed face template."""

    encoder: str
    version: int
    vector: NDArray[np.float32]


def normalise(vector: NDArray[np.float32]) -> NDArray[np.float32]:
    """The vector scaled to norm 1 (float32)."""
    norm = float(np.linalg.norm(vector))
    if not math.isfinite(norm) or norm == 0.0:
        raise AcquisitionError("The face could not be encoded (empty embedding).")
    return (vector / norm).astype(np.float32)


def pack(vector: NDArray[np.float32], *, encoder: str, version: int) -> bytes:
    """Serialise a unit vector with its header."""
    name = encoder.encode("ascii")
    values = np.asarray(vector, dtype="<f4").ravel()
    return _HEADER.pack(MAGIC, FORMAT_VERSION, values.size, version, len(name)) + name \
        + values.tobytes()


def unpack(data: bytes) -> FaceTemplate:
    """Parse a face template strictly; :class:`AcquisitionError` for anything else."""
    if len(data) < _HEADER.size or not data.startswith(MAGIC):
        raise AcquisitionError("This is not a Lakana face template (wrong header).")
    _magic, fmt, dim, version, name_length = _HEADER.unpack_from(data)
    if fmt != FORMAT_VERSION or not 1 <= dim <= MAX_DIM or name_length == 0:
        raise AcquisitionError("This face template's header is not supported (format "
                               "%(format)s, dimension %(dim)s).", format=fmt, dim=dim)
    start = _HEADER.size + name_length
    if len(data) != start + 4 * dim:
        raise AcquisitionError("The face template is truncated or padded (%(actual)s bytes, "
                               "header says %(declared)s).", actual=len(data),
                               declared=start + 4 * dim)
    try:
        encoder = data[_HEADER.size:start].decode("ascii")
    except UnicodeDecodeError:
        raise AcquisitionError("This face template's header is not supported (format "
                               "%(format)s, dimension %(dim)s).", format=fmt,
                               dim=dim) from None
    vector = np.frombuffer(data, dtype="<f4", count=dim, offset=start).astype(np.float32)
    norm = float(np.linalg.norm(vector))
    if not math.isfinite(norm) or abs(norm - 1.0) > 1e-3:
        raise AcquisitionError("The face template's vector is not normalised (norm "
                               "%(norm).3f).", norm=norm)
    return FaceTemplate(encoder=encoder, version=version, vector=vector)


def distance(left: NDArray[np.float32], right: NDArray[np.float32]) -> float:
    """Euclidean distance of two unit vectors (0 identical … 2 opposite)."""
    return float(np.linalg.norm(left.astype(np.float64) - right.astype(np.float64)))


def similarity(left: NDArray[np.float32], right: NDArray[np.float32]) -> float:
    """Cosine similarity of two unit vectors (= 1 - distance² / 2)."""
    return float(np.dot(left.astype(np.float64), right.astype(np.float64)))


def face_score(face_distance: float) -> float:
    """The distance on the engine's 0–100 scale: ``100 - 60 × distance / MATCH_DISTANCE``,
    floored at 0.

    Linear and anchored so that the operating point (:data:`MATCH_DISTANCE`) lands exactly
    on the engine's threshold (40, the same as Bozorth3's for a finger): identical faces
    score 100, a distance of a third of the threshold (0.14) or less is "high" (≥ 80).
    Measured on the one real portrait: the same face mirrored, rescaled or re-encoded is at
    0.06–0.11 (84–91); another person (a NASA portrait) at 0.475 (32, "low").
    """
    return max(0.0, 100.0 - (100.0 - MATCH_SCORE) * face_distance / MATCH_DISTANCE)


def compare_templates(probe: bytes, reference: bytes) -> float:
    """The distance between two templates of the same encoder (name and version)."""
    left, right = unpack(probe), unpack(reference)
    if (left.encoder, left.version, left.vector.size) != \
            (right.encoder, right.version, right.vector.size):
        raise AcquisitionError("The face templates come from different encoders "
                               "(%(probe)s, %(reference)s): capture the face again.",
                               probe=f"{left.encoder} v{left.version}",
                               reference=f"{right.encoder} v{right.version}")
    return distance(left.vector, right.vector)

"""The one real face photograph the tests use (public domain; see tests/data/faces/)."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageOps

FACE_PATH = Path(__file__).resolve().parents[1] / "data" / "faces" / "grace_hopper.jpg"


def real_face(width: int = 300, height: int = 400, *, mirror: bool = False,
              fmt: str = "PNG") -> bytes:
    """The photograph fitted into ``width``×``height`` (a portrait keeps the whole face),
    optionally mirrored (another picture of the same face)."""
    picture = Image.open(FACE_PATH).convert("RGB")
    if mirror:
        picture = ImageOps.mirror(picture)
    fitted = ImageOps.pad(picture, (width, height), color=(128, 128, 128))
    out = io.BytesIO()
    fitted.save(out, fmt)
    return out.getvalue()

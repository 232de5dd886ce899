"""Face encoders by name: the built-in dlib one and any installed plugin.

A licensed model (an ONNX network, a vendor SDK) ships as its own Python package that
declares an entry point in the ``lakana.face_encoders`` group, naming a
:class:`~lakana.biometry.matching.faces.FaceEncoder` subclass (or a factory returning an
instance)::

    [project.entry-points."lakana.face_encoders"]
    acme = "acme_faces.lakana:AcmeEncoder"

and the deployment chooses it with ``LAKANA_BIOMETRY_FACE_ENCODER=acme``. Lakana itself
declares ``dlib`` this way, so the built-in encoder is loaded by the same path as a plugin.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

from lakana.biometry.matching.faces import FaceEncoder

GROUP = "lakana.face_encoders"


class UnknownEncoder(LookupError):
    """No installed face encoder has this name."""


def available_encoders() -> dict[str, EntryPoint]:
    """The face encoders installed in this environment, by name."""
    return {point.name: point for point in entry_points(group=GROUP)}


def load_face_encoder(name: str) -> FaceEncoder:
    """Instantiate the face encoder registered under ``name``; :class:`UnknownEncoder`
    names the installed ones when it is not there, :class:`TypeError` when the entry point
    is not a :class:`FaceEncoder`."""
    points = available_encoders()
    point = points.get(name)
    if point is None:
        known = ", ".join(sorted(points)) or "none"
        raise UnknownEncoder(f"no face encoder named {name!r} is installed (installed: {known})")
    factory = point.load()
    encoder = factory()
    if not isinstance(encoder, FaceEncoder):
        raise TypeError(f"the face encoder {name!r} ({point.value}) is not a FaceEncoder")
    return encoder

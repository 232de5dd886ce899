"""Face encoders are found by entry point, the built-in dlib one included."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from lakana.biometry.matching import encoders
from lakana.biometry.matching.faces import DlibFaceEncoder
from lakana.core.config import Settings


def test_the_builtin_encoder_is_declared_as_an_entry_point() -> None:
    assert "dlib" in encoders.available_encoders()
    assert isinstance(encoders.load_face_encoder("dlib"), DlibFaceEncoder)


def test_an_unknown_encoder_names_the_installed_ones() -> None:
    with pytest.raises(encoders.UnknownEncoder, match="installed: .*dlib"):
        encoders.load_face_encoder("acme")


def test_an_entry_point_that_is_not_a_face_encoder_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    fake = EntryPoint(name="bogus", value="collections:OrderedDict", group=encoders.GROUP)
    monkeypatch.setattr(encoders, "available_encoders", lambda: {"bogus": fake})
    with pytest.raises(TypeError, match="not a FaceEncoder"):
        encoders.load_face_encoder("bogus")


def test_the_settings_choose_the_running_engines_face_encoder(settings: Settings) -> None:
    from lakana.biometry import runtime

    assert runtime.engine(settings).face_encoder is None
    with_faces = runtime.engine(settings.model_copy(update={"biometry_face_encoder": "dlib"}))
    assert isinstance(with_faces.face_encoder, DlibFaceEncoder)
    assert runtime.engine(settings) is not with_faces

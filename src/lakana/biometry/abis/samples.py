"""From CBEFF samples to the engine's templates: ISO/IEC 19794-2 minutiae records as they
are, finger images (PNG, JPEG, WSQ, JPEG 2000, bare or inside an ISO/IEC 19794-4 record)
and face images (JPEG, PNG, JPEG 2000, bare or inside an ISO/IEC 19794-5 record) through
the engine's extraction and checks."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image

from lakana.biometry.abis.cbeff import CbeffSample
from lakana.biometry.abis.messages import AbisFailure, FailureReason
from lakana.biometry.engine import AcquisitionError, MatchingEngine, Probe

_FMR = b"FMR\x00"
_FIR = b"FIR\x00"
_FAC = b"FAC\x00"
#: Image signatures looked for inside an ISO/IEC 19794-4 or -5 record (after its header).
_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"\xff\xa0\xff\xa8", b"\xff\xa0",
               b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")
_JP2 = (b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")
_MAX_PIXELS = 4000 * 4000


@dataclass(frozen=True)
class Template:
    """One usable sample: finger (ISO/IEC 19794-2 record) or face (engine template)."""

    modality: str
    position: int
    template: bytes
    quality: int


def _embedded_image(record: bytes, header: int) -> bytes:
    """The image inside an ISO/IEC 19794-4/-5 record: the first known image signature
    after the general header (both the 2005 and 2011 layouts put it after their headers)."""
    found = [(record.find(sig, header), sig) for sig in _SIGNATURES]
    starts = [pos for pos, _ in found if pos >= header]
    if not starts:
        raise AcquisitionError("The ISO record holds no image in a known format.")
    return record[min(starts):]


def _as_png(image: bytes) -> bytes:
    """JPEG 2000 (MOSIP's usual finger and face format) re-encoded as PNG for the engine."""
    if not image.startswith(_JP2):
        return image
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            picture = Image.open(io.BytesIO(image))
            if picture.width * picture.height > _MAX_PIXELS:
                raise AcquisitionError("The image is too large.")
            picture.load()
    except AcquisitionError:
        raise
    except Exception:  # Pillow raises many types for a corrupt file
        raise AcquisitionError("The JPEG 2000 image cannot be decoded.") from None
    out = io.BytesIO()
    picture.convert("L" if picture.mode in ("L", "I;16", "I") else "RGB").save(out, "PNG")
    return out.getvalue()


def _ppi(record: bytes) -> int:
    """The horizontal image resolution of an ISO/IEC 19794-4:2005 record, else 500."""
    if record[4:8] == b"010\x00" and len(record) >= 32:
        value = int.from_bytes(record[22:24], "big")
        if 250 <= value <= 1000:
            return value
    return 500


def to_template(sample: CbeffSample, engine: MatchingEngine) -> Template | None:
    """The template of one sample; ``None`` for what Lakana does not match (iris, an
    unknown finger subtype, a face when the engine has no face encoder)."""
    data = sample.data
    if sample.modality == "finger":
        if not 1 <= sample.position <= 10:
            return None
        if data.startswith(_FMR):
            finger = engine.finger_from_template(data, position=sample.position)
            return Template("finger", sample.position, finger.iso_template, sample.quality)
        ppi = _ppi(data) if data.startswith(_FIR) else 500
        image = _embedded_image(data, 16) if data.startswith(_FIR) else data
        finger = engine.finger_from_image(_as_png(image), position=sample.position, ppi=ppi)
        return Template("finger", sample.position, finger.iso_template,
                        finger.nfiq2 or sample.quality)
    if sample.modality == "face":
        image = _embedded_image(data, 14) if data.startswith(_FAC) else data
        face = engine.face_from_image(_as_png(image))
        if not face.template:
            return None
        return Template("face", 0, face.template, face.score)
    return None


def extract(samples: list[CbeffSample], engine: MatchingEngine) -> list[Template]:
    """Every usable template (the first one per finger position, one face).

    :class:`AbisFailure` 18 when a sample fails the engine's checks, 11 when nothing
    usable remains."""
    kept: dict[tuple[str, int], Template] = {}
    for sample in samples:
        try:
            template = to_template(sample, engine)
        except AcquisitionError as exc:
            raise AbisFailure(FailureReason.QUALITY_CHECK_FAILED,
                              f"{sample.modality} {sample.position}: {exc.message}") from None
        if template is not None:
            kept.setdefault((template.modality, template.position), template)
    if not kept:
        raise AbisFailure(FailureReason.CBEFF_NO_DATA, "no finger or face the engine matches")
    return list(kept.values())


def probe_of(templates: list[Template]) -> Probe:
    """The engine's probe made of templates."""
    face = next((t.template for t in templates if t.modality == "face"), b"")
    return Probe(fingers={t.position: t.template for t in templates if t.modality == "finger"},
                 face=face)

"""The built-in matching engine: NIST NBIS through ``nbis-py`` (MINDTCT minutiae, NFIQ 2
quality, Bozorth3 comparison, ISO/IEC 19794-2:2005 templates), Pillow for image checks and
dlib for the face capture checks (one face, size, pose: :mod:`lakana.biometry.face_checks`).

It compares a probe with every gallery entry (about 1.6 ms per finger pair): right for a
registration centre or a pilot, not for a nation; the matching-engine issue brings the
sharded, indexed engine behind the same :class:`MatchingEngine` interface. Given a face
encoder (:mod:`lakana.biometry.matching.faces`, e.g. dlib's ResNet) it also makes face
templates and compares faces; without one, faces are checked and stored but not compared.
"""

from __future__ import annotations

import hashlib
import io
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

import nbis
import wsq  # noqa: F401  (registers the WSQ codec with Pillow)
from PIL import Image, ImageFilter, ImageStat

from lakana.biometry.engine import (
    AcquisitionError,
    Candidate,
    FaceSample,
    FingerSample,
    MatchingEngine,
    Probe,
)
from lakana.biometry.face_checks import FaceChecker
from lakana.biometry.matching.faces import FaceEncoder, compare_templates, face_score
from lakana.biometry.matching.mcc import FingerIndex, MccTemplate, mcc_from_iso

#: ISO/IEC 19794-2:2005 record: "FMR\0", " 20\0", then the finger view at byte 24.
_ISO_MAGIC = b"FMR\x00 20\x00"
_ISO_POSITION_OFFSET = 24
#: The formats the documentation promises (docs/biometry-registry.md), and no other.
_FINGER_FORMATS = {"PNG", "JPEG", "WSQ"}
_FACE_FORMATS = {"PNG", "JPEG"}
#: Fewer minutiae than this cannot be matched reliably (failure to acquire).
MIN_MINUTIAE = 12
#: Galleries up to this size are compared exhaustively with Bozorth3 (~0.3 s).
EXHAUSTIVE_UP_TO = 200
#: Above, the MCC candidates re-scored with Bozorth3.
SHORTLIST = 50
#: MCC templates kept in memory by identify (LRU; about 2.5 KB each at 40 minutiae).
MCC_CACHE_SIZE = 50_000
#: Pillow refuses to decode more pixels than this (a decompression bomb).
_MAX_PIXELS = 16_000_000


class NbisEngine(MatchingEngine):
    """NBIS fingerprints (Bozorth3 1:1 and exhaustive 1:N) and face image checks."""

    name = "nbis"
    match_threshold = 40.0

    def __init__(self, *, face_encoder: FaceEncoder | None = None) -> None:
        self._local = threading.local()
        self._faces = FaceChecker()
        self.face_encoder = face_encoder
        self._mcc_cache: OrderedDict[bytes, MccTemplate] = OrderedDict()
        self._mcc_lock = threading.Lock()

    # -- fingers -----------------------------------------------------------------------
    def finger_from_image(self, image: bytes, *, position: int, ppi: int = 500
                          ) -> FingerSample:
        """Decode, normalise to 8-bit grey at 500 ppi, extract minutiae and NFIQ 2."""
        _check_position(position)
        picture = _decode(image, _FINGER_FORMATS, what="fingerprint")
        # The size at 500 ppi is checked before resampling: a large image declared at a low
        # resolution would otherwise be enlarged (up to 4 times the pixels) first.
        width, height = round(picture.width * 500 / ppi), round(picture.height * 500 / ppi)
        if not (150 <= width <= 2000 and 150 <= height <= 2000):
            raise AcquisitionError(
                "The fingerprint image is %(width)s×%(height)s pixels at 500 ppi; between "
                "150 and 2000 pixels are expected on each side.", width=width, height=height)
        grey = picture.convert("L")
        if ppi != 500:
            grey = grey.resize((width, height), Image.Resampling.LANCZOS)
        if ImageStat.Stat(grey).stddev[0] < 8:
            raise AcquisitionError("The fingerprint image is blank (no ridge contrast).")
        png = io.BytesIO()
        grey.save(png, "PNG")
        try:
            minutiae = self._extractor().extract_minutiae(png.getvalue())
        except nbis.NbisError as exc:
            if isinstance(exc, nbis.NbisError.Nfiq2ComputeFailed):
                # NFIQ 2 fails on the prints with little usable ridge area (a fingertip
                # barely touching the glass, a blurred capture): the ones with too few
                # minutiae. Counting them without NFIQ 2 tells the agent what is wrong.
                counted = self._count_minutiae(png.getvalue())
                if counted is not None:
                    _check_minutiae(counted)
                    raise AcquisitionError("The quality of the fingerprint (NFIQ 2) could not "
                                           "be measured: capture the finger again.") from None
            raise AcquisitionError("The fingerprint could not be processed: %(reason)s.",
                                   reason=str(exc)[:200]) from None
        count = len(minutiae.get())
        _check_minutiae(count)
        encoded = io.BytesIO()
        grey.save(encoded, "WSQ")
        return FingerSample(position=position, wsq=encoded.getvalue(),
                            iso_template=_with_position(minutiae.to_iso_19794_2_2005(),
                                                        position),
                            nfiq2=int(minutiae.quality().score), minutiae=count,
                            width=grey.width, height=grey.height)

    def finger_from_template(self, iso_template: bytes, *, position: int) -> FingerSample:
        """Check an imported ISO/IEC 19794-2:2005 template and its finger position."""
        _check_position(position)
        minutiae = self.load_template(iso_template)
        declared = iso_template[_ISO_POSITION_OFFSET]
        if declared not in (0, position):
            raise AcquisitionError(
                "The template is of finger position %(declared)s, but was submitted as "
                "position %(position)s.", declared=declared, position=position)
        count = len(minutiae.get())
        _check_minutiae(count)
        return FingerSample(position=position, wsq=None,
                            iso_template=_with_position(iso_template, position), nfiq2=0,
                            minutiae=count)

    def load_template(self, iso_template: bytes) -> Any:
        """Parse an ISO/IEC 19794-2:2005 template; :class:`AcquisitionError` if malformed."""
        if len(iso_template) < 32 or not iso_template.startswith(_ISO_MAGIC):
            raise AcquisitionError("This is not an ISO/IEC 19794-2:2005 finger minutiae "
                                   "record (wrong header).")
        declared_length = int.from_bytes(iso_template[8:12], "big")
        if declared_length != len(iso_template):
            raise AcquisitionError("The ISO/IEC 19794-2 record is truncated or padded "
                                   "(%(actual)s bytes, header says %(declared)s).",
                                   actual=len(iso_template), declared=declared_length)
        try:
            return self._extractor().load_iso_19794_2_2005(iso_template)
        except nbis.NbisError as exc:
            raise AcquisitionError("The ISO/IEC 19794-2 record is malformed: %(reason)s.",
                                   reason=str(exc)[:200]) from None

    # -- faces -------------------------------------------------------------------------
    def face_from_image(self, image: bytes) -> FaceSample:
        """Check size, aspect, contrast and sharpness, then that there is exactly one face,
        big enough and facing the camera (:mod:`lakana.biometry.face_checks`); re-encode as
        JPEG without metadata (a phone's EXIF may carry the place of capture)."""
        picture = _decode(image, _FACE_FORMATS, what="face")
        rgb = picture.convert("RGB")
        if not (240 <= rgb.width <= 4000 and 320 <= rgb.height <= 4000):
            raise AcquisitionError(
                "The face image is %(width)s×%(height)s pixels; at least 240×320 and at most "
                "4000×4000 are expected.", width=rgb.width, height=rgb.height)
        ratio = rgb.width / rgb.height
        if not 0.6 <= ratio <= 1.0:
            raise AcquisitionError("The face image must be a portrait (width/height between "
                                   "0.6 and 1.0; it is %(ratio).2f).", ratio=ratio)
        grey = rgb.convert("L")
        contrast = ImageStat.Stat(grey).stddev[0]
        if contrast < 12:
            raise AcquisitionError("The face image is blank or washed out (no contrast).")
        sharpness = ImageStat.Stat(grey.filter(ImageFilter.FIND_EDGES)).stddev[0]
        if sharpness < 4:
            raise AcquisitionError("The face image is blurred: capture it again.")
        located = self._faces.locate(rgb)
        # The pose score, lowered for a dull or soft picture.
        score = int(located.check.score * min(1.0, (contrast + 2 * sharpness) / 60))
        template = b"" if self.face_encoder is None \
            else self.face_encoder.template(rgb, located)
        out = io.BytesIO()
        rgb.save(out, "JPEG", quality=90)
        return FaceSample(image=out.getvalue(), score=score, width=rgb.width,
                          height=rgb.height, template=template)

    # -- matching ----------------------------------------------------------------------
    def compare(self, probe: Probe, reference: Probe) -> Candidate:
        """Bozorth3 on every finger position both hold and, with a face encoder, the faces
        when both have a template (``scores["face"]``, :func:`face_score`); the fused score
        is the best one (the max rule: one sample above the threshold is a match), each
        sample's score kept."""
        scores: dict[str, float] = {}
        for position, template in probe.fingers.items():
            other = reference.fingers.get(position)
            if other is None:
                continue
            left = self.load_template(template)
            right = self.load_template(other)
            scores[f"finger:{position}"] = float(left.compare(right))
        if self.face_encoder is not None and probe.face and reference.face:
            scores["face"] = round(face_score(compare_templates(probe.face, reference.face)),
                                   2)
        return Candidate(reference_id=0, score=max(scores.values(), default=0.0),
                         scores=scores)

    def identify(self, probe: Probe, gallery: Iterable[tuple[int, Probe]], *,
                 max_results: int = 10) -> Sequence[Candidate]:
        """Candidates at or above the threshold, best first. Up to :data:`EXHAUSTIVE_UP_TO`
        entries every one is compared with Bozorth3; above, MCC (:mod:`.matching.mcc`, ~100
        times faster) shortlists the :data:`SHORTLIST` best by fingers, and only those are
        re-scored with Bozorth3 (:meth:`compare`); the others are still compared by face
        when both hold a face template (cheap), so a face-only match is not lost."""
        entries = list(gallery)
        if len(entries) <= EXHAUSTIVE_UP_TO or not probe.fingers:
            shortlist = {reference_id for reference_id, _ in entries}
        else:
            shortlist = self._mcc_shortlist(probe, entries, max(SHORTLIST, max_results))
        face_only = Probe(face=probe.face)
        found: list[Candidate] = []
        for reference_id, reference in entries:
            if reference_id in shortlist:
                result = self.compare(probe, reference)
            elif self.face_encoder is not None and probe.face and reference.face:
                result = self.compare(face_only, Probe(face=reference.face))
            else:
                continue
            if result.score >= self.match_threshold:
                found.append(Candidate(reference_id=reference_id, score=result.score,
                                       scores=result.scores))
        found.sort(key=lambda c: (-c.score, c.reference_id))
        return found[:max_results]

    def _mcc_shortlist(self, probe: Probe, entries: list[tuple[int, Probe]], k: int
                       ) -> set[int]:
        """The ``k`` gallery entries whose fingers score best with MCC."""
        index = FingerIndex()
        for reference_id, reference in entries:
            fingers = {p: self._mcc(t) for p, t in reference.fingers.items()
                       if p in probe.fingers}
            if fingers:
                index.add(reference_id, fingers)
        found = index.search({p: self._mcc(t) for p, t in probe.fingers.items()}, k)
        return {reference_id for reference_id, _ in found}

    def _mcc(self, iso_template: bytes) -> MccTemplate:
        """The MCC template of an ISO record, cached by the record's digest so repeated
        searches over the same gallery build each template once."""
        key = hashlib.blake2b(iso_template, digest_size=16).digest()
        with self._mcc_lock:
            cached = self._mcc_cache.get(key)
            if cached is not None:
                self._mcc_cache.move_to_end(key)
                return cached
        template = mcc_from_iso(iso_template)
        with self._mcc_lock:
            self._mcc_cache[key] = template
            while len(self._mcc_cache) > MCC_CACHE_SIZE:
                self._mcc_cache.popitem(last=False)
        return template

    def _count_minutiae(self, png: bytes) -> int | None:
        """How many minutiae MINDTCT finds in ``png`` without measuring its quality (None
        when it cannot process the image either)."""
        try:
            return len(self._extractor(nfiq2=False).extract_minutiae(png).get())
        except nbis.NbisError:
            return None

    def _extractor(self, *, nfiq2: bool = True) -> Any:
        # One extractor per thread: the native object is not documented as thread-safe.
        name = "extractor" if nfiq2 else "extractor_without_nfiq2"
        extractor = getattr(self._local, name, None)
        if extractor is None:
            extractor = nbis.new_nbis_extractor(nbis.NbisExtractorSettings(
                min_quality=0.0, get_center=False, check_fingerprint=False,
                compute_nfiq2=nfiq2, ppi=500.0))
            setattr(self._local, name, extractor)
        return extractor


def _check_position(position: int) -> None:
    if not 1 <= position <= 10:
        raise AcquisitionError("A finger position is a code from 1 (right thumb) to 10 "
                               "(left little finger); %(position)s is not.", position=position)


def _check_minutiae(count: int) -> None:
    """Refuse a finger with fewer than :data:`MIN_MINUTIAE` minutiae (failure to acquire)."""
    if count < MIN_MINUTIAE:
        raise AcquisitionError(
            "Only %(count)s minutiae were found (at least %(minimum)s are needed): "
            "capture the finger again.", count=count, minimum=MIN_MINUTIAE)


def _with_position(iso_template: bytes, position: int) -> bytes:
    """The template with its finger view's position set (NBIS writes 0, unknown)."""
    return (iso_template[:_ISO_POSITION_OFFSET] + bytes([position])
            + iso_template[_ISO_POSITION_OFFSET + 1:])


def _decode(data: bytes, formats: set[str], *, what: str) -> Image.Image:
    """Open and fully decode an image of an allowed format, or say why it cannot be."""
    if not data:
        raise AcquisitionError("The %(what)s image is empty.", what=what)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            picture = Image.open(io.BytesIO(data))
            if picture.format not in formats:
                raise AcquisitionError("The %(what)s image is in %(format)s format; expected "
                                       "one of %(formats)s.", what=what,
                                       format=picture.format or "?",
                                       formats=", ".join(sorted(formats)))
            if picture.width * picture.height > _MAX_PIXELS:
                raise AcquisitionError("The %(what)s image is too large (%(pixels)s pixels).",
                                       what=what, pixels=picture.width * picture.height)
            picture.load()
    except AcquisitionError:
        raise
    except Exception:  # noqa: BLE001  (third-party codecs raise anything on bad input)
        raise AcquisitionError("The %(what)s image is corrupt, truncated or not an image.",
                               what=what) from None
    return picture

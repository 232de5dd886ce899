"""The interface between the registry and the matching engine (an ABIS).

The engine sees reference ids (person ids) and biometric data only, never names. The
registry calls it to check quality and extract templates at intake, to deduplicate (1:N)
and to verify (1:1). The matching-engine issue brings a scalable engine behind this same
interface; :mod:`lakana.biometry.nbis_engine` is the built-in reference one (NIST NBIS:
MINDTCT, NFIQ 2, Bozorth3), enough for a registration centre's volumes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from lakana.core.errors import LakanaError


class AcquisitionError(LakanaError):
    """Failure to acquire: the sample cannot be used (corrupt, blank, too small, no face,
    too few minutiae...). The message says why, for the agent at the station."""

    status = 422
    title = "Unusable biometric sample"
    type_slug = "acquisition-failed"


@dataclass(frozen=True)
class FingerSample:
    """A finger ready to store: the WSQ image, the ISO/IEC 19794-2 template and quality."""

    position: int
    wsq: bytes | None
    iso_template: bytes
    nfiq2: int
    minutiae: int
    width: int = 0
    height: int = 0


@dataclass(frozen=True)
class FaceSample:
    """A face ready to store: the normalised image (JPEG) and the checks' score."""

    image: bytes
    score: int
    width: int
    height: int
    #: The engine's face template, when it has a face encoder (else empty).
    template: bytes = b""


@dataclass(frozen=True)
class Probe:
    """What is searched or verified: finger templates by position and an optional face
    template."""

    fingers: dict[int, bytes] = field(default_factory=dict)
    face: bytes = b""


@dataclass(frozen=True)
class Candidate:
    """A gallery entry that may be the probe's owner: fused score and per-sample scores
    (``finger:2`` → 87)."""

    reference_id: int
    score: float
    scores: dict[str, float]


class MatchingEngine(ABC):
    """Quality, extraction, 1:1 and 1:N. Scores are on the engine's own scale;
    :meth:`band` turns one into low / medium / high for the outside world."""

    name: str = "engine"
    #: The score from which two samples are taken to be the same person.
    match_threshold: float = 40.0

    @abstractmethod
    def finger_from_image(self, image: bytes, *, position: int, ppi: int = 500
                          ) -> FingerSample:
        """Decode (PNG, JPEG, WSQ), check and extract a finger; raise
        :class:`AcquisitionError` with the reason when the sample is unusable."""

    @abstractmethod
    def finger_from_template(self, iso_template: bytes, *, position: int) -> FingerSample:
        """Check an imported ISO/IEC 19794-2 template (header, finger position, minutiae)."""

    @abstractmethod
    def face_from_image(self, image: bytes) -> FaceSample:
        """Decode and check a face image (size, one face, pose where the engine can tell)."""

    @abstractmethod
    def compare(self, probe: Probe, reference: Probe) -> Candidate:
        """1:1: the fused score of ``probe`` against one reference (reference_id 0)."""

    @abstractmethod
    def identify(self, probe: Probe, gallery: Iterable[tuple[int, Probe]], *,
                 max_results: int = 10) -> Sequence[Candidate]:
        """1:N: the candidates at or above the threshold, best first."""

    def band(self, score: float) -> str:
        """low, medium or high: what a relying service is told instead of a score."""
        if score >= 2 * self.match_threshold:
            return "high"
        if score >= self.match_threshold:
            return "medium"
        return "low"

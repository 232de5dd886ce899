"""ISO/IEC 19794-2:2005 parsing without NBIS: real MINDTCT records and hand-made bad ones."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pytest

from lakana.biometry.engine import AcquisitionError
from lakana.biometry.matching.minutiae import Minutiae, parse_iso_19794_2
from lakana.biometry.nbis_engine import NbisEngine
from lakana.biometry.synthetic import synthetic_finger

ENGINE = NbisEngine()


@lru_cache(maxsize=64)
def mindtct(seed: int, impression: int = 0) -> bytes:
    """The ISO template MINDTCT makes of a synthetic print (position 2)."""
    return ENGINE.finger_from_image(synthetic_finger(seed, impression),
                                    position=2).iso_template


def iso_record(minutiae: Minutiae, *, standard: bool = False) -> bytes:
    """Encode minutiae as an ISO/IEC 19794-2:2005 record: nbis-py's compact layout (what
    Bozorth3 here reads) or the standard one (view header of 4 bytes, extended data)."""
    body = b"".join(
        bytes([(1 << 6) | (int(x) >> 8), int(x) & 0xFF, int(y) >> 8, int(y) & 0xFF,
               round(float(a) * 256 / (2 * math.pi)) % 256, int(q)])
        for x, y, a, q in zip(minutiae.x, minutiae.y, minutiae.angle, minutiae.quality,
                              strict=True))
    count = len(minutiae)
    view = (bytes([minutiae.position, 0, 60, count]) + body + b"\x00\x00" if standard
            else bytes([minutiae.position, count]) + body)
    length = 24 + len(view)
    return (b"FMR\x00 20\x00" + length.to_bytes(4, "big") + b"\x00\x00"
            + minutiae.width.to_bytes(2, "big") + minutiae.height.to_bytes(2, "big")
            + (197).to_bytes(2, "big") * 2 + bytes([1 if standard else 0, 0]) + view)


def test_a_mindtct_record_parses_like_nbis_reads_it() -> None:
    # Given a real MINDTCT template of a synthetic print
    template = mindtct(3)
    # When parsed here and by NBIS
    parsed = parse_iso_19794_2(template)
    reference = ENGINE.load_template(template).get()
    # Then the same minutiae come out: pixels, angles (1.40625° units) and the header
    assert len(parsed) == len(reference) >= 12
    assert parsed.x.tolist() == [m.x() for m in reference]
    assert parsed.y.tolist() == [m.y() for m in reference]
    assert np.allclose(np.degrees(parsed.angle), [m.angle() for m in reference], atol=1e-3)
    assert (parsed.width, parsed.height, parsed.position, parsed.ppi) == (320, 400, 2, 500.0)
    assert parsed.angle.dtype == np.float32 and parsed.angle.max() < 2 * math.pi


def test_the_standard_layout_gives_the_same_minutiae() -> None:
    # Given the minutiae of a MINDTCT record re-encoded in the standard layout
    compact = parse_iso_19794_2(mindtct(4))
    standard = iso_record(compact, standard=True)
    # When parsed / Then nothing is lost (and the compact writer round-trips too)
    again = parse_iso_19794_2(standard)
    assert again.x.tolist() == compact.x.tolist() and again.y.tolist() == compact.y.tolist()
    assert np.allclose(again.angle, compact.angle)
    assert parse_iso_19794_2(iso_record(compact)).x.tolist() == compact.x.tolist()


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda t: b"FMR\x00 21\x00" + t[8:], "wrong header"),
    (lambda t: t[:20], "wrong header"),
    (lambda t: t[:-6], "truncated or padded"),
    (lambda t: t + b"\x00", "truncated or padded"),
])
def test_broken_records_are_refused(mutate: object, message: str) -> None:
    # Given a real record, damaged
    broken = mutate(mindtct(3))  # type: ignore[operator]
    # Then the parser says what is wrong
    with pytest.raises(AcquisitionError, match=message):
        parse_iso_19794_2(broken)


def test_zero_views_and_too_many_minutiae_are_refused() -> None:
    standard = bytearray(iso_record(parse_iso_19794_2(mindtct(3)), standard=True))
    # Given a standard record claiming no finger view
    no_view = bytearray(standard)
    no_view[22] = 0
    with pytest.raises(AcquisitionError, match="no finger view"):
        parse_iso_19794_2(bytes(no_view))
    # Given one claiming more minutiae than it holds
    overflow = bytearray(standard)
    overflow[27] += 1
    with pytest.raises(AcquisitionError, match="declares .* minutiae"):
        parse_iso_19794_2(bytes(overflow))
    # Given a finger position that does not exist
    bad_position = bytearray(standard)
    bad_position[24] = 13
    with pytest.raises(AcquisitionError, match="13 is not"):
        parse_iso_19794_2(bytes(bad_position))

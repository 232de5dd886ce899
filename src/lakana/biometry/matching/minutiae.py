"""ISO/IEC 19794-2:2005 finger minutiae records, parsed without NBIS.

Two layouts are read:

* the standard one: a 24-byte record header (``FMR\\0``, `` 20\\0``, 4-byte record length,
  capture equipment, image width and height, x and y resolution in pixels per centimetre,
  number of finger views, reserved), then per finger view a 4-byte header (finger position,
  view number and impression type, finger quality, number of minutiae), 6 bytes per minutia
  and an extended data block (2-byte length, then that many bytes);
* the compact one that ``nbis-py`` 0.1.3 writes and reads (and so every template Lakana has
  stored): the same 24-byte header with no view count (byte 22 is 0), then the finger position
  (byte 24), the number of minutiae (byte 25) and the minutiae from byte 26, with no extended
  data. It is recognised by its exact length, ``26 + 6 × count``.

A minutia is 6 bytes: 2 bits of type and 14 bits of x, 2 reserved bits and 14 bits of y,
the angle in units of 360/256 degrees (1.40625°) and the quality (0-100).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from lakana.biometry.engine import AcquisitionError

_MAGIC = b"FMR\x00 20\x00"
_HEADER = 24
_MINUTIA = 6
#: nbis-py's compact layout: position and count, then the minutiae at this offset.
_COMPACT_MINUTIAE = 26
#: 500 ppi in the standard's unit (pixels per centimetre), the resolution assumed when a
#: record declares none (nbis-py writes 0).
_PPCM_500_PPI = 197


@dataclass(frozen=True)
class Minutiae:
    """The minutiae of one finger view: pixel coordinates, angles in radians in [0, 2π)
    (ISO direction: counter-clockwise from the x axis), quality 0-100, image size, finger
    position (0 unknown, 1-10) and the resolution in pixels per inch."""

    x: NDArray[np.float32]
    y: NDArray[np.float32]
    angle: NDArray[np.float32]
    quality: NDArray[np.uint8]
    width: int
    height: int
    position: int
    ppi: float = 500.0

    def __len__(self) -> int:
        return int(self.x.size)


def parse_iso_19794_2(template: bytes) -> Minutiae:
    """Parse the first finger view of an ISO/IEC 19794-2:2005 record (standard or nbis-py
    compact layout); :class:`AcquisitionError` says what is wrong with a bad record."""
    if len(template) < _HEADER + 2 or not template.startswith(_MAGIC):
        raise AcquisitionError("This is not an ISO/IEC 19794-2:2005 finger minutiae "
                               "record (wrong header).")
    declared = int.from_bytes(template[8:12], "big")
    if declared != len(template):
        raise AcquisitionError("The ISO/IEC 19794-2 record is truncated or padded "
                               "(%(actual)s bytes, header says %(declared)s).",
                               actual=len(template), declared=declared)
    width = int.from_bytes(template[14:16], "big")
    height = int.from_bytes(template[16:18], "big")
    ppcm = int.from_bytes(template[18:20], "big") or _PPCM_500_PPI
    views = template[22]
    compact_count = template[25]
    if views == 0 and len(template) == _COMPACT_MINUTIAE + _MINUTIA * compact_count:
        return _minutiae(template, _COMPACT_MINUTIAE, compact_count, width, height,
                         template[24], ppcm)
    if views == 0:
        raise AcquisitionError("The ISO/IEC 19794-2 record holds no finger view.")
    if len(template) < _HEADER + 4:
        raise AcquisitionError("The ISO/IEC 19794-2 record is truncated (no finger view "
                               "header).")
    count = template[27]
    # The minutiae and the extended data block's 2-byte length must fit in the record.
    if _HEADER + 4 + _MINUTIA * count + 2 > len(template):
        raise AcquisitionError("The ISO/IEC 19794-2 record declares %(count)s minutiae but "
                               "holds room for at most %(room)s.", count=count,
                               room=max(0, (len(template) - _HEADER - 6) // _MINUTIA))
    return _minutiae(template, _HEADER + 4, count, width, height, template[24], ppcm)


def _minutiae(template: bytes, start: int, count: int, width: int, height: int,
              position: int, ppcm: int) -> Minutiae:
    """Decode ``count`` 6-byte minutiae from ``start`` (the caller checked they fit)."""
    if position > 10:
        raise AcquisitionError("A finger position is a code from 1 (right thumb) to 10 "
                               "(left little finger); %(position)s is not.",
                               position=position)
    raw = np.frombuffer(template, dtype=np.uint8, count=count * _MINUTIA,
                        offset=start).reshape(count, _MINUTIA).astype(np.uint16)
    x = ((raw[:, 0] & 0x3F) << 8) | raw[:, 1]
    y = ((raw[:, 2] & 0x3F) << 8) | raw[:, 3]
    angle = raw[:, 4].astype(np.float32) * np.float32(2 * math.pi / 256)
    return Minutiae(x=x.astype(np.float32), y=y.astype(np.float32), angle=angle,
                    quality=raw[:, 5].astype(np.uint8), width=width, height=height,
                    position=position,
                    ppi=500.0 if ppcm == _PPCM_500_PPI else ppcm * 2.54)

"""Reading MOSIP's CBEFF XML (ISO/IEC 19785-3, MOSIP profile) safely.

A CBEFF document is a root ``BIR`` holding one ``BIR`` per sample: ``BDBInfo`` says what
the sample is (``Type`` Finger / Face / Iris, ``Subtype`` such as "Left IndexFinger",
``Format``, ``Quality/Score``) and ``BDB`` carries it in base64. The document comes from
outside, so it is read with every DTD refused (no entity expansion, no external entity) and
within a size limit; nothing here decodes images or trusts a declared length.
"""

from __future__ import annotations

import base64
import binascii
import re
import xml.etree.ElementTree as ET
import xml.parsers.expat
from dataclasses import dataclass

from lakana.biometry.abis.messages import AbisFailure, FailureReason

#: The largest CBEFF document read (ten finger images and a face fit well within it).
MAX_CBEFF_BYTES = 16 * 1024 * 1024

#: MOSIP's finger subtypes, normalised (lower case, no spaces, no "finger"), to the ISO/IEC
#: 19794-2 finger position codes.
FINGER_POSITIONS: dict[str, int] = {
    "rightthumb": 1, "rightindex": 2, "rightmiddle": 3, "rightring": 4, "rightlittle": 5,
    "leftthumb": 6, "leftindex": 7, "leftmiddle": 8, "leftring": 9, "leftlittle": 10,
}


@dataclass(frozen=True)
class CbeffSample:
    """One BIR of the document: modality (finger, face, iris or another type, lower case),
    ISO finger position (0 when none), the declared format type, quality and the BDB."""

    modality: str
    position: int
    format_type: str
    quality: int
    data: bytes


def finger_position(subtype: str) -> int:
    """The ISO finger position of a MOSIP subtype ("Left IndexFinger" → 7); 0 if unknown."""
    key = re.sub(r"[\s_-]+", "", subtype).lower().replace("finger", "")
    return FINGER_POSITIONS.get(key, 0)


def _refuse_dtd(*_: object) -> None:
    raise AbisFailure(FailureReason.INVALID_CBEFF, "the CBEFF declares a DTD or an entity")


def safe_parse(document: bytes) -> ET.Element:
    """Parse XML with DTDs and entities refused (billion laughs, external entities)."""
    if len(document) > MAX_CBEFF_BYTES:
        raise AbisFailure(FailureReason.INVALID_CBEFF, "the CBEFF is too large")
    checker = xml.parsers.expat.ParserCreate()
    checker.StartDoctypeDeclHandler = _refuse_dtd
    checker.EntityDeclHandler = _refuse_dtd
    checker.UnparsedEntityDeclHandler = _refuse_dtd
    checker.ExternalEntityRefHandler = _refuse_dtd  # type: ignore[assignment]
    try:
        checker.Parse(document, True)
        return ET.fromstring(document)
    except (xml.parsers.expat.ExpatError, ET.ParseError):
        raise AbisFailure(FailureReason.INVALID_CBEFF, "the CBEFF is not well-formed XML"
                          ) from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: ET.Element, name: str) -> ET.Element | None:
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _text(element: ET.Element | None, *path: str) -> str:
    for name in path:
        if element is None:
            return ""
        element = _child(element, name)
    return (element.text or "").strip() if element is not None else ""


def _b64(text: str) -> bytes:
    compact = re.sub(r"\s+", "", text)
    altchars = b"-_" if ("-" in compact or "_" in compact) else None
    try:
        return base64.b64decode(compact + "=" * (-len(compact) % 4), altchars=altchars,
                                validate=True)
    except (binascii.Error, ValueError):
        raise AbisFailure(FailureReason.INVALID_CBEFF, "a BDB is not base64") from None


def parse_cbeff(document: bytes) -> list[CbeffSample]:
    """Every sample (BIR with a BDB) of a CBEFF document.

    Raises :class:`AbisFailure` 16 (invalid CBEFF format) for a document that is not
    CBEFF, and 11 (CBEFF has no data) for one without any non-empty BDB.
    """
    root = safe_parse(document)
    if _local(root.tag) != "BIR":
        raise AbisFailure(FailureReason.INVALID_CBEFF, "the root element is not a BIR")
    samples: list[CbeffSample] = []
    for bir in root.iter():
        if _local(bir.tag) != "BIR" or _child(bir, "BDB") is None:
            continue
        info = _child(bir, "BDBInfo")
        if info is None:
            raise AbisFailure(FailureReason.INVALID_CBEFF, "a BIR has a BDB but no BDBInfo")
        data = _b64(_text(bir, "BDB"))
        if not data:
            continue
        modality = _text(info, "Type").lower()
        subtype = " ".join(_text(info, "Subtype").split())
        score = _text(info, "Quality", "Score")
        samples.append(CbeffSample(
            modality=modality,
            position=finger_position(subtype) if modality == "finger" else 0,
            format_type=_text(info, "Format", "Type"),
            quality=max(0, min(100, int(score))) if score.isdigit() else 0,
            data=data))
    if not samples:
        raise AbisFailure(FailureReason.CBEFF_NO_DATA)
    return samples


def build_cbeff(samples: list[tuple[str, str, bytes]]) -> bytes:
    """A minimal MOSIP-style CBEFF document of (Type, Subtype, data) samples: for tests,
    demos and the inline extension."""
    ns = "http://standards.iso.org/iso-iec/19785/-3/ed-2/"
    root = ET.Element("BIR", {"xmlns": ns})
    ET.SubElement(ET.SubElement(root, "BIRInfo"), "Integrity").text = "false"
    for kind, subtype, data in samples:
        bir = ET.SubElement(root, "BIR")
        info = ET.SubElement(bir, "BDBInfo")
        fmt = ET.SubElement(info, "Format")
        ET.SubElement(fmt, "Organization").text = "Mosip"
        ET.SubElement(fmt, "Type").text = {"Finger": "7", "Face": "8", "Iris": "9"}.get(kind,
                                                                                      "0")
        ET.SubElement(info, "Type").text = kind
        if subtype:
            ET.SubElement(info, "Subtype").text = subtype
        ET.SubElement(info, "Level").text = "Raw"
        ET.SubElement(info, "Purpose").text = "Enroll"
        ET.SubElement(bir, "BDB").text = base64.b64encode(data).decode()
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root)

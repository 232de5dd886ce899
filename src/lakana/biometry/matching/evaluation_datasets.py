"""Evaluation data sets: folders in the standard layouts, and a synthetic one for demos.

Layouts (file names are matched case-insensitively; files that match no pattern are
counted as ignored, never guessed at):

- ``fvc`` — the Fingerprint Verification Competitions: ``{finger}_{impression}.{ext}``
  (``101_1.tif``), ext ``tif``, ``tiff``, ``bmp``, ``png``, ``wsq``; one identity per
  finger, the finger's position unknown. Sub-folders (``DB1_A/``, ``DB2_A/``) are separate
  populations: the folder is part of the identity.
- ``sd302`` — NIST Special Database 302 (and 300/301-like names):
  ``{subject}_{device}_{resolution}_{capture}_{frgp}.png`` (``00002302_A_500_roll_01.png``),
  any number of middle fields; the last is the ANSI/NIST friction ridge generalised position
  (FRGP). Positions 1–10 are single fingers and are kept (one identity per subject and
  finger); others (plain thumbs, four-finger slaps) are skipped. A middle field of 500,
  1000... is taken as the resolution in ppi.
- ``lfw`` — Labeled Faces in the Wild: ``{name}/{name}_{NNNN}.jpg``; one identity per name.

A folder written by :func:`write_synthetic_fvc` holds a marker file
(:data:`SYNTHETIC_MARKER`); every other folder is taken to hold real images, as supplied.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from lakana.core.errors import Invalid

LAYOUTS = ("fvc", "sd302", "lfw")
SYNTHETIC_MARKER = "lakana-synthetic.json"
#: Bozorth3 does not use the finger position: an unknown one is submitted as right index.
UNKNOWN_POSITION = 2

_FVC = re.compile(r"^(\d+)_(\d+)\.(tif|tiff|bmp|png|wsq)$", re.IGNORECASE)
_SD302 = re.compile(r"^(\d+)_([a-z0-9]+)((?:_[a-z0-9-]+)*)_(\d{1,2})\.(png|wsq|bmp|tif|tiff)$",
                    re.IGNORECASE)
_LFW = re.compile(r"^(.+)_(\d{4})\.(jpg|jpeg|png)$", re.IGNORECASE)
_RESOLUTIONS = {"250", "300", "500", "600", "1000", "2000"}


@dataclass(frozen=True)
class Sample:
    """One image of a data set: who (subject), which capture, what and where."""

    subject: str
    sample_id: str
    modality: str
    position: int | None
    path: Path
    ppi: int = 500

    @property
    def identity(self) -> str:
        """What a mate shares: the subject for a face or a finger of unknown position,
        else the subject and the finger (two fingers of one person are not mates)."""
        if self.modality == "finger" and self.position is not None:
            return f"{self.subject}/{self.position}"
        return self.subject


@dataclass(frozen=True)
class Dataset:
    """The samples found in a folder, how they were found and where they come from."""

    root: Path
    layout: str
    modality: str
    source: str
    samples: tuple[Sample, ...]
    ignored: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def identities(self) -> int:
        """Distinct identities (mates share one)."""
        return len({s.identity for s in self.samples})


def load_dataset(root: Path, *, layout: str = "auto", modality: str | None = None,
                 ppi: int | None = None) -> Dataset:
    """The samples of ``root`` in ``layout`` (``auto`` picks the layout most files match).

    :class:`Invalid` for a missing or empty folder, an unknown layout, a modality the layout
    does not hold, or no file in the layout."""
    if not root.is_dir():
        raise Invalid("The data set folder %(path)s does not exist.", path=str(root))
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != SYNTHETIC_MARKER)
    if not files:
        raise Invalid("The data set folder %(path)s is empty.", path=str(root))
    if layout == "auto":
        layout = detect_layout(root, files)
    if layout not in LAYOUTS:
        raise Invalid("Unknown data set layout %(layout)s (expected one of %(layouts)s).",
                      layout=layout, layouts=", ".join((*LAYOUTS, "auto")))
    expected = "face" if layout == "lfw" else "finger"
    if modality is not None and modality != expected:
        raise Invalid("The %(layout)s layout holds %(expected)s images, not %(modality)s.",
                      layout=layout, expected=expected, modality=modality)
    samples: list[Sample] = []
    skipped: Counter[str] = Counter()
    for path in files:
        sample = _parse(layout, root, path, skipped)
        if sample is not None:
            samples.append(sample if ppi is None or layout == "lfw"
                           else _with_ppi(sample, ppi))
    if not samples:
        raise Invalid("No file in %(path)s follows the %(layout)s layout.", path=str(root),
                      layout=layout)
    ignored = len(files) - len(samples) - sum(skipped.values())
    return Dataset(root=root, layout=layout, modality=expected, source=source_of(root),
                   samples=tuple(samples), ignored=ignored, skipped=dict(skipped))


def detect_layout(root: Path, files: list[Path]) -> str:
    """The layout that most file names follow; :class:`Invalid` when none does."""
    counts = {layout: sum(1 for p in files if _matches(layout, root, p)) for layout in LAYOUTS}
    best = max(LAYOUTS, key=lambda name: counts[name])
    if counts[best] == 0:
        raise Invalid("No file in %(path)s follows a known layout (%(layouts)s).",
                      path=str(root), layouts=", ".join(LAYOUTS))
    return best


def source_of(root: Path) -> str:
    """``synthetic`` for a folder written by :func:`write_synthetic_fvc`, else ``real``."""
    return "synthetic" if (root / SYNTHETIC_MARKER).is_file() else "real"


def write_synthetic_fvc(root: Path, subjects: int, *, impressions: int = 2,
                        first_seed: int = 1) -> Path:
    """Write ``subjects`` synthetic fingers × ``impressions`` impressions in the FVC layout
    (``101_1.png``...) with the synthetic marker; ``root`` must be absent or empty."""
    from lakana.biometry.synthetic import synthetic_finger

    if not 1 <= subjects <= 10_000:
        raise Invalid("The number of synthetic subjects must be between 1 and 10000.")
    if not 1 <= impressions <= 8:
        raise Invalid("The number of impressions must be between 1 and 8.")
    if root.exists() and any(root.iterdir()):
        raise Invalid("The folder %(path)s is not empty: the synthetic data set needs an "
                      "empty folder.", path=str(root))
    root.mkdir(parents=True, exist_ok=True)
    for number in range(subjects):
        for impression in range(impressions):
            image = synthetic_finger(first_seed + number, impression)
            (root / f"{101 + number}_{impression + 1}.png").write_bytes(image)
    marker = {"source": "synthetic", "generator": "lakana.biometry.synthetic",
              "layout": "fvc", "subjects": subjects, "impressions": impressions,
              "first_seed": first_seed, "created": dt.date.today().isoformat()}
    (root / SYNTHETIC_MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")
    return root


def _parse(layout: str, root: Path, path: Path, skipped: Counter[str]) -> Sample | None:
    if layout == "fvc":
        return _parse_fvc(root, path)
    if layout == "sd302":
        return _parse_sd302(path, skipped)
    return _parse_lfw(path)


def _matches(layout: str, root: Path, path: Path) -> bool:
    if layout == "fvc":
        return _FVC.match(path.name) is not None
    if layout == "sd302":
        return _SD302.match(path.name) is not None
    return _parse_lfw(path) is not None


def _parse_fvc(root: Path, path: Path) -> Sample | None:
    match = _FVC.match(path.name)
    if match is None:
        return None
    folder = path.parent.relative_to(root).as_posix()
    prefix = "" if folder == "." else f"{folder}/"
    return Sample(subject=f"{prefix}{match[1]}", sample_id=f"{prefix}{path.stem}",
                  modality="finger", position=None, path=path)


def _parse_sd302(path: Path, skipped: Counter[str]) -> Sample | None:
    match = _SD302.match(path.name)
    if match is None:
        return None
    frgp = int(match[4])
    if not 1 <= frgp <= 10:
        skipped["not a single finger (FRGP outside 1-10)"] += 1
        return None
    middle = [token for token in match[3].split("_") if token]
    ppi = next((int(token) for token in middle if token in _RESOLUTIONS), 500)
    return Sample(subject=match[1], sample_id=path.stem, modality="finger", position=frgp,
                  path=path, ppi=ppi)


def _parse_lfw(path: Path) -> Sample | None:
    match = _LFW.match(path.name)
    if match is None or match[1] != path.parent.name:
        return None
    return Sample(subject=match[1], sample_id=path.stem, modality="face", position=None,
                  path=path)


def _with_ppi(sample: Sample, ppi: int) -> Sample:
    return Sample(subject=sample.subject, sample_id=sample.sample_id, modality=sample.modality,
                  position=sample.position, path=sample.path, ppi=ppi)

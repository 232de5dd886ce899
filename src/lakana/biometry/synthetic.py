"""Synthetic fingerprints and faces for tests, the demo and benchmarks (never real people).

Fingers follow the phase model of Larkin and Fletcher: the grey level is the cosine of a
phase made of a smooth part (concentric ridges around a seeded centre, which gives a
whorl-like core) and one spiral term ``±atan2`` per minutia, each of which starts or ends
one ridge. Only Pillow is used (no NumPy): the coordinate and ``atan2`` tables are built
once per process, each spiral term is a crop of the ``atan2`` table, the sum is taken with
``ImageMath`` and the cosine through a 256-entry lookup table. About 0.1 s per image.

An *impression* of a synthetic finger is the same ridge pattern shifted by up to 15 pixels
in each direction, with its own (seeded) noise and brightness: what two captures of one finger
look like to a translation-invariant matcher.

Measured with :class:`lakana.biometry.nbis_engine.NbisEngine` (MINDTCT, Bozorth3,
threshold 40) on the synthetic seeds 1 to 20 (``python -m lakana.biometry.synthetic``):
minutiae per image 28 to 51, NFIQ 2 between 42 and 56; genuine pairs (impression 0
against impression 1 of the same seed, 20 pairs) scored 92 to 266 (median 168); impostor
pairs (impression 0 of two different seeds, all 190 pairs) scored 0 to 10. The two
distributions do not overlap: every synthetic genuine pair matches and no synthetic
impostor pair does.
"""

from __future__ import annotations

import importlib
import io
import math
import random
from array import array
from functools import lru_cache
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw, ImageFilter, ImageMath

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from lakana.biometry.engine import MatchingEngine
    from lakana.biometry.protection.keystore import MasterKeyStore
    from lakana.core.auth.rbac import Actor

#: Size of a synthetic finger image (500 ppi: 16 × 20 mm).
FINGER_SIZE = (320, 400)
#: Margin of the ridge pattern around the image, so shifted impressions keep content.
_PAD = 40
_FULL = (FINGER_SIZE[0] + 2 * _PAD, FINGER_SIZE[1] + 2 * _PAD)
_MAX_SHIFT = 15
#: One phase turn (2π) is 256 units, so the phase wraps with ``& 255``.
_TURN = 256
_COSINE = [int(127.5 + 127.5 * math.cos(2 * math.pi * i / _TURN)) for i in range(_TURN)]


@lru_cache(maxsize=1)
def _tables() -> tuple[Image.Image, Image.Image, Image.Image]:
    """X and Y coordinate images and a double-size ``atan2`` image (in phase units)."""
    width, height = _FULL
    xs = array("f", [float(x) for _ in range(height) for x in range(width)])
    ys = array("f", [float(y) for y in range(height) for _ in range(width)])
    scale = _TURN / (2 * math.pi)
    angles = array("f", [math.atan2(y - height, x - width) * scale
                         for y in range(2 * height) for x in range(2 * width)])
    return (Image.frombytes("F", _FULL, xs.tobytes()),
            Image.frombytes("F", _FULL, ys.tobytes()),
            Image.frombytes("F", (2 * width, 2 * height), angles.tobytes()))


@lru_cache(maxsize=64)
def _ridges(seed: int) -> Image.Image:
    """The ridge pattern of synthetic finger ``seed`` (with its margin), 8-bit grey."""
    rng = random.Random(f"lakana-synthetic-finger-{seed}")
    xs, ys, angles = _tables()
    width, height = _FULL
    frequency = _TURN / rng.uniform(8.5, 10.5)  # ridge period 8.5-10.5 px at 500 ppi
    cx, cy = rng.uniform(0.35, 0.65) * width, rng.uniform(0.35, 0.6) * height
    ellipticity, tilt = rng.uniform(0.4, 1.6), rng.uniform(-0.6, 0.6)
    phase = ImageMath.lambda_eval(
        lambda a: (((a["x"] - cx) ** 2 + ellipticity * (a["y"] - cy) ** 2) ** 0.5
                   + tilt * a["y"]) * frequency, x=xs, y=ys)
    for _ in range(rng.randint(45, 60)):
        mx, my = rng.uniform(0.12, 0.88) * width, rng.uniform(0.1, 0.9) * height
        sign = rng.choice((-1.0, 1.0))
        left, top = int(width - mx), int(height - my)
        spiral = angles.crop((left, top, left + width, top + height))
        phase = ImageMath.lambda_eval(lambda a: a["p"] + a["s"] * a["k"], p=phase, s=spiral,
                                      k=sign)
    wrapped = ImageMath.lambda_eval(lambda a: a["int"](a["p"] + 65536) & 255, p=phase)
    assert isinstance(wrapped, Image.Image)
    return wrapped.convert("L").point(_COSINE)


def _noise(rng: random.Random, size: tuple[int, int], amount: float) -> Image.Image:
    """Seeded uniform noise around mid-grey (Pillow's own noise is not seedable)."""
    raw = Image.frombytes("L", size, rng.randbytes(size[0] * size[1]))
    return raw.point(lambda v: int(128 + (v - 128) * amount))


def synthetic_finger_image(seed: int, impression: int = 0) -> Image.Image:
    """Impression ``impression`` of synthetic finger ``seed`` as a Pillow grey image."""
    width, height = FINGER_SIZE
    rng = random.Random(f"lakana-synthetic-impression-{seed}-{impression}")
    dx, dy = ((0, 0) if impression == 0 else
              (rng.randint(-_MAX_SHIFT, _MAX_SHIFT), rng.randint(-_MAX_SHIFT, _MAX_SHIFT)))
    ridges = _ridges(seed).crop((_PAD + dx, _PAD + dy, _PAD + dx + width, _PAD + dy + height))
    noise = _noise(rng, (width, height), rng.uniform(0.4, 0.7))
    picture = Image.blend(ridges, noise, 0.25).filter(ImageFilter.GaussianBlur(0.8))
    picture = picture.point(lambda v: min(255, max(0, int(v * rng.uniform(0.9, 1.1)))))
    mask = Image.new("L", (width, height), 0)
    ImageDraw.Draw(mask).ellipse((15 - dx, 10 - dy, width - 15 - dx, height - 10 - dy),
                                 fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(6))
    return Image.composite(picture, Image.new("L", (width, height), 235), mask)


def synthetic_finger(seed: int, impression: int = 0, *, fmt: str = "PNG") -> bytes:
    """Impression ``impression`` of synthetic finger ``seed``, encoded (PNG by default,
    or WSQ), 500 ppi, 320×400 pixels. Different seeds are different fingers."""
    out = io.BytesIO()
    if fmt.upper() == "WSQ":
        importlib.import_module("wsq")  # registers the WSQ codec with Pillow
    synthetic_finger_image(seed, impression).save(out, fmt.upper())
    return out.getvalue()


def synthetic_face(seed: int) -> bytes:
    """A synthetic 300×400 JPEG drawing of a face, distinct per seed. It passes the size and
    contrast checks but is not a face to the detector: tests use it for "no face found"."""
    rng = random.Random(f"lakana-synthetic-face-{seed}")
    width, height = 300, 400
    background = tuple(rng.randint(170, 230) for _ in range(3))
    picture = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(picture)
    skin = (rng.randint(70, 200), rng.randint(45, 150), rng.randint(30, 110))
    draw.rectangle((60, 330, 240, 400), fill=tuple(rng.randint(0, 255) for _ in range(3)))
    draw.rectangle((125, 270, 175, 340), fill=skin)
    face_w, face_h = rng.randint(70, 90), rng.randint(95, 120)
    draw.ellipse((150 - face_w, 190 - face_h, 150 + face_w, 190 + face_h), fill=skin)
    hair = tuple(rng.randint(0, 60) for _ in range(3))
    draw.chord((150 - face_w, 190 - face_h - 10, 150 + face_w, 190 + face_h // 2), 180, 360,
               fill=hair)
    eye_y, eye_dx = 180 + rng.randint(-8, 8), rng.randint(28, 40)
    for side in (-1, 1):
        ex = 150 + side * eye_dx
        draw.ellipse((ex - 12, eye_y - 7, ex + 12, eye_y + 7), fill=(245, 245, 245))
        draw.ellipse((ex - 5, eye_y - 5, ex + 5, eye_y + 5), fill=(30, 20, 10))
    draw.line((150, eye_y + 10, 145, eye_y + 45), fill=(40, 25, 20), width=3)
    mouth_y = eye_y + 70 + rng.randint(-5, 5)
    draw.arc((120, mouth_y - 15, 180, mouth_y + 10), 20, 160, fill=(120, 30, 30), width=4)
    noise = _noise(rng, (width, height), 0.2).convert("RGB")
    picture = Image.blend(picture, noise, 0.08)
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=90)
    return out.getvalue()


_DEMO_SURNAMES = ("Traoré", "Keïta", "Coulibaly", "Diarra", "Touré", "Sangaré", "Konaté",
                  "Dembélé", "Maïga", "Cissé")
_DEMO_GIVEN = ("Aminata", "Moussa", "Fatoumata", "Seydou", "Mariam", "Oumar", "Kadiatou",
               "Bakary", "Awa", "Ibrahim")


def demo_people(*, session: Session, actor: Actor, store: MasterKeyStore,
                engine: MatchingEngine, count: int, duplicates: int = 1,
                first_seed: int = 1000) -> list[int]:
    """Enrol ``count`` synthetic persons (right index and right thumb, no face; names
    marked "(synthétique)") through deduplication, then ``duplicates`` second enrollments of
    already enrolled fingers under new numbers, which land in the adjudication queue.
    Returns the enrollment ids. The caller owns the transaction."""
    import datetime as dt

    from lakana.biometry import lifecycle, persons
    from lakana.biometry.models import Capture, Enrollment
    from lakana.biometry.schemas import REGIONS, Demographics

    enrollment_ids: list[int] = []
    plan = [(first_seed + i, 0) for i in range(count)]
    plan += [(first_seed + i % max(count, 1), 1) for i in range(duplicates if count else 0)]
    for number, (seed, impression) in enumerate(plan):
        rng = random.Random(f"lakana-demo-person-{seed}-{impression}")
        demographics = Demographics(
            nin=f"SYN-{first_seed}-{number:06d}", surname=rng.choice(_DEMO_SURNAMES),
            given_names=f"{rng.choice(_DEMO_GIVEN)} (synthétique)", sex=rng.choice("FM"),
            date_of_birth=dt.date(rng.randint(1950, 2006), rng.randint(1, 12),
                                  rng.randint(1, 28)),
            place_of_birth=rng.choice(REGIONS), region=rng.choice(REGIONS))
        person = persons.create_person(session=session, store=store, demographics=demographics)
        enrollment = Enrollment(packet_id=f"synthetic-{first_seed}-{number:06d}",
                                packet_digest="0" * 64, person_id=person.id,
                                state="pending_dedup", centre="Centre de démonstration",
                                device="synthetic", captured_at=dt.datetime(2026, 1, 1),
                                agent_user_id=actor.user_id)
        session.add(enrollment)
        session.flush()
        for position, finger_seed in ((2, seed), (1, seed + 500_000)):
            sample = engine.finger_from_image(synthetic_finger(finger_seed, impression),
                                              position=position)
            session.add(Capture(
                person_id=person.id, enrollment_id=enrollment.id, modality="finger",
                position=position, quality=sample.nfiq2, minutiae=sample.minutiae,
                width=sample.width, height=sample.height,
                image_object_id=persons.seal_for_person(
                    session=session, store=store, person_id=person.id,
                    kind=persons.KIND_FINGER_WSQ, data=sample.wsq or b""),
                template_object_id=persons.seal_for_person(
                    session=session, store=store, person_id=person.id,
                    kind=persons.KIND_FINGER_TEMPLATE, data=sample.iso_template)))
        # No face: a synthetic portrait has none, and the face checks refuse it.
        session.flush()
        lifecycle.deduplicate(session=session, actor=actor, store=store, engine=engine,
                              enrollment=enrollment)
        enrollment_ids.append(enrollment.id)
    return enrollment_ids


def _measure(seeds: range) -> None:  # pragma: no cover (documentation figures)
    """Print the synthetic genuine and impostor score distributions."""
    from lakana.biometry.engine import Probe
    from lakana.biometry.nbis_engine import NbisEngine

    engine = NbisEngine()
    samples = {(s, i): engine.finger_from_image(synthetic_finger(s, i), position=2)
               for s in seeds for i in (0, 1)}
    print("minutiae", min(x.minutiae for x in samples.values()),
          max(x.minutiae for x in samples.values()),
          "nfiq2", min(x.nfiq2 for x in samples.values()),
          max(x.nfiq2 for x in samples.values()))

    def probe(seed: int, impression: int) -> Probe:
        return Probe(fingers={2: samples[seed, impression].iso_template})

    genuine = sorted(engine.compare(probe(s, 0), probe(s, 1)).score for s in seeds)
    impostor = sorted(engine.compare(probe(s, 0), probe(t, 0)).score
                      for s in seeds for t in seeds if s < t)
    print("genuine", genuine)
    print("impostor", impostor[:3], "...", impostor[-5:], len(impostor))


if __name__ == "__main__":  # pragma: no cover
    _measure(range(1, 21))

"""Enrollment packet intake of the biometric registry: packets per second on SQLite.

In one run, on one temporary SQLite database (WAL, as the application opens it), each packet
in its own transaction, deduplication off (intake alone):

* **templates**: ``--packets`` (300) packets of ``--fingers`` (4) ISO/IEC 19794-2 templates
  each, as a registration client that extracts on its side sends them: validated (schema,
  strict base64, template header and minutiae, the same print never under two positions:
  pairwise Bozorth3), every template and the demographics sealed under their own AES-256-GCM
  data keys, the person, enrollment and capture rows stored, the ledger entry chained.
* **baseline, unprotected**: the same packets stored as they came, the packet's JSON in one
  row of a plain table (one transaction each): what storing costs without validation,
  encryption, blind indexes or the ledger. The ratio is the cost of protection.
* **one template**: the same with the first template only (no pairwise comparison).
* **images**: ``--image-packets`` (10) packets of one finger image (the real WSQ print of
  NBIS's test set): decoding, NFIQ 2 and minutiae extraction (NBIS) dominate.

The prints for templates are generated (``lakana.biometry.synthetic``, labelled synthetic)
and extracted once before timing; every packet has its own national number. The machine may
be small and shared: the load average is printed; only comparisons within one run mean
something. Usage: ``uv run python bench/bench_enrollment.py [--packets 300] [--fingers 4]
[--image-packets 10]``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

import lakana.models
from lakana.biometry.enrollment import submit_packet
from lakana.biometry.nbis_engine import NbisEngine
from lakana.biometry.permissions import register as register_permissions
from lakana.biometry.protection.keystore import FileKeyStore
from lakana.biometry.schemas import EnrollmentPacket
from lakana.core.audit import configure_ledger, signing
from lakana.core.auth.rbac import system_actor
from lakana.core.config import Settings
from lakana.core.db import make_engine, make_session_factory

PASSPHRASE = "bench passphrase, not a secret"
POSITIONS = (1, 2, 6, 7, 3, 8, 4, 9, 5, 10)
WSQ = Path(__import__("wsq").__file__).parent / "tests" / "test.wsq"


def templates(engine: NbisEngine, count: int) -> dict[int, bytes]:
    """ISO templates of ``count`` distinct synthetic prints (generated), by position."""
    from lakana.biometry.synthetic import synthetic_finger

    found: dict[int, bytes] = {}
    seed = 0
    while len(found) < count and seed < count * 5:
        position = POSITIONS[len(found)]
        try:
            sample = engine.finger_from_image(synthetic_finger(seed), position=position)
        except Exception:  # noqa: BLE001  (a generated print may be unusable: skip it)
            seed += 1
            continue
        found[position] = sample.iso_template
        seed += 1
    return found


def packet(i: int, captures: list[dict[str, Any]], prefix: str) -> dict[str, Any]:
    return {"packet_id": f"{prefix}-{i:08d}", "kind": "new", "centre": "Bench centre",
            "device": "bench", "captured_at": "2026-11-20T09:30:00+00:00",
            "demographics": {"nin": f"BENCH{prefix}{i:08d}", "surname": "Synthétique",
                             "given_names": f"Personne {i}", "sex": "X",
                             "date_of_birth": "1990-01-01", "place_of_birth": "Bamako",
                             "region": "Bamako"},
            "captures": captures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--packets", type=int, default=300)
    parser.add_argument("--fingers", type=int, default=4)
    parser.add_argument("--image-packets", type=int, default=10)
    args = parser.parse_args()
    register_permissions()
    actor = system_actor("bench")  # built once the registry granted its permissions
    engine = NbisEngine()
    with tempfile.TemporaryDirectory(prefix="lakana-bench-enrol-") as tmp:
        home = Path(tmp)
        settings = Settings(home=home, _env_file=None)  # type: ignore[call-arg]
        db = make_engine(settings)
        lakana.models.metadata.create_all(db)
        factory = make_session_factory(db)
        signing.create_key(settings.effective_ledger_key_path)
        configure_ledger(factory, settings)
        store = FileKeyStore(home / "keystore.json", PASSPHRASE)
        with db.begin() as conn:
            conn.execute(text("CREATE TABLE bench_plain_packet (id INTEGER PRIMARY KEY, "
                              "packet_id VARCHAR(80) UNIQUE, body TEXT)"))

        prepared = templates(engine, args.fingers)
        captures = [{"modality": "finger", "position": p,
                     "iso_template_base64": base64.b64encode(t).decode()}
                    for p, t in prepared.items()]
        bodies = [json.dumps(packet(i, captures, "T")) for i in range(args.packets)]
        single_bodies = [json.dumps(packet(i, captures[:1], "S")) for i in range(args.packets)]
        image = base64.b64encode(WSQ.read_bytes()).decode()
        image_bodies = [json.dumps(packet(i, [{"modality": "finger", "position": 1,
                                               "image_base64": image}], "I"))
                        for i in range(args.image_packets)]

        def intake(items: list[str]) -> float:
            started = time.perf_counter()
            for body in items:
                data = EnrollmentPacket.model_validate_json(body)
                with factory.begin() as session:
                    submit_packet(session=session, actor=actor, store=store, engine=engine,
                                  packet=data, deduplicate=False)
            return time.perf_counter() - started

        def plain(items: list[str]) -> float:
            started = time.perf_counter()
            for i, body in enumerate(items):
                with db.begin() as conn:
                    conn.execute(text("INSERT INTO bench_plain_packet (packet_id, body) "
                                      "VALUES (:p, :b)"), {"p": f"P-{i:08d}", "b": body})
            return time.perf_counter() - started

        # Warm up (first seal opens the key record, first statements are compiled).
        intake([json.dumps(packet(0, captures, "W"))])
        plain_s = plain(bodies)
        template_s = intake(bodies)
        single_s = intake(single_bodies)
        image_s = intake(image_bodies)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    size = len(bodies[0]) if bodies else 0
    print(f"Enrollment intake on SQLite, one transaction per packet, dedup off "
          f"(load average {load:.2f})")
    print(f"{'scenario':<46} {'packets':>8} {'seconds':>8} {'packets/s':>10} {'ms/packet':>10}")
    rows = [(f"baseline: packet JSON in one plain row ({size} B)", args.packets, plain_s),
            (f"intake: {len(prepared)} ISO templates (synthetic prints)", args.packets,
             template_s),
            ("intake: 1 ISO template (no pairwise check)", args.packets, single_s),
            ("intake: 1 finger image (real WSQ, NBIS)", args.image_packets, image_s)]
    for name, count, seconds in rows:
        rate = count / seconds if seconds else float("inf")
        print(f"{name:<46} {count:>8} {seconds:>8.2f} {rate:>10.1f} "
              f"{1000 * seconds / max(count, 1):>10.2f}")
    if plain_s and template_s and single_s:
        print(f"cost of protection, 1 template (validate + encrypt + index + ledger): "
              f"{single_s / plain_s:.1f}× the unprotected store; with "
              f"{len(prepared)} templates: {template_s / plain_s:.1f}× (the same-print "
              f"check compares every pair)")


if __name__ == "__main__":
    main()

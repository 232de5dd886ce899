"""Import of a 1,000-control OSCAL catalog: time and peak memory.

The catalog is built from the shipped national baseline (real requirement texts, FR and EN,
with their mappings), repeated over 20 domains × 50 controls with fresh ids. Measured in the
same run: the reference cost of merely parsing the JSON (``json.loads``), the validation against
NIST's official OSCAL 1.2.3 JSON schema alone (``oscal_schema.schema_problems`` on the parsed
document), Lakana's whole validation (``oscal.parse_catalog``: JSON, official schema, structure,
JSON paths, duplicates, FR/EN texts), and the whole import into a fresh SQLite database
(validation + versioned tables + ledger), each with its Python peak memory (tracemalloc).
The generated catalog must itself be schema-valid: the run stops otherwise.
"""

from __future__ import annotations

import copy
import json
import secrets
import shutil
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

import lakana

DATA = Path(lakana.__file__).parent / "compliance" / "data" / "catalogs"
GROUPS, PER_GROUP = 20, 50


def _thousand_controls() -> bytes:
    base = json.loads((DATA / "ml-baseline-2026.1.json").read_text(encoding="utf-8"))
    source = [c for g in base["catalog"]["groups"] for c in g["controls"]]
    doc = copy.deepcopy(base)
    meta = doc["catalog"]["metadata"]
    meta["version"] = "bench-1000"
    for prop in meta["props"]:
        if prop["name"] == "catalog-id":
            prop["value"] = "ml-bench"
    doc["catalog"]["uuid"] = str(uuid.uuid4())
    groups = []
    for g in range(GROUPS):
        code = f"d{g + 1:02d}"
        controls = []
        for n in range(PER_GROUP):
            control = copy.deepcopy(source[(g * PER_GROUP + n) % len(source)])
            cid = f"{code}-{n + 1}"
            control["id"] = cid
            for part in control.get("parts", []):
                part["id"] = part["id"].replace(part["id"].split("_")[0], cid, 1)
            controls.append(control)
        groups.append({"id": code, "class": "domain", "title": f"Domaine {g + 1}",
                       "props": [{"name": "title-en", "ns": "https://lakana.ml/ns/oscal",
                                  "value": f"Domain {g + 1}"}], "controls": controls})
    doc["catalog"]["groups"] = groups
    return json.dumps(doc, ensure_ascii=False).encode()


def _measure(run: Callable[[], Any], setup: Callable[[], Any] | None = None
             ) -> tuple[float, float]:
    """Time one run, then trace another for its peak memory (tracemalloc slows the code it
    traces several times over, so the two are taken apart)."""
    if setup is not None:
        setup()
    started = time.perf_counter()
    run()
    elapsed = time.perf_counter() - started
    if setup is not None:
        setup()
    tracemalloc.start()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, peak / 2**20


class _ImportRun:
    """The whole import, each time into a new home and empty SQLite database (a second
    import of the same content would be a no-op)."""

    def __init__(self, content: bytes) -> None:
        self.content = content
        self.homes: list[Path] = []
        self.engine: Any = None
        self.factory: Any = None

    def fresh_database(self) -> None:
        """Create a new home (ledger key, secret) and an empty database."""
        from lakana.core.audit.signing import create_key
        from lakana.core.db import make_session_factory
        from lakana.models import metadata

        self.cleanup_engine()
        home = Path(tempfile.mkdtemp(prefix="lakana-bench-oscal-"))
        self.homes.append(home)
        create_key(home / "keys" / "ledger-ed25519.pem")
        (home / "secret.key").write_text(secrets.token_urlsafe(32))
        self.engine = create_engine(f"sqlite:///{home / 'lakana.db'}")
        metadata.create_all(self.engine)
        self.factory = make_session_factory(self.engine)

    def import_catalog(self) -> None:
        """Import the catalog, committed."""
        from lakana.compliance import service as compliance
        from lakana.core.auth.rbac import system_actor

        with self.factory.begin() as session:
            compliance.import_catalog(session=session, actor=system_actor("bench"),
                                      content=self.content)

    def cleanup_engine(self) -> None:
        """Close the current database, if any."""
        if self.engine is not None:
            self.engine.dispose()
            self.engine = None

    def cleanup(self) -> None:
        """Close the database and remove every home made."""
        self.cleanup_engine()
        for home in self.homes:
            shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    """Build the catalog, run each measure three times, print the best of each."""
    from lakana.app import core_plugins, domains, register_all
    from lakana.compliance import oscal, oscal_schema

    register_all([*core_plugins(), *domains()])
    content = _thousand_controls()
    doc = json.loads(content)
    controls = sum(len(g["controls"]) for g in doc["catalog"]["groups"])
    problems = oscal_schema.schema_problems(doc, "catalog")
    if problems:
        raise SystemExit(f"the generated catalog is not schema-valid: {problems[:5]}")
    results: dict[str, list[tuple[float, float]]] = {
        "json": [], "schema": [], "validate": [], "import": []}
    for _ in range(3):
        results["json"].append(_measure(lambda: json.loads(content)))
        results["schema"].append(_measure(lambda: oscal_schema.schema_problems(doc, "catalog")))
        results["validate"].append(_measure(lambda: oscal.parse_catalog(content)))
        run = _ImportRun(content)
        try:
            results["import"].append(_measure(run.import_catalog, setup=run.fresh_database))
        finally:
            run.cleanup()
    labels = {"json": "json.loads only (reference)",
              "schema": "official OSCAL 1.2.3 schema only (oscal_schema, parsed document)",
              "validate": "whole validation (oscal.parse_catalog: JSON, schema, Lakana checks)",
              "import": "whole import into SQLite (validation, tables, ledger)"}
    print(f"\nOSCAL catalog of {controls} controls, {len(content) / 2**20:.1f} MiB, best of 3 "
          "(time without tracing; peak memory from a separate traced run)\n")
    print("| step | time (s) | peak Python memory (MiB) |")
    print("|---|---:|---:|")
    for key, label in labels.items():
        elapsed = min(r[0] for r in results[key])
        peak = min(r[1] for r in results[key])
        print(f"| {label} | {elapsed:.2f} | {peak:.1f} |")


if __name__ == "__main__":
    main()

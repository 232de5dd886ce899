"""The baseline of bench_api: a bare FastAPI endpoint returning a fixed JSON document."""

from __future__ import annotations

import json
import os
from typing import Any

from fastapi import FastAPI


def create_bare_app() -> FastAPI:
    """An app with one GET route returning the JSON stored in ``BENCH_BARE_JSON``."""
    with open(os.environ["BENCH_BARE_JSON"], encoding="utf-8") as handle:
        document: dict[str, Any] = json.load(handle)
    app = FastAPI()

    @app.get("/api/v1/registry/institutions")
    def institutions() -> dict[str, Any]:
        return document

    return app

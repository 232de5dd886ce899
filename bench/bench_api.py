"""API throughput: an authenticated, paginated, scoped list vs a bare FastAPI endpoint.

Both servers run the same way (uvicorn, one process, loopback) and are loaded in the same
run by wrk (Debian package `wrk`). Goal: Lakana's rate is at least 50 % of the bare
endpoint's. Lakana is measured twice: as clients get it (token check and page served from
the ledger-epoch caches while nothing changes, see lakana.core.cache) and with
``Cache-Control: no-cache`` (token still checked against the ledger head; the page is
recomputed from the database on every request).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine

sys.path.insert(0, str(Path(__file__).resolve().parent))

DURATION_S = int(os.environ.get("BENCH_API_SECONDS", "10"))
CONNECTIONS = 16
PAGE = "/api/v1/registry/institutions?limit=50&sort=name"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prepare(home: Path) -> tuple[str, str]:
    """A database with the demo registry, a focal-point-free admin and an API token."""
    from lakana.app import core_plugins, domains, register_all
    from lakana.core.audit.signing import create_key
    from lakana.core.auth import service
    from lakana.core.auth.rbac import Role, system_actor
    from lakana.core.db import make_session_factory
    from lakana.models import metadata
    from lakana.registry.demo import load_demo

    register_all([*core_plugins(), *domains()])
    url = f"sqlite:///{home / 'lakana.db'}"
    create_key(home / "keys" / "ledger-ed25519.pem")
    (home / "secret.key").write_text(secrets.token_urlsafe(32))
    engine = create_engine(url)
    metadata.create_all(engine)
    with make_session_factory(engine).begin() as session:
        actor = system_actor("bench")
        load_demo(session=session, actor=actor)
        user = service.create_user(session=session, actor=actor, email="bench@example.ml",
                                   full_name="Bench", role=Role.AGENCY_OFFICER,
                                   password="Load-Test-Passw0rd!")
        _, token = service.create_token(session=session, actor=actor, user=user, name="bench",
                                        scopes=None, expires_in_days=1)
    engine.dispose()
    return url, token


def _serve(target: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = open(os.environ.get("BENCH_SERVER_LOG", os.devnull), "a")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", target, "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        env=env, stdout=subprocess.DEVNULL, stderr=log)
    for _ in range(150):
        try:
            httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{target} did not start")


def _wrk(url: str, token: str, *extra_headers: str) -> tuple[float, float, float]:
    headers = [arg for h in extra_headers for arg in ("-H", h)]
    out = subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{DURATION_S}s", "--latency",
         "-H", f"Authorization: Bearer {token}", *headers, url],
        capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        assert m, out
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{non2xx.group(1)} failed responses from {url}")
    return rate, pct("50"), pct("99")


def main() -> None:
    """Run both servers, load each, print the comparison table."""
    if shutil.which("wrk") is None:
        sys.exit("bench_api needs wrk (apt-get install wrk)")
    home = Path(tempfile.mkdtemp(prefix="lakana-bench-api-"))
    try:
        url, token = _prepare(home)
        env = dict(os.environ, LAKANA_HOME=str(home), LAKANA_DATABASE_URL=url)
        lakana_port, bare_port = _port(), _port()
        lakana = _serve("lakana.app:create_app", lakana_port, env)
        try:
            first = httpx.get(f"http://127.0.0.1:{lakana_port}{PAGE}",
                              headers={"Authorization": f"Bearer {token}"}, timeout=10)
            first.raise_for_status()
            document = first.json()
            assert document["total"] >= 25 and len(document["items"]) >= 25, document["total"]
            json_path = home / "bare.json"
            json_path.write_text(json.dumps(document))
            bare_env = dict(env, BENCH_BARE_JSON=str(json_path),
                            PYTHONPATH=str(Path(__file__).resolve().parent))
            bare = _serve("bare_app:create_bare_app", bare_port, bare_env)
            try:
                results = {
                    "bare FastAPI (baseline)": _wrk(f"http://127.0.0.1:{bare_port}{PAGE}", token),
                    "Lakana (token auth, scoped, paginated)":
                        _wrk(f"http://127.0.0.1:{lakana_port}{PAGE}", token),
                    "Lakana, every request recomputed (Cache-Control: no-cache)":
                        _wrk(f"http://127.0.0.1:{lakana_port}{PAGE}", token,
                             "Cache-Control: no-cache"),
                }
            finally:
                bare.terminate()
        finally:
            lakana.terminate()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    base_rate = results["bare FastAPI (baseline)"][0]
    print(f"\nAPI list of {len(document['items'])} institutions, {CONNECTIONS} connections, "
          f"{DURATION_S} s each, loopback, wrk\n")
    print("| server | requests/s | p50 (ms) | p99 (ms) | % of bare |")
    print("|---|---:|---:|---:|---:|")
    for name, (rate, p50, p99) in results.items():
        print(f"| {name} | {rate:,.0f} | {p50:.1f} | {p99:.1f} | {100 * rate / base_rate:.0f} % |")
    ratio = results["Lakana (token auth, scoped, paginated)"][0] / base_rate
    print(f"\ngoal: >= 50 % of the bare rate — {'MET' if ratio >= 0.5 else 'NOT MET'} "
          f"({100 * ratio:.0f} %)")


if __name__ == "__main__":
    main()

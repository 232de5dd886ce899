"""Driver of the Ray cluster test: run inside a network namespace with only loopback.

``unshare -n python tests/biometry/ray_driver.py TEMP_DIR`` brings ``lo`` up, starts a
two-node Ray cluster on 127.0.0.1 (a head and a second node, each with its own raylet),
spreads a sharded gallery over both nodes as Ray actors, checks that its answers equal one
in-process shard's, kills one actor to see the error, and stops the cluster (always). The
last line printed is a JSON report the test asserts on. In its own namespace Ray cannot
see, advertise or reach any other interface than loopback.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the tests' helpers (random MCC templates)

PORT = 6399
ADDRESS = f"127.0.0.1:{PORT}"
PERSONS = 2_000
FINGER_PERSONS = 30


def _progress(message: str, started: float) -> None:
    """A line on stderr, so a test that times out shows how far the driver got."""
    print(f"[{time.monotonic() - started:6.1f} s] {message}", file=sys.stderr, flush=True)


def _reset_signals() -> None:
    """Default dispositions and an empty mask: Ray's daemons and workers inherit them, and a
    test process may have left a signal ignored or blocked (inherited across exec)."""
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    for number in signal.valid_signals():
        if number in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(number, signal.SIG_DFL)
        except (OSError, ValueError):
            continue


def ray_errors(temp_dir: str) -> str:
    """The error lines of the cluster's logs (raylets, GCS, workers), for a failed run."""
    lines: list[str] = []
    for log in sorted(Path(temp_dir).glob("session_*/logs/*")):
        if not log.is_file() or log.suffix not in (".out", ".err", ".log"):
            continue
        try:
            text = log.read_text(errors="replace")
        except OSError:
            continue
        picked = [line for line in text.splitlines()
                  if " E " in line or "Error" in line or "Traceback" in line
                  or (log.suffix == ".err" and line.strip())]
        lines += [f"{log.name}: {line[:300]}" for line in picked[-8:]]
    return "\n".join(lines[-80:])


def main(temp_dir: str) -> dict[str, Any]:
    """Start the cluster, run the checks, always stop it; the report."""
    _reset_signals()
    ray_bin = str(Path(sys.executable).with_name("ray"))
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    # The cluster's daemons read it too: under `uv run` (make test) they would otherwise
    # start each worker through `uv run`, which fails offline (workers die at start).
    os.environ["RAY_ENABLE_UV_RUN_RUNTIME_ENV"] = "0"
    # A private home: Ray reads ~/.ray (an auth token another local cluster may have left).
    home = Path(temp_dir) / "home"
    home.mkdir(parents=True, exist_ok=True)
    os.environ["HOME"] = str(home)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats",
              "--object-store-memory=100000000"]
    report: dict[str, Any] = {}
    started = time.monotonic()
    try:
        _ray_start(ray_bin, "--head", f"--port={PORT}", "--include-dashboard=false",
                   f"--temp-dir={temp_dir}", *common)
        _progress("head node started", started)
        _ray_start(ray_bin, f"--address={ADDRESS}", f"--temp-dir={temp_dir}", *common)
        report["cluster_started_s"] = round(time.monotonic() - started, 1)
        _progress("second node started", started)
        report.update(_checks(started))
    except BaseException:
        _progress(f"failed; the cluster's error lines:\n{ray_errors(temp_dir)}", started)
        raise
    finally:
        _progress("stopping the cluster", started)
        stopped = subprocess.run([ray_bin, "stop", "--force"], capture_output=True, text=True,
                                 timeout=180)
        report["ray_stop_rc"] = stopped.returncode
        report["total_s"] = round(time.monotonic() - started, 1)
    return report


def _ray_start(ray_bin: str, *args: str) -> None:
    # Generous: on a loaded two-core machine a node takes a minute or more to come up.
    done = subprocess.run([ray_bin, "start", *args], capture_output=True, text=True,
                          timeout=240)
    if done.returncode:
        raise RuntimeError(f"ray start {' '.join(args)} failed: {done.stdout[-2000:]}"
                           f"{done.stderr[-2000:]}")


def _checks(started: float) -> dict[str, Any]:
    import ray

    from lakana.biometry.matching.ray_shards import RayShardedGallery
    from lakana.biometry.matching.shards import Shard, ShardError
    from tests.biometry.test_shards import noisy, random_mcc, unit_vectors

    ray.init(address=ADDRESS, logging_level="ERROR", log_to_driver=False)
    report: dict[str, Any] = {}
    try:
        nodes = [n for n in ray.nodes() if n["Alive"]]
        report["nodes"] = len(nodes)
        report["node_addresses"] = sorted({n["NodeManagerAddress"] for n in nodes})
        faces = unit_vectors(PERSONS, 8)
        pool = [random_mcc(seed).to_bytes() for seed in range(12)]
        fingers = [{1: pool[i % 12], 2: pool[(5 * i + 3) % 12]} if i < FINGER_PERSONS else {}
                   for i in range(PERSONS)]
        ids = np.arange(PERSONS) + 100
        single = Shard()
        single.insert_batch(ids, faces, fingers)
        _progress("driver connected; reference shard filled", started)
        gallery = RayShardedGallery(2, timeout=180)
        try:
            actors = gallery._actors
            # Bounded: actors that never start fail the run with the cluster's errors.
            report["actor_nodes"] = ray.get([a.__ray_call__.remote(
                lambda _self: ray.get_runtime_context().get_node_id()) for a in actors],
                timeout=300)
            _progress("both shard actors are up", started)
            report["placement"] = gallery.placement()
            gallery.insert_batch(ids, faces, fingers)
            report["counts"] = gallery.counts()
            _progress("gallery spread over both nodes", started)
            probes = [(noisy(faces[i], i), fingers[i]) for i in (0, 7, 29)] + \
                [(noisy(faces[i], i), None) for i in (500, 1999)] + [(None, fingers[4])]
            same = 0
            for face, prints in probes:
                for k in (1, 10):
                    expected = single.search(face, prints, k)
                    found = gallery.search(face, prints, k)
                    same += [(c.reference_id, round(c.score, 4)) for c in found] == \
                        [(c.reference_id, round(c.score, 4)) for c in expected]
            report["searches"], report["same_as_unsharded"] = 2 * len(probes), same
            _progress("searches compared", started)
            report["mate_first"] = gallery.search(probes[1][0], probes[1][1], 1)[0].reference_id
            report["bytes_per_million"] = gallery.bytes_per_million()
            # A killed actor is a clear error, then a restart from a snapshot heals it.
            saved = gallery.snapshot(1)
            ray.kill(actors[1], no_restart=True)
            try:
                gallery.search(faces[0], None, 5)
                report["killed_error"] = None
            except ShardError as exc:
                report["killed_error"] = str(exc)
            gallery.restart(1, saved)
            report["counts_after_restart"] = gallery.counts()
        finally:
            gallery.close()
    finally:
        ray.shutdown()
    return report


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])), flush=True)

"""The sharded gallery on a real two-node Ray cluster, on loopback only.

Ray advertises the host's routable address unless it runs where only loopback exists, so
the cluster, its actors and the driver run in a fresh network namespace (``unshare -n``:
root or user namespaces needed). The driver (tests/biometry/ray_driver.py) prints a JSON
report; here we check it and that no Ray process of this cluster is left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.biometry.ray_driver import ray_errors

DRIVER = Path(__file__).with_name("ray_driver.py")
ROOT = DRIVER.parents[2]


def _namespaces_allowed() -> str | None:
    """Why ``unshare -n`` cannot be used here, or None when it can."""
    try:
        done = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True,
                              timeout=30)
    except FileNotFoundError:
        return "unshare (util-linux) is not installed"
    return None if done.returncode == 0 else f"unshare -n refused: {done.stderr.strip()}"


def _leftovers(marker: str) -> list[int]:
    """Processes whose command line names this cluster's temporary folder."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found


def _kill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            continue


def _run_driver(temp_dir: str, timeout: float) -> tuple[int, str, str]:
    """Run the driver; on timeout kill it and every process of its cluster, then fail with
    the driver's progress lines (its stderr) so the stuck phase is visible."""
    # A clean environment: nothing a test process has set leaks into Ray's daemons.
    env = {name: os.environ[name] for name in ("PATH", "LANG", "LC_ALL", "TZ")
           if name in os.environ}
    driver = subprocess.Popen(["unshare", "-n", sys.executable, str(DRIVER), temp_dir],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env,
                              start_new_session=True)
    try:
        out, err = driver.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(driver.pid, signal.SIGKILL)
        _kill(_leftovers(temp_dir))
        out, err = driver.communicate()
        pytest.fail(f"the Ray driver took more than {timeout:.0f} s; its progress:\n"
                    f"{err[-3000:]}\nthe cluster's error lines:\n{ray_errors(temp_dir)}")
    return driver.returncode, out, err


@pytest.mark.cluster
def test_shards_on_a_two_node_loopback_cluster() -> None:
    reason = _namespaces_allowed()
    if reason:
        pytest.skip(reason)
    # Given a two-node Ray cluster in a namespace with only loopback (short path: Ray's
    # Unix sockets live under it)
    temp_dir = f"/tmp/lkray-{uuid.uuid4().hex[:8]}"
    try:
        # When the driver spreads a gallery over both nodes and searches it
        # Alone it takes about a minute; beside the other tests on two busy cores, three
        # or more.
        returncode, out, err = _run_driver(temp_dir, timeout=540)
        assert returncode == 0, err[-3000:]
        report = json.loads(out.strip().splitlines()[-1])
    finally:
        deadline = time.monotonic() + 20
        while _leftovers(temp_dir) and time.monotonic() < deadline:
            time.sleep(0.5)  # `ray stop` has returned; its processes may take a moment
        left = _leftovers(temp_dir)
        _kill(left)
        subprocess.run(["rm", "-rf", temp_dir], check=False)
    # Then both nodes are on 127.0.0.1, one shard per node
    assert report["nodes"] == 2
    assert report["node_addresses"] == ["127.0.0.1"]
    assert report["actor_nodes"] == report["placement"]
    assert len(set(report["actor_nodes"])) == 2
    # And the sharded answers are the unsharded ones
    assert report["counts"] == [1000, 1000]
    assert report["same_as_unsharded"] == report["searches"] == 12
    assert report["mate_first"] == 107
    assert report["bytes_per_million"] > 512e6
    # A killed actor is reported clearly, and a restart from its snapshot heals the shard
    assert report["killed_error"] == "shard 1: its actor died (ActorDiedError)"
    assert report["counts_after_restart"] == [1000, 1000]
    # And the cluster was stopped with nothing left running
    assert report["ray_stop_rc"] == 0
    assert left == [], f"Ray processes left running: {left}"

"""The sharded gallery across machines: each shard a Ray actor, on the nodes of a cluster.

The shards are the same :class:`~lakana.biometry.matching.shards.ShardHost` objects the
worker processes of :class:`~lakana.biometry.matching.shards.ShardedGallery` run, and the
API (routing by ``reference_id % n``, fan-out, exact merge, fusion) is the same
:class:`~lakana.biometry.matching.shards.ShardedGalleryBase`. Shard ``i`` is pinned to node
``i mod (number of nodes)`` (Ray's ``NodeAffinitySchedulingStrategy``, not soft: a shard is
never silently moved next to another one), so adding nodes spreads the gallery and its
memory. A dead actor (its node lost, its process killed) raises
:class:`~lakana.biometry.matching.shards.ShardError`, as a dead worker process does.

Ray is imported here only, when a gallery is built: ``import lakana`` does not load it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from lakana.biometry.matching.shards import ShardedGalleryBase, ShardError, ShardHost


class RayShardedGallery(ShardedGalleryBase):
    """``n_shards`` shards as Ray actors across the alive nodes of a Ray cluster.

    ``address`` is the cluster's (``"127.0.0.1:6379"``, ``"auto"``); when Ray is already
    initialised in this process it is used as is. ``nodes`` restricts placement to these
    node ids (default: every alive node, sorted by address then id). ``timeout`` bounds
    every call in seconds."""

    def __init__(self, n_shards: int, *, address: str | None = None,
                 nodes: Sequence[str] | None = None, timeout: float = 120.0,
                 num_cpus: float = 1.0, dim: int = 128) -> None:
        # Under `uv run` (make serve, make demo) Ray would start every worker through
        # `uv run` again, which resolves the project and fails offline: the workers die at
        # start. Workers use this installed environment instead. Read when Ray is imported.
        os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        if n_shards < 1:
            raise ValueError("at least one shard")
        if not ray.is_initialized():
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        self._ray = ray
        self.n_shards = n_shards
        self.timeout = timeout
        self.dim = dim
        self.nodes = list(nodes) if nodes else alive_nodes()
        if not self.nodes:
            raise RuntimeError("the Ray cluster has no alive node")
        self._actor_class = ray.remote(num_cpus=num_cpus, max_restarts=0)(ShardHost)
        self._strategy = NodeAffinitySchedulingStrategy
        self._actors: list[Any] = [self._spawn(s, None) for s in range(n_shards)]
        self._down: list[str | None] = [None] * n_shards

    def placement(self) -> list[str]:
        """The node id each shard runs on, by shard."""
        return [self.nodes[s % len(self.nodes)] for s in range(self.n_shards)]

    def pids(self) -> list[int]:
        """The actors' process ids, by shard (on their own nodes)."""
        return [int(p) for p in self._ray.get([a.pid.remote() for a in self._actors],
                                              timeout=self.timeout)]

    def restart(self, shard: int, snapshot: bytes | None = None) -> None:
        """Replace shard ``shard``'s actor by a fresh one on the same node."""
        self._ray.kill(self._actors[shard], no_restart=True)
        self._actors[shard] = self._spawn(shard, snapshot)
        self._down[shard] = None

    def close(self) -> None:
        """Kill every shard actor (the cluster itself is left running)."""
        for actor in self._actors:
            self._ray.kill(actor, no_restart=True)
        self._actors = []
        self._down = ["closed"] * self.n_shards

    def _spawn(self, shard: int, snapshot: bytes | None) -> Any:
        node = self.nodes[shard % len(self.nodes)]
        return self._actor_class.options(
            name=None, scheduling_strategy=self._strategy(node_id=node, soft=False),
        ).remote(snapshot, self.dim)

    def _call(self, calls: Mapping[int, tuple[str, tuple[Any, ...]]]) -> dict[int, Any]:
        ray = self._ray
        for shard in calls:
            if self._down[shard] is not None:
                raise ShardError(shard, f"down ({self._down[shard]}); restart it")
        refs = {shard: self._actors[shard].call.remote(operation, args)
                for shard, (operation, args) in calls.items()}
        # Wait for all together (the shards work in parallel), then read each answer.
        ray.wait(list(refs.values()), num_returns=len(refs), timeout=self.timeout)
        results: dict[int, Any] = {}
        errors: list[ShardError] = []
        for shard, ref in refs.items():
            try:
                results[shard] = ray.get(ref, timeout=5.0)
            except ray.exceptions.GetTimeoutError:
                errors.append(self._fail(shard, f"no answer within {self.timeout:g} s; "
                                                "its actor was killed"))
            except ray.exceptions.RayActorError as exc:
                errors.append(self._fail(shard, f"its actor died ({type(exc).__name__})"))
            except ray.exceptions.RayTaskError as exc:
                errors.append(ShardError(shard, f"raised {exc.cause!r}"))
        if errors:
            raise errors[0]
        return results

    def _fail(self, shard: int, reason: str) -> ShardError:
        self._down[shard] = reason
        self._ray.kill(self._actors[shard], no_restart=True)
        return ShardError(shard, reason)


def alive_nodes() -> list[str]:
    """The alive nodes' ids of the connected Ray cluster, sorted by address then id."""
    import ray

    nodes = [n for n in ray.nodes() if n.get("Alive")]  # type: ignore[no-untyped-call]
    nodes.sort(key=lambda n: (str(n.get("NodeManagerAddress")), str(n["NodeID"])))
    return [str(n["NodeID"]) for n in nodes]

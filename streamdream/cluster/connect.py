"""Finding the Ray cluster a render runs on, and how many workers it holds."""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass

from ..config import ClusterConfig
from ..errors import UsageError

# how long a ray://HOST:PORT may take to answer before the run gives up (Ray's own client waits 30 s)
CONNECT_SECONDS = 10.0


def import_ray():
    try:
        import ray
    except ImportError:
        raise UsageError("`cluster` needs Ray: pip install 'streamdream[cluster]'", setting="cluster") from None
    return ray


@dataclass(frozen=True)
class Cluster:
    ray: object  # the module
    workers: int
    cpus: int  # each worker's
    gpus: int  # each worker's: 0 or 1
    started: bool  # this run started it (local:N) and stops it at the end
    where: str  # for the user

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()


def connect(settings: ClusterConfig) -> Cluster:
    """Join or start the cluster `settings.address` names. UsageError in one line when it cannot
    be reached (within CONNECT_SECONDS for ray://) or holds no room for a worker."""
    ray = import_ray()
    address = settings.address
    started = False
    if ray.is_initialized():
        pass  # a program (or a test) that joined a cluster itself renders on it
    elif address.startswith("local:"):
        count = int(address.split(":", 1)[1])
        cpus = settings.worker_cpus or max(1, (os.cpu_count() or 1) // count)
        ray.init(num_cpus=count * cpus, include_dashboard=False, logging_level=logging.WARNING,
                 log_to_driver=False, configure_logging=True)
        started = True
    else:
        if address.startswith("ray://"):
            _reachable(address)
        try:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = os.environ.get("RAY_ADDRESS") or "RAY_ADDRESS or a running head" if address == "auto" else address
            raise UsageError(f"cannot join the Ray cluster at {where} ({str(exc).splitlines()[0][:160]}); start a head "
                             f"with Ray's `ray start`, or set `cluster` to local:N", setting="cluster") from None
    try:
        return _size(ray, settings, started)
    except BaseException:
        if started:
            ray.shutdown()
        raise


def _reachable(address: str) -> None:
    host, _, port = address[len("ray://"):].rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"`cluster` {address}: give ray://HOST:PORT (the head's client port, 10001 by default)",
                         setting="cluster")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_SECONDS):
            pass
    except OSError as exc:
        raise UsageError(f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}); is its head running "
                         f"(Ray's `ray start`) and the port open?", setting="cluster") from None


def _size(ray, settings: ClusterConfig, started: bool) -> Cluster:
    """local:N: N workers sharing the cluster's cores (a GPU each where there are N). Otherwise
    one worker a GPU where the cluster has GPUs, else one a `worker_cpus` cores (4 by default)."""
    total = ray.cluster_resources()
    cpus, gpus = int(total.get("CPU", 0)), int(total.get("GPU", 0))
    if settings.address.startswith("local:"):
        count = int(settings.address.split(":", 1)[1])
        per = settings.worker_cpus or max(1, cpus // count)
        return Cluster(ray, count, per, 1 if gpus >= count else 0, started, f"a local Ray cluster of {count} workers")
    if gpus:
        per = settings.worker_cpus or max(1, min(4, cpus // gpus))
        return Cluster(ray, gpus, per, 1, started, f"the Ray cluster at {settings.address} ({gpus} GPUs)")
    per = settings.worker_cpus or min(4, cpus)
    if per < 1 or cpus < per:
        raise UsageError(f"the Ray cluster at {settings.address} has {cpus} CPUs, fewer than a worker's {per}; give "
                         f"a smaller worker_cpus", setting="worker_cpus")
    return Cluster(ray, cpus // per, per, 0, started, f"the Ray cluster at {settings.address} ({cpus} CPUs)")

"""A dispatch logger for the device path: which ops make the host wait for a device, copy from
it, or mix a device's tensors with the host's. On torch's `meta` device (tensors with shapes but
no data) the dream path runs here, on a CPU, as it would on a GPU, and the logger stands in for
what a meta tensor cannot give (a value read, a download)."""

from __future__ import annotations

import traceback

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

aten = torch.ops.aten

# ops that read a device tensor's value on the host: each waits for all the device's work so far
READS = {aten._local_scalar_dense.default, aten.is_nonzero.default, aten.equal.default}
COPIES = {aten._to_copy.default, aten.copy_.default, aten.to.device, aten.to.dtype_layout}


class DeviceLog(TorchDispatchMode):
    """Within `with DeviceLog("meta") as log:`, for ops on tensors of that device type:
    `reads` (value reads: syncs), `downloads` (copies to the host: syncs too), `waited_uploads`
    (copies from the host not asked non_blocking: on a GPU the host waits for them) and `mixed` (ops
    taking both a device tensor and a host tensor of one or more dimensions), each a list of op
    names in order. On `meta` a read gives 0.5 (or 1, True) and a download ones."""

    def __init__(self, device_type: str):
        super().__init__()
        self.device_type = device_type
        self.where: list[str] = []  # for each read, download or mix: the line of streamdream that made it
        self.reads: list[str] = []
        self.downloads: list[str] = []
        self.waited_uploads: list[str] = []  # copies to the device the host waits for (not non_blocking)
        self.mixed: list[str] = []

    @property
    def syncs(self) -> list[str]:
        return self.reads + self.downloads

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        tensors = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        on = [t for t in tensors if t.device.type == self.device_type]
        fake = self.device_type == "meta"
        if on and func in READS:
            self._note(self.reads, func)
            if fake:
                return {torch.bool: True}.get(on[0].dtype, 0.5 if on[0].is_floating_point() else 1)
        elif on and func in COPIES and _to_host(func, args, kwargs):
            self._note(self.downloads, func)
            if fake:
                if func is aten.copy_.default:
                    return args[0].fill_(1)
                dtype = kwargs.get("dtype") or on[0].dtype
                return torch.ones(on[0].shape, dtype=dtype)
        elif on and func in COPIES and _from_host(func, args, kwargs):
            self._note(self.waited_uploads, func)
        elif on and func not in COPIES and any(t.device.type == "cpu" and t.dim() > 0 for t in tensors):
            self._note(self.mixed, func)
        return func(*args, **kwargs)

    def _note(self, kind: list[str], func) -> None:
        kind.append(str(func))
        lines = [f"{f.filename.split('streamdream/')[-1]}:{f.lineno} {f.line}" for f in traceback.extract_stack()
                 if "/streamdream/" in f.filename and "/tests/" not in f.filename]
        self.where.append(f"{func}: {lines[-1] if lines else '?'}")


def _from_host(func, args, kwargs) -> bool:
    """A copy from the host to the device that the host waits for (not asked non_blocking)."""
    if func is aten.copy_.default:
        host = args[1].device.type == "cpu" and args[0].device.type != "cpu"
        return host and not (args[2] if len(args) > 2 else kwargs.get("non_blocking", False))
    source = args[0] if args and isinstance(args[0], torch.Tensor) else None
    return source is not None and source.device.type == "cpu" and not kwargs.get("non_blocking", False)


def _to_host(func, args, kwargs) -> bool:
    if func is aten.copy_.default:
        return args[0].device.type == "cpu" and args[1].device.type != "cpu"
    device = kwargs.get("device", args[1] if len(args) > 1 and isinstance(args[1], torch.device) else None)
    return device is not None and torch.device(device).type == "cpu"

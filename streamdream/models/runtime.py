"""Where and in what precision a network runs: the device, bf16 or fp32, and the autocast test
that works on every torch this project admits."""

from __future__ import annotations

import functools
import os
import platform

import torch

from ..errors import UsageError
from .spec import ModelSpec


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux; empty elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_name() -> str:
    """The CPU's model name (Linux), else what the platform says: benchmarks name the machine
    their numbers come from."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def uses_bf16(precision: str, device: torch.device, spec: ModelSpec) -> bool:
    """Whether dream steps compute in bf16 (autocast; the image and its gradient stay fp32, and
    the gradient is normalised, so bf16's short mantissa does not change the look). The answer
    holds for every image size.

    "fp32": never; "bf16": always. "auto": bf16 on CUDA where the card computes it natively
    (`cuda_bf16_native`); on a CPU only where it computes bf16 natively (AVX512-BF16 or AMX;
    elsewhere it is emulated and slow), and for dense networks only. A depthwise network (the Lite family) stays fp32: its depthwise layers
    gain little and every layer pays for the casts, so bf16 was slower there even with AMX (a
    Lite0 step at 640x360 on a 2-core AMX Xeon: 106 ms bf16, 72 ms fp32; scripts/bench.py times both).
    """
    if precision == "fp32":
        return False
    if precision == "bf16":
        return True
    if device.type == "cuda":
        return cuda_bf16_native(device)
    flags = cpu_flags()
    return not spec.depthwise and ("amx_bf16" in flags or "avx512_bf16" in flags)


def cuda_bf16_native(device: torch.device) -> bool:
    """Whether the card computes bf16 in hardware: compute capability 8 (Ampere) or later. Not
    `torch.cuda.is_bf16_supported()` alone: by default it counts emulation, and answers True on
    T4/V100-class cards (7.x), which have no bf16 tensor cores and run bf16 convolutions slower
    than fp32."""
    major, _ = torch.cuda.get_device_capability(device)
    return major >= 8


def describe_precision(bf16: bool) -> str:
    """`uses_bf16`'s answer in words."""
    return "bf16" if bf16 else "fp32"


def pick_device(device: str) -> torch.device:
    """The torch device for a checked `device` setting (auto, cpu or cuda): auto is CUDA where a card is visible."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("`device` cuda asked for, but no CUDA GPU is visible to PyTorch; set `device` to cpu or auto",
                         setting="device")
    return torch.device(device)


def autocast_enabled(device_type: str) -> bool:
    """Whether autocast is on for `device_type` ("cpu", "cuda") here, on any torch this project admits."""
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch before 2.4 takes no device type
        return torch.is_autocast_cpu_enabled() if device_type == "cpu" else torch.is_autocast_enabled()


# whether an unseeded CUDA run lets cuDNN time every kernel for each new input shape
# (cudnn.benchmark) rather than pick by its heuristics: off, as timing costs seconds a shape and a
# dream meets many (octaves, a live cut's seed, the amortised octave of each carried frame)
CUDNN_AUTOTUNE = False


def cuda_determinism(seeded: bool, autotune: bool | None = None) -> None:
    """CUDA kernels for a seeded run or for speed. A seed promises the same dream again, so it
    asks for the deterministic kernel of every op that has one (cuDNN's, cuBLAS's with a fixed
    workspace, PyTorch's own) and, where an op has none, PyTorch warns once naming it rather than
    failing. Without a seed the kernels are free, and cuDNN times them for each new shape where
    `autotune` (default CUDNN_AUTOTUNE) says so. A process-wide switch, as the kernels are."""
    if seeded:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # read when cuBLAS next runs
    torch.use_deterministic_algorithms(seeded, warn_only=True)
    torch.backends.cudnn.deterministic = seeded
    torch.backends.cudnn.benchmark = (CUDNN_AUTOTUNE if autotune is None else autotune) and not seeded

"""`DreamNet`: a registry network cut after its deepest requested layer, BatchNorm folded,
ready for dream steps on its device and in its precision."""

from __future__ import annotations

import contextlib
import copy
import threading
import time

import torch
from torch import nn

from ..errors import Cancelled
from . import allocator
from .registry import resolve_layer
from .runtime import autocast_enabled, uses_bf16
from .spec import ModelSpec


def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    """Fold an eval-mode BatchNorm into the convolution before it (conv gets a bias)."""
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    conv.weight.data = conv.weight.detach() * scale.view(-1, *[1] * (conv.weight.ndim - 1))
    bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(bn.running_mean)
    conv.bias = nn.Parameter((bias - bn.running_mean) * scale + bn.bias.detach(), requires_grad=False)


def memory_format_for(network: nn.Module, device: torch.device) -> torch.memory_format:
    """The memory format `network`'s weights take on `device`: channels_last, which a CPU's
    convolutions run about twice as fast in, except on a GPU for a network with depthwise
    convolutions (EfficientNet-Lite's). There cuDNN compiles its channels_last depthwise kernels
    at run time, seconds for each new size, and a video or a show meets a dozen sizes (its
    octaves, its cut seeds): the first dream of a live show took longer than the show. Kept
    contiguous, PyTorch runs them with its own kernels, no slower once warm (docs/gpu.md)."""
    depthwise = any(isinstance(m, nn.Conv2d) and m.groups > 1 for m in network.modules())
    if torch.device(device).type == "cuda" and depthwise:
        return torch.contiguous_format
    return torch.channels_last


def fold_batchnorm(network: nn.Module, size: int = 96) -> nn.Module:
    """The same network for inference with each BatchNorm that directly follows a convolution
    folded into it (in place; eval only). Same outputs to float rounding, but a dream step no
    longer runs BatchNorm forward and backward: memory-bound passes that cost a CPU step 10-30%.

    Which BatchNorm follows which convolution is found by running the network once on a small
    input and watching which module gets which tensor, so any architecture works, whatever its
    attributes are called. A BatchNorm whose input is not a convolution's output is kept.
    """
    # id of a conv's output -> (the conv, the output): holding the tensor keeps its id from
    # being reused by a later one while the network runs
    made: dict[int, tuple[nn.Conv2d, torch.Tensor]] = {}
    pairs: list[tuple[nn.Conv2d, nn.BatchNorm2d]] = []

    def after_conv(module, args, output):
        made[id(output)] = (module, output)

    def before_bn(module, args):
        conv, _ = made.get(id(args[0]), (None, None))
        if conv is not None and conv.out_channels == module.num_features:
            pairs.append((conv, module))

    hooks = [m.register_forward_hook(after_conv) for m in network.modules() if isinstance(m, nn.Conv2d)]
    hooks += [m.register_forward_pre_hook(before_bn) for m in network.modules() if isinstance(m, nn.BatchNorm2d)]
    try:
        with torch.no_grad():
            network.eval()(torch.zeros(1, 3, size, size, device=device_of(network)))
    finally:
        for hook in hooks:
            hook.remove()
    folded = {id(bn) for _, bn in pairs}
    owners = [(owner, name) for owner in network.modules() for name, child in owner.named_children()
              if id(child) in folded]
    for conv, bn in pairs:
        _fold(conv, bn)
    for owner, name in owners:
        setattr(owner, name, nn.Identity())
    return network


class DreamNet(nn.Module):
    """A registry network cut after its deepest requested layer.

    forward(image) takes RGB in [0, 1], shape (N, 3, H, W), normalises it once, and returns
    {layer name: activation} for the requested layers; nothing above the deepest one runs.
    """

    def __init__(self, spec: ModelSpec, network: nn.Module, layers):
        super().__init__()
        if any(isinstance(m, nn.BatchNorm2d) for m in network.modules()):
            # a folded copy: no BatchNorm forward and backward in each dream step
            network = fold_batchnorm(copy.deepcopy(network).eval())
        chain = spec.stages(network)
        order = [n for n, _ in chain]
        wanted = [resolve_layer(spec, n) for n in layers]
        if not wanted:
            raise ValueError("DreamNet needs at least one layer")
        depth = max(order.index(n) for n in wanted) + 1
        self.spec = spec
        self.names = order[:depth]
        self.wanted = frozenset(wanted)
        self.stages = nn.ModuleList(m for _, m in chain[:depth])
        self.bf16 = False  # dream steps run under bf16 autocast (see `prepare`)
        self.prepared = False  # unprepared: bf16 on CUDA, fp32 on a CPU
        self.compiled = False  # see `compile_steps`
        self.compile_seconds = 0.0  # spent compiling so far, for every input shape met
        self._compiled_for: set[tuple] = set()
        self._channels: dict[str, int] | None = None
        # set when the run stops: the next pass raises Cancelled, so a signal stops even a long
        # first dream of a big frame between steps (and tiles) instead of at its end
        self.cancelled = threading.Event()
        self.register_buffer("mean", torch.tensor(spec.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(spec.std).view(1, 3, 1, 1))
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)

    def prepare(self, device: torch.device, precision: str = "auto") -> "DreamNet":
        """This network on `device`, ready for dream steps: weights in the memory format its
        convolutions run best in there (`memory_format_for`), and the precision ("auto", "fp32"
        or "bf16", see `uses_bf16`) that `autocast` applies. The process's allocator keeps freed
        memory for the next step (see allocator.py)."""
        allocator.keep_freed_memory()
        device = torch.device(device)
        self.bf16 = uses_bf16(precision, device, self.spec)
        self.prepared = True
        return self.to(device, memory_format=memory_format_for(self, device))

    def autocast(self, image: torch.Tensor):
        """The autocast a forward and backward pass on `image` (N, 3, H, W) runs under: bf16 for
        the convolutions and matmuls where the precision says so; the image and its gradient
        stay fp32."""
        bf16 = self.bf16 if self.prepared else image.device.type == "cuda"
        if bf16:
            return torch.autocast(image.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def compile_steps(self) -> "DreamNet":
        """Compile this network's forward and backward pass with torch.compile (inductor), once
        for each input shape met (a video's octave and tile sizes repeat, an image's do not);
        `compile_seconds` adds up the time that took. Opt-in ([dream] compile): each shape costs
        tens of seconds to minutes, and on a small CPU the compiled steps were slower than eager."""
        import torch._dynamo

        # a video meets more shapes than dynamo's default of 8 recompiles (octaves, the smaller
        # octave's step, tiles, odd frame sizes); past the limit it would silently run eager
        for name in ("recompile_limit", "cache_size_limit"):
            if hasattr(torch._dynamo.config, name):
                setattr(torch._dynamo.config, name, max(64, getattr(torch._dynamo.config, name)))
        self.compile(dynamic=False)
        self.compiled = True
        return self

    def __call__(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.cancelled.is_set():
            raise Cancelled("the run was asked to stop")
        if self.compiled:
            key = (tuple(image.shape), image.dtype, image.requires_grad and torch.is_grad_enabled(),
                   autocast_enabled(image.device.type))
            if key not in self._compiled_for:
                self._compiled_for.add(key)
                self._compile_for(image)
        return super().__call__(image)

    def _compile_for(self, image: torch.Tensor) -> None:
        """Compile for `image`'s shape now, forward and (when a gradient is wanted) backward, on
        a copy, and time it: otherwise the backward would compile unseen inside the first step."""
        start = time.perf_counter()
        x = image.detach().clone().requires_grad_(image.requires_grad and torch.is_grad_enabled())
        out = super().__call__(x)
        if x.requires_grad:
            torch.autograd.grad(sum(o.float().sum() for o in out.values()), x)
        if x.device.type == "cuda":
            torch.cuda.synchronize(x.device)
        self.compile_seconds += time.perf_counter() - start

    def features(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """The requested layers' activations of `image` (N, 3, H, W) in [0, 1], on this network's
        device, without a gradient (and without compiling for the shape)."""
        with torch.no_grad():
            return self.forward(image.to(self.mean.device))

    def channels(self, name: str) -> int:
        """The channel count of a requested layer (one probe pass, the first time)."""
        if self._channels is None:
            acts = self.features(torch.zeros(1, 3, 64, 64))
            self._channels = {n: a.shape[1] for n, a in acts.items()}
        return self._channels[name]

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f"DreamNet expects (N, 3, H, W) in [0, 1], got {tuple(image.shape)}")
        x = (image - self.mean) / self.std
        out = {}
        for name, stage in zip(self.names, self.stages):
            x = stage(x)
            if name in self.wanted:
                out[name] = x
        return out


def layer_shapes(spec: ModelSpec, network: nn.Module, size: int = 224) -> dict[str, tuple[int, ...]]:
    """Output shape (C, H, W) of every dreamable layer for a size x size input."""
    device = device_of(network)
    net = DreamNet(spec, network, list(spec.layers)).to(device)  # its input's mean and spread too
    with torch.no_grad():
        acts = net(torch.zeros(1, 3, size, size, device=device))
    return {n: tuple(a.shape[1:]) for n, a in acts.items()}


def device_of(network: nn.Module) -> torch.device:
    """Where a network's weights are (a probe's input goes there too); the CPU if it has none."""
    return next(network.parameters(), torch.empty(0)).device

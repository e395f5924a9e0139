"""The dream stage's front door: a `DreamConfig` becomes a network on a device, an objective
and a seeded random source; frames (RGB uint8) go in and dreamt frames come out.

It owns the device: frames cross to tensors and back only here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch

from . import models, objectives
from .config import DreamConfig
from .dream import AscentSettings, Progress, dream, octave_sizes, resize
from .errors import UsageError
from .objectives import Objective

GUIDE_SIDE = 320  # guide features come from the guide image at about this size


def build_objective(cfg: DreamConfig, spec: models.ModelSpec, network: torch.nn.Module,
                    guide: np.ndarray | None = None) -> Objective:
    """The objective a config describes: its layer spec, its class, or their sum; with a guide
    (`cfg.guide` names it; `guide` is its RGB uint8 picture, see sources.load_guide), the spec's
    layers are pushed towards the guide's features instead of amplified."""

    @cache
    def channels(name: str) -> int:
        return models.layer_shapes(spec, network)[name][0]

    resolve = lambda name: models.resolve_layer(spec, name)
    total = None
    if cfg.layers:
        if cfg.guide:
            if guide is None:
                raise ValueError(f"the guide {cfg.guide} was not loaded; pass its picture (sources.load_guide)")
            total = _guide_objective(cfg, spec, network, resolve, guide)
        else:
            total = objectives.from_layers(cfg.layers, resolve, channels)
    elif cfg.guide:
        raise UsageError("--guide needs --layers: the guide is matched at those layers")
    if cfg.class_name is not None:
        classes = models.imagenet_classes() if cfg.num_classes == 1000 else [str(i) for i in range(cfg.num_classes)]
        index = objectives.class_index(cfg.class_name, classes)
        term = objectives.class_logit(index, classes[index])
        total = term if total is None else total + term
    if total is None:
        raise UsageError("nothing to dream: give --layers, --class, or both")
    return total


def _guide_objective(cfg, spec, network, resolve, frame: np.ndarray) -> Objective:
    guide = to_tensor(frame)
    scale = GUIDE_SIDE / max(guide.shape[2:])
    if scale < 1:
        guide = resize(guide, (max(1, round(guide.shape[2] * scale)), max(1, round(guide.shape[3] * scale))))
    total = None
    terms = objectives.parse_terms(cfg.layers)
    names = [resolve(name) for name, _, _ in terms]
    net = models.DreamNet(spec, network, names)
    with torch.no_grad():
        feats = net(guide)
    for name, (_, _, weight) in zip(names, terms):
        term = objectives.guided(name, feats[name])
        term = term if weight == 1.0 else term * weight
        total = term if total is None else total + term
    return total


def upload(array: np.ndarray, device) -> torch.Tensor:
    """A numpy array as a tensor on `device`; to a GPU through pinned memory, without waiting."""
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    if torch.device(device).type != "cuda":
        return tensor
    return tensor.pin_memory().to(device, non_blocking=True)


def to_tensor(frame: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """RGB uint8 (H, W, 3) -> float (1, 3, H, W) in [0, 1] on `device`."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 frame (H, W, 3), got {frame.dtype} {frame.shape}")
    return upload(frame, device).permute(2, 0, 1)[None].float().div_(255)


def to_frame(image: torch.Tensor) -> np.ndarray:
    """float (1, C, H, W) in [0, 1] -> uint8 (H, W, C) on the CPU; C is 3 (RGB) or 4 (RGBA)."""
    if image.ndim != 4 or image.shape[0] != 1 or image.shape[1] not in (3, 4):
        raise ValueError(f"expected (1, 3 or 4, H, W), got {tuple(image.shape)}")
    return image[0].detach().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()


@dataclass
class Dreamer:
    """A loaded network and objective, ready to dream frames."""

    config: DreamConfig
    net: models.DreamNet
    objective: Objective
    device: torch.device
    seed: int
    generator: torch.Generator

    @classmethod
    def from_config(cls, cfg: DreamConfig, network: torch.nn.Module | None = None,
                    guide: np.ndarray | None = None) -> "Dreamer":
        """Load the config's network (or use `network`, already loaded for this config's model);
        `guide` is the picture `cfg.guide` names, read by the caller (sources.load_guide)."""
        device = models.pick_device(cfg.device)
        spec = models.get_spec(cfg.model)
        if network is None:
            network = models.load_network(spec, cfg.weights, cfg.num_classes)
        objective = build_objective(cfg, spec, network, guide)
        net = models.DreamNet(spec, network, objective.layers).prepare(device, cfg.precision)
        if cfg.compile:
            net.compile_steps()
        seed = cfg.seed if cfg.seed is not None else random.randrange(2**31)
        if device.type == "cuda":
            # a seed promises the same dream again: keep cuDNN to its deterministic kernels;
            # without one, let it time its kernels for each new shape (a video's shapes repeat)
            torch.backends.cudnn.deterministic = cfg.seed is not None
            torch.backends.cudnn.benchmark = cfg.seed is None
        return cls(cfg, net, objective, device, seed, torch.Generator().manual_seed(seed))

    @property
    def settings(self) -> AscentSettings:
        c = self.config
        return AscentSettings(c.octaves, c.octave_scale, c.iterations, c.step, c.jitter)

    def steps_for(self, height: int, width: int) -> int:
        return len(octave_sizes(height, width, self.config.octaves, self.config.octave_scale)) * self.config.iterations

    def dream_tensor(self, image: torch.Tensor, progress: Progress | None = None) -> torch.Tensor:
        return dream(image, self.net, self.objective, self.settings, self.generator, progress)

    def dream_frame(self, frame: np.ndarray, progress: Progress | None = None) -> np.ndarray:
        """RGB uint8 (H, W, 3) -> the full octave dream of it, same shape."""
        return to_frame(self.dream_tensor(to_tensor(frame, self.device), progress))

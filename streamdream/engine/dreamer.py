"""The dream stage's front door: a `DreamConfig` becomes a network on a device, an objective
and a seeded random source; frames (RGB uint8) go in and dreamt frames come out.

It owns the device: frames cross to tensors and back only here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

import numpy as np
import torch

from .. import models
from ..config import DreamConfig
from . import objectives
from .dream import EDGE_MIRROR, Progress, dream, octave_sizes, resize
from .objectives import Objective
from .tensors import to_frame, to_tensor

GUIDE_SIDE = 320  # guide features come from the guide image at about this size


def objective_layers(cfg: DreamConfig, spec: models.ModelSpec) -> set[str]:
    """The layers a config's objective reads, in the model's spelling: the network is cut above
    the deepest of them."""
    layers = {models.resolve_layer(spec, name) for name, _, _ in objectives.parse_terms(cfg.layers)} \
        if cfg.layers else set()
    return layers | {"logits"} if cfg.class_name is not None else layers


def build_objective(cfg: DreamConfig, net: models.DreamNet, guide: np.ndarray | None = None) -> Objective:
    """The objective a config describes, on the network `net` that will dream it (built for
    `objective_layers(cfg, net.spec)`): its layer spec, its class, or their sum; with a guide
    (`cfg.guide` names it; `guide` is its RGB uint8 picture, see media.images.load_guide), the
    spec's layers are pushed towards the guide's features instead of amplified."""
    resolve = lambda name: models.resolve_layer(net.spec, name)
    terms = []
    if cfg.layers and cfg.guide:
        if guide is None:
            raise ValueError(f"the guide {cfg.guide} was not loaded; pass its picture (media.images.load_guide)")
        terms += _guide_terms(cfg, net, resolve, guide)
    elif cfg.layers:
        terms.append((objectives.from_layers(cfg.layers, resolve, net.channels), 1.0))
    if cfg.class_name is not None:
        classes = models.class_names(cfg.num_classes)
        index = models.class_index(cfg.class_name, classes)
        terms.append((objectives.class_logit(index, classes[index]), 1.0))
    return objectives.weighted_sum(terms)


def _guide_terms(cfg, net, resolve, frame: np.ndarray) -> list[tuple[Objective, float]]:
    guide = to_tensor(frame, net.mean.device)
    scale = GUIDE_SIDE / max(guide.shape[2:])
    if scale < 1:
        guide = resize(guide, (max(1, round(guide.shape[2] * scale)), max(1, round(guide.shape[3] * scale))))
    feats = net.features(guide)
    return [(objectives.guided(resolve(name), feats[resolve(name)]), weight)
            for name, _, weight in objectives.parse_terms(cfg.layers)]


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
        `guide` is the picture `cfg.guide` names, read by the caller (media.images.load_guide)."""
        device = models.pick_device(cfg.device)
        spec = models.get_spec(cfg.model)
        if network is None:
            network = models.load_network(spec, cfg.weights, cfg.num_classes)
        net = models.DreamNet(spec, network, objective_layers(cfg, spec)).prepare(device, cfg.precision)
        objective = build_objective(cfg, net, guide)
        if cfg.compile:
            net.compile_steps()
        seed = cfg.seed if cfg.seed is not None else random.randrange(2**31)
        if device.type == "cuda":
            models.cuda_determinism(cfg.seed is not None)
        return cls(cfg, net, objective, device, seed, torch.Generator().manual_seed(seed))

    def with_settings(self, **settings) -> "Dreamer":
        """This dreamer with some of its dream settings changed (step, jitter), on the same
        network, objective and random source."""
        return replace(self, config=replace(self.config, **settings))

    def steps_for(self, height: int, width: int) -> int:
        return len(octave_sizes(height, width, self.config.octaves, self.config.octave_scale)) * self.config.iterations

    def cancel(self) -> None:
        """Stop the dream at its next step (its run is stopping); see models.DreamNet.cancelled."""
        self.net.cancelled.set()

    def dream_tensor(self, image: torch.Tensor, progress: Progress | None = None,
                     mirror: int = EDGE_MIRROR) -> torch.Tensor:
        """The full octave dream of (1, 3, H, W) in [0, 1], each step seeing `mirror` pixels beyond
        the edges (see dream.EDGE_MIRROR)."""
        return dream(image, self.net, self.objective, self.config, self.generator, progress, mirror)

    def dream_frame(self, frame: np.ndarray, progress: Progress | None = None) -> np.ndarray:
        """RGB uint8 (H, W, 3) -> the full octave dream of it, same shape."""
        return to_frame(self.dream_tensor(to_tensor(frame, self.device), progress))

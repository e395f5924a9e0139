"""`streamdream visualize` as a library call: what the networks imagine for ImageNet classes
(or a layer), from noise, under a natural-image prior (engine/feature_vis.py), written as one
image or a grid."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import models
from .config import DreamConfig, VisualizeConfig
from .engine import objectives
from .engine.dreamer import build_objective, objective_layers
from .engine.feature_vis import SAMPLE_DIVERSITY, VisualizeSettings, shown, visualize
from .engine.tensors import to_frame
from .errors import UsageError
from .media.images import check_size, write_image
from .media.outputs import IMAGE_SUFFIXES, check_output


@dataclass
class VisualizeResult:
    output: Path
    what: list[str]  # each objective once, in order
    networks: list[str]
    seed: int
    seconds: float
    device: str


def visualize_classes(v: VisualizeConfig, output: str | Path, overwrite: bool = False,
                      progress: Callable[[int, int], None] | None = None) -> VisualizeResult:
    """Visualise `v.classes` (and/or `v.layers`) into `output` (.png, .jpg, .webp); several
    classes or samples go side by side with `v.grid`."""
    width, height = v.size
    check_size(height, width, "the visualisation", setting="size")
    check_output(output, [], overwrite, IMAGE_SUFFIXES)
    # a layer or channel belongs to one network; a class is shared by the whole ensemble
    names = [n.strip() for n in (v.model or ("lite0" if v.layers else "lite0,lite1")).split(",")]
    specs = [models.get_spec(n) for n in names]
    if len(specs) > 1 and (v.layers or v.weights):
        raise UsageError(f"`{'layers' if v.layers else 'weights'}` needs one network: give `model` NAME "
                         f"instead of the ensemble {'+'.join(names)}", setting="model")
    tiles_count = len(v.classes) * v.samples if v.classes else v.samples
    if tiles_count > 1 and not v.grid:
        raise UsageError("several classes or `samples` go into one image with `grid`", setting="grid")
    if v.alpha and (v.opaque or not v.classes or Path(output).suffix.lower() not in (".png", ".webp")):
        raise UsageError("`alpha` writes a class on transparency to a PNG or WebP: name a class, use a .png or "
                         ".webp output, and leave out `opaque`", setting="alpha")
    if not v.classes and not v.layers:
        raise UsageError("name at least one class (e.g. banana) or give `layers`", setting="layers")
    networks = [models.load_network(spec, v.weights, v.num_classes) for spec in specs]
    classes = models.class_names(v.num_classes)
    indices = [models.class_index(name, classes) for name in v.classes]
    samples = v.samples
    diversity = (SAMPLE_DIVERSITY if v.diversity is None else v.diversity) if samples > 1 else 0.0
    diversity_layers = [_middle_layer(spec) for spec in specs]
    layer_config = DreamConfig(layers=v.layers, model=specs[0].name) if v.layers else None
    layers = (objective_layers(layer_config, specs[0]) if layer_config else set()) | ({"logits"} if indices else set())
    device = models.pick_device(v.device)
    nets = [models.DreamNet(spec, network, sorted(layers | ({d} if diversity else set()))).prepare(device)
            for spec, network, d in zip(specs, networks, diversity_layers)]
    if layer_config is not None:
        extra = build_objective(layer_config, nets[0])
        objs = [objectives.class_logit(i, classes[i]) + extra for i in indices] if indices else [extra]
    else:
        objs = [objectives.class_logit(i, classes[i]) for i in indices]
    groups = [g for g in range(len(objs)) for _ in range(samples)]
    objs = [objs[g] for g in groups]
    # layers alone draw textures, which have no outline to find: those stay opaque
    settings = VisualizeSettings(steps=v.steps, transparent=not v.opaque and bool(indices), param=v.param,
                                 diversity=diversity)
    seed = v.seed if v.seed is not None else int(time.time()) % 2**31
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    images = visualize(nets, objs, height, width, settings, device, generator, progress, groups, diversity_layers)
    if not v.alpha:
        images = shown(images)
    tiles = [to_frame(images[i:i + 1]) for i in range(len(objs))]
    write_image(grid(tiles) if len(tiles) > 1 else tiles[0], output)
    return VisualizeResult(Path(output), list(dict.fromkeys(o.description for o in objs)), names, seed,
                           time.perf_counter() - start, device.type)


def _middle_layer(spec) -> str:
    """The layer halfway up a network's dreamable layers: where samples are told apart by their
    parts and textures rather than by their pixels or their class."""
    layers = list(spec.layers)
    return layers[len(layers) // 2]


def grid(tiles: list[np.ndarray]) -> np.ndarray:
    """Tiles (H, W, C) of one size laid out in a near-square grid on white (RGB) or transparency."""
    columns = math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / columns)
    h, w, c = tiles[0].shape
    sheet = np.full((rows * h, columns * w, c), 255 if c == 3 else 0, np.uint8)
    for i, tile in enumerate(tiles):
        r, col = divmod(i, columns)
        sheet[r * h:(r + 1) * h, col * w:(col + 1) * w] = tile
    return sheet

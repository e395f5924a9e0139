"""What the registry knows of a network: `ModelSpec`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

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

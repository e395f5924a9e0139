"""A dream steered between frames: the commands that change its settings over time (a
schedule's, commands.py) carried out on a `StreamDreamer`, for the file jobs' runs. The live
stage carries out the same ones its own way (live/stage.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np

from ..commands import Command, clamp_strength
from ..config import DreamConfig
from ..errors import UsageError
from .colors import FILE_COLOR_SIGMA, FILE_LUMA_SIGMA, lay_detail
from .dreamer import Dreamer, build_objective
from .motion import Motion
from .temporal import StreamDreamer


def with_layers(dreamer: Dreamer, spec: str) -> Dreamer:
    """`dreamer` amplifying the layer spec `spec` instead, on the same network: the network
    must already reach the spec's deepest layer (see `scheduled_dreamer`)."""
    if dreamer.config.guide:
        raise UsageError("a guided look cannot change its layers over time; schedule a look without `guide`")
    config = replace(dreamer.config, layers=spec)
    objective = build_objective(config, dreamer.net)
    missing = objective.layers - dreamer.net.wanted
    if missing:
        raise ValueError(f"the network was cut above {', '.join(sorted(missing))}; build it for every scheduled spec")
    return replace(dreamer, config=config, objective=objective)


def scheduled_dreamer(config: DreamConfig, specs: list[str], network=None, guide=None) -> Dreamer:
    """The dreamer of `config` on a network that also reaches every layer spec of `specs` (the
    keyframes of a layers schedule), so a change of layers swaps only the objective."""
    if not specs:
        return Dreamer.from_config(config, network, guide)
    first = config.layers or specs[0]
    dreamer = Dreamer.from_config(replace(config, layers="+".join([first, *specs])), network, guide)
    return with_layers(dreamer, first)


def steer(command: Command, dreamer: Dreamer, strength: float, colors: float) -> tuple[Dreamer, float, float] | None:
    """The dreamer, strength and colour share after one of the commands that change a dream's
    settings (set_strength, strength, step, jitter, layer, colors); None for any other."""
    name, value = command.name, command.value
    if name == "set_strength":
        return dreamer, clamp_strength(value), colors
    if name == "strength":
        return dreamer, clamp_strength(strength * float(value)), colors
    if name in ("step", "jitter"):
        return dreamer.with_settings(**{name: value}), strength, colors
    if name == "layer":
        return with_layers(dreamer, str(value)), strength, colors
    if name == "colors":
        return dreamer, strength, float(value)
    return None


class SteeredStream:
    """The dream stage of a file run. Its dreams leave out the colour finer than a video file
    holds and the speckle finer than its flow carries (see colors.FILE_COLOR_SIGMA), and its
    settings follow commands (a schedule's): strength, step, jitter, layer (a spec), colors and
    preset_index (a preset name, through `looks`). A change of layers or look keeps the dream
    carried so far (StreamDreamer.swap), so it cross-fades along the flow instead of jumping."""

    def __init__(self, stream: StreamDreamer, looks: Callable[[str], Dreamer] | None = None):
        self.stream, self.looks = stream, looks
        self.colors = 1.0

    @property
    def keyframes(self) -> int:
        return self.stream.keyframes

    def cancel(self) -> None:
        self.stream.cancel()

    def control(self, command: Command) -> None:
        name, value, stream = command.name, command.value, self.stream
        changed = steer(command, stream.dreamer, stream.strength, self.colors)
        if changed is not None:
            stream.dreamer, stream.strength, self.colors = changed
        elif name == "preset_index":
            if self.looks is None:
                raise UsageError("this run has no presets to switch to")
            stream.swap(self.looks(str(value)))
        else:
            raise ValueError(f"a file run's dream takes no command {name!r}")

    def next(self, image: np.ndarray, motion: Motion | None) -> np.ndarray:
        # the detail as the stream holds it, not a uint8 dream it would be taken back out of
        return lay_detail(image, self.stream.next_detail(image, motion), self.colors, FILE_COLOR_SIGMA,
                          FILE_LUMA_SIGMA)

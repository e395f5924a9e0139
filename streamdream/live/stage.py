"""The dream stage of a live run: a live `StreamDreamer` that takes commands (preset,
strength, layer) between frames and, in installation mode, deepens the dream on a still scene."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Callable

import cv2
import numpy as np

from .. import models
from ..commands import Command, clamp_strength
from ..config import Config
from ..engine import objectives
from ..engine.dreamer import Dreamer
from ..engine.motion import Motion, scale_motion
from ..engine.temporal import StreamDreamer
from ..errors import UsageError
from ..frames import MIN_SIDE
from ..media.images import load_guide
from ..presets import build_config


class LiveStage:
    """The dream stage of a live run. `presets` is the list n/p and 1-9 move through; `keep` the
    dream settings every preset keeps (device, seed, width). Runs on the dream thread only."""

    def __init__(self, config: Config, presets: list[str], keep: dict, installation: bool = False,
                 warn: Callable[[str], None] = lambda message: None):
        self.config, self.presets, self.keep = config, presets, keep
        self.installation, self.warn = installation, warn
        self.index = -1  # which of `presets` is on; -1: the config given (a file or flags)
        self.unavailable: set[str] = set()  # presets that failed to load (e.g. need a download)
        self.name = "custom"
        self._networks: dict[tuple, object] = {}
        dreamer = self._dreamer(config)
        self.stream = StreamDreamer(dreamer, config.video, live=True)
        # a CPU cannot dream a 320-wide frame at camera-like rates; the detail of a half-size
        # dream, scaled up onto the full-size frame, keeps it lively
        self.scale = config.live.dream_scale or (1.0 if dreamer.device.type == "cuda" else 0.5)
        self.switches = 0  # bumped on every change of look; the display cross-fades on it
        self.still_since: float | None = None
        self.deepening = False

    @property
    def keyframes(self) -> int:
        return self.stream.keyframes

    @property
    def description(self) -> str:
        d = self.stream.dreamer.config
        return f"{self.name}: {d.model} {self.stream.dreamer.objective.description} x{self.stream.strength:.2f}"

    def _dreamer(self, config: Config) -> Dreamer:
        d = config.dream
        key = (d.model, d.weights, d.num_classes)
        if key not in self._networks:
            self._networks[key] = models.load_network(models.get_spec(d.model), d.weights, d.num_classes)
        return Dreamer.from_config(d, self._networks[key], load_guide(d))

    def select(self, name: str) -> None:
        self.index = self.presets.index(name) if name in self.presets else -1
        self.name = name

    def _switch(self, config: Config) -> None:
        dreamer = self._dreamer(config)
        self.config = config
        self.stream.swap(dreamer)
        self.switches += 1

    def _to_preset(self, index: int) -> None:
        if index == self.index:
            return
        self._switch(build_config(self.presets[index], {"dream": self.keep}))
        self.index, self.name = index, self.presets[index]

    def control(self, command: Command) -> None:
        """Carry out a dream command (controls.DREAM_COMMANDS); a bad one is reported, not raised."""
        try:
            self._control(command)
        except UsageError as exc:
            self.warn(f"{command.name} ignored: {exc}")

    def _control(self, command: Command) -> None:
        name, value = command.name, command.value
        if name in ("preset", "preset_index"):
            if not self.presets:
                return
            if name == "preset":
                # step on past presets that cannot load here (classic needs a GoogLeNet download),
                # so an installation's cycle does not stick on one
                step = 1 if int(value) >= 0 else -1
                for k in range(1, len(self.presets) + 1):
                    index = (self.index + step * (abs(int(value)) - 1 + k)) % len(self.presets)
                    if self.presets[index] in self.unavailable:
                        continue
                    try:
                        self._to_preset(index)
                        return
                    except UsageError as exc:
                        self.unavailable.add(self.presets[index])  # not tried again: each try costs
                        self.warn(f"preset {self.presets[index]} skipped: {exc}")
                return
            if isinstance(value, str):
                if value not in self.presets:
                    raise UsageError(f"no preset '{value}'; have {', '.join(self.presets)}")
                self._to_preset(self.presets.index(value))
            elif 0 <= int(value) < len(self.presets):  # a digit key with no preset behind it does nothing
                self._to_preset(int(value))
        elif name == "strength":
            self.stream.strength = clamp_strength(self.stream.strength * float(value))
        elif name == "set_strength":
            self.stream.strength = clamp_strength(value)
        elif name == "layer":
            d = self.config.dream
            if d.layers is None:
                raise UsageError("this look has no layers to move (it dreams a class)")
            order = list(models.get_spec(d.model).layers)
            layers = value if isinstance(value, str) else objectives.shift_layers(d.layers, order, int(value))
            if layers == d.layers:
                return
            self._switch(replace(self.config, dream=replace(d, layers=layers)))

    def dream_size(self, height: int, width: int) -> tuple[int, int]:
        """The (height, width) frames of this shown size are dreamt at."""
        if self.scale >= 1:
            return height, width
        return max(MIN_SIDE, round(height * self.scale)), max(MIN_SIDE, round(width * self.scale))

    def next(self, image: np.ndarray, motion: Motion | None) -> np.ndarray:
        """RGB uint8 (H, W, 3) -> its dream, same shape; `motion` may be at the dream size."""
        if self.installation:
            self._watch_stillness(motion)
        h, w = image.shape[:2]
        sh, sw = self.dream_size(h, w)
        if (sh, sw) == (h, w):
            return self.stream.next(image, scale_motion(motion, h, w))
        small = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
        dreamt = self.stream.next(small, scale_motion(motion, sh, sw))
        detail = cv2.resize(dreamt.astype(np.float32) - small, (w, h), interpolation=cv2.INTER_LINEAR)
        return (image + detail).clip(0, 255).astype(np.uint8)

    def _watch_stillness(self, motion: Motion | None) -> None:
        """Installation mode: after `still_seconds` without motion the dream deepens (more steps,
        slowly zooming); the first motion brings it back to following the camera."""
        live = self.config.live
        now = time.perf_counter()
        moving = motion is None or motion.cut or float(np.abs(motion.flow).mean()) * 2 > live.still_motion
        if moving:
            self.still_since = None
        elif self.still_since is None:
            self.still_since = now
        self.deepening = self.still_since is not None and now - self.still_since >= live.still_seconds
        self.stream.zoom = live.deepen_zoom if self.deepening else 1.0
        self.stream.extra_iterations = live.deepen_iterations if self.deepening else 0

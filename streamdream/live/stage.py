"""The dream stage of a live run: a live `StreamDreamer` that takes commands (preset,
strength, layer) between frames and, in installation mode, deepens the dream on a still scene.

Every look it can switch to is built before the show (`Looks`): the dream thread never reads a
preset, a weights file or a guide picture mid-show, and a look that cannot load is named at the
start, not when a performer reaches for it."""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import replace
from typing import Callable

import cv2
import numpy as np
import torch

from .. import models
from ..commands import Command
from ..config import Config
from ..engine import objectives
from ..engine.colors import mix_colors
from ..engine.dreamer import Dreamer
from ..engine.motion import Motion
from ..engine.steering import steer, with_layers
from ..engine.temporal import StreamDreamer
from ..errors import StreamdreamError, UsageError
from ..frames import MIN_SIDE
from ..media.images import load_guide
from ..presets import build_config


# a CPU's live dream steps one band of this many a frame, in turn. Five, not four: each dreamt
# frame costs less, so the dream comes more often, and what it kept of a full dream's depth was
# the same (scripts/bench_live.py --depth, on the shared clip and a hand-held one). Six: the dream
# came a twelfth more often again, but kept less on a close-up, a hand-held clip and one that cuts
# every 1.6 s (30% to 29%, 76% to 75%, 24% to 21% retained, at 12.7-13.1 dreams a second against
# 11.6-12.2), its weakest edge band a little stronger (0.89 to 0.91 on the close-up); six with a
# rebuild every 12 frames (below) kept the close-up's 31% at 11.9 a second, the hand-held clip's
# 75% at 11.2 (scripts/live_sim.py --clock, seed 3)
LIVE_CPU_REGIONS = 5


# ... and rebuilds a shot's structure every this many dreamt frames the camera moves on, about
# twice a second, sooner where the flow check doubts more of each frame than usual (see
# engine.temporal.REBUILD_FRAMES and TYPICAL_DOUBT): a subject close to the camera, filling the
# frame, kept a texture where a full dream has eyes and faces. With it, more of a full dream's
# depth was kept on such a clip and on a hand-held one, as much on clips that cut often, for a
# dream slower by a twentieth to a tenth (scripts/live_sim.py --clock, and --rebuild-every 0 to
# compare). Before a still camera the frames count towards none: the still pixels keep their dream
# as it was, and real shows found the dream a seventh slower with rebuilds there, for the same
# depth (bench_live.py --depth 24, back to back); what moves takes its own steps instead
# (engine.temporal.MOVER_SHARE). Every 12: more depth for a slower dream, as every knob here
# trades one for the other (the close-up 30% to 36% retained, 11.7 to 11.4 dreams a second; the
# hand-held clip 76% to 79%, 11.6 to 10.7; live_sim.py --clock, seed 3)
LIVE_CPU_REBUILD_EVERY = 25


class Looks:
    """The looks of a live run: the first one built now, every preset of the cycle in the
    background at once. Networks are loaded and their BatchNorm folded once per model, so a
    look, or a layer change, is a cheap view of one in memory; guide pictures are read once."""

    def __init__(self, first: Config, presets: list[str], keep: dict,
                 warn: Callable[[str], None] = lambda message: None):
        self.presets, self.keep, self.warn = presets, keep, warn
        self._networks: dict[tuple, object] = {}
        self._guides: dict[str, np.ndarray] = {}
        self._built: dict[str, tuple[Config, Dreamer]] = {}
        self.unavailable: dict[str, str] = {}  # preset -> why it cannot load here
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self.first = self.build(first)
        self._thread = threading.Thread(target=self._build_presets, name="looks", daemon=True)
        self._thread.start()

    def build(self, config: Config) -> Dreamer:
        """The dreamer of `config`, from the networks and guides already in memory where it can."""
        d = config.dream
        key = (d.model, d.weights, d.num_classes)
        with self._lock:
            network = self._networks.get(key)
        if network is None:
            network = models.load_network(models.get_spec(d.model), d.weights, d.num_classes)
            if any(isinstance(m, torch.nn.BatchNorm2d) for m in network.modules()):
                network = models.fold_batchnorm(copy.deepcopy(network).eval())
            with self._lock:
                network = self._networks.setdefault(key, network)
        guide = None
        if d.guide:
            with self._lock:
                guide = self._guides.get(d.guide)
            if guide is None:
                guide = load_guide(d)
                with self._lock:
                    self._guides[d.guide] = guide
        return Dreamer.from_config(d, network, guide)

    def _build_presets(self) -> None:
        for name in self.presets:
            if self._closing.is_set():
                return
            try:
                config = build_config(name, {"dream": self.keep})
                built = (config, self.build(config))
            except (StreamdreamError, OSError, RuntimeError) as exc:
                with self._lock:
                    self.unavailable[name] = str(exc)
                self.warn(f"preset {name} is not available here: {exc}")
                continue
            with self._lock:
                self._built[name] = built

    def get(self, name: str) -> tuple[Config, Dreamer] | None:
        """The config and dreamer of preset `name`; None while it is still being built.
        UsageError when it cannot be built here."""
        with self._lock:
            if name in self.unavailable:
                raise UsageError(f"preset {name} is not available here: {self.unavailable[name]}")
            return self._built.get(name)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every preset is built or refused (tests, benchmarks); True when done."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def close(self) -> None:
        """Build no more presets, and wait for the one being built: a process must not exit with
        a thread inside torch."""
        self._closing.set()
        self._thread.join()


class LiveStage:
    """The dream stage of a live run. `presets` is the list n/p and 1-9 move through; `keep` the
    dream settings every preset keeps (device, seed, width). Runs on the dream thread only.

    Commands set where the look is going (`target`); the switch happens once, before the next
    frame, so a burst of commands costs one switch, the last one's."""

    def __init__(self, config: Config, presets: list[str], keep: dict, installation: bool = False,
                 warn: Callable[[str], None] = lambda message: None):
        self.config, self.presets, self.keep = config, presets, keep
        self.installation, self.warn = installation, warn
        self.index = -1  # which of `presets` is on; -1: the config given (a file or flags)
        self.target = -1  # which the commands asked for last
        self.target_layers: str | None = None  # a layer spec asked for, on the current look
        self.name = "custom"
        self.looks = Looks(config, presets, keep, warn)
        dreamer = self.looks.first
        cpu = dreamer.device.type != "cuda"
        # a CPU cannot take a full-size step on every frame of a 640-wide show at camera-like
        # rates: it steps one band of the frame a frame. It dreams at the shown size all the same:
        # at three quarters of it, the dream ran a third faster, but its eyes and faces came out
        # as soft blobs once scaled up, a texture that a network barely saw (at half the size, no
        # depth at all; scripts/bench_live.py --depth measures it)
        regions = config.live.step_regions or (LIVE_CPU_REGIONS if cpu else 1)
        video = replace(config.video, step_regions=regions, refine_iterations=config.live.refine_iterations)
        self.stream = StreamDreamer(dreamer, video, live=True)
        rebuild = config.live.rebuild_every
        self.stream.rebuild_every = rebuild if rebuild is not None else (LIVE_CPU_REBUILD_EVERY if regions > 1 else 0)
        self.scale = config.live.dream_scale or 1.0
        self.switches = 0  # bumped on every change of look; the display cross-fades on it
        self.colors = 1.0  # how much of the dream's own colour is shown (see engine.colors)
        self.still_since: float | None = None
        self.deepening = False

    @property
    def keyframes(self) -> int:
        return self.stream.keyframes

    @property
    def unavailable(self) -> dict[str, str]:
        return self.looks.unavailable

    @property
    def description(self) -> str:
        d = self.stream.dreamer.config
        return f"{self.name}: {d.model} {self.stream.dreamer.objective.description} x{self.stream.strength:.2f}"

    def cancel(self) -> None:
        """Stop at the next ascent step: the show is ending."""
        self.stream.cancel()

    def select(self, name: str) -> None:
        self.index = self.target = self.presets.index(name) if name in self.presets else -1
        self.name = name

    def _switch(self, config: Config, dreamer: Dreamer) -> None:
        self.config = config
        self.stream.swap(dreamer)
        self.switches += 1

    def control(self, command: Command) -> None:
        """Take a dream command (commands.DREAM_COMMANDS); a bad one is reported, not raised."""
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
                    index = (self.target + step * (abs(int(value)) - 1 + k)) % len(self.presets)
                    if self.presets[index] not in self.unavailable:
                        self.target, self.target_layers = index, None
                        return
                return
            if isinstance(value, str):
                if value not in self.presets:
                    raise UsageError(f"no preset '{value}'; have {', '.join(self.presets)}")
                self.target, self.target_layers = self.presets.index(value), None
            elif 0 <= int(value) < len(self.presets):
                self.target, self.target_layers = int(value), None
            else:
                raise UsageError(f"no preset {value}; have 0 to {len(self.presets) - 1} "
                                 f"({', '.join(self.presets)})")
        elif name in ("strength", "set_strength", "step", "jitter", "colors"):
            self.stream.dreamer, self.stream.strength, self.colors = steer(command, self.stream.dreamer,
                                                                           self.stream.strength, self.colors)
        elif name == "layer" and isinstance(value, str) and self.target == self.index and self._reaches(value):
            # a spec on the network in hand (a schedule's blend, frame after frame): the objective alone
            self.stream.dreamer = with_layers(self.stream.dreamer, value)
            self.config = replace(self.config, dream=self.stream.dreamer.config)
        elif name == "layer":
            d = self._target_config().dream
            current = self.target_layers or d.layers
            if current is None:
                raise UsageError("this look has no layers to move (it dreams a class)")
            order = list(models.get_spec(d.model).layers)
            layers = value if isinstance(value, str) else objectives.shift_layers(current, order, int(value))
            self.target_layers = layers

    def _reaches(self, spec: str) -> bool:
        """Whether the dreamer in hand reaches every layer of `spec` (and dreams no guide)."""
        d = self.stream.dreamer
        if d.config.guide:
            return False
        try:
            layers = {models.resolve_layer(d.net.spec, name) for name, _, _ in objectives.parse_terms(spec)}
        except UsageError:
            return False
        return layers <= d.net.wanted

    def _target_config(self) -> Config:
        """The config of the look the commands asked for (the current one while it is built)."""
        if self.target != self.index and self.target >= 0:
            built = self.looks.get(self.presets[self.target])
            if built is not None:
                return built[0]
        return self.config

    def _follow(self) -> None:
        """Switch to the look the commands asked for, once; a preset still being built is
        switched to when it is ready."""
        if self.target != self.index and self.target >= 0:
            name = self.presets[self.target]
            try:
                built = self.looks.get(name)
            except UsageError as exc:
                self.warn(f"preset {name} skipped: {exc}")
                self.target = self.index
                return
            if built is None:
                return
            self._switch(*built)
            self.index, self.name = self.target, name
        if self.target_layers is not None:
            layers, self.target_layers = self.target_layers, None
            if layers != self.config.dream.layers:
                config = replace(self.config, dream=replace(self.config.dream, layers=layers))
                try:
                    self._switch(config, self.looks.build(config))
                except UsageError as exc:
                    self.warn(f"layer ignored: {exc}")

    def dream_size(self, height: int, width: int) -> tuple[int, int]:
        """The (height, width) frames of this shown size are dreamt at."""
        if self.scale >= 1:
            return height, width
        return max(MIN_SIDE, round(height * self.scale)), max(MIN_SIDE, round(width * self.scale))

    @property
    def strength(self) -> float:
        """How strong the dream is now (the +/- keys, a knob, the page's slider, a schedule)."""
        return self.stream.strength

    def next(self, image: np.ndarray, motion: Motion | None) -> np.ndarray:
        """RGB uint8 (H, W, 3) -> its dream detail (dream minus input), float32 (H, W, 3), which
        the display lays onto this frame and newer ones and clips once. `motion` stays at the
        flow's own size: the stream reads its trust and its still pixels there and brings only
        the flow up to the frame's (a motion brought up first had them worked out at full size,
        which on a CPU took time from every dreamt frame for no better a dream)."""
        self._follow()
        if self.installation:
            self._watch_stillness(motion)
        h, w = image.shape[:2]
        sh, sw = self.dream_size(h, w)
        if (sh, sw) == (h, w):
            detail = self.stream.next_detail(image, motion)
        else:
            small = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
            detail = cv2.resize(self.stream.next_detail(small, motion), (w, h), interpolation=cv2.INTER_LINEAR)
        return mix_colors(detail, self.colors)

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

"""The live show: `streamdream webcam` as a library. Its parts plug into `pipeline.run`:

- `LiveStage`, the dream stage: a live `StreamDreamer` that takes commands (preset, strength,
  layer) between frames and, in installation mode, deepens the dream on a still scene;
- `Compositor`, the display: every camera frame gets the latest dream detail warped onto it
  with a cheap flow from the last dreamt input, so the display runs at the camera's rate while
  the dream runs at its own; it also cross-fades switches, freezes, and fades out a lost camera;
- `LiveShow`, the main-thread side: carries out the display's commands (record, snapshot,
  fullscreen, HUD, quit), cycles presets in installation mode, and reports.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch

from . import models, objectives
from .config import Config
from .controls import DREAM_COMMANDS, Command, ControlChannel
from .dreamer import Dreamer
from .errors import RunError, UsageError
from .flow import DISFlow, resize_flow, small_gray, warp
from .pipeline import Dreamt, RunStats
from .presets import build_config, builtin_presets
from .sources import Frame, load_guide
from .temporal import Motion, StreamDreamer, scale_motion

# the display's flow (last dreamt input -> newest camera frame) runs on a copy this wide: it
# only places detail that is itself a few pixels across, and must cost a few ms a frame
DISPLAY_FLOW_WIDTH = 160
# after this long without a camera frame the display starts fading the last picture out
LOST_AFTER = 1.0


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
            self.stream.strength = float(np.clip(self.stream.strength * float(value), 0.1, 10.0))
        elif name == "set_strength":
            self.stream.strength = float(np.clip(float(value), 0.1, 10.0))
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
        return max(32, round(height * self.scale)), max(32, round(width * self.scale))

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


class Compositor:
    """The display between dreamt frames: lays the latest dream's detail onto each newer camera
    frame along a cheap flow (DIS ultrafast on a 160-wide copy), so motion shows at the
    camera's rate. Also: cross-fades over `blend` seconds when the look changes, freezes, and
    fades the last picture out when the camera is lost."""

    def __init__(self, blend: float = 0.5, fade: float = 20.0):
        self.blend, self.fade = blend, fade
        self.flow = DISFlow(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self.count = -1
        self.reference: np.ndarray | None = None  # small grey of the last dreamt input
        self.detail: np.ndarray | None = None  # float32 (H, W, 3): last dream - its input
        self.last: np.ndarray | None = None  # the last picture shown
        self.blend_from: np.ndarray | None = None
        self.blend_start = 0.0
        self.frozen: np.ndarray | None = None
        self.last_frame_at = time.perf_counter()

    def start_blend(self) -> None:
        if self.last is not None and self.blend > 0:
            self.blend_from, self.blend_start = self.last, time.perf_counter()

    def freeze(self, on: bool | None = None) -> bool:
        on = self.frozen is None if on is None else on
        self.frozen = self.last if on else None
        return self.frozen is not None

    def present(self, frame: Frame, dreamt: Dreamt | None) -> np.ndarray:
        """The picture to show for camera `frame` (RGB uint8, same shape) given the latest dream."""
        self.last_frame_at = time.perf_counter()
        if self.frozen is not None:
            return self.frozen
        out = frame.image
        if dreamt is not None and dreamt.image.shape == frame.image.shape:
            if dreamt.count != self.count:
                self.count = dreamt.count
                self.reference = small_gray(dreamt.frame.image, DISPLAY_FLOW_WIDTH, min_height=8)
                self.detail = dreamt.image.astype(np.float32) - dreamt.frame.image.astype(np.float32)
            if frame.index == dreamt.frame.index:
                out = dreamt.image
            else:
                small = small_gray(frame.image, DISPLAY_FLOW_WIDTH, min_height=8)
                h, w = frame.image.shape[:2]
                flow = resize_flow(self.flow(small, self.reference), h, w)  # this frame -> the dreamt one
                out = (frame.image.astype(np.float32) + warp(self.detail, flow)).clip(0, 255).astype(np.uint8)
        if self.blend_from is not None and self.blend_from.shape == out.shape:
            t = (time.perf_counter() - self.blend_start) / self.blend
            if t >= 1:
                self.blend_from = None
            else:
                out = cv2.addWeighted(self.blend_from, 1 - t, out, t, 0)
        self.last = out
        return out

    def idle(self) -> np.ndarray | None:
        """With no camera frame for LOST_AFTER s: the last picture, fading to black over `fade` s."""
        quiet = time.perf_counter() - self.last_frame_at
        if self.last is None or quiet < LOST_AFTER:
            return None
        time.sleep(1 / 30)  # a lost camera shows at about 30 fps, not as fast as the loop spins
        level = max(0.0, 1 - (quiet - LOST_AFTER) / self.fade) if self.fade > 0 else 0.0
        return (self.last.astype(np.float32) * level).astype(np.uint8)


def hud_lines(stats: RunStats, look: str, recording: bool, deepening: bool) -> list[str]:
    lines = [f"camera {stats.camera_fps:4.1f} fps   dream {stats.dream_fps:4.1f} fps   "
             f"display {stats.display_fps:4.1f} fps",
             f"latency {stats.latency_ms:4.0f} ms   dropped {stats.dropped}", look]
    if deepening:
        lines.append("still: deepening")
    if recording:
        lines.append("REC")
    return lines


def draw_hud(image: np.ndarray, lines: list[str]) -> np.ndarray:
    """`image` (RGB uint8) with `lines` written top left on a dark band; a copy."""
    out = image.copy()
    scale = max(0.35, image.shape[1] / 1400)
    height = int(22 * scale / 0.5)
    cv2.rectangle(out, (0, 0), (image.shape[1], height * len(lines) + 6), (0, 0, 0), -1)
    for i, line in enumerate(lines):
        color = (255, 60, 60) if line == "REC" else (255, 255, 255)
        cv2.putText(out, line, (6, height * (i + 1)), cv2.FONT_HERSHEY_SIMPLEX, scale, color, 1, cv2.LINE_AA)
    return cv2.addWeighted(image, 0.35, out, 0.65, 0)


class LiveShow:
    """The main thread's side of a live run: it hands dream commands to the dream thread, carries
    out the display's own, and cycles presets in installation mode (every `cycle` seconds)."""

    def __init__(self, stage: LiveStage, compositor: Compositor, window=None, recorder=None,
                 cycle: float | None = None, say: Callable[[str], None] = print, snapshots: Path = Path(".")):
        self.stage, self.compositor, self.window, self.recorder = stage, compositor, window, recorder
        self.cycle, self.say, self.snapshots = cycle, say, snapshots
        self.to_dream = ControlChannel()
        self.commands = window.commands if window is not None else ControlChannel()
        self.hud = False
        self.last_cycle = time.perf_counter()
        self.switches = 0
        self.snapshot_paths: list[Path] = []

    def handle(self, command: Command) -> bool:
        """Carry out one command; True to stop."""
        name = command.name
        if name == "quit":
            return True
        if name in DREAM_COMMANDS:
            self.to_dream.put(command)
        elif name == "freeze":
            self.say("frozen" if self.compositor.freeze(command.value) else "running")
        elif name == "fullscreen" and self.window is not None:
            self.window.toggle_fullscreen()
        elif name == "hud":
            self.hud = not self.hud
        elif name == "record" and self.recorder is not None:
            if self.recorder.recording:
                self.say(f"recorded {self.recorder.stop()}")
            else:
                self.say(f"recording to {self.recorder.start()}")
        elif name == "snapshot" and self.compositor.last is not None:
            from .sinks import unused_path, write_image

            path = unused_path(self.snapshots / time.strftime("streamdream-%Y%m%d-%H%M%S.png"))
            write_image(self.compositor.last, path)
            self.snapshot_paths.append(path)
            self.say(f"saved {path}")
        return False

    def tick(self, stats: RunStats) -> None:
        """After each frame shown: start a cross-fade when the look changed, cycle presets, and
        give the window its figures."""
        if self.stage.switches != self.switches:
            self.switches = self.stage.switches
            self.compositor.start_blend()
        now = time.perf_counter()
        if self.cycle and now - self.last_cycle >= self.cycle:
            self.last_cycle = now
            self.commands.put(Command("preset", 1))
        if self.window is not None:
            recording = self.recorder is not None and self.recorder.recording
            lines = hud_lines(stats, self.stage.description, recording, self.stage.deepening) if self.hud else None
            self.window.overlay = (lambda image: draw_hud(image, lines)) if lines else None


def rss_mb() -> float:
    """This process's resident memory in MB (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0

    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass(frozen=True)
class WebcamOptions:
    """What `streamdream webcam` was asked for, beyond the dream config."""

    source: str = "0"
    window: bool = True
    fullscreen: bool = False
    record: str | None = None
    overwrite: bool = False
    duration: float | None = None
    installation: bool = False
    virtual_camera: bool = False
    osc: int | None = None
    osc_host: str = "127.0.0.1"
    preset: str | None = None  # the name the run started with, for the HUD


@dataclass
class WebcamResult:
    stats: RunStats
    source: str  # what the source is, as it reported itself
    look: str
    recordings: list[Path]
    snapshots: list[Path]
    device: str
    warnings: list[str]


def run_webcam(options: WebcamOptions, config: Config, say: Callable[[str], None] = print,
               status: Callable[[RunStats, str], None] | None = None, opener=None, sinks=()) -> WebcamResult:
    """`streamdream webcam` as a library call. Everything is checked and opened before the
    network loads (a missing camera or screen is one line at once); then the show runs until
    q, --duration, Ctrl-C or the end of the source. A lost camera ends it with the recording
    finalised, or, in installation mode, is waited for. `status(stats, look)` gets every frame;
    `sinks` are fed too (a contact sheet's, a test's); `opener` makes camera captures (tests).
    """
    from .controls import OscControl
    from .pipeline import close_all, run
    from .sinks import VIDEO_SUFFIXES, Recorder, VirtualCameraSink, WindowSink, check_output
    from .sources import CameraLost, ReconnectingSource, open_live_source
    from .temporal import MotionTracker

    live, d = config.live, config.dream
    if options.record:
        check_output(options.record, [options.source], options.overwrite, VIDEO_SUFFIXES)
    width = d.width or (640 if models.pick_device(d.device).type == "cuda" else 320)
    virtual = VirtualCameraSink(live.fps) if options.virtual_camera else None
    extra = {} if opener is None else {"opener": opener}
    open_source = lambda: open_live_source(options.source, width, live.fps, live.stall, live.frozen, **extra)
    source = ReconnectingSource(open_source, live.retry_max, say) if options.installation else open_source()
    window = None
    if options.window:
        try:
            window = WindowSink("streamdream", pace=False, fullscreen=options.fullscreen or options.installation,
                                hide_cursor=options.installation)
        except BaseException:
            source.close()
            raise
    sinks = [sink for sink in (window, virtual, *sinks) if sink is not None]
    osc = None
    threads, cv_threads = torch.get_num_threads(), cv2.getNumThreads()
    if models.pick_device(d.device).type == "cpu" and threads > 1:
        # leave a core to the camera, the display and the flow: with every core in the dream,
        # the display stutters and the dream itself gets slower, not faster
        torch.set_num_threads(threads - 1)
        # OpenCV's thread pool costs more than it gives on these small frames (DIS at 160x90: 10.5
        # against 6.2 ms of CPU; the display's compositing 8.7 against 3.9), CPU the dream needs:
        # 10% less CPU in all and 0-9% more dreamt frames a second, in interleaved runs on 2 cores
        cv2.setNumThreads(1)
    switch = sys.getswitchinterval()
    # the dream thread makes hundreds of short torch calls a frame, and after each one waits for
    # the GIL while the display thread runs Python: a short switch interval gave 5-10% more
    # dreamt frames a second on a 2-core CPU
    sys.setswitchinterval(0.0005)
    try:
        keep = {"device": d.device, "seed": d.seed, "width": width}
        stage = LiveStage(replace(config, dream=replace(d, width=width)), sorted(builtin_presets()), keep,
                          options.installation, say)
        stage.select(options.preset or "default")
        compositor = Compositor(live.blend, live.fade if options.installation else 0.0)
        recorder = Recorder(options.record, fps=live.fps, crf=config.video.crf, overwrite=options.overwrite)
        sinks.append(recorder)
        show = LiveShow(stage, compositor, window, recorder, live.cycle if options.installation else None, say)
        if options.osc is not None:
            osc = OscControl(show.commands, options.osc, options.osc_host, say)
            say(f"listening for OSC on {options.osc_host}:{osc.port}")
        if options.record:
            recorder.start()

        def progress(stats: RunStats) -> None:
            show.tick(stats)
            if status is not None:
                status(stats, stage.description)

        say(f"source: {source.info}")
        try:
            tracker = MotionTracker(config.video.scene_cut, width=stage.dream_size(width, width)[1])  # at dream size
            stats = run(source, stage, sinks, tracker=tracker, newest=True,
                        display=compositor, controls=show.commands, handle=show.handle, duration=options.duration,
                        progress=progress, idle=compositor.idle if options.installation else None,
                        stage_commands=show.to_dream)
        except CameraLost as exc:
            close_all(sinks, error=False)
            kept = f"; {', '.join(map(str, recorder.written))} finalised" if recorder.written else ""
            raise CameraLostError(f"camera lost: {exc}{kept}") from None
    except BaseException:
        close_all(sinks, error=True)  # the recorder keeps what it has: it is a playable file
        raise
    finally:
        source.close()
        torch.set_num_threads(threads)
        cv2.setNumThreads(cv_threads)
        sys.setswitchinterval(switch)
        if osc is not None:
            osc.close()
    close_all(sinks, error=False)
    warnings = list(getattr(window, "warnings", []))
    return WebcamResult(stats, source.info, stage.description, recorder.written, show.snapshot_paths,
                        stage.stream.dreamer.device.type, warnings)


class CameraLostError(RunError):
    """The camera went away mid-run (not in installation mode): exit 1, recordings kept."""

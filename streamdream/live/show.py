"""The live show: `streamdream webcam` as a library call. Its parts plug into `pipeline.run`:
the live stage (stage.py), the compositor (compositor.py) as the display, and `LiveShow`, the
main-thread side: it carries out the display's commands (record, snapshot, fullscreen, HUD,
quit), cycles presets in installation mode, and reports.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import cv2
import torch

from .. import models
from ..commands import DREAM_COMMANDS, Command, ControlChannel
from ..config import Config
from ..engine.motion import MotionTracker
from ..engine.steering import steer
from ..errors import RunError
from ..media.images import write_image
from ..media.outputs import VIDEO_SUFFIXES, check_output, unused_path
from ..pipeline import NewestFrame, RunStats, close_all, run
from ..presets import builtin_presets
from ..schedule.plan import build_timeline
from .camera import CameraLost
from .compositor import Compositor
from .controls import OscControl
from .hud import draw_hud, hud_lines
from .listen import LiveAudio, TapTempo
from .midi import MidiControl, MidiMapper, default_map, read_map
from .outputs import Recorder, VirtualCameraSink
from .sources import ReconnectingSource, open_live_source
from .stage import LiveStage
from .web import Preview, WebControl
from .window import WindowSink


LIVE_FLOW_WIDTH = 320  # the most a live show computes its flow at


class LiveShow:
    """The main thread's side of a live run: it hands dream commands to the dream thread, carries
    out the display's own, and cycles presets in installation mode (every `cycle` seconds)."""

    def __init__(self, stage: LiveStage, compositor: Compositor, window=None, recorder=None,
                 cycle: float | None = None, say: Callable[[str], None] = print, snapshots: Path = Path("."),
                 timeline=None, midi: MidiControl | None = None, commands: ControlChannel | None = None):
        self.stage, self.compositor, self.window, self.recorder = stage, compositor, window, recorder
        self.cycle, self.say, self.snapshots = cycle, say, snapshots
        self.timeline, self.midi = timeline, midi  # the schedule (tap tempo) and the MIDI controller, if any
        self.tapper = TapTempo()
        self.begin = time.perf_counter()
        self.to_dream = ControlChannel()
        self.commands = commands or (window.commands if window is not None else ControlChannel())
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
            if name in ("strength", "set_strength"):  # shown at once, before the dream catches up
                self.compositor.follow(steer(command, None, self.compositor.strength, 0.0)[1])
        elif name == "freeze":
            self.say("frozen" if self.compositor.freeze(command.value) else "running")
        elif name == "fullscreen" and self.window is not None:
            self.window.toggle_fullscreen()
        elif name == "hud":
            self.hud = not self.hud
        elif name == "learn" and self.midi is not None:
            self.midi.mapper.arm()
        elif name == "knob" and self.timeline is not None:
            self.timeline.set_knob(*command.value)
        elif name == "tap":
            at = time.perf_counter() - self.begin
            bpm = self.tapper.tap(at)
            if bpm is not None and self.timeline is not None and 20 <= bpm <= 400:
                self.timeline.set_tempo(bpm, self.tapper.taps)
                self.say(f"tempo {bpm:.1f} bpm (tapped)")
        elif name == "record" and self.recorder is not None:
            if self.recorder.recording:
                self.say(f"recorded {self.recorder.stop()}")
            else:
                self.say(f"recording to {self.recorder.start()}")
        elif name == "snapshot" and self.compositor.last is not None:
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
            if lines is not None and self.timeline is not None:
                lines.append(self.hearing())
            self.window.overlay = (lambda image: draw_hud(image, lines)) if lines else None

    def figures(self, stats: RunStats, camera: str) -> dict:
        """What the web page shows and /status.json answers."""
        recording = self.recorder is not None and self.recorder.recording
        return {"look": self.stage.description, "preset": self.stage.name, "presets": self.stage.presets,
                "camera_fps": stats.camera_fps, "dream_fps": stats.dream_fps, "display_fps": stats.display_fps,
                "latency_ms": stats.latency_ms, "dropped": stats.dropped, "frames": stats.frames,
                "dreamt": stats.dreamt, "strength": self.stage.stream.strength, "recording": recording,
                "frozen": self.compositor.frozen is not None, "uptime_s": time.perf_counter() - self.begin,
                "rss_mb": rss_mb(), "camera": camera}

    def hearing(self) -> str:
        """The HUD's line of what the schedule hears and counts now."""
        values = self.timeline.names(0, time.perf_counter() - self.begin)
        shown = [f"{k} {values[k]:.2f}" for k in ("rms", "onset", "beat", "low", "mid", "high") if k in values]
        if "b" in values:
            shown.append(f"b {values['b']:.1f}")
        if values.get("bpm"):
            shown.append(f"{values['bpm']:.0f} bpm")
        return "  ".join(shown) or "no sound, no tempo"


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
    audio_input: str | None = None  # hear this sound device (a name or an index; "" the default one)
    serve: int | None = None  # the web page's port (0: any free one)
    serve_host: str = "127.0.0.1"
    serve_token: str | None = None  # None: one is made where the host is not loopback
    midi: str | None = None  # a MIDI input port's name ("" the first one)
    midi_map: str | None = None  # a map file (live/midi.py); learn saves there
    midi_learn: bool = False  # arm learn at the start
    sound: object = None  # blocks of samples to hear instead of a device (tests, benchmarks)


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
               status: Callable[[RunStats, str], None] | None = None, opener=None, sinks=(),
               commands: ControlChannel | None = None) -> WebcamResult:
    """`streamdream webcam` as a library call. Everything is checked and opened before the
    network loads (a missing camera or screen is one line at once); then the show runs until
    q, --duration, Ctrl-C or the end of the source. A lost camera ends it with the recording
    finalised, or, in installation mode, is waited for. `status(stats, look)` gets every frame;
    `sinks` are fed too (a contact sheet's, a test's); `opener` makes camera captures (tests);
    `commands`, without a window, is the show's channel, for a program to steer it (quit ends it).
    """

    live, d = config.live, config.dream
    if options.record:
        check_output(options.record, [options.source], options.overwrite, VIDEO_SUFFIXES)
    # a CPU dreams a 640-wide show, a band a frame (see stage.LIVE_CPU_REGIONS); a GPU dreams 1280 whole.
    # Unless a width is set, that is the frame's longer side: a portrait camera or file brought to
    # 640 wide was a frame 640x1138, dreamt at 2 frames a second and shown at 16 on a 2-core CPU
    width = d.width or (1280 if models.pick_device(d.device).type == "cuda" else 640)
    longest = None if d.width else width
    virtual = VirtualCameraSink(live.fps) if options.virtual_camera else None
    extra = {} if opener is None else {"opener": opener}
    open_source = lambda: open_live_source(options.source, d.width, live.fps, live.stall, live.frozen,
                                           longest=longest, **extra)
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
        # (the dream thread still waits for a core about a tenth of its time, /proc's schedstat:
        # the display's and the flow's bursts meet. Lowering every other thread's priority, nice
        # 10, the display's included, gave a close-up's dream 10.5 a second against 9.4 on a
        # 2-core AMD EPYC, but a hand-held clip's 11.5 against 10.8 and the shared clip's 11.4
        # against 11.5 were within the shows' spread (eight and four pairs of bench_live.py runs),
        # the latency p95 rose by about 12 ms, and Linux lets no unprivileged thread take its
        # priority back: a library caller's thread would stay lowered after the show. Only the
        # side threads lowered, the display not: no clear gain, three pairs on each of two clips)
        # OpenCV's thread pool costs more CPU than it saves on these small frames (the display's
        # flow and compositing), CPU the dream needs
        cv2.setNumThreads(1)
    switch = sys.getswitchinterval()
    # the dream thread makes hundreds of short torch calls a frame, and after each one waits for
    # the GIL while the display thread runs Python: a short switch interval gives it the GIL
    # back sooner, and more dreamt frames a second on a CPU
    sys.setswitchinterval(0.0005)
    stage = heard = web = midi = None
    try:
        channel = window.commands if window is not None else commands or ControlChannel()
        if options.midi is not None:  # before the network loads: a missing port is said at once
            mapping = read_map(options.midi_map) if options.midi_map and Path(options.midi_map).exists() else default_map()
            mapper = MidiMapper(mapping, list(models.get_spec(d.model).layers), channel.put,
                                save=Path(options.midi_map) if options.midi_map else None, say=say)
            midi = MidiControl(channel, mapper, options.midi or None, say)
        # a live show's time is seconds since it started, its beats at `bpm` or tapped, its sound heard
        if options.sound is not None or options.audio_input is not None:
            device = options.audio_input if options.audio_input not in (None, "") else None
            device = int(device) if isinstance(device, str) and device.isdigit() else device
            heard = LiveAudio(options.sound, device)
        timeline = build_timeline(config, "webcam", live.fps, None, None, 0.0, builtin_presets(), heard)
        keep = {"device": d.device, "seed": d.seed, "width": width}
        stage = LiveStage(replace(config, dream=replace(d, width=width)), sorted(builtin_presets()), keep,
                          options.installation, say)
        stage.select(options.preset or "default")
        compositor = Compositor(live.blend, live.fade if options.installation else 0.0, config.video.scene_cut)
        recorder = Recorder(options.record, fps=live.fps, crf=config.video.crf, overwrite=options.overwrite)
        sinks.append(recorder)
        show = LiveShow(stage, compositor, window, recorder, live.cycle if options.installation else None, say,
                        timeline=timeline, midi=midi, commands=channel)
        if midi is not None and options.midi_learn:
            midi.mapper.arm()
        if options.osc is not None:
            osc = OscControl(show.commands, options.osc, options.osc_host, say)
            say(f"listening for OSC on {options.osc_host}:{osc.port}")
        latest = [RunStats()]  # the figures of the last frame shown, for the web page
        if options.serve is not None:
            preview = Preview()
            sinks.append(preview)
            web = WebControl(show.commands, preview, lambda: show.figures(latest[0], source.info),
                             options.serve, options.serve_host, options.serve_token, say)
        if options.record:
            recorder.start()

        def progress(stats: RunStats) -> None:
            latest[0] = stats
            show.tick(stats)
            if status is not None:
                status(stats, stage.description)

        say(f"source: {source.info}")
        try:
            # at the dream's size, or the flow width if smaller: at 640 wide the two DIS passes took
            # half a CPU's frame budget, and the flow is smooth enough to scale up
            # (either side: a portrait frame's flow is no larger than a landscape one's). DIS's
            # patches there span 24 pixels of a 640-wide frame, and beside a moving subject the still
            # background takes part of its motion over that width. Sharpened (each pixel taking the
            # vector 3 or 6 pixels away either way where it lines the frames up better, both flows:
            # against a disc's true motion, at 480 wide over three frames, the error beside its
            # outline fell from 2.8 px to 1.6), the dream kept a little more of the whole frame and
            # no more where things move: a disc over a still scene 67% to 69% of a full dream's depth
            # (every one of four seeds up, by 0.4-4.6 points), 26% to 30% where it moves (by -4 to
            # +12); a close-up 35% to 38.5% (two seeds), 26% where it moves either way, its E_warp ratio
            # 1.65 to 1.69-1.71 (scripts/live_sim.py --clock, which does not charge the flow's time).
            # The dark ring about the disc in the sheets' depth maps stayed as it was. It cost as much
            # again as the flow, 5.5 ms a flow at 320x180 on a 2-core Xeon: there, in a real show of
            # the disc, the flow's threads took 16% of a core against 8%, the dream's 81% against 86%,
            # and it came 3-4% less often (two shows each), a cost the simulated gain leaves out
            flow_side = min(stage.dream_size(width, width)[1], LIVE_FLOW_WIDTH)
            tracker = MotionTracker(config.video.scene_cut, width=flow_side, height=flow_side)
            # the flow of the next frame is taken as this one's dream is about to end (a CPU's dream
            # no longer waits for it), or, where the dream is shorter than the flow (a GPU), at once
            policy = NewestFrame(compositor, compositor.idle if options.installation else None)
            stage.stream.stale = policy.stale
            stats = run(source, stage, sinks, policy=policy, tracker=tracker, controls=show.commands,
                        handle=show.handle, duration=options.duration, progress=progress,
                        stage_commands=show.to_dream, schedule=timeline)
        except CameraLost as exc:
            close_all(sinks, error=False)
            kept = f"; {', '.join(map(str, recorder.written))} finalised" if recorder.written else ""
            raise CameraLostError(f"camera lost: {exc}{kept}") from None
    except BaseException:
        close_all(sinks, error=True)  # the recorder keeps what it has: it is a playable file
        raise
    finally:
        source.close()
        if stage is not None:
            stage.looks.close()
        torch.set_num_threads(threads)
        cv2.setNumThreads(cv_threads)
        sys.setswitchinterval(switch)
        if osc is not None:
            osc.close()
        if heard is not None:
            heard.close()
        if web is not None:
            web.close()
        if midi is not None:
            midi.close()
    close_all(sinks, error=False)
    warnings = list(getattr(window, "warnings", []))
    return WebcamResult(stats, source.info, stage.description, recorder.written, show.snapshot_paths,
                        stage.stream.dreamer.device.type, warnings)


class CameraLostError(RunError):
    """The camera went away mid-run (not in installation mode): exit 1, recordings kept."""

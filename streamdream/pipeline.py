"""One run loop for every job: a source, a dream stage and sinks, each on its own thread.

    capture (source) -> [policy] -> flow (MotionTracker) -> dream (stage) -> sinks (main thread)

`video`, `zoom` and `webcam` all call `run`; they differ only in their parts:
- **every frame** (files, the zoom): bounded queues that block, so nothing is dropped and memory
  stays flat for any length;
- **newest frame** (cameras): the flow and dream stages take the newest captured frame and the
  rest are dropped *before* the flow, so flow is always between the frames actually dreamt. The
  main thread shows every captured frame, each with the latest dream laid onto it (`present`),
  so the display runs at the camera's rate even when the dream is slower.

The main thread writes to the sinks, because a window (OpenCV highgui) must live there, and it
reads the control channel (keys, OSC). A clean stop (the source ends, `quit`, the duration is
reached, Ctrl-C) closes every sink so files are finalised; only an error aborts them.
"""

from __future__ import annotations

import itertools
import queue
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Protocol

import numpy as np

from .config import Config
from .controls import Command, ControlChannel
from .errors import UsageError
from .signals import Terminated, ignore_further, signal_number
from .sources import Frame, Source, VideoFileSource, VideoInfo, load_guide
from .temporal import MotionTracker, StreamDreamer

QUEUE_SIZE = 4
BIG_FRAME = 2_100_000  # pixels: above 1080p
_END = object()


class Stage(Protocol):
    """The dream stage: `next(image, motion) -> dreamt image`, called on the dream thread only."""

    def next(self, image: np.ndarray, motion) -> np.ndarray: ...


class Sink(Protocol):
    def write(self, image: np.ndarray, time: float) -> None: ...
    def close(self) -> object: ...
    def abort(self) -> None: ...


class Mailbox:
    """A one-frame slot where the newest item wins; `dropped` counts items replaced unread."""

    def __init__(self):
        self._item = None
        self._full = False
        self._cond = threading.Condition()
        self.dropped = 0

    def put(self, item) -> None:
        with self._cond:
            if self._full:
                self.dropped += 1
            self._item, self._full = item, True
            self._cond.notify_all()

    def get(self, timeout: float):
        """The newest item, waiting up to `timeout` s; None when nothing new came."""
        with self._cond:
            if not self._full:
                self._cond.wait(timeout)
            if not self._full:
                return None
            item, self._item, self._full = self._item, None, False
            return item


class Rate:
    """Events per second over the last few seconds (a moving window, so a stall shows at once)."""

    def __init__(self, window: float = 2.0):
        self.window = window
        self.times: list[float] = []

    def tick(self, now: float | None = None) -> None:
        now = time.perf_counter() if now is None else now
        self.times.append(now)
        while self.times and self.times[0] < now - self.window:
            self.times.pop(0)

    def per_second(self, now: float | None = None) -> float:
        now = time.perf_counter() if now is None else now
        recent = [t for t in self.times if t >= now - self.window]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-6)


@dataclass
class RunStats:
    frames: int = 0  # frames written to the sinks
    dreamt: int = 0  # frames through the dream stage
    captured: int = 0
    dropped: int = 0  # captured frames the dream stage never saw (newest-frame policy)
    wall_seconds: float = 0.0
    dream_seconds: float = 0.0  # time inside the dream stage alone
    # the other stages' busy time, each on its own thread: reading and decoding frames, the flow,
    # and the sinks (encoding, the window) on the main thread
    capture_seconds: float = 0.0
    flow_seconds: float = 0.0
    sink_seconds: float = 0.0
    keyframes: int = 0
    interrupted: bool = False  # Ctrl-C, SIGTERM or SIGHUP
    signal: int = 0  # which of them (signal number)
    stopped: str = ""  # why a clean stop came early: "quit", "duration", "interrupted"
    camera_fps: float = 0.0
    dream_fps: float = 0.0
    display_fps: float = 0.0
    latency_ms: float = 0.0  # capture of the newest frame to its display, smoothed
    # each frame's, for the benchmark; bounded (about an hour at 30 fps), as an installation runs for days
    latencies: deque = field(default_factory=lambda: deque(maxlen=100_000))


@dataclass
class Dreamt:
    """The latest dream, for the display: the input frame it was dreamt on and the result."""

    frame: Frame
    image: np.ndarray
    count: int


class Display(Protocol):
    """Lays the latest dream onto a newer camera frame (see live.Compositor)."""

    def present(self, frame: Frame, dreamt: Dreamt | None) -> np.ndarray: ...


def run(source: Source, stage: Stage | None, sinks: list, *, tracker: MotionTracker | None = None,
        newest: bool = False, display: Display | None = None, controls: ControlChannel | None = None,
        handle: Callable[[Command], bool] | None = None, duration: float | None = None,
        progress: Callable[[RunStats], None] | None = None, idle: Callable[[], np.ndarray | None] | None = None,
        stage_commands: ControlChannel | None = None, queue_size: int = QUEUE_SIZE) -> RunStats:
    """Run `source` through `stage` (None: frames pass through) into every sink until the source
    ends or a clean stop, and return what happened.

    newest: the newest-frame policy for live sources; `display` then composes each captured frame
    with the latest dream. controls/handle: commands are read on this thread between frames and
    given to `handle`, which returns True to stop. stage_commands: commands forwarded to the
    dream thread, which hands them to `stage.control` before its next frame. idle: called when no
    frame came for a while (a lost camera); what it returns is shown instead. progress gets the
    stats after every frame written. KeyboardInterrupt is a clean stop with `interrupted` set.
    """
    stop = threading.Event()
    errors: list[BaseException] = []
    stats = RunStats()
    rates = {"camera": Rate(), "dream": Rate(), "display": Rate()}
    if newest:
        to_flow, shown = Mailbox(), Mailbox()
    else:
        to_flow, shown = queue.Queue(queue_size), None
    to_dream = queue.Queue(1 if newest else queue_size)
    out = queue.Queue(queue_size)  # every-frame policy: dreamt frames to the sinks
    latest: list[Dreamt | None] = [None]  # newest-frame policy: the display reads the latest dream

    def put(q: queue.Queue, item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def items(q) -> Iterator:
        while not stop.is_set():
            if isinstance(q, Mailbox):
                item = q.get(0.1)
                if item is None:
                    continue
            else:
                try:
                    item = q.get(timeout=0.1)
                except queue.Empty:
                    continue
            if item is _END:
                return
            yield item

    def capture() -> None:
        frames = iter(source.frames())
        while True:
            t = time.perf_counter()
            frame = next(frames, _END)
            stats.capture_seconds += time.perf_counter() - t
            if frame is _END:
                break
            if stop.is_set():
                return
            stats.captured += 1
            rates["camera"].tick()
            if newest:
                to_flow.put(frame)
                shown.put(frame)
            elif not put(to_flow, frame):
                return
        if newest:
            to_flow.put(_END)
            shown.put(_END)
        else:
            put(to_flow, _END)

    def track() -> None:
        for frame in items(to_flow):
            t = time.perf_counter()
            motion = tracker.next(frame.image) if tracker else None
            stats.flow_seconds += time.perf_counter() - t
            if not put(to_dream, (frame, motion)):
                return
        put(to_dream, _END)

    def dream() -> None:
        for frame, motion in items(to_dream):
            if stage_commands is not None:
                for command in stage_commands.drain():
                    stage.control(command)
            t = time.perf_counter()
            image = stage.next(frame.image, motion) if stage is not None else frame.image
            stats.dream_seconds += time.perf_counter() - t
            stats.dreamt += 1
            rates["dream"].tick()
            if newest:
                latest[0] = Dreamt(frame, image, stats.dreamt)
            elif not put(out, Frame(image, frame.time, frame.index, frame.captured)):
                return
        if not newest:
            put(out, _END)

    interrupted = threading.Event()

    def start(name: str, body: Callable[[], None]) -> threading.Thread:
        def body_or_error() -> None:
            try:
                body()
            except KeyboardInterrupt:  # as Ctrl-C on the main thread: a clean stop
                interrupted.set()
                stop.set()
            except BaseException as exc:  # raised in the calling thread below
                errors.append(exc)
                stop.set()

        thread = threading.Thread(target=body_or_error, name=name, daemon=True)
        thread.start()
        return thread

    begin = time.perf_counter()
    threads = [start("capture", capture), start("flow", track), start("dream", dream)]

    def write(image: np.ndarray, at: float) -> None:
        t = time.perf_counter()
        for sink in sinks:
            sink.write(image, at)
        stats.sink_seconds += time.perf_counter() - t
        stats.frames += 1
        rates["display"].tick()

    def next_live() -> tuple[np.ndarray, float] | None:
        frame = shown.get(0.05)
        if frame is _END:
            raise StopIteration
        if frame is None:
            image = idle() if idle is not None else None
            return None if image is None else (image, time.perf_counter() - begin)
        image = display.present(frame, latest[0]) if display is not None else frame.image
        if frame.captured is not None:
            stats.latencies.append(time.perf_counter() - frame.captured)
        return image, frame.time

    try:
        while not errors:
            if controls is not None and handle is not None:
                if any(handle(command) for command in controls.drain()):
                    stats.stopped = "quit"
                    break
            if duration is not None and time.perf_counter() - begin >= duration:
                stats.stopped = "duration"
                break
            if newest:
                try:
                    item = next_live()
                except StopIteration:
                    break
                if item is None:
                    continue
                write(*item)
            else:
                try:
                    frame = out.get(timeout=0.1)
                except queue.Empty:
                    if stop.is_set():
                        break
                    continue
                if frame is _END:
                    break
                write(frame.image, frame.time)
            if progress is not None:
                _fill(stats, rates, newest, to_flow)
                progress(stats)
    except KeyboardInterrupt as exc:
        ignore_further()
        stats.interrupted, stats.stopped, stats.signal = True, "interrupted", signal_number(exc)
    except BaseException as exc:
        errors.append(exc)
    stop.set()
    if interrupted.is_set() and not stats.interrupted:
        stats.interrupted, stats.stopped, stats.signal = True, "interrupted", signal_number(KeyboardInterrupt())
    for thread in threads:
        thread.join(timeout=5)
    stats.wall_seconds = time.perf_counter() - begin
    stats.keyframes = getattr(stage, "keyframes", 0)
    _fill(stats, rates, newest, to_flow)
    if errors:
        raise errors[0]
    return stats


def _fill(stats: RunStats, rates: dict, newest: bool, to_flow) -> None:
    now = time.perf_counter()
    stats.camera_fps = rates["camera"].per_second(now)
    stats.dream_fps = rates["dream"].per_second(now)
    stats.display_fps = rates["display"].per_second(now)
    if newest:
        stats.dropped = to_flow.dropped
    if stats.latencies:
        stats.latency_ms = 1000 * float(np.median(list(itertools.islice(reversed(stats.latencies), 30))))


def close_all(sinks: list, error: bool) -> None:
    """Finalise every sink (a clean stop) or abort them (an error); one sink failing to close
    does not stop the others from closing."""
    first = None
    for sink in sinks:
        try:
            sink.abort() if error else sink.close()
        except BaseException as exc:
            first = first or exc
    if first is not None:
        raise first


@dataclass
class VideoResult:
    stats: RunStats
    info: VideoInfo
    description: str  # the model, objective and seed, for the report
    device: str
    audio: str  # what became of the audio
    warnings: list[str] = field(default_factory=list)
    resumed: int = 0  # frames taken over from a partial output (--resume)
    compile_seconds: float = 0.0  # spent compiling the network ([dream] compile), part of the wall time


class _Continued:
    """The rest of a file source's frames, after the one a resumed run took to pick up from."""

    live = False

    def __init__(self, frames: Iterator[Frame]):
        self._frames = frames

    def frames(self) -> Iterator[Frame]:
        return self._frames

    def close(self) -> None:
        pass


def dream_video_file(config: Config, source: VideoFileSource, output: str | Path,
                     progress: Callable[[int, int | None], None] | None = None, overwrite: bool = False,
                     resume: bool = False, network=None) -> VideoResult:
    """`streamdream video` as a library call: decode, track, dream and encode an opened `source`
    into `output` (audio kept), then close the source. `progress(done, expected)` gets each frame;
    `network`, if given, is the config's model already loaded (e.g. with random weights, to time it).

    The video is written to its partial file (see sinks.VideoFileSink) and renamed onto
    `output` when whole or, after Ctrl-C, SIGTERM or SIGHUP, up to what was dreamt. On an error
    the partial is kept when it holds frames; `resume` continues such a partial: its whole
    frames are kept, the input is read on from the last of them, and the dream state is rebuilt
    from that frame, so the seam carries on like any other frame.
    """
    from .dreamer import Dreamer
    from .sinks import VideoFileSink, partial_path, read_partial
    from .temporal import make_tracker

    info, max_frames = source.info, source.max_frames
    partial = read_partial(partial_path(output)) if resume else None
    try:
        if partial is not None:
            if max_frames is not None and partial.frames >= max_frames:
                raise UsageError(f"{partial.path} already holds {partial.frames} frames, as many as --frames asks; "
                                 f"nothing to resume")
            source.continue_at(partial.last_time, partial.frames - 1)
        dreamer = Dreamer.from_config(config.dream, network, guide=load_guide(config.dream))
        stream = StreamDreamer(dreamer, config.video)
        tracker = make_tracker(config.video, dreamer.device)
        frames = source.frames()
        if partial is not None:
            _pick_up(partial, next(frames, None), stream, tracker, info)
        # a big frame dreamt on a CPU is a minute's work: hold as few of them as possible, and
        # let the encoder keep less in flight (it took 700 MB at 4K with its defaults)
        lean = info.width * info.height > BIG_FRAME and dreamer.device.type == "cpu"
        sink = VideoFileSink(output, info.rate, info.time_base, config.video.crf,
                             info.path if info.has_audio else None, info.start, overwrite=overwrite,
                             resume=partial, expected_frames=info.frames, lean=lean,
                             hardware=dreamer.device.type == "cuda")
        done = partial.frames if partial else 0
        try:
            stats = run(_Continued(frames), stream, [sink], tracker=tracker, queue_size=1 if lean else QUEUE_SIZE,
                        progress=progress and (lambda s: progress(done + s.frames, info.frames)))
        except BaseException as exc:
            kept = sink.abort()
            if kept is not None and sink.frames and not isinstance(exc, KeyboardInterrupt):
                exc.add_note(f"kept {sink.frames} frames in {kept}; run the same command with --resume to continue")
            raise
        if sink.frames == 0 and stats.interrupted:
            sink.abort()
            raise KeyboardInterrupt() if stats.signal == signal.SIGINT else Terminated(stats.signal)
        if sink.frames == 0 and info.start > 0:
            sink.abort()
            raise UsageError(f"no frames of {info.path} start at or after --start {info.start:g} s; "
                             f"give an earlier --start")
        cut_short = stats.interrupted or (max_frames is not None and done + stats.frames >= max_frames)
        sink.close(sink.last_time + 1 / float(info.rate) if cut_short else None)
    finally:
        source.close()
    warnings = list(sink.warnings)
    if source.corrupt:
        warnings.append(f"skipped {source.corrupt} corrupt packets in {source.path}")
    if source.missing > source.corrupt:
        warnings.append(f"skipped {source.missing} of the {info.frames} frames of {source.path} that could not be "
                        f"decoded{' (the file is cut short)' if source.truncated else ' (damaged or cut short?)'}")
    elif source.truncated:
        warnings.append(f"{source.path} ended early (cut short?); dreamt what could be read")
    return VideoResult(stats, info, f"{config.dream.model} {dreamer.objective.description}, seed {dreamer.seed}",
                       dreamer.device.type, sink.audio.description if sink.audio else "no audio", warnings,
                       partial.frames if partial else 0, dreamer.net.compile_seconds)


def _pick_up(partial, first: Frame | None, stream: StreamDreamer, tracker, info: VideoInfo) -> None:
    """Rebuild the dream state from a partial's last kept frame and the input frame it was dreamt from."""
    if first is None or abs(first.time - partial.last_time) > 1.0 / float(info.rate):
        raise UsageError(f"{info.path} has no frame at {partial.last_time:.2f} s, where {partial.path} ends; "
                         f"resume with the same input, --start and --width (or --overwrite to start over)")
    dreamt = partial.last_image
    h, w = first.image.shape[:2]
    if dreamt is None or dreamt.shape[0] < h or dreamt.shape[1] < w or dreamt.shape[0] > h + 1 or dreamt.shape[1] > w + 1:
        size = "unreadable" if dreamt is None else f"{dreamt.shape[1]}x{dreamt.shape[0]}"
        raise UsageError(f"{partial.path} is {size} but the input gives {w}x{h} frames; resume with the same "
                         f"--width (or --overwrite to start over)")
    stream.resume(first.image, np.ascontiguousarray(dreamt[:h, :w]))
    if tracker is not None:
        tracker.next(first.image)

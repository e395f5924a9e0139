"""One run loop for every job: a source, a dream stage and sinks, each on its own thread.

    capture (source) -> [policy] -> flow (MotionTracker) -> dream (stage) -> sinks (main thread)

`video`, `zoom` and `webcam` all call `run`; they differ only in their parts and in the policy:
- `EveryFrame` (files, the zoom): bounded queues that block, so nothing is dropped and memory
  stays flat for any length;
- `NewestFrame` (cameras): as the dream stage is about to be ready for a frame (see `OnRequest`),
  the flow stage takes the newest one captured and the rest are dropped *before* the flow, so
  flow is always between the frames actually dreamt, and each is dreamt as soon after its capture
  as the flow allows. The main thread shows every captured frame, each with the latest dream laid
  onto it (`present`), so the display runs at the camera's rate even when the dream is slower.

The main thread writes to the sinks, because a window (OpenCV highgui) must live there, and it
reads the control channel (keys, OSC). A clean stop (the source ends, `quit`, the duration is
reached, Ctrl-C) closes every sink so files are finalised; only an error aborts them.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from .commands import Command, ControlChannel
from .frames import Display, Dreamt, Frame, Source, Stage
from .errors import Cancelled
from .signals import ignore_further, signal_number


QUEUE_SIZE = 4


END = object()  # the last item a lane carries


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
        """The newest item, waiting up to `timeout` s; queue.Empty when nothing new came."""
        with self._cond:
            if not self._full:
                self._cond.wait(timeout)
            if not self._full:
                raise queue.Empty
            item, self._item, self._full = self._item, None, False
            return item


class OnRequest:
    """A one-item hand-over that the taker asks for: the giver waits until it is asked (`asked`)
    before it fetches what it gives, so what it gives is as new as it can be. A giver that worked
    ahead instead held two frames in hand while the dream was busy, and each frame was dreamt two
    dream periods after its capture: a live cut stayed plain for a second.

    With `lead`, the ask comes before the taker is back, by as long as the giver's work takes:
    each take is followed by an ask at the moment the taker is expected to want the next item
    less the giver's time (both learnt as they go, see `Lead`). The item is then about as new as
    when it is asked for at the take, and the taker does not wait for the giver's work (a dream
    on a CPU waited for the flow of every frame). Where the giver's work is longer than the
    taker's, that is an ask at once: each item is a taker's period old (a dream on a GPU beside
    the flow on a CPU)."""

    def __init__(self, lead: bool = False, clock: Callable[[], float] = time.perf_counter):
        self.lead = Lead(clock) if lead else None
        self.clock = clock
        self._cond = threading.Condition()
        self._item = None
        self._full = self._asking = False

    def asked(self, timeout: float) -> bool:
        """Wait up to `timeout` s for the taker to ask (or, with `lead`, for its ask to be due);
        True when it has and nothing is given yet."""
        end = self.clock() + timeout
        with self._cond:
            while not self._asking:
                now = self.clock()
                due = self.lead.due() if self.lead is not None and not self._full else None
                if due is not None and now >= due:
                    self._ask(now)
                    break
                wait = min(end, due if due is not None else end) - now
                if wait <= 0:
                    break
                self._cond.wait(wait)
            return self._asking

    def _ask(self, now: float) -> None:
        self._asking = True
        if self.lead is not None:
            self.lead.asked(now)
        self._cond.notify_all()

    def put(self, item, timeout: float | None = None) -> None:
        with self._cond:
            self._item, self._full, self._asking = item, True, False
            if self.lead is not None:
                self.lead.given(self.clock())
            self._cond.notify_all()

    def get(self, timeout: float):
        """Ask for an item and wait up to `timeout` s for it; queue.Empty when none came."""
        with self._cond:
            if self.lead is not None:
                self.lead.ready(self.clock())
            if not self._full:
                if not self._asking:
                    self._ask(self.clock())
                self._cond.wait_for(lambda: self._full, timeout)
            if not self._full:
                raise queue.Empty
            item, self._item, self._full = self._item, None, False
            if self.lead is not None:
                self.lead.taken(self.clock())
            self._cond.notify_all()
            return item


class Lead:
    """When an `OnRequest` asks ahead: from the taker's recent times from a take to wanting the
    next item, and the giver's from an ask to giving, the ask's moment after a take. It errs
    early: the shortest of the taker's recent times less the longest of the giver's (an ask a
    little early makes an item a few ms older; one a little late makes the taker wait for all of
    the giver's work). Until both are known it asks when the taker wants the item, as a plain
    `OnRequest` does, and one long take (a full dream) is forgotten after a few."""

    RECENT = 5  # how many of each side's times are kept

    def __init__(self, clock: Callable[[], float] = time.perf_counter):
        self.clock = clock
        self.taker: deque = deque(maxlen=self.RECENT)  # seconds from a take to wanting the next
        self.giver: deque = deque(maxlen=self.RECENT)  # seconds from an ask to giving
        self._taken_at: float | None = None
        self._asked_at: float | None = None
        self._due: float | None = None

    def taken(self, now: float) -> None:
        self._taken_at = now
        if self.taker and self.giver:
            self._due = now + max(0.0, min(self.taker) - max(self.giver))

    def ready(self, now: float) -> None:
        """The taker wants its next item now."""
        if self._taken_at is not None:
            self.taker.append(now - self._taken_at)
            self._taken_at = None
        self._due = None  # asked now, if not before

    def asked(self, now: float) -> None:
        self._asked_at, self._due = now, None

    def given(self, now: float) -> None:
        if self._asked_at is not None:
            self.giver.append(now - self._asked_at)
            self._asked_at = None

    def due(self) -> float | None:
        """When the next ask is due; None when the taker's own ask is waited for."""
        return self._due


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


class EveryFrame:
    """The policy for files and the zoom: bounded queues that block, so every frame is dreamt
    and written, in order, and memory stays flat for any length."""

    dropped = 0

    def __init__(self, queue_size: int = QUEUE_SIZE):
        self.to_flow = queue.Queue(queue_size)
        self.to_dream = queue.Queue(queue_size)
        self.out = queue.Queue(queue_size)  # dreamt frames to the sinks

    def captured(self, frame: Frame, lanes: "Lanes") -> bool:
        return lanes.put(self.to_flow, frame)

    def to_track(self, lanes: "Lanes") -> Iterator[Frame]:
        """The frames for the flow stage: every one, in order."""
        return lanes.items(self.to_flow)

    def source_ended(self, lanes: "Lanes") -> None:
        lanes.put(self.to_flow, END)

    def dreaming(self, frame: Frame) -> None:
        """The dream thread takes `frame` in hand (every frame of a file is wanted)."""

    def dreamt(self, frame: Frame, image: np.ndarray, count: int, lanes: "Lanes", strength: float = 1.0) -> bool:
        return lanes.put(self.out, Frame(image, frame.time, frame.index, frame.captured))

    def stage_ended(self, lanes: "Lanes") -> None:
        lanes.put(self.out, END)

    def next_shown(self, lanes: "Lanes", stats: "RunStats", begin: float):
        """(image, time) for the sinks, None when nothing is ready yet, END when done."""
        try:
            frame = self.out.get(timeout=0.1)
        except queue.Empty:
            return END if lanes.stop.is_set() else None
        return END if frame is END else (frame.image, frame.time)


class NewestFrame:
    """The policy for cameras: each time the dream stage asks for a frame (with `lead`, as it is
    about to), the flow stage takes the newest one captured, and the rest are dropped before the
    flow; the main thread shows every captured frame, laid out by `display` with the latest
    dream, and `idle()` (a lost camera's fade) when none comes.

    `stale` is set while the frame being dreamt is of a shot the display has cut away from (a
    display with `shows(index)`, whether it would lay a dream of camera frame `index`): its dream
    would never be shown, and a stage may spare its steps (engine.temporal.StreamDreamer.stale)."""

    def __init__(self, display: Display | None = None, idle: Callable[[], np.ndarray | None] | None = None,
                 lead: bool = True):
        self.display, self.idle = display, idle
        self.to_flow, self.shown = Mailbox(), Mailbox()
        self.to_dream = OnRequest(lead)  # lead: the next frame's flow is taken as this frame's dream ends
        self.latest: Dreamt | None = None  # the display reads the latest dream
        self.stale = threading.Event()
        self._in_hand = -1  # the index of the frame being dreamt
        self._hand = threading.Lock()  # one of the two threads at a time moves the frame in hand or judges it

    @property
    def dropped(self) -> int:
        return self.to_flow.dropped

    def captured(self, frame: Frame, lanes: "Lanes") -> bool:
        self.to_flow.put(frame)
        self.shown.put(frame)
        return True

    def source_ended(self, lanes: "Lanes") -> None:
        self.to_flow.put(END)
        self.shown.put(END)

    def to_track(self, lanes: "Lanes") -> Iterator[Frame]:
        """The frames for the flow stage: the newest captured each time the dream stage asks."""
        while not lanes.stop.is_set():
            if not self.to_dream.asked(0.1):
                continue
            try:
                frame = self.to_flow.get(timeout=0.1)
            except queue.Empty:
                continue
            if frame is END:
                return
            yield frame

    def dreaming(self, frame: Frame) -> None:
        """The dream thread takes `frame` in hand: stale at once when the display has already cut
        away from its shot (the flow stage took it before the cut was shown)."""
        with self._hand:
            self._in_hand = frame.index
            self.stale.clear()
            self._judge_stale()

    def _judge_stale(self) -> None:
        """Set `stale` when the display has cut away from the shot of the frame in hand (call with
        `_hand` held)."""
        shows = getattr(self.display, "shows", None)
        if shows is not None and self._in_hand >= 0 and not shows(self._in_hand):
            self.stale.set()

    def dreamt(self, frame: Frame, image: np.ndarray, count: int, lanes: "Lanes", strength: float = 1.0) -> bool:
        self.latest = Dreamt(frame, image, count, strength)
        return True

    def stage_ended(self, lanes: "Lanes") -> None:
        pass

    def next_shown(self, lanes: "Lanes", stats: "RunStats", begin: float):
        try:
            frame = self.shown.get(timeout=0.05)
        except queue.Empty:
            image = self.idle() if self.idle is not None else None
            return None if image is None else (image, time.perf_counter() - begin)
        if frame is END:
            return END
        image = self.display.present(frame, self.latest) if self.display is not None else frame.image
        with self._hand:
            self._judge_stale()
        if frame.captured is None:
            return image, frame.time
        # the latency of what is seen: a display holding an older picture (a cut, see
        # live.compositor.CUT_HOLD) names the frame it shows
        seen = getattr(self.display, "showing", None) or frame
        stats.latencies.append(time.perf_counter() - (seen.captured if seen.captured is not None else frame.captured))
        # a live frame is timed by the clock it was captured at: a source whose own timestamps
        # fall behind (a test scene the machine cannot render in time) still records in real time
        return image, frame.captured - begin


class Lanes:
    """The run's stop flag and the hand-over between its threads that gives up once it is set."""

    def __init__(self):
        self.stop = threading.Event()

    def put(self, lane, item) -> bool:
        """Put `item` into a queue, waiting while it is full; False when the run stopped first."""
        while not self.stop.is_set():
            try:
                lane.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def items(self, lane) -> Iterator:
        """What arrives in a queue or mailbox until END or the run stops."""
        while not self.stop.is_set():
            try:
                item = lane.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is END:
                return
            yield item


class Run:
    """One run of `run`: the capture, flow and dream threads, and the main thread's loop."""

    def __init__(self, source: Source, stage: Stage | None, sinks: list, policy, tracker,
                 stage_commands: ControlChannel | None, schedule=None):
        self.source, self.stage, self.sinks, self.policy = source, stage, sinks, policy
        self.tracker, self.stage_commands, self.schedule = tracker, stage_commands, schedule
        self.lanes = Lanes()
        self.errors: list[BaseException] = []
        self.interrupted = threading.Event()  # Ctrl-C reached a worker thread
        self.stats = RunStats()
        self.rates = {"camera": Rate(), "dream": Rate(), "display": Rate()}

    def capture(self) -> None:
        frames = iter(self.source.frames())
        while True:
            t = time.perf_counter()
            frame = next(frames, END)
            self.stats.capture_seconds += time.perf_counter() - t
            if frame is END:
                break
            if self.lanes.stop.is_set():
                return
            self.stats.captured += 1
            self.rates["camera"].tick()
            if not self.policy.captured(frame, self.lanes):
                return
        self.policy.source_ended(self.lanes)

    def track(self) -> None:
        for frame in self.policy.to_track(self.lanes):
            t = time.perf_counter()
            motion = self.tracker.next(frame.image) if self.tracker else None
            self.stats.flow_seconds += time.perf_counter() - t
            if not self.lanes.put(self.policy.to_dream, (frame, motion)):
                return
        self.lanes.put(self.policy.to_dream, END)

    def dream(self) -> None:
        stage, stats = self.stage, self.stats
        for frame, motion in self.lanes.items(self.policy.to_dream):
            if self.stage_commands is not None:
                for command in self.stage_commands.drain():
                    stage.control(command)
            if self.schedule is not None and stage is not None:
                # this frame's scheduled values, carried out before it is dreamt: the output
                # follows the schedule to the frame, whatever the threads' timing
                for command in self.schedule.commands(frame.index, frame.time):
                    stage.control(command)
            self.policy.dreaming(frame)
            t = time.perf_counter()
            image = stage.next(frame.image, motion) if stage is not None else frame.image
            stats.dream_seconds += time.perf_counter() - t
            stats.dreamt += 1
            self.rates["dream"].tick()
            # read on this thread, before the next frame's commands can change it
            strength = getattr(stage, "strength", 1.0)
            if not self.policy.dreamt(frame, image, stats.dreamt, self.lanes, strength):
                return
        self.policy.stage_ended(self.lanes)

    def start(self, name: str, body: Callable[[], None]) -> threading.Thread:
        def body_or_error() -> None:
            try:
                body()
            except KeyboardInterrupt:  # as Ctrl-C on the main thread: a clean stop
                self.interrupted.set()
                self.lanes.stop.set()
            except Cancelled:  # the run stopped while this thread was in the middle of a dream
                self.lanes.stop.set()
            except BaseException as exc:  # raised in the calling thread by `run`
                self.errors.append(exc)
                self.lanes.stop.set()

        thread = threading.Thread(target=body_or_error, name=name, daemon=True)
        thread.start()
        return thread

    def write(self, image: np.ndarray, at: float) -> None:
        t = time.perf_counter()
        for sink in self.sinks:
            sink.write(image, at)
        self.stats.sink_seconds += time.perf_counter() - t
        self.stats.frames += 1
        self.rates["display"].tick()

    def fill(self) -> None:
        stats, now = self.stats, time.perf_counter()
        stats.camera_fps = self.rates["camera"].per_second(now)
        stats.dream_fps = self.rates["dream"].per_second(now)
        stats.display_fps = self.rates["display"].per_second(now)
        stats.dropped = self.policy.dropped
        if stats.latencies:
            stats.latency_ms = 1000 * float(np.median(list(itertools.islice(reversed(stats.latencies), 30))))


def run(source: Source, stage: Stage | None, sinks: list, *, policy: EveryFrame | NewestFrame | None = None,
        tracker=None, controls: ControlChannel | None = None, handle: Callable[[Command], bool] | None = None,
        duration: float | None = None, progress: Callable[[RunStats], None] | None = None,
        stage_commands: ControlChannel | None = None, schedule=None) -> RunStats:
    """Run `source` through `stage` (None: frames pass through) into every sink until the source
    ends or a clean stop, and return what happened.

    policy: `EveryFrame()` (the default) or `NewestFrame(display, idle)` for live sources.
    tracker: the flow stage (engine.motion.MotionTracker), or None. controls/handle: commands are
    read on this thread between frames and given to `handle`, which returns True to stop.
    stage_commands: commands forwarded to the dream thread, which hands them to `stage.control`
    before its next frame. schedule (schedule.timeline.Timeline): its commands for each frame go
    to `stage.control` just before that frame. duration: seconds until a clean stop. progress gets the stats after
    every frame written. KeyboardInterrupt is a clean stop with `interrupted` set.
    """
    r = Run(source, stage, sinks, policy or EveryFrame(), tracker, stage_commands, schedule)
    stats = r.stats
    begin = time.perf_counter()
    threads = [r.start("capture", r.capture), r.start("flow", r.track), r.start("dream", r.dream)]
    try:
        while not r.errors:
            if controls is not None and handle is not None:
                if any(handle(command) for command in controls.drain()):
                    stats.stopped = "quit"
                    break
            if duration is not None and time.perf_counter() - begin >= duration:
                stats.stopped = "duration"
                break
            item = r.policy.next_shown(r.lanes, stats, begin)
            if item is END:
                break
            if item is None:
                continue
            r.write(*item)
            if progress is not None:
                r.fill()
                progress(stats)
    except KeyboardInterrupt as exc:
        ignore_further()
        stats.interrupted, stats.stopped, stats.signal = True, "interrupted", signal_number(exc)
    except BaseException as exc:
        r.errors.append(exc)
    r.lanes.stop.set()
    for part in (source, stage):  # long work in hand stops at its next step, not at its end
        cancel = getattr(part, "cancel", None)
        if cancel is not None:
            cancel()
    if r.interrupted.is_set() and not stats.interrupted:
        stats.interrupted, stats.stopped, stats.signal = True, "interrupted", signal_number(KeyboardInterrupt())
    for thread in threads:
        thread.join(timeout=5)
    stats.wall_seconds = time.perf_counter() - begin
    stats.keyframes = getattr(stage, "keyframes", 0)
    r.fill()
    if r.errors:
        raise r.errors[0]
    return stats


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

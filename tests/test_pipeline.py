"""The one run loop: every-frame and newest-frame policies, clean stops and errors."""

import queue
import threading
import time

import av
import numpy as np
import pytest

from streamdream.commands import Command, ControlChannel
from streamdream.pipeline import Mailbox, NewestFrame, run
from streamdream.live.outputs import Recorder
from streamdream.frames import Frame
from streamdream.live.scene import SyntheticSource


class ListSink:
    def __init__(self):
        self.frames, self.closed, self.aborted = [], False, False

    def write(self, image, time):
        self.frames.append((image, time))

    def close(self):
        self.closed = True

    def abort(self):
        self.aborted = True


class SlowStage:
    """Records which frames it dreamt; takes `seconds` each."""

    def __init__(self, seconds=0.0, fail_at=None):
        self.seconds, self.fail_at, self.seen = seconds, fail_at, []

    def next(self, image, motion):
        self.seen.append(int(image[0, 0, 0]))
        if self.fail_at is not None and len(self.seen) >= self.fail_at:
            raise RuntimeError("the dream broke")
        time.sleep(self.seconds)
        return 255 - image


class RecordingTracker:
    def __init__(self):
        self.seen = []

    def next(self, image):
        self.seen.append(int(image[0, 0, 0]))
        return None


class NumberedSource:
    """Frames whose first pixel is their index; `fps` None: as fast as read (every-frame)."""

    def __init__(self, count, fps=None):
        self.count, self.fps = count, fps
        self.live = fps is not None

    def frames(self):
        start = time.perf_counter()
        for i in range(self.count):
            if self.fps:
                time.sleep(max(0.0, start + i / self.fps - time.perf_counter()))
            image = np.full((8, 8, 3), i % 256, np.uint8)
            yield Frame(image, i / (self.fps or 25), i, time.perf_counter())

    def close(self):
        pass


def test_mailbox_keeps_only_the_newest():
    box = Mailbox()
    for i in range(5):
        box.put(i)
    assert box.get(0.01) == 4
    with pytest.raises(queue.Empty):
        box.get(0.01)
    assert box.dropped == 4


def test_every_frame_policy_dreams_and_writes_every_frame_in_order():
    sink, stage, tracker = ListSink(), SlowStage(), RecordingTracker()
    stats = run(NumberedSource(40), stage, [sink], tracker=tracker)
    assert stage.seen == list(range(40)) == tracker.seen
    assert [int(255 - image[0, 0, 0]) for image, _ in sink.frames] == list(range(40))
    assert stats.frames == stats.dreamt == 40 and stats.dropped == 0


class GatedSource:
    """A live source that hands over frame i+1 only once frame i has been shown, the frames after
    the first only once the dream stage has started on it, and, after frame `pause`, the rest only
    once `resume` is set: the order of events is fixed, whatever the machine's speed."""

    live = True

    def __init__(self, count, shown, started, pause=None, resume=None):
        self.count, self.shown, self.started = count, shown, started
        self.pause, self.resume = pause, resume

    def frames(self):
        for i in range(self.count):
            yield Frame(np.full((8, 8, 3), i, np.uint8), i / 30, i, time.perf_counter())
            if i == 0:
                assert self.started.wait(10)
            assert self.shown[i].wait(10)
            if i == self.pause:
                assert self.resume.wait(10)

    def close(self):
        pass


class ShownSink(ListSink):
    def __init__(self, shown):
        super().__init__()
        self.shown = shown

    def write(self, image, time):
        super().write(image, time)
        self.shown[len(self.frames) - 1].set()


class HeldStage(SlowStage):
    """Holds its first frame until `sent` is set; sets `second` when it starts on its second."""

    def __init__(self, started, sent, second=None):
        super().__init__()
        self.started, self.sent, self.second = started, sent, second or threading.Event()

    def next(self, image, motion):
        if not self.seen:
            self.started.set()
            assert self.sent.wait(10)
        elif len(self.seen) == 1:
            self.second.set()
        return super().next(image, motion)


def test_newest_frame_policy_dreams_the_newest_frame_when_the_dream_asks_and_shows_every_frame():
    count, pause = 12, 5
    shown = [threading.Event() for _ in range(count)]
    started, second = threading.Event(), threading.Event()
    sink, stage, tracker = ShownSink(shown), HeldStage(started, shown[pause], second), RecordingTracker()
    source = GatedSource(count, shown, started, pause, second)
    stats = run(source, stage, [sink], tracker=tracker, policy=NewestFrame())
    # every captured frame was shown, in order
    assert [int(image[0, 0, 0]) for image, _ in sink.frames] == list(range(count)) and stats.frames == count
    # while frame 0 was dreamt, frames 1-5 came and the flow stage took none of them ahead: when
    # the dream asked, it got the newest, 5, not the one captured just after it started (1)
    assert stage.seen[:2] == [0, pause] and stage.seen == sorted(stage.seen)
    assert stats.dropped >= pause - 1
    # the flow stage saw exactly the frames that were dreamt, so flow runs between dreamt frames
    assert tracker.seen == stage.seen


def test_newest_frame_policy_ahead_takes_the_next_frame_s_flow_while_the_dream_works():
    count = 12
    shown = [threading.Event() for _ in range(count)]
    started, tracked = threading.Event(), threading.Event()

    class Tracker(RecordingTracker):
        def next(self, image):
            out = super().next(image)
            if len(self.seen) == 2:
                tracked.set()
            return out

    # frame 0 is held in the dream until frame 5 is shown; frame 2 comes only once frame 1's flow is taken
    sink, stage, tracker = ShownSink(shown), HeldStage(started, shown[5]), Tracker()
    source = GatedSource(count, shown, started, 1, tracked)
    stats = run(source, stage, [sink], tracker=tracker, policy=NewestFrame(ahead=True))
    assert stats.frames == count
    # asked for the next frame as soon as frame 0 was taken, the flow stage took frame 1 while 0
    # was dreamt (a GPU's dream is short beside the flow), and held no more than that one
    assert stage.seen[:2] == [0, 1] and stage.seen == sorted(stage.seen)
    assert tracker.seen[:len(stage.seen)] == stage.seen and len(tracker.seen) - len(stage.seen) <= 1


def test_quit_is_a_clean_stop_that_closes_the_sinks():
    sink, controls = ListSink(), ControlChannel()

    class QuitAfter(ListSink):
        def write(self, image, at):
            super().write(image, at)
            if len(self.frames) == 5:
                controls.put(Command("quit"))

    quitter = QuitAfter()
    stats = run(NumberedSource(10_000, fps=100), SlowStage(), [quitter, sink], policy=NewestFrame(),
                controls=controls, handle=lambda command: command.name == "quit")
    # the command is read before the next frame is shown
    assert stats.stopped == "quit" and stats.frames == 5 == len(sink.frames)
    assert sink.closed is False and not sink.aborted


def test_duration_stops_the_run():
    stats = run(NumberedSource(10_000, fps=100), SlowStage(), [ListSink()], policy=NewestFrame(), duration=0.5)
    assert stats.stopped == "duration"
    assert stats.wall_seconds >= 0.5 and stats.frames < 10_000


def test_an_error_in_the_dream_stage_is_raised():
    with pytest.raises(RuntimeError, match="the dream broke"):
        run(NumberedSource(50), SlowStage(fail_at=5), [ListSink()])


@pytest.mark.parametrize("stop", ["quit", "source"])
def test_a_clean_stop_keeps_the_recording_playable(tmp_path, stop):
    out = tmp_path / "rec.mp4"
    recorder = Recorder(out, fps=30)
    recorder.start()
    controls = ControlChannel()
    count = 15
    shown = [threading.Event() for _ in range(count + 1)]

    class Shown(ListSink):
        def write(self, image, at):
            super().write(image, at)
            shown[len(self.frames) - 1].set()
            if stop == "quit" and len(self.frames) == count:
                controls.put(Command("quit"))

    class Scene(SyntheticSource):
        """The test scene, handing over each frame once the one before it was shown."""

        def frames(self):
            for frame in super().frames():
                yield frame
                if frame.index + 1 >= count and stop == "source":
                    return
                assert shown[frame.index].wait(30)

    source = Scene(64, fps=30, realtime=False)
    stats = run(source, SlowStage(), [recorder, Shown()], policy=NewestFrame(), controls=controls,
                handle=lambda command: command.name == "quit")
    recorder.close()
    assert stats.stopped == ("quit" if stop == "quit" else "")
    with av.open(str(out)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == stats.frames >= count - 1

"""The one run loop: every-frame and newest-frame policies, clean stops and errors."""

import threading
import time

import av
import numpy as np
import pytest

from streamdream.controls import Command, ControlChannel
from streamdream.pipeline import Mailbox, run
from streamdream.sinks import Recorder
from streamdream.sources import Frame, SyntheticSource


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
    assert box.get(0.01) is None
    assert box.dropped == 4


def test_every_frame_policy_dreams_and_writes_every_frame_in_order():
    sink, stage, tracker = ListSink(), SlowStage(), RecordingTracker()
    stats = run(NumberedSource(40), stage, [sink], tracker=tracker)
    assert stage.seen == list(range(40)) == tracker.seen
    assert [int(255 - image[0, 0, 0]) for image, _ in sink.frames] == list(range(40))
    assert stats.frames == stats.dreamt == 40 and stats.dropped == 0


def test_newest_frame_policy_drops_before_the_flow_and_shows_every_frame():
    sink, stage, tracker = ListSink(), SlowStage(seconds=0.05), RecordingTracker()
    stats = run(NumberedSource(120, fps=200), stage, [sink], tracker=tracker, newest=True)
    # the flow stage saw exactly the frames that were dreamt, so flow runs between dreamt frames
    assert tracker.seen[:len(stage.seen)] == stage.seen
    assert len(tracker.seen) - len(stage.seen) <= 2  # at most the frames in hand when the source ended
    assert len(stage.seen) < 60 and stats.dropped > 30
    assert stage.seen == sorted(stage.seen)
    # with no display to compose, the window shows the camera's frames, more than were dreamt
    assert stats.frames > 2 * len(stage.seen)


def test_quit_is_a_clean_stop_that_closes_the_sinks():
    sink, controls = ListSink(), ControlChannel()
    threading.Timer(0.3, lambda: controls.put(Command("quit"))).start()
    stats = run(NumberedSource(10_000, fps=100), SlowStage(), [sink], newest=True, controls=controls,
                handle=lambda command: command.name == "quit")
    assert stats.stopped == "quit" and 5 < stats.frames < 200
    assert not sink.aborted


def test_duration_stops_the_run():
    stats = run(NumberedSource(10_000, fps=100), SlowStage(), [ListSink()], newest=True, duration=0.5)
    assert stats.stopped == "duration"
    assert 0.4 < stats.wall_seconds < 3


def test_an_error_in_the_dream_stage_is_raised():
    with pytest.raises(RuntimeError, match="the dream broke"):
        run(NumberedSource(50), SlowStage(fail_at=5), [ListSink()])


@pytest.mark.parametrize("stop", ["quit", "duration"])
def test_a_clean_stop_keeps_the_recording_playable(tmp_path, stop):
    out = tmp_path / "rec.mp4"
    recorder = Recorder(out, fps=30)
    recorder.start()
    controls = ControlChannel()
    if stop == "quit":
        threading.Timer(1.0, lambda: controls.put(Command("quit"))).start()
    stats = run(SyntheticSource(64, fps=30), SlowStage(), [recorder], newest=True, controls=controls,
                handle=lambda command: command.name == "quit", duration=1.0 if stop == "duration" else None)
    recorder.close()
    assert stats.stopped == stop
    with av.open(str(out)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == stats.frames >= 15

"""The one run loop: every-frame and newest-frame policies, clean stops and errors."""

import queue
import threading
import time

import av
import numpy as np
import pytest

from streamdream.commands import Command, ControlChannel
from streamdream.pipeline import Lead, Mailbox, NewestFrame, OnRequest, run
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
    stats = run(source, stage, [sink], tracker=tracker, policy=NewestFrame(lead=False))
    # every captured frame was shown, in order
    assert [int(image[0, 0, 0]) for image, _ in sink.frames] == list(range(count)) and stats.frames == count
    # while frame 0 was dreamt, frames 1-5 came and the flow stage took none of them ahead: when
    # the dream asked, it got the newest, 5, not the one captured just after it started (1)
    assert stage.seen[:2] == [0, pause] and stage.seen == sorted(stage.seen)
    assert stats.dropped >= pause - 1
    # the flow stage saw exactly the frames that were dreamt, so flow runs between dreamt frames
    assert tracker.seen == stage.seen


def test_newest_frame_policy_with_lead_takes_the_next_frame_s_flow_while_a_short_dream_works():
    # a dream shorter than the flow (a GPU's beside a CPU's flow): once both times are known, the
    # flow of the next frame is asked for as each frame is taken, so it runs while the dream works.
    # From its fourth frame on, the dream waits until the flow stage has started on the frame after
    # the one in hand: were the ask made only at the dream's own get, the wait would time out
    started = threading.Condition()
    counts = {"flows": 0}

    class Tracker(RecordingTracker):
        def next(self, image):
            with started:
                counts["flows"] += 1
                started.notify_all()
            time.sleep(0.03)  # the flow: longer than the dream's own work
            return super().next(image)

    class Stage(SlowStage):
        waited: list = []

        def next(self, image, motion):
            frame = len(self.seen) + 1  # the flows of frames 1 .. frame are started already
            if frame >= 4:
                with started:
                    self.waited.append(started.wait_for(lambda: counts["flows"] > frame, 10))
            return super().next(image, motion)

    stage, tracker, sink = Stage(), Tracker(), ListSink()
    run(NumberedSource(40, fps=100), stage, [sink], tracker=tracker, policy=NewestFrame())
    assert len(stage.seen) >= 5
    assert stage.waited and all(stage.waited)
    assert stage.seen == sorted(stage.seen) and tracker.seen[:len(stage.seen)] == stage.seen


def test_newest_frame_policy_without_lead_starts_no_flow_before_the_dream_asks():
    # the same dream and flow with lead off: the flow stage never starts a frame while the dream
    # holds one, so the dream's wait above finds none (given a short time here, not 10 s)
    counts = {"flows": 0, "early": 0}

    class Tracker(RecordingTracker):
        def next(self, image):
            counts["flows"] += 1
            return super().next(image)

    class Stage(SlowStage):
        def next(self, image, motion):
            frame = len(self.seen) + 1
            time.sleep(0.01)
            counts["early"] += counts["flows"] > frame
            return super().next(image, motion)

    stage = Stage()
    run(NumberedSource(20, fps=100), stage, [ListSink()], tracker=Tracker(), policy=NewestFrame(lead=False))
    assert len(stage.seen) >= 3 and counts["early"] == 0


def test_the_frame_in_hand_turns_stale_once_the_display_has_cut_away_from_its_shot():
    # the display shows each camera frame as it comes, the dream thread holds an older one: once
    # the display has begun a newer shot than the frame in hand's, that frame's dream would never
    # be shown (a stage may spare its steps); the next frame taken, of the new shot, is not stale
    from streamdream.pipeline import Lanes, RunStats

    class Display:
        shot = 0  # the index of the frame the newest shot shown began with

        def present(self, frame, dreamt):
            return frame.image

        def shows(self, index):
            return index >= self.shot

    display, lanes = Display(), Lanes()
    policy = NewestFrame(display, lead=False)
    frame = lambda i: Frame(np.full((4, 4, 3), i, np.uint8), i / 25, i, None)

    def show(i):
        policy.captured(frame(i), lanes)
        policy.next_shown(lanes, RunStats(), 0.0)
        return policy.stale.is_set()

    policy.dreaming(frame(5))
    assert not show(6)
    display.shot = 7  # a cut at frame 7
    assert show(7) and show(8)
    policy.dreaming(frame(8))  # the new shot's frame taken
    assert not show(9)
    display.shot = 12
    policy.dreaming(frame(12))
    assert not show(12)  # the frame in hand began the newest shot itself
    display.shot = 20
    policy.dreaming(frame(15))  # taken after the display had cut past it: stale from the start
    assert policy.stale.is_set()
    # a display that tells no shot never makes a frame stale
    plain = NewestFrame(lead=False)
    plain.dreaming(frame(1))
    plain.captured(frame(9), lanes)
    plain.next_shown(lanes, RunStats(), 0.0)
    assert not plain.stale.is_set()


def test_a_display_showing_an_older_picture_is_timed_by_that_picture_s_capture():
    # a compositor holding the last dreamt picture over a cut names the frame it shows: the
    # latency is of what is seen, not of the frame that came in
    from streamdream.pipeline import Lanes, RunStats

    class Display:
        showing = None

        def present(self, frame, dreamt):
            if frame.index < 3:
                self.showing = frame
            return self.showing.image

    lanes, stats = Lanes(), RunStats()
    policy = NewestFrame(Display(), lead=False)
    start = time.perf_counter() - 100.0  # frames captured 10 s apart, 100 s ago on: the run's own time is lost in rounding
    for i in range(5):
        policy.captured(Frame(np.full((4, 4, 3), i, np.uint8), i / 25, i, start + 10.0 * i), lanes)
        image, at = policy.next_shown(lanes, stats, 0.0)
        assert image[0, 0, 0] == min(i, 2)
    assert [round(latency, -1) for latency in stats.latencies] == [100, 90, 80, 80, 80]


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_on_request_with_lead_asks_as_long_before_the_taker_wants_it_as_the_giver_takes():
    clock = FakeClock()
    hand_over = OnRequest(lead=True, clock=clock)
    for _ in range(2):
        # nothing is known yet: the giver waits for the taker's own ask, as without lead
        assert not hand_over.asked(0)
        with pytest.raises(queue.Empty):  # the taker asks (and, on this clock, gives up at once)
            hand_over.get(0)
        assert hand_over.asked(0)
        clock.now += 0.015  # the giver's work: 15 ms
        hand_over.put("frame")
        assert hand_over.get(0) == "frame"
        clock.now += 0.100  # the taker's work: 100 ms
    # both times are known now: after a take, the ask is due 100 - 15 ms later, not before
    taken = clock.now - 0.100
    clock.now = taken + 0.080
    assert not hand_over.asked(0)
    clock.now = taken + 0.0851
    assert hand_over.asked(0)
    # the giver gives ahead, and when the taker wants it, it is there without a wait
    clock.now = taken + 0.1
    hand_over.put("next")
    assert hand_over.get(0) == "next"


def test_on_request_with_lead_asks_at_once_where_the_giver_takes_longer_than_the_taker():
    # a dream on a GPU beside the flow on a CPU: the next item's work overlaps this one's
    clock = FakeClock()
    lead = Lead(clock)
    lead.asked(0.0)
    lead.given(0.050)  # the giver: 50 ms
    lead.taken(0.050)
    lead.ready(0.060)  # the taker: 10 ms
    lead.asked(0.060)
    lead.given(0.110)
    lead.taken(0.110)
    assert lead.due() == pytest.approx(0.110)  # at once
    hand_over = OnRequest(lead=True, clock=clock)
    hand_over.lead = lead
    clock.now = 0.110
    assert hand_over.asked(0)


def test_lead_errs_early_and_forgets_its_ask_when_the_taker_asks_first():
    lead = Lead()
    assert lead.due() is None
    lead.asked(0.0); lead.given(0.010); lead.taken(0.010)
    assert lead.due() is None  # the taker's time is not known yet
    lead.ready(0.110); lead.asked(0.110); lead.given(0.125); lead.taken(0.125)
    # the shortest take (100 ms) less the longest give (15 ms)
    assert lead.due() == pytest.approx(0.125 + 0.100 - 0.015)
    lead.ready(0.155)  # the taker came early: its own ask stands, the due one is dropped
    assert lead.due() is None
    lead.asked(0.155); lead.given(0.165); lead.taken(0.165)
    assert lead.due() == pytest.approx(0.165 + 0.030 - 0.015)
    # a long take (a full dream) is forgotten once RECENT shorter ones have come
    t, longest = 0.165, []
    for work in [5.0] + [0.1] * Lead.RECENT:
        t += work
        lead.ready(t); lead.asked(t); t += 0.01; lead.given(t); lead.taken(t)
        longest.append(round(max(lead.taker), 3))
    assert longest == [5.0] * Lead.RECENT + [0.1]


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

"""What a live show remembers: a shot it cuts back to is dreamt on from where it was left, laid
onto the new frame along the flow; and what a moving subject uncovers before a still camera takes
back the dream it had."""

import functools

import cv2
import numpy as np
import pytest
import torch

from streamdream.config import DreamConfig, VideoConfig
from streamdream.engine.dreamer import Dreamer
from streamdream.engine.motion import Motion, MotionTracker
from streamdream.engine.shots import ShotMemory, gray_of
from streamdream.engine.still import STILL_END, STILL_FULL, STILL_PX, StillMemory, standing_still
from streamdream.engine.temporal import StreamDreamer
from streamdream.engine.tensors import to_tensor

from .conftest import passes_of, pattern_frame

SMALL = DreamConfig(layers="block4", octaves=2, iterations=3, step=0.01, jitter=4, seed=3, device="cpu")


def other_scene(index: int, width: int, height: int) -> np.ndarray:
    """A textured scene nothing like `pattern_frame`'s, in other colours, sliding 2 px a frame down."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    y = y - 2 * index
    r = 60 + 50 * np.sin(x / 4.0 + y / 11.0)
    g = 190 + 50 * np.cos(y / 3.0) * np.sin(x / 17.0)
    b = 90 + 80 * np.sin((x - y) / 6.0)
    return np.stack([r, g, b], -1).clip(0, 255).astype(np.uint8)


def _tensor(image):
    return to_tensor(image, "cpu")


def test_a_kept_frame_is_recalled_with_the_flow_to_it_and_unrelated_ones_are_not():
    memory = ShotMemory(scene_cut=0.15)
    frame = _tensor(pattern_frame(0, 192, 108))
    detail = torch.randn(1, 3, 108, 192)
    memory.keep(frame, detail, strength=1.0)
    assert memory.recall(_tensor(other_scene(0, 192, 108))) is None
    # the same scene moved on 4 px: found, with the flow back to the kept frame about -4 px in x
    later = _tensor(pattern_frame(2, 192, 108))
    shot, motion = memory.recall(later)
    assert torch.equal(shot.detail, detail) and shot.detail is not detail  # a copy, safe from later changes
    inner = motion.flow[20:-20, 20:-20]  # the flow's own size (the frame is under SHOT_WIDTH)
    assert abs(float(np.median(inner[..., 0])) + 4) < 1 and abs(float(np.median(inner[..., 1]))) < 1
    assert motion.mask[20:-20, 20:-20].mean() > 0.8 and not motion.cut
    assert memory.shots == [] and memory.recalled == 1  # taken out: the show is in that shot again
    # a frame of another size never finds a dream it could not be laid onto, however alike
    small = pattern_frame(0, 400, 224)
    memory.keep(_tensor(small), torch.zeros(1, 3, 224, 400), strength=1.0)
    large = cv2.resize(small, (800, 448), interpolation=cv2.INTER_LINEAR)
    assert gray_of(_tensor(large)).shape == gray_of(_tensor(small)).shape
    assert memory.recall(_tensor(large)) is None and memory.recall(_tensor(small)) is not None


def test_a_frame_of_a_shot_kept_again_takes_its_place_and_the_oldest_goes():
    memory = ShotMemory(scene_cut=0.15, size=2)
    a, b = _tensor(pattern_frame(0, 96, 64)), _tensor(other_scene(0, 96, 64))
    memory.keep(a, torch.zeros(1, 3, 64, 96), 1.0)
    memory.keep(_tensor(pattern_frame(1, 96, 64)), torch.ones(1, 3, 64, 96), 1.0)  # the same shot, dreamt further
    assert len(memory.shots) == 1 and float(memory.shots[0].detail.mean()) == 1.0
    memory.keep(b, torch.zeros(1, 3, 64, 96), 1.0)
    memory.keep(_tensor(np.zeros((64, 96, 3), np.uint8)), torch.zeros(1, 3, 64, 96), 1.0)  # a third shot
    assert len(memory.shots) == 2 and memory.recall(a) is None  # the oldest, a's, went
    with pytest.raises(ValueError):
        ShotMemory(0.15, size=0)
    with pytest.raises(ValueError):
        gray_of(torch.zeros(3, 8, 8))


def _run(frames):
    stream, tracker = StreamDreamer(Dreamer.from_config(SMALL), VideoConfig(), live=True), MotionTracker(0.15)
    outs = [stream.next(f, tracker.next(f)) for f in frames]
    return stream, [o.astype(np.float32) - f for o, f in zip(outs, frames)]


def test_a_live_cut_back_to_a_shot_dreams_on_from_where_it_was_left():
    from streamdream.engine.temporal import CUT_BUILD_FRAMES

    w, h = 160, 96
    shot_a = [pattern_frame(i, w, h) for i in range(14)]
    # b, never seen before, is cut away from before its build is done (a quick cut, as a music
    # video's): the build is b's, not a's
    shot_b = [other_scene(i, w, h) for i in range(CUT_BUILD_FRAMES - 2)]
    back = [pattern_frame(i, w, h) for i in range(14, 16)]  # shot a again, a frame on from where it was left
    stream, details = _run(shot_a + shot_b + back)
    assert stream.memory.recalled == 1  # the cut to b found nothing; the cut back found a
    assert stream.building == 0  # a shot recalled whole has its structure: nothing to build
    left, returned = details[13], details[len(shot_a) + len(shot_b)]
    # the dream of a's last frame, moved on with the scene (a frame on: 2 px to the right), is the
    # return's dream
    moved = np.zeros_like(left)
    moved[:, 2:] = left[:, :-2]
    inner = (slice(12, -12), slice(16, -16))
    correlation = np.corrcoef(moved[inner].ravel(), returned[inner].ravel())[0, 1]
    assert correlation > 0.8
    assert np.abs(returned).mean() > 0.7 * np.abs(left).mean()
    # the check can fail: a cut to a shot never seen starts from a seed, nothing like a's dream
    _, fresh = _run(shot_b + back)
    seeded = fresh[len(shot_b)]
    assert np.corrcoef(moved[inner].ravel(), seeded[inner].ravel())[0, 1] < 0.3


@functools.lru_cache(maxsize=1)
def _loop_scene(width: int = 600, height: int = 96) -> np.ndarray:
    """Soft blobs, a few dozen pixels across, in colours that all follow one grey."""
    soft = cv2.GaussianBlur(np.random.default_rng(0).uniform(0, 1, (height, width)).astype(np.float32), (0, 0), 12)
    soft = np.clip((soft - soft.mean()) / soft.std() * 0.25 + 0.5, 0, 1)
    return (np.stack([soft, soft**2, np.sqrt(soft)], -1) * 255).astype(np.uint8)


def loop_frame(index: int, width: int = 160, height: int = 96) -> np.ndarray:
    """A view sliding 1 px a frame over `_loop_scene`: a few frames on it looks as its start does
    (their difference under a cut's), 23 on it looks unlike it (a cut back to the start)."""
    return np.ascontiguousarray(_loop_scene()[:height, index:index + width])


def test_a_looped_clip_cut_back_to_its_start_dreams_on_from_its_first_frames(monkeypatch):
    from streamdream.engine import temporal

    loop = [loop_frame(i) for i in range(24)]
    stream, details = _run(loop + loop[:2])
    assert stream.memory.recalled == 1  # the cut back to the start found the frame kept early in the loop
    # the dream of the frame kept (k frames in: the view k px further on), moved back to the
    # start, is the start's dream the second time round
    k, rows = temporal.KEEP_FIRST, slice(12, -12)
    kept = details[k][rows, 16:-16 - k]
    returned = details[len(loop)][rows, 16 + k:-16]
    assert np.corrcoef(kept.ravel(), returned.ravel())[0, 1] > 0.8
    # the check can fail: kept only seconds into a shot, the start was not found, and began from a seed
    monkeypatch.setattr(temporal, "KEEP_FIRST", 0)
    stream, fresh = _run(loop + loop[:2])
    assert stream.memory.recalled == 0
    assert np.corrcoef(kept.ravel(), fresh[len(loop)][rows, 16 + k:-16].ravel())[0, 1] < 0.3


def test_a_shot_recalled_in_part_is_shown_at_once_with_its_first_build_step_where_it_changed():
    # a cut back to a shot that has moved on since it was left: its dream is laid onto it at once,
    # with no seed to wait for, and where the flow lost it (what came in at the left edge since)
    # the build's first step is taken on the cut's own frame, at the octave below full size: had
    # that waited for the next frame, the shot was shown with its dream in one part and none in
    # the other, the most concentrated a show's dream ever was
    from streamdream.engine.dream import octave_sizes
    from streamdream.engine.temporal import CUT_BUILD_FRAMES

    w, h = 160, 96
    shot_a = [pattern_frame(i, w, h) for i in range(14)]
    shot_b = [other_scene(i, w, h) for i in range(6)]
    back = [pattern_frame(i, w, h) for i in range(17, 17 + CUT_BUILD_FRAMES)]  # 4 frames on: 8 px right
    stream, tracker = StreamDreamer(Dreamer.from_config(SMALL), VideoConfig(), live=True), MotionTracker(0.15)
    steps, details = [], []
    with passes_of(stream.dreamer.net) as sizes:
        for f in shot_a + shot_b + back:
            before = len(sizes)
            details.append(stream.next(f, tracker.next(f)).astype(np.float32) - f)
            steps.append(sizes[before:])
            if len(details) == len(shot_a) + len(shot_b) + 1:
                assert stream.building == CUT_BUILD_FRAMES - 1  # recalled in part: it builds, one step taken
    cut = len(shot_a) + len(shot_b)
    assert stream.memory.recalled == 1
    below = [octave_sizes(h, w, 2, SMALL.octave_scale)[0]]
    assert steps[len(shot_a)] and below[0] not in steps[len(shot_a)]  # the cut to b made a seed
    assert steps[cut:] == [below] * CUT_BUILD_FRAMES  # the cut back: the build, from its own frame on
    left, returned = details[len(shot_a) - 1], details[cut]
    strength = lambda d: float(np.abs(d).mean())
    # what came in since (the left 8 px) has a dream at once; the rest has a's, moved on with the scene
    edge = (slice(12, -12), slice(0, 4))
    assert strength(returned[edge]) > 0.3 * strength(left)
    moved = np.zeros_like(left)
    moved[:, 8:] = left[:, :-8]
    inner = (slice(12, -12), slice(24, -16))
    assert np.corrcoef(moved[inner].ravel(), returned[inner].ravel())[0, 1] > 0.8
    assert strength(details[-1][edge]) > 0.5 * strength(left)  # built on since


@pytest.mark.parametrize("live", [True, False])
def test_a_live_cut_builds_the_new_shot_at_the_octave_below_full_size(live):
    # a new shot's first dreamt frames take their steps over the whole frame seen at the octave
    # below full size, where a network builds eyes and faces, then the usual full-size steps; a
    # file's cut is a full dream, which builds them itself. Live, the new shot's pixels count as
    # newly shown until the build is done, so the full-size steps after it come fresh
    from streamdream.engine.dream import octave_sizes
    from streamdream.engine.temporal import CUT_BUILD_FRAMES

    w, h = 160, 96
    video = VideoConfig()
    frames = [pattern_frame(i, w, h) for i in range(3)] + [other_scene(i, w, h) for i in range(CUT_BUILD_FRAMES + 3)]
    stream, tracker = StreamDreamer(Dreamer.from_config(SMALL), video, live=live), MotionTracker(0.15)
    steps = []  # the sizes each frame's network passes saw
    settled = []  # how settled the most settled pixel is after each frame
    with passes_of(stream.dreamer.net) as sizes:
        for f in frames:
            before = len(sizes)
            stream.next(f, tracker.next(f))
            steps.append(sizes[before:])
            settled.append(float(stream.settled.max()))
    full, below = [(h, w)] * video.refine_iterations, [octave_sizes(h, w, 2, SMALL.octave_scale)[0]]
    assert below[0] == (69, 114)
    assert steps[1:3] == [full, full]
    if live:
        assert (h, w) not in steps[3]  # the cut's quick seed, smaller than the frame
        assert steps[4:4 + CUT_BUILD_FRAMES] == [below] * CUT_BUILD_FRAMES
        assert steps[4 + CUT_BUILD_FRAMES:] == [full, full]
        assert settled[3:4 + CUT_BUILD_FRAMES] == [0.0] * (CUT_BUILD_FRAMES + 1)
        assert settled[4 + CUT_BUILD_FRAMES:] == pytest.approx([1 / video.fresh_frames, 2 / video.fresh_frames])
    else:
        assert stream.keyframes == 2 and steps[3][-1] == (h, w)  # the full dream ends at full size
        assert steps[4:] == [full] * (CUT_BUILD_FRAMES + 2)


def test_a_frame_of_a_shot_the_show_has_cut_away_from_takes_no_steps_but_is_carried():
    # the display saw a cut while the dream thread held a frame of the shot before it (see
    # pipeline.NewestFrame.stale): that frame's steps are spared, so the new shot's frame comes
    # sooner; if the frame after it turns out to be of the same shot, the stale one is carried
    # first, with no steps, so the dream stays where the picture is
    import threading

    w, h = 160, 96
    frames = [pattern_frame(i, w, h) for i in range(6)]
    stream, tracker = StreamDreamer(Dreamer.from_config(SMALL), VideoConfig(), live=True), MotionTracker(0.15)
    stream.stale = threading.Event()
    steps, details = [], []
    with passes_of(stream.dreamer.net) as sizes:
        for k, f in enumerate(frames):
            if k == 3:
                stream.stale.set()
            before = len(sizes)
            details.append(stream.next(f, tracker.next(f)).astype(np.float32) - f)
            steps.append(len(sizes) - before)
            stream.stale.clear()
            if k == 3:
                assert stream.deferred is not None and stream.carried == 2  # taken, not carried yet
    # the stale frame takes no steps; the next, of the same shot, carries it with none, then its own
    assert steps[1:3] == [VideoConfig().refine_iterations] * 2 and steps[3] == 0
    assert steps[4] == VideoConfig().refine_iterations and stream.deferred is None and stream.carried == 5
    # frame 4's dream is frame 2's, moved on with the scene through frame 3 (2 px right a frame)
    moved = np.zeros_like(details[2])
    moved[:, 4:] = details[2][:, :-4]
    inner = (slice(12, -12), slice(16, -16))
    assert np.corrcoef(moved[inner].ravel(), details[4][inner].ravel())[0, 1] > 0.9
    unmoved = np.corrcoef(details[2][inner].ravel(), details[4][inner].ravel())[0, 1]
    assert unmoved < np.corrcoef(moved[inner].ravel(), details[4][inner].ravel())[0, 1] - 0.2


def test_a_stale_frame_is_never_carried_when_the_next_begins_a_new_shot():
    import threading

    w, h = 160, 96
    frames = [pattern_frame(i, w, h) for i in range(3)] + [other_scene(0, w, h)]
    stream, tracker = StreamDreamer(Dreamer.from_config(SMALL), VideoConfig(), live=True), MotionTracker(0.15)
    stream.stale = threading.Event()
    for k, f in enumerate(frames):
        if k == 2:
            stream.stale.set()
        motion = tracker.next(f)
        stream.next(f, motion)
        stream.stale.clear()
    assert motion.cut and stream.deferred is None
    assert stream.carried == 1  # frame 1 only: the stale frame 2 was dropped at the cut
    # the shot left is kept with the last frame that was carried, frame 1, and its detail
    assert np.array_equal(stream.memory.shots[0].gray, gray_of(_tensor(frames[1])))


def test_the_build_raises_what_the_network_sees_in_the_new_shot(monkeypatch):
    # the build is worth its time only if the network responds more to the new shot it dreamt:
    # its objective at the octave below full size, after the build, against the same frames
    # dreamt with no build
    import streamdream.engine.temporal as temporal
    from streamdream.engine.dream import octave_sizes, resize
    from streamdream.engine.gradient import objective_gradient

    w, h = 160, 96
    frames = [pattern_frame(i, w, h) for i in range(3)] + [other_scene(i, w, h) for i in range(temporal.CUT_BUILD_FRAMES + 1)]
    responses = []
    for frames_built in (temporal.CUT_BUILD_FRAMES, 0):
        monkeypatch.setattr(temporal, "CUT_BUILD_FRAMES", frames_built)
        stream, details = _run(frames)
        dreamer = stream.dreamer
        last = (_tensor(frames[-1]) + torch.from_numpy(details[-1] / 255.0).permute(2, 0, 1)[None]).clamp(0, 1).float()
        small = resize(last, octave_sizes(h, w, 2, SMALL.octave_scale)[0])
        responses.append(objective_gradient(small, dreamer.net, dreamer.objective)[1])
    built, unbuilt = responses
    assert built > 1.1 * unbuilt


def doubted(motion, pixels: int):
    """`motion` with its flow check doubting exactly `pixels` of its pixels, the rest trusted (a
    cut stays a cut): how far a frame counts towards a rebuild is set by it (see TYPICAL_DOUBT)."""
    if motion is None:
        return None
    mask = np.ones_like(motion.mask)
    mask.flat[:pixels] = 0.0
    return Motion(motion.flow, mask, motion.cut)


# a 160x96 frame's flow check doubting 800 of its 15,360 pixels (5.2%, a little over TYPICAL_DOUBT):
# each frame counts a little over one towards a rebuild
TYPICAL_PIXELS = 800


@pytest.mark.parametrize("every, pixels, first", [(0, TYPICAL_PIXELS, None), (8, TYPICAL_PIXELS, 8), (8, 1280, 5),
                                                  (8, 7680, 1), (8, 0, None)])
def test_a_live_shot_rebuilds_its_structure_sooner_the_more_the_flow_check_doubts(every, pixels, first):
    # with rebuild_every set, the whole frame takes one step at the octave below full size for
    # REBUILD_FRAMES frames, in place of its usual steps, at least a whole step where the dream has
    # been carried a while, seen mirrored beyond its edges (REBUILD_MIRROR, scaled to that octave),
    # once the dreamt frames since the last add up to it, each counted by the share of the frame
    # the flow check doubts over TYPICAL_DOUBT: the 8th frame where it doubts as much as usual,
    # the 5th where it doubts 8.3% (4 frames' 1.67 fall short of 8, 5 reach it), the 1st where it
    # doubts half of the frame (10 at once); never where it doubts nothing (a moving camera's
    # frame always doubts the strip it brings in), nor with 0. Band steps follow a rebuild where
    # the count has not run up to another during it
    from streamdream.engine.dream import octave_sizes
    from streamdream.engine.temporal import REBUILD_FRAMES, REBUILD_MIRROR, TYPICAL_DOUBT

    assert TYPICAL_DOUBT == 0.05
    w, h = 160, 96
    video = VideoConfig()
    frames = [pattern_frame(i, w, h) for i in range(1 + 8 + REBUILD_FRAMES + 2)]
    stream, tracker = StreamDreamer(Dreamer.from_config(SMALL), video, live=True), MotionTracker(0.15)
    stream.rebuild_every = every
    steps = []
    with passes_of(stream.dreamer.net) as sizes:
        for f in frames:
            before = len(sizes)
            motion = tracker.next(f)
            assert motion is None or motion.mask.shape == (h, w)
            stream.next(f, doubted(motion, pixels))
            steps.append(sizes[before:])
    full = [(h, w)] * video.refine_iterations
    bh, bw = octave_sizes(h, w, 2, SMALL.octave_scale)[0]
    pad = round(REBUILD_MIRROR * bw / w)
    below = [(bh + 2 * pad, bw + 2 * pad)]
    assert pad > 0
    if first is None:
        assert steps[1:] == [full] * (len(frames) - 1)
        return
    # frame k is carried frame k - 1: the `first`th carried frame begins the rebuild
    assert steps[1:first] == [full] * (first - 1)
    assert steps[first:first + REBUILD_FRAMES] == [below] * REBUILD_FRAMES
    if pixels == TYPICAL_PIXELS:
        # six frames counted in the rebuild, two more to the next
        assert steps[first + REBUILD_FRAMES:first + REBUILD_FRAMES + 2] == [full] * 2


def test_a_rebuild_raises_what_the_network_sees_in_a_carried_shot():
    # worth its time only if the network responds more to the shot after it: the objective at the
    # octave below full size on the last frame's dream, against the same frames with no rebuild
    from streamdream.engine.dream import octave_sizes, resize
    from streamdream.engine.gradient import objective_gradient
    from streamdream.engine.temporal import REBUILD_FRAMES

    w, h = 160, 96
    frames = [pattern_frame(i, w, h) for i in range(1 + 4 + REBUILD_FRAMES)]
    responses = []
    for every in (4, 0):
        stream, tracker = StreamDreamer(Dreamer.from_config(SMALL), VideoConfig(), live=True), MotionTracker(0.15)
        stream.rebuild_every = every
        dreamt = [stream.next(f, doubted(tracker.next(f), TYPICAL_PIXELS)) for f in frames][-1]
        small = resize(_tensor(dreamt).float(), octave_sizes(h, w, 2, SMALL.octave_scale)[0])
        responses.append(objective_gradient(small, stream.dreamer.net, stream.dreamer.objective)[1])
    rebuilt, carried = responses
    assert rebuilt > 1.1 * carried


def test_a_rebuild_steps_carried_pixels_whole_and_evenly_and_a_cut_s_build_comes_first(monkeypatch):
    # the rebuild's weight is at least 1 where the usual weight is the carried step's fraction
    # (and more where newly shown), and its steps are even (dream.even_out) as a cut's build's
    # are; a cut during a rebuild ends it, its own build taking over
    import streamdream.engine.temporal as temporal
    from streamdream.engine.temporal import CUT_BUILD_FRAMES

    w, h = 160, 96
    weights, evens = [], []
    real = temporal.refine_at

    def spy(*a, **k):
        weights.append(a[-1].clone())
        evens.append(k.get("even", False))
        return real(*a, **k)

    monkeypatch.setattr(temporal, "refine_at", spy)
    frames = [pattern_frame(i, w, h) for i in range(4)] + [other_scene(i, w, h) for i in range(CUT_BUILD_FRAMES + 2)]
    stream, tracker = StreamDreamer(Dreamer.from_config(SMALL), VideoConfig(), live=True), MotionTracker(0.15)
    stream.rebuild_every = 3
    for k, f in enumerate(frames):
        stream.next(f, doubted(tracker.next(f), TYPICAL_PIXELS))
        if k == 3:
            # carried frames 0-2: the third began a rebuild, and the cut comes in it
            assert len(weights) == 1 and stream.rebuilding == temporal.REBUILD_FRAMES - 1
            assert float(weights[0].min()) >= 1.0 and float(weights[0].max()) <= VideoConfig().fresh_step
    # the cut's seed, then its build's frames (fresh pixels: the fresh step), then a frame of the
    # usual steps: the rebuild the cut came in is over, not taken up again after the build
    assert stream.building == 0 and stream.rebuilding == 0 and len(weights) == 1 + CUT_BUILD_FRAMES
    assert all(float(wt.min()) == VideoConfig().fresh_step for wt in weights[1:1 + CUT_BUILD_FRAMES])
    assert evens == [True] * (1 + CUT_BUILD_FRAMES)


@pytest.mark.parametrize("regions, asked, rebuilds", [(None, None, 25), (1, None, 0), (None, 0, 0), (1, 40, 40)])
def test_a_cpu_s_live_show_rebuilds_by_default_and_a_setting_says_otherwise(regions, asked, rebuilds):
    # a CPU steps bands (stage.LIVE_CPU_REGIONS) and rebuilds every LIVE_CPU_REBUILD_EVERY frames;
    # whole-frame steps (a GPU's, or step_regions 1) do not, unless [live] rebuild_every asks
    from dataclasses import replace

    from streamdream.config import Config
    from streamdream.live.stage import LIVE_CPU_REBUILD_EVERY, LiveStage

    assert LIVE_CPU_REBUILD_EVERY == 25
    config = Config()
    config = replace(config, dream=replace(config.dream, layers="block4", octaves=2, iterations=1, seed=3, device="cpu"),
                     live=replace(config.live, step_regions=regions, rebuild_every=asked))
    stage = LiveStage(config, [], {})
    try:
        assert stage.stream.rebuild_every == rebuilds
    finally:
        stage.looks.close()


def test_only_a_live_stream_keeps_shots():
    assert StreamDreamer(Dreamer.from_config(SMALL), VideoConfig()).memory is None


def test_standing_still_tells_a_still_camera_from_a_moving_one():
    # the flow at half the frame's size, as the flow stage gives it: its pixels are two of the frame's
    flow = np.zeros((20, 30, 2), np.float32)
    flow[5:10, 5:10, 0] = 3.0  # a subject moves, the camera does not
    flow[12, 20, 0] = 0.9 * STILL_PX / 2  # a flicker of the flow, under STILL_PX of the frame's pixels
    still, camera = standing_still(flow, 40, 60, "cpu")
    assert camera and still.shape == (1, 1, 40, 60) and set(still.unique().tolist()) == {0.0, 1.0}
    assert float(still[0, 0, 11:19, 11:19].sum()) == 0 and float(still[0, 0, 24, 40]) == 1
    assert float(still.mean()) == pytest.approx(1 - 100 / 2400, abs=0.01)
    pan = np.full((20, 30, 2), STILL_PX, np.float32)  # half a frame pixel, as the flow's pixels are two
    assert not standing_still(pan, 40, 60, "cpu")[1]
    with pytest.raises(ValueError):
        standing_still(np.zeros((20, 30)), 40, 60, "cpu")


def test_the_memory_gives_back_only_uncovered_pixels_that_look_as_they_did():
    memory = StillMemory()
    picture = _tensor(pattern_frame(0, 64, 48))
    assert memory.recall(picture, torch.ones(1, 1, 48, 64)) is None  # nothing kept yet
    detail, still = torch.randn(1, 3, 48, 64), torch.zeros(1, 1, 48, 64)
    still[..., :, :32] = 1  # only the left half stood still
    memory.update(picture, detail, still)
    uncovered = torch.zeros(1, 1, 48, 64)
    uncovered[..., 10:40, 10:50] = 1
    changed = picture.clone()
    changed[..., 30:48, :] = 1.0 - changed[..., 30:48, :]  # the bottom rows look otherwise now
    kept, back = memory.recall(changed, uncovered)
    assert torch.equal(kept[..., :32], detail[..., :32])
    expected = torch.zeros(1, 1, 48, 64)
    expected[..., 10:28, 10:30] = 1  # uncovered, kept and looking as it did, two pixels (the blur) from the rest
    assert torch.equal(back, expected)
    assert memory.recall(_tensor(pattern_frame(0, 32, 24)), torch.ones(1, 1, 24, 32)) is None
    memory.forget()
    assert memory.recall(picture, uncovered) is None


def _crossed(index: int, width: int = 160, height: int = 96) -> np.ndarray:
    """A still textured scene crossed by a flat grey square, 36 px a side, moving 6 px a frame
    right from frame 10 on (parked at the left before)."""
    frame = pattern_frame(0, width, height)
    x = 4 + 6 * max(0, index - 10)
    frame[30:66, x:x + 36] = 128
    return frame


def test_what_a_subject_uncovers_before_a_still_camera_takes_back_its_dream(monkeypatch):
    frames = [_crossed(i) for i in range(32)]
    stream, details = _run(frames)
    before = details[9][30:66, 80:100]  # dreamt a while, before the square crosses it
    after = details[31][30:66, 80:100]  # covered from frame 17 and uncovered again by frame 27
    assert np.corrcoef(before.ravel(), after.ravel())[0, 1] > 0.7
    # the check can fail: with nothing kept, the uncovered pixels are dreamt afresh
    monkeypatch.setattr(StillMemory, "recall", lambda self, picture, uncovered: None)
    _, fresh = _run(frames)
    assert np.corrcoef(before.ravel(), fresh[31][30:66, 80:100].ravel())[0, 1] < 0.5


def test_a_pixel_that_stood_still_long_enough_takes_no_more_steps():
    memory = StillMemory()
    assert memory.taper() is None
    still = torch.ones(1, 1, 4, 6)
    still[..., 0, 0] = 0
    for _ in range(STILL_FULL):
        memory.watch(still)
    taper = memory.taper()
    assert float(taper[..., 1, 1]) == 1.0 and float(taper[..., 0, 0]) == 1.0
    for _ in range(STILL_END - STILL_FULL):
        memory.watch(still)
    taper = memory.taper()
    assert float(taper[..., 1, 1]) == 0.0 and float(taper[..., 0, 0]) == 1.0  # the one that moved starts over


def test_a_still_scene_s_dream_is_left_as_it_is_once_grown():
    # an installation's empty room: once every pixel has stood still STILL_END dreamt frames, the
    # dream neither steps nor is lifted any more (with both, its weakest colours grew into single
    # saturated pixels over a few hundred frames)
    frame = pattern_frame(0, 96, 64)
    stream, details = _run([frame] * (STILL_END + 12))
    grown, later = details[STILL_END + 2], details[-1]
    assert np.abs(grown).mean() > 1.0  # a dream, not a plain picture
    assert np.abs(later - grown).max() < 1.0  # and it stays as it was, to the rounding of a frame
    assert np.abs(details[10] - details[20]).mean() > 0.1  # before, it grew

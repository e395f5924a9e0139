"""The depth measure on made-up outputs whose answer is known: a copy of the input scores 1,
noise less, a full dream more; and the retained share is the excess over 1 as a share of a
reference's."""

import numpy as np
import pytest
import torch

from streamdream.config import DreamConfig
from streamdream.data import demo_clip
from streamdream.depth import Depth, DepthJudge, measure_depth
from streamdream.engine.dreamer import Dreamer
from streamdream.engine.tensors import to_frame, to_tensor
from streamdream.media.video_in import VideoFileSource


@pytest.fixture(scope="module")
def judge():
    return DepthJudge()


@pytest.fixture(scope="module")
def frames():
    source = VideoFileSource(demo_clip(), 256, max_frames=3)
    try:
        return [f.image for f in source.frames()]
    finally:
        source.close()


def test_a_copy_scores_exactly_one(judge, frames):
    depth = measure_depth(frames, [f.copy() for f in frames], judge)
    assert depth.frames == 3
    assert depth.ratio == {"block10": pytest.approx(1.0), "block16": pytest.approx(1.0)}
    assert all(v == pytest.approx(1.0) for v in depth.per_frame["block16"])


def test_noise_scores_below_one_and_more_noise_lower(judge, frames):
    rng = np.random.default_rng(0)
    ratios = []
    for sigma in (12, 40):
        noisy = [np.clip(f + rng.normal(0, sigma, f.shape), 0, 255).astype(np.uint8) for f in frames]
        ratios.append(measure_depth(frames, noisy, judge).ratio["block16"])
    assert ratios[0] < 0.97 and ratios[1] < ratios[0]


def test_a_full_dream_scores_well_above_one(judge, frames, lite0):
    spec, network = lite0
    torch.manual_seed(0)
    dreamer = Dreamer.from_config(DreamConfig(seed=0, device="cpu", octaves=3, iterations=8), network, None)
    dreams = [to_frame(dreamer.dream_tensor(to_tensor(f, dreamer.device))) for f in frames[:2]]
    depth = measure_depth(frames, dreams, judge)
    assert depth.ratio["block16"] > 1.3
    assert depth.frames == 2


def test_depth_where_the_input_moves(judge, frames):
    # a copy scores 1 where the picture moves too; a still picture has nowhere that moves
    from .conftest import pattern_frame

    sliding = [pattern_frame(i, 192, 108, speed=3) for i in range(4)]
    depth = measure_depth(sliding, [f.copy() for f in sliding], judge)
    assert depth.moving["block16"] == pytest.approx(1.0)
    still = measure_depth([frames[0]] * 3, [frames[0]] * 3, judge)
    assert np.isnan(still.moving["block16"])
    # noise over half of the moving picture: the moving ratio falls
    rng = np.random.default_rng(1)
    half = [f.copy() for f in sliding]
    for f in half:
        f[:, :96] = np.clip(f[:, :96] + rng.normal(0, 40, f[:, :96].shape), 0, 255).astype(np.uint8)
    noisy = measure_depth(sliding, half, judge)
    assert noisy.moving["block16"] < 0.95


def test_depth_where_picked_frames_move(judge, frames):
    # frames picked from a show are judged where they move against the frame before each, not
    # against the pick before (which shows another moment): the same noise on a still frame and
    # on a moving one is judged only on the moving one
    from .conftest import pattern_frame

    from streamdream.depth import measure_depths

    sliding = [pattern_frame(i, 192, 108, speed=3) for i in range(4)]
    still = frames[0][:108, :192].copy()
    picked, before = [still, sliding[3]], [still, sliding[2]]
    rng = np.random.default_rng(2)
    noisy = [np.clip(f + rng.normal(0, 40, f.shape), 0, 255).astype(np.uint8) for f in picked]
    copy, dreamt = measure_depths(picked, [[f.copy() for f in picked], noisy], judge, before=before)
    assert copy.moving["block16"] == pytest.approx(1.0)
    alone = measure_depths([sliding[3]], [[noisy[1]]], judge, before=[sliding[2]])[0]
    assert dreamt.moving["block16"] == pytest.approx(alone.moving["block16"])
    assert dreamt.moving["block16"] < 0.95
    with pytest.raises(ValueError, match="frame before each"):
        measure_depths(picked, [picked], judge, before=[sliding[2]])


def test_every_and_size_checks(judge, frames):
    assert measure_depth(frames, frames, judge, every=2).frames == 2
    with pytest.raises(ValueError, match="differ in size"):
        measure_depth(frames, [f[:64] for f in frames], judge)
    with pytest.raises(ValueError, match="at least one frame"):
        measure_depth([], [], judge)


def test_retained_is_the_excess_as_a_share_of_the_references():
    full = Depth(2, {"block16": 1.8}, {"block16": (1.8, 1.8)})
    assert Depth(2, {"block16": 1.6}, {}).retained(full, "block16") == pytest.approx(0.75)
    assert Depth(2, {"block16": 0.9}, {}).retained(full, "block16") == pytest.approx(-0.125)
    assert np.isnan(Depth(2, {"block16": 1.2}, {}).retained(Depth(2, {"block16": 1.0}, {}), "block16"))


def _live_depth(frames, judge, **live):
    from dataclasses import replace

    from streamdream.config import Config
    from streamdream.engine.motion import MotionTracker
    from streamdream.live.stage import LiveStage

    config = Config()
    config = replace(config, dream=replace(config.dream, seed=3, device="cpu"), live=replace(config.live, **live))
    stage = LiveStage(config, [], {})
    try:
        tracker = MotionTracker(config.video.scene_cut)
        shown = [np.clip(f + stage.next(f, tracker.next(f)), 0, 255).astype(np.uint8) for f in frames]
    finally:
        stage.looks.close()
    return measure_depth(frames[-20:], shown[-20:], judge)


@pytest.mark.slow
def test_the_live_stage_keeps_its_depth_over_60_frames(judge):
    # the shipped clip, 60 frames as a camera would send them, through the live stage's default
    # path on a CPU; over the last 20 its depth must stay well above a plain picture's 1
    source = VideoFileSource(demo_clip(), 480, max_frames=60)
    try:
        frames = [f.image for f in source.frames()]
    finally:
        source.close()
    assert len(frames) == 60
    kept = _live_depth(frames, judge)
    assert kept.ratio["block16"] > 1.25
    # the check can fail: the old live path, dreaming at half the shown size and scaling the
    # detail up, showed a texture its judge barely saw
    assert _live_depth(frames, judge, dream_scale=0.5, step_regions=1).ratio["block16"] < 1.2

import numpy as np
import pytest

from streamdream.config import DreamConfig, VideoConfig
from streamdream.dreamer import Dreamer
from streamdream.metrics import temporal_metrics
from streamdream.metrics import strength
from streamdream.temporal import MotionTracker, StreamDreamer

from .conftest import pattern_frame

SMALL = DreamConfig(layers="block4", octaves=2, iterations=3, step=0.01, jitter=4, seed=3, device="cpu")


@pytest.fixture(scope="module")
def dreamer():
    return Dreamer.from_config(SMALL)


def _run(dreamer, frames, video=VideoConfig()):
    stream, tracker = StreamDreamer(dreamer, video), MotionTracker(video.scene_cut)
    return [stream.next(f, tracker.next(f) if video.flow else None) for f in frames], stream


def test_first_frame_full_dream_then_carried_and_a_cut_starts_over(dreamer):
    frames = [pattern_frame(i, 64, 48) for i in range(6)]
    frames += [255 - pattern_frame(i, 64, 48)[::-1] for i in range(3)]  # a scene cut
    outs, stream = _run(dreamer, frames)
    assert stream.keyframes == 2
    assert all(o.shape == f.shape and o.dtype == np.uint8 for o, f in zip(outs, frames))
    assert all(strength(o, f) > 0.005 for o, f in zip(outs, frames))


def test_no_flow_dreams_every_frame(dreamer):
    frames = [pattern_frame(i, 64, 48) for i in range(4)]
    _, stream = _run(dreamer, frames, VideoConfig(flow=False))
    assert stream.keyframes == 4


def test_flow_path_is_steadier_than_dreaming_each_frame(dreamer):
    frames = [pattern_frame(i, 80, 60) for i in range(16)]
    flow_outs, _ = _run(dreamer, frames)
    scratch_outs, _ = _run(dreamer, frames, VideoConfig(flow=False))
    steady, flicker = temporal_metrics(frames, flow_outs), temporal_metrics(frames, scratch_outs)
    assert steady.ratio < 1.5
    assert flicker.ratio > 2 * steady.ratio
    assert steady.strength > 0.8 * flicker.strength  # coherence does not come from dreaming less


def test_dream_does_not_build_up_over_250_frames(dreamer):
    frames = (pattern_frame(i, 64, 48, speed=1) for i in range(250))
    stream, tracker = StreamDreamer(dreamer, VideoConfig()), MotionTracker(VideoConfig().scene_cut)
    strengths = []
    for f in frames:
        strengths.append(strength(stream.next(f, tracker.next(f)), f))
    first, last = np.mean(strengths[:50]), np.mean(strengths[-50:])
    assert stream.keyframes == 1
    assert 0.7 * first <= last <= 1.3 * first


def test_motion_of_the_first_frame_is_none_and_sizes_must_match():
    tracker = MotionTracker(0.15)
    assert tracker.next(pattern_frame(0, 64, 48)) is None
    motion = tracker.next(pattern_frame(1, 64, 48))
    assert motion.flow.shape == (48, 64, 2) and motion.mask.shape == (48, 64) and not motion.cut

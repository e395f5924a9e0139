import numpy as np
import pytest
import torch

from streamdream.config import DreamConfig, VideoConfig
from streamdream.engine.dreamer import Dreamer
from streamdream.metrics import strength, temporal_metrics
from streamdream.engine.motion import MotionTracker
from streamdream.engine.dream import ascend_band, ascend_box
from streamdream.engine.blur import LOCAL_SHARE, box_blur, local_strength
from streamdream.engine.temporal import StreamDreamer, even_strength, hold_strength, soften
from streamdream.engine.warp import Along
from streamdream.engine.temporal import band_spans as temporal_band_spans, weakest_band, weakest_band_either_way

from .conftest import object_frame, passes_of, pattern_frame

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
    # this smooth synthetic pattern warps almost exactly, so the input's own E_warp, the ratio's
    # floor, is near 0 and the ratio's absolute target says nothing here: the two paths are compared
    assert flicker.ratio > 10 * steady.ratio
    assert steady.coherence > 0.85 and flicker.coherence < 0.6
    assert steady.strength > 0.8 * flicker.strength  # coherence does not come from dreaming less


def test_a_video_carries_its_detail_frame_to_frame_and_a_slow_pan_does_not_shimmer(dreamer):
    # a pan of a third of a pixel a frame: laid down from a frame up to 16 back (as a live show
    # does, see temporal.ANCHOR_FRAMES), the detail's sharpness came and went with the chained
    # flow's fraction of a pixel, and differed from the frame before moved along the flow by more
    frames = [pattern_frame(i, 96, 72, speed=0.37) for i in range(16)]
    video, _ = _run(dreamer, frames)
    stream, tracker = StreamDreamer(dreamer, VideoConfig()), MotionTracker(VideoConfig().scene_cut)
    stream.anchor_frames = 16
    anchored = [stream.next(f, tracker.next(f)) for f in frames]
    steady, shimmer = temporal_metrics(frames, video), temporal_metrics(frames, anchored)
    assert steady.ewarp_output < 0.85 * shimmer.ewarp_output
    assert steady.coherence > shimmer.coherence
    assert steady.strength > 0.9 * shimmer.strength  # not steadier by dreaming less


def test_a_carry_from_a_fresh_anchor_takes_the_short_way_to_the_same_dream(monkeypatch):
    # a video anchors every frame: its carry lays the anchor down along the one flow instead of
    # warping the zeros added, the gain of ones and an empty chain; a detail that is not the
    # anchor (cloned here) takes the general way, which must give the same dream
    frames = [pattern_frame(i, 80, 60, speed=0.6) for i in range(6)]
    warped = []
    original = Along.warp
    monkeypatch.setattr(Along, "warp", lambda self, image, mode="bicubic": warped.append(1) or original(self, image, mode))
    short, _ = _run(Dreamer.from_config(SMALL), frames)  # each its own, seeded alike: the same jitter
    short_warps, warped[:] = len(warped), []

    class Cloning(StreamDreamer):
        def _carried(self, base, motion):
            self.detail = self.detail.clone()
            return super()._carried(base, motion)

    tracker = MotionTracker(VideoConfig().scene_cut)
    stream = Cloning(Dreamer.from_config(SMALL), VideoConfig())
    general = [stream.next(f, tracker.next(f)) for f in frames]
    assert short_warps < len(warped)  # the short way warps less
    assert all(np.abs(a.astype(int) - b.astype(int)).max() <= 1 for a, b in zip(short, general))


@pytest.mark.parametrize("video,full_size_passes", [
    (VideoConfig(), 2),  # the default: two full-size steps a frame, none at the smaller octaves
    (VideoConfig(refine_iterations=0, refine_octaves=4), 0),  # one step a frame at a smaller octave, in turn
    (VideoConfig(refine_iterations=1, refine_octaves=4), 1),
    (VideoConfig(refine_iterations=2, refine_octaves=1), 2),
])
def test_steps_a_carried_frame_takes(dreamer, video, full_size_passes):
    # the cost of a carried frame is set by where its steps run: record each network pass's size
    frames = [pattern_frame(i, 128, 96) for i in range(5)]
    stream, tracker = StreamDreamer(dreamer, video), MotionTracker(video.scene_cut)
    stream.next(frames[0], tracker.next(frames[0]))  # the keyframe's full dream
    with passes_of(dreamer.net) as sizes:
        for f in frames[1:]:
            before = len(sizes)
            stream.next(f, tracker.next(f))
            passes = sizes[before:]
            assert sum(s == (96, 128) for s in passes) == full_size_passes
            smaller = [s for s in passes if s != (96, 128)]
            assert len(smaller) == (1 if video.refine_octaves > 1 else 0)
            assert all(h < 96 and w < 128 for h, w in smaller)
    assert stream.keyframes == 1
    # the three smaller octaves of four, taken in turn
    assert len({s for s in sizes if s != (96, 128)}) == (3 if video.refine_octaves > 1 else 0)


@pytest.mark.parametrize("live_iterations", [1, 2])
def test_a_live_show_takes_its_own_steps_a_frame_not_a_files(live_iterations):
    # a camera does not wait for the dream: a live show takes [live] refine_iterations full-size
    # steps a dreamt frame, whatever [video] asks of a file's frames
    from dataclasses import replace

    from streamdream.config import Config
    from streamdream.live.stage import LiveStage

    config = Config()
    config = replace(config, dream=replace(config.dream, layers="block4", octaves=2, iterations=2, seed=3, device="cpu"),
                     video=replace(config.video, refine_iterations=3),
                     live=replace(config.live, step_regions=1, refine_iterations=live_iterations))
    stage = LiveStage(config, [], {})
    try:
        frames = [pattern_frame(i, 128, 96) for i in range(4)]
        tracker = MotionTracker(config.video.scene_cut)
        stage.next(frames[0], tracker.next(frames[0]))  # the first frame's full dream
        with passes_of(stage.stream.dreamer.net) as sizes:
            for f in frames[1:]:
                before = len(sizes)
                stage.next(f, tracker.next(f))
                assert sizes[before:] == [(96, 128)] * live_iterations
    finally:
        stage.looks.close()


def test_the_detail_a_live_display_gets_is_the_dream_less_the_frame_unrounded():
    # next_detail hands over the float detail the stream holds; laid onto its frame and rounded, it
    # is the dream that next() gives for the same frames from the same seed
    frames = [object_frame(i, 128, 96, speed=3) for i in range(6)]
    video = VideoConfig()
    a, b = StreamDreamer(Dreamer.from_config(SMALL), video), StreamDreamer(Dreamer.from_config(SMALL), video)
    tracker = MotionTracker(video.scene_cut)
    for f in frames:
        motion = tracker.next(f)
        dreamt, detail = a.next(f, motion), b.next_detail(f, motion)
        assert detail.dtype == np.float32 and detail.shape == f.shape
        assert np.abs(f + detail - dreamt).max() <= 0.5 + 1e-3
    assert np.abs(detail - np.round(detail)).max() > 0.01  # not rounded to whole levels


def test_to_detail_brings_a_detail_back_in_the_frame_s_units_as_it_is():
    from streamdream.engine.tensors import to_detail

    detail = torch.tensor([[[[0.5, -0.25]], [[0.001, 0.0]], [[-1.0, 0.3]]]])  # (1, 3, 1, 2)
    out = to_detail(detail)
    assert out.dtype == np.float32 and out.shape == (1, 2, 3) and out.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(out, [[[127.5, 0.255, -255.0], [-63.75, 0.0, 76.5]]], rtol=1e-6)
    with pytest.raises(ValueError):
        to_detail(detail[0])


def test_a_live_stage_hands_its_stream_the_motion_at_the_flow_s_size():
    # the stream reads trust and still pixels at the flow's size and brings the flow up itself: the
    # stage bringing the motion up first had them worked out at full size, for nothing
    from dataclasses import replace

    from streamdream.config import Config
    from streamdream.live.stage import LiveStage

    config = Config()
    config = replace(config, dream=replace(config.dream, layers="block4", octaves=2, iterations=2, seed=3, device="cpu"))
    stage = LiveStage(config, [], {})
    seen = []
    next_detail = stage.stream.next_detail
    stage.stream.next_detail = lambda image, motion: seen.append((image.shape, motion)) or next_detail(image, motion)
    try:
        tracker = MotionTracker(config.video.scene_cut, width=64)
        frames = [object_frame(i, 128, 96, speed=3) for i in range(4)]
        details = [stage.next(f, tracker.next(f)) for f in frames]
    finally:
        stage.looks.close()
    assert [shape for shape, _ in seen] == [(96, 128, 3)] * 4
    assert seen[0][1] is None and all(m.flow.shape == (48, 64, 2) for _, m in seen[1:])
    assert all(d.shape == (96, 128, 3) and d.dtype == np.float32 for d in details)
    assert all(float(np.abs(d).mean()) > 1.0 for d in details)  # every frame shows a dream


@pytest.fixture(scope="module")
def moving_object(dreamer):
    """A textured disc crossing a still textured background, dreamt both ways."""
    frames = [object_frame(i, 128, 96, speed=3) for i in range(30)]
    flow_outs, stream = _run(dreamer, frames)
    full, _ = _run(dreamer, frames, VideoConfig(flow=False))
    return frames, flow_outs, full, stream


def test_moving_subject_keeps_its_dream(moving_object):
    frames, outs, full, stream = moving_object
    m = temporal_metrics(frames, outs, references=full)
    assert stream.keyframes == 1
    assert m.moving_covered >= 0.85
    assert m.covered >= 0.9 and m.covered_min >= 0.8
    assert m.coherence >= 0.85 and m.coherence_moving >= 0.8
    assert 0.8 <= m.strength / m.reference_strength <= 1.3


def test_no_blobs_on_a_moving_subject(moving_object):
    # regression: a global gain that held the mean strength piled what was left into blobs
    frames, outs, full, _ = moving_object
    m = temporal_metrics(frames, outs, references=full)
    assert m.concentration_max <= 0.25


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


def test_hold_strength_lifts_weak_regions_and_caps_the_whole_frame():
    detail = torch.full((1, 3, 40, 80), 0.01)
    detail[..., 40:] = 0.1
    held = hold_strength(detail, 0.05, 1.0, 0.1)
    assert held[..., :20].abs().mean() == pytest.approx(0.011, rel=1e-3)  # up by at most 10%
    assert torch.equal(held[..., 60:], detail[..., 60:])  # strong regions are not pulled down locally
    capped = hold_strength(detail, 0.0, 0.05, 0.1)
    assert torch.allclose(capped, detail / 1.1)  # over the mean: the whole frame, one factor, at most 10%
    inside_band = torch.full((1, 3, 40, 80), 0.07)
    assert torch.equal(hold_strength(inside_band, 0.05, 0.1, 0.1), inside_band)
    with pytest.raises(ValueError):
        hold_strength(detail, 0.05, 0.0, 0.1)


def test_even_strength_brings_each_region_towards_the_mean_by_a_bounded_gain():
    # a seed strong on the left, ten times weaker on the right: away from where they meet, the left
    # comes down to the mean local strength and the right is lifted by no more than `most`
    detail = torch.full((1, 3, 60, 200), 0.1)
    detail[..., 100:] = 0.01
    detail[:, 1] *= -1  # the colours' signs are kept
    evened = even_strength(detail, 2.0)
    mean = float(local_strength(detail).mean())
    side = round(200 * LOCAL_SHARE)
    assert float(evened[..., :100 - side].abs().mean()) == pytest.approx(mean, rel=1e-3)
    assert float(evened[..., 100 + side:].abs().mean()) == pytest.approx(0.02, rel=1e-3)
    assert torch.equal(evened.sign(), detail.sign())
    assert torch.allclose(even_strength(detail, 1.0), detail)
    with pytest.raises(ValueError, match="most >= 1"):
        even_strength(detail, 0.5)


def test_hold_strength_lifts_no_pixel_past_the_peak_into_a_speck():
    # a region whose dream has faded but for a few pixels: lifted frame after frame towards the
    # region's target, those few grew into saturated specks; the peak holds them where they are
    detail = torch.full((1, 3, 96, 320), 0.001)  # local strength is averaged over 16 px (LOCAL_SHARE)
    detail[..., ::8, ::8] = 0.2
    sparse = detail[..., ::8, ::8].clone()
    free, held = detail, detail
    for _ in range(40):
        free = hold_strength(free, 0.05, 1.0, 0.1)
        held = hold_strength(held, 0.05, 1.0, 0.1, peak=0.25)
    assert float(free[..., ::8, ::8].median()) > 1.0  # the specks, without the peak (until the 16 px average is 0.05: 3.2)
    assert float(held.abs().max()) <= 0.25 + 1e-6
    assert torch.all(held[..., ::8, ::8] >= sparse)  # held, not pulled down
    rest = held.clone()
    rest[..., ::8, ::8] = 0
    assert float(rest.abs().max()) > 0.001 * 1.1 ** 20  # the faded pixels are still lifted
    with pytest.raises(ValueError):
        hold_strength(detail, 0.05, 1.0, 0.1, peak=0.0)


def test_hold_strength_prints_no_pattern_into_the_dream():
    # regression: a local pull up *and* down, repeated, grew a lattice of spots (reaction-diffusion)
    torch.manual_seed(0)
    detail = torch.randn(1, 3, 90, 160) * 0.03
    for _ in range(60):
        detail = hold_strength(detail * 1.02, 0.02, 0.03, 0.1)  # each frame's steps add a little
    local = local_strength(detail)[0, 0]
    assert float(local.std() / local.mean()) < 0.1  # no spots or stripes of local strength


def test_local_strength_shape_and_where():
    detail = torch.zeros(1, 3, 36, 64)
    detail[..., :, :20] = 0.1
    local = local_strength(detail)
    assert local.shape == (1, 1, 36, 64)
    assert local[..., :10].mean() > 0.08 and local[..., 50:].max() < 0.01
    with pytest.raises(ValueError):
        local_strength(torch.zeros(3, 36, 64))


def test_soften_keeps_lone_flags_and_real_holes():
    mask = torch.ones(1, 1, 40, 40)
    mask[0, 0, 5, 5] = 0  # a lone flagged pixel
    mask[0, 0, 20:36, 20:36] = 0  # a real disocclusion
    soft = soften(mask, 7)
    assert soft[0, 0, 5, 5] > 0.95
    assert soft[0, 0, 26:30, 26:30].max() == 0
    with pytest.raises(ValueError):
        soften(mask[0], 7)


def test_box_blur_keeps_constants_and_spreads_an_impulse_over_the_box():
    flat = torch.full((1, 1, 20, 30), 0.5)
    assert torch.allclose(box_blur(flat, 7), flat)
    impulse = torch.zeros(1, 1, 21, 21)
    impulse[0, 0, 10, 10] = 1.0
    blurred = box_blur(impulse, 4)  # made odd: a 5 x 5 box
    assert blurred.sum().item() == pytest.approx(1.0)
    assert (blurred[0, 0] > 0).sum().item() == 25
    assert torch.equal(box_blur(impulse, 1), impulse)
    with pytest.raises(ValueError):
        box_blur(impulse[0], 5)


@pytest.mark.parametrize("side", [3, 8, 33])
@pytest.mark.parametrize("size", [(9, 40), (64, 48)])
def test_box_blur_matches_the_mean_of_each_box(side, size):
    # the running-sum blur against the plain definition: each box's mean, edges replicated
    torch.manual_seed(side)
    image = torch.rand(1, 2, *size)
    half = side // 2
    padded = torch.nn.functional.pad(image, (half, half, half, half), mode="replicate")
    expected = torch.nn.functional.avg_pool2d(padded, 2 * half + 1, stride=1)
    assert torch.allclose(box_blur(image, side), expected, atol=1e-5)


@pytest.mark.parametrize("size", [(128, 96), (96, 128)])
def test_steps_on_bands_cover_the_frame_in_turn(dreamer, monkeypatch, size):
    # step_regions: each carried frame's step falls on one band (plus its margin), never the whole
    # frame; the bands cut across the longer side, and each round of frames covers every row or
    # column once
    import streamdream.engine.temporal as temporal

    width, height = size
    across = 3 if width > height else 2
    stepped = []
    real = temporal.ascend_band
    monkeypatch.setattr(temporal, "ascend_band",
                        lambda image, dim, span, *a, **k: stepped.append((dim, span)) or real(image, dim, span, *a, **k))
    video = VideoConfig(step_regions=3)
    frames = [pattern_frame(i, width, height) for i in range(7)]
    stream, tracker = StreamDreamer(dreamer, video), MotionTracker(video.scene_cut)
    stream.next(frames[0], tracker.next(frames[0]))
    with passes_of(dreamer.net) as sizes:
        for f in frames[1:]:
            stream.next(f, tracker.next(f))
    long, short = max(width, height), min(width, height)
    assert len(sizes) >= 6 and all(s[across - 2] < long and s[3 - across] == short for s in sizes)
    assert {dim for dim, _ in stepped} == {across}
    # frames 1-3 are one round and 4-6 the next: together their spans cover every row or column
    # twice, once a round
    counts = np.zeros(long, int)
    for _, (start, end) in stepped:
        counts[start:end] += 1
    assert (counts == 2).all()  # two rounds, each covering every row or column once, no overlap


def test_band_spans_are_equal_and_tile_the_side_once_whatever_the_offset():
    for length, bands in ((640, 4), (97, 3), (10, 3)):
        for offset in (0, 1, length // bands - 1):
            spans = [temporal_band_spans(length, bands, k, offset) for k in range(bands)]
            counts = np.zeros(length, int)
            for pieces in spans:
                for start, end in pieces:
                    counts[start:end] += 1
            assert (counts == 1).all()
            sizes = {sum(end - start for start, end in pieces) for pieces in spans}
            assert max(sizes) - min(sizes) <= 1
            assert all(len(pieces) <= 2 for pieces in spans)
    assert temporal_band_spans(640, 4, 3, 37) == [(517, 640), (0, 37)]
    with pytest.raises(ValueError):
        temporal_band_spans(10, 3, 3, 0)


def test_ascend_band_changes_only_its_band(dreamer):
    image = torch.from_numpy(pattern_frame(0, 64, 48)).permute(2, 0, 1)[None].float() / 255
    out = ascend_band(image, 2, (16, 32), 4, dreamer.net, dreamer.objective, 1, 0.05, 2, dreamer.generator)
    assert torch.equal(out[:, :, :16], image[:, :, :16]) and torch.equal(out[:, :, 32:], image[:, :, 32:])
    assert float((out[:, :, 16:32] - image[:, :, 16:32]).abs().mean()) > 0.01
    out = ascend_band(image, 3, (20, 40), 4, dreamer.net, dreamer.objective, 1, 0.05, 2, dreamer.generator)
    assert torch.equal(out[..., :20], image[..., :20]) and torch.equal(out[..., 40:], image[..., 40:])
    assert float((out[..., 20:40] - image[..., 20:40]).abs().mean()) > 0.01
    with pytest.raises(ValueError):
        ascend_band(image, 2, (30, 20), 4, dreamer.net, dreamer.objective, 1, 0.05, 2)
    with pytest.raises(ValueError):
        ascend_band(image, 1, (0, 2), 4, dreamer.net, dreamer.objective, 1, 0.05, 2)


def test_ascend_box_changes_only_its_box_and_sees_it_with_its_margins(dreamer):
    image = torch.from_numpy(pattern_frame(0, 128, 96)).permute(2, 0, 1)[None].float() / 255
    with passes_of(dreamer.net) as sizes:
        out = ascend_box(image, (24, 72), (30, 90), 4, dreamer.net, dreamer.objective, 1, 0.05, 2, dreamer.generator,
                         scale=1.4)
    assert sizes == [(round(56 / 1.4), round(68 / 1.4))]  # rows 20-76 by columns 26-94, seen smaller
    changed = (out - image).abs().sum(1)[0] > 0
    assert not changed[:24].any() and not changed[72:].any() and not changed[:, :30].any() and not changed[:, 90:].any()
    assert float(changed[24:72, 30:90].float().mean()) > 0.5
    with pytest.raises(ValueError):
        ascend_box(image, (16, 40), (70, 30), 4, dreamer.net, dreamer.objective, 1, 0.05, 2)
    with pytest.raises(ValueError):
        ascend_box(image, (40, 16), (30, 70), 4, dreamer.net, dreamer.objective, 1, 0.05, 2)


def test_ascend_band_at_a_smaller_octave_sees_its_band_smaller_and_changes_only_it(dreamer):
    image = torch.from_numpy(pattern_frame(0, 96, 64)).permute(2, 0, 1)[None].float() / 255
    with passes_of(dreamer.net) as sizes:
        out = ascend_band(image, 3, (30, 80), 4, dreamer.net, dreamer.objective, 1, 0.05, 2, dreamer.generator,
                          scale=1.4)
    assert sizes == [(round(64 / 1.4), round(58 / 1.4))]  # the band and its margins (columns 26-84), seen smaller
    assert torch.equal(out[..., :30], image[..., :30]) and torch.equal(out[..., 80:], image[..., 80:])
    assert float((out[..., 30:80] - image[..., 30:80]).abs().mean()) > 0.005
    with pytest.raises(ValueError):
        ascend_band(image, 3, (30, 60), 4, dreamer.net, dreamer.objective, 1, 0.05, 2, scale=0.5)


def test_weakest_band_is_the_one_the_dream_falls_shortest_in():
    shortfall = torch.zeros(1, 1, 30, 100)
    shortfall[..., 62:78] = 1.0  # inside the fourth of five bands across the columns (60-80)
    k, mean = weakest_band(shortfall, 3, 5)
    assert k == 3 and mean == pytest.approx(16 / 20)
    k, mean = weakest_band(shortfall.transpose(2, 3).contiguous(), 2, 5)  # the same, across the rows
    assert k == 3 and mean == pytest.approx(16 / 20)
    shortfall[..., 5:7] = 2.0  # less of it, though stronger: the first band holds less in all
    assert weakest_band(shortfall, 3, 5)[0] == 3
    assert weakest_band(torch.zeros(1, 1, 30, 100), 3, 5) == (0, 0.0)
    with pytest.raises(ValueError):
        weakest_band(torch.zeros(1, 3, 30, 100), 3, 5)
    with pytest.raises(ValueError):
        weakest_band(shortfall, 1, 5)
    # either way: the columns' fourth band holds more than any band of rows does, from either side
    assert weakest_band_either_way(shortfall, 3, 5)[:2] == weakest_band_either_way(shortfall, 2, 5)[:2] == (3, 3)
    rows = torch.zeros(1, 1, 30, 100)
    rows[:, :, 24:30] = 1.0  # the last band of rows, whole
    assert weakest_band_either_way(rows, 3, 5) == (2, 4, 1.0)
    assert weakest_band_either_way(torch.ones(1, 1, 30, 100), 3, 5)[0] == 3  # a tie keeps the side asked
    assert weakest_band_either_way(torch.ones(1, 1, 30, 100), 2, 5)[0] == 2


@pytest.mark.parametrize("across,faded", [(3, (80, 120)), (2, (48, 72))])
def test_a_live_show_deepens_the_band_its_dream_has_faded_in_at_the_octave_below(dreamer, monkeypatch, across, faded):
    # where a carried dream has faded (a moving subject's, mostly), a live show stepping a band a
    # frame also steps the weakest band seen an octave smaller, where shapes are built; a file's
    # frames take their full-size steps only
    import streamdream.engine.temporal as temporal

    calls = []
    real = temporal.ascend_band
    monkeypatch.setattr(temporal, "ascend_band", lambda image, dim, span, *a, scale=1.0, **k:
                        calls.append((dim, span, scale)) or real(image, dim, span, *a, scale=scale, **k))
    frames = [pattern_frame(i, 160, 96) for i in range(4)]
    video = VideoConfig(step_regions=4)

    a, b = faded

    def fade(live: bool) -> tuple[StreamDreamer, MotionTracker, float]:
        # the dream gone from the third band of four, of columns or of rows (the anchor is the same
        # tensor), then a frame carried: the stream, its tracker, and the dream's strength on that
        # band, right of the columns the frame's own band step falls on (the first of four, moved
        # on by at most a band), against the strength in the top left, which nothing wiped
        stream, tracker = StreamDreamer(dreamer, video, live=live), MotionTracker(video.scene_cut)
        stream.next(frames[0], tracker.next(frames[0]))
        stream.detail.narrow(across, a, b - a).zero_()
        calls.clear()
        stream.next(frames[1], tracker.next(frames[1]))
        inner = stream.detail[..., a + 4:b - 4] if across == 3 else stream.detail[..., a + 4:b - 4, 80:]
        return stream, tracker, float(inner.abs().mean() / stream.detail[..., :40, :80].abs().mean())

    _, _, plain = fade(live=False)
    assert [c[2] for c in calls] == [1.0]  # a file's frame: its own band's step
    stream, tracker, deepened = fade(live=True)
    assert calls[-1] == (across, faded, SMALL.octave_scale) and len(calls) == 2
    # against the dream on the first bands: a file's frame has nothing back there (its own band's
    # step fell elsewhere, and the lift scales what is left, which was nothing)
    assert plain < 1e-6 and deepened > 0.4
    for f in frames[2:]:  # at most one such step a frame
        before = len(calls)
        stream.next(f, tracker.next(f))
        assert 1 <= len(calls) - before <= 2 and calls[before][2] == 1.0
    # a dream that has faded nowhere takes no such step
    calls.clear()
    stream.low = 1e-9
    stream.next(frames[0], tracker.next(frames[0]))
    assert calls and all(c[2] == 1.0 for c in calls)  # its own band's step only (in two parts, where it wraps)


def test_before_a_still_camera_what_moves_takes_the_deeper_step_and_brings_no_rebuild(dreamer, monkeypatch):
    # where no band's dream has faded, a live show before a still camera steps the box where the
    # picture moves most at the octave below (MOVER_SHARE): a disc moving over a still scene; those
    # frames count towards no rebuild. With the camera moving there is no such step
    import streamdream.engine.temporal as temporal
    from streamdream.engine.dream import octave_sizes

    boxes = []
    real = temporal.ascend_box
    monkeypatch.setattr(temporal, "ascend_box", lambda image, rows, columns, *a, **k:
                        boxes.append((rows, columns, k["scale"])) or real(image, rows, columns, *a, **k))
    w, h, r = 160, 96, 24  # object_frame's disc: a quarter of the height across
    video = VideoConfig(step_regions=4)
    bh, bw = octave_sizes(h, w, 2, SMALL.octave_scale)[0]
    pad = round(temporal.REBUILD_MIRROR * bw / w)
    rebuilt = (bh + 2 * pad, bw + 2 * pad)  # a rebuild's step: the octave below, mirrored beyond its edges

    def show(frame_of):
        stream, tracker = StreamDreamer(dreamer, video, live=True), MotionTracker(video.scene_cut)
        stream.rebuild_every = 2
        boxes.clear()
        inside, first = [], 0
        with passes_of(dreamer.net) as sizes:
            for i in range(6):
                f = frame_of(i)
                stream.next(f, tracker.next(f))
                stream.low = 1e-9  # no band's dream falls short: the deeper step is the mover's or none
                if i == 0:
                    first = len(sizes)  # the passes after the first frame's full dream are the steps
                if boxes and len(inside) < len(boxes):
                    (r0, r1), (c0, c1), _ = boxes[-1]
                    yy, xx = np.mgrid[r0:r1, c0:c1]
                    cx, cy = r + 6 * i, h // 2 + round(0.15 * h * np.sin(i / 6.0))
                    inside.append(float(((xx - cx) ** 2 + (yy - cy) ** 2 < r * r).mean()))
        return stream, inside, sizes[first:]

    stream, inside, sizes = show(lambda i: object_frame(i, w, h, speed=6))
    assert len(boxes) == 5 and all(scale == SMALL.octave_scale for *_, scale in boxes)  # every carried frame
    # each on the disc: a band of 40 columns by one of 24 rows, half of it or more the disc's (the
    # disc is an eighth of the frame; the box trails it by a frame, as the flow does)
    assert all((c1 - c0, r1 - r0) == (40, 24) for (r0, r1), (c0, c1), _ in boxes) and min(inside) > 0.4
    assert stream.unbuilt == 0 and stream.rebuilding == 0 and rebuilt not in sizes  # and no rebuild
    stream, _, sizes = show(lambda i: pattern_frame(i, w, h, speed=6))  # the camera moves: no mover's step
    assert boxes == [] and rebuilt in sizes  # and its frames bring the rebuilds


def test_a_frame_the_display_cuts_away_from_while_its_band_steps_takes_no_deeper_step(dreamer, monkeypatch):
    # the display cut to a new shot while the frame's band stepped (pipeline.NewestFrame.stale):
    # that frame's dream will never be shown, so the step at the octave below is spared and the
    # new shot's frame is taken sooner
    import threading

    import streamdream.engine.temporal as temporal

    frames = [pattern_frame(i, 160, 96) for i in range(2)]
    stream = StreamDreamer(dreamer, VideoConfig(step_regions=4), live=True)
    stream.stale = threading.Event()
    tracker = MotionTracker(stream.video.scene_cut)
    stream.next(frames[0], tracker.next(frames[0]))
    stream.detail[..., 80:120].zero_()  # a band faded: the deeper step would fall on it
    scales = []
    real = temporal.ascend_band

    def band_then_cut(image, dim, span, *a, scale=1.0, **k):
        scales.append(scale)
        out = real(image, dim, span, *a, scale=scale, **k)
        stream.stale.set()
        return out

    monkeypatch.setattr(temporal, "ascend_band", band_then_cut)
    stream.next(frames[1], tracker.next(frames[1]))
    assert scales == [1.0]  # the band's own step, none at the octave below
    assert stream.deferred is None and stream.carried == 1  # the frame was carried all the same


def test_trust_is_worked_out_at_the_flow_s_size_with_a_floor_inside_the_frame_only():
    from streamdream.engine.motion import Motion
    from streamdream.engine.temporal import flow_and_trust

    # a flow at half the frame's size: 3 px left at that size, the right third of the mask doubted
    flow = np.zeros((45, 80, 2), np.float32)
    flow[..., 0] = 3.0
    mask = np.ones((45, 80), np.float32)
    mask[:, 50:] = 0.0
    motion = Motion(flow, mask, False)
    full, trust = flow_and_trust(motion, 90, 160, torch.device("cpu"))
    assert tuple(full.shape) == (90, 160, 2) and tuple(trust.shape) == (1, 1, 90, 160)
    assert float(full[..., 0].mean()) == pytest.approx(6.0)  # the vectors scaled to the frame's pixels
    assert float(trust[0, 0, :, :80].min()) > 0.99  # trusted, well away from the doubt and the edge
    assert float(trust[0, 0, :, 110:150].max()) < 0.01  # doubted
    assert float(trust[0, 0, :, -2:].max()) == 0.0  # the flow leads past the right edge: nothing there
    _, floored = flow_and_trust(motion, 90, 160, torch.device("cpu"), floor=0.8)
    assert float(floored[0, 0, :, 110:150].min()) == pytest.approx(0.8)  # doubted, but kept at the floor
    assert float(floored[0, 0, :, -2:].max()) == 0.0  # beyond the edge the floor does not reach


def test_the_edge_a_pan_turns_towards_is_unknown_beyond_it_not_doubted_inside_it():
    from streamdream.engine.flow import consistency_mask
    from streamdream.engine.motion import Motion
    from streamdream.engine.temporal import TRUST_BLUR, flow_and_trust

    # a pan at the flow's own size: each pixel was 3 px to its right the frame before, so the last 3
    # columns were beyond the edge, and the flow check (consistent everywhere) says 0 there
    h, w = 45, 160
    back = np.zeros((h, w, 2), np.float32)
    back[..., 0] = 3.0
    mask = consistency_mask(back, -back)
    assert mask[:, : w - 3].min() == 1.0 and mask[:, w - 3:].max() == 0.0
    assert round(w * TRUST_BLUR) >= 3  # a blur wide enough to have reached in from the edge
    for floor in (0.0, 0.8):  # a file's carry and a live show's
        _, trust = flow_and_trust(Motion(back, mask, False), h, w, torch.device("cpu"), floor=floor)
        assert float(trust[0, 0, :, : w - 3].min()) == pytest.approx(1.0)  # kept whole up to the edge
        assert float(trust[0, 0, :, w - 3:].max()) == 0.0  # and nothing beyond it
    # a real doubt two pixels from what lies beyond the edge is softened as anywhere else, on both
    # of its sides
    mask[:, w - 15 : w - 5] = 0.0
    _, trust = flow_and_trust(Motion(back, mask, False), h, w, torch.device("cpu"))
    row = trust[0, 0, 0]
    assert float(trust[0, 0, :, : w - 17].min()) == pytest.approx(1.0)
    assert 0.0 < float(row[w - 16]) < 1.0 and float(row[w - 10]) == 0.0 and 0.0 < float(row[w - 4]) < 1.0

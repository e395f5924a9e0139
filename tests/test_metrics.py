"""The measures of where a dream is and whether it moves with the picture, on made-up outputs
whose answer is known: each measure must be able to fail."""

import numpy as np
import pytest

from streamdream.metrics import concentration, local_strength, pearson, specks, temporal_metrics

from .conftest import object_frame, pattern_frame


def _detail(height, width, seed, amplitude=20):
    rng = np.random.default_rng(seed)
    return rng.normal(0, amplitude, (height, width, 3)).astype(np.float32)


def _add(frame, detail):
    return np.clip(frame.astype(np.float32) + detail, 0, 255).astype(np.uint8)


def _roll(detail, index, speed=1):
    return np.roll(detail, index * speed, axis=1)


def test_local_strength_is_a_blurred_difference_map():
    frame = pattern_frame(0, 80, 60)
    detail = np.zeros((60, 80, 3), np.float32)
    detail[:, :40] = 30
    local = local_strength(_add(frame, detail), frame)
    assert local.shape == (60, 80)
    assert local[:, :30].mean() > 0.08 and local[:, 50:].max() < 0.01
    with pytest.raises(ValueError):
        local_strength(frame, frame[:, :, 0])


def test_specks_count_single_pixels_apart_from_their_neighbours_not_edges_or_texture():
    frame = pattern_frame(0, 100, 100)
    assert specks(frame) < 1.0
    squares = np.kron(np.indices((13, 13)).sum(axis=0) % 2, np.ones((8, 8)))[:100, :100]
    assert specks(np.repeat(squares[..., None] * 255, 3, axis=2).astype(np.uint8)) == 0.0  # hard edges
    spotted = frame.copy()
    rng = np.random.default_rng(0)
    for index in rng.choice(98 * 98, 20, replace=False):  # 20 pixels inside the border, each far from its own value
        y, x = (int(i) + 1 for i in divmod(index, 98))
        spotted[y, x] = 255 - spotted[y, x] // 4 if spotted[y, x].mean() < 128 else spotted[y, x] // 4
    assert specks(spotted) == pytest.approx(specks(frame) + 20.0, abs=2.0)  # 20 of 10,000 pixels
    with pytest.raises(ValueError):
        specks(frame.astype(np.float32))


@pytest.mark.parametrize("hot_share, expected", [(1.0, 0.1), (0.1, 1.0), (0.05, 1.0)])
def test_concentration_of_even_and_piled_up_maps(hot_share, expected):
    local = np.zeros(1000, np.float32)
    local[: round(hot_share * 1000)] = 1.0
    assert concentration(local) == pytest.approx(expected, abs=1e-6)


def test_pearson():
    a = np.arange(10, dtype=np.float32)
    assert pearson(a, 2 * a + 1) == pytest.approx(1.0)
    assert pearson(a, -a) == pytest.approx(-1.0)
    assert np.isnan(pearson(a, np.ones(10)))


def test_painted_on_dream_is_coherent_and_everywhere():
    # the scene slides 1 px/frame; a detail pattern that slides with it is a perfectly carried dream
    frames = [pattern_frame(i, 96, 72, speed=1) for i in range(8)]
    base = _detail(72, 96, 0)
    outs = [_add(f, _roll(base, i)) for i, f in enumerate(frames)]
    m = temporal_metrics(frames, outs)
    assert m.coherence > 0.8 and m.coherence_moving > 0.8
    assert m.covered > 0.95 and m.moving_covered > 0.95
    assert m.concentration < 0.2


def test_a_fresh_dream_each_frame_is_not_coherent():
    frames = [pattern_frame(i, 96, 72, speed=1) for i in range(8)]
    outs = [_add(f, _detail(72, 96, i)) for i, f in enumerate(frames)]
    m = temporal_metrics(frames, outs)
    assert abs(m.coherence) < 0.2
    assert m.covered > 0.95


def test_a_dream_that_died_on_the_moving_subject_is_seen():
    frames = [object_frame(i, 96, 72, speed=3) for i in range(8)]
    outs = []
    for i, f in enumerate(frames):
        detail = _detail(72, 96, 0)
        moving = np.any(object_frame(i, 96, 72, speed=3) != object_frame(0, 96, 72, speed=0), axis=2)
        detail[moving] = 0  # the dream lives only where nothing moves
        outs.append(_add(f, detail))
    m = temporal_metrics(frames, outs)
    assert m.moving_covered < 0.5
    assert m.covered_min < 0.9


def test_blobs_are_concentrated_and_judged_against_the_reference():
    frames = [pattern_frame(i, 96, 72, speed=1) for i in range(4)]
    blob = np.zeros((72, 96, 3), np.float32)
    blob[20:40, 30:50] = 60
    outs = [_add(f, blob) for f in frames]
    full = [_add(f, _detail(72, 96, i)) for i, f in enumerate(frames)]
    m = temporal_metrics(frames, outs, references=full)
    assert m.concentration_max > 0.4
    # each frame's, in order, as the benchmarks list them: one a frame, their max and mean the summary's
    assert m.concentrations == tuple(concentration(local_strength(o, f)) for o, f in zip(outs, frames))
    assert max(m.concentrations) == m.concentration_max and np.mean(m.concentrations) == pytest.approx(m.concentration)
    assert m.covered < 0.3
    assert m.reference_strength == pytest.approx(temporal_metrics(frames, full).strength, rel=1e-6)


def test_needs_two_frames():
    f = pattern_frame(0, 32, 24)
    with pytest.raises(ValueError):
        temporal_metrics([f], [f])

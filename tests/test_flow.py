import numpy as np
import pytest

from streamdream.flow import DISFlow, consistency_mask, frame_difference, to_gray, warp

from .conftest import pattern_frame


def test_warping_a_shifted_image_by_its_true_flow_gives_it_back():
    image = pattern_frame(0, 80, 60).astype(np.float32)
    shifted = pattern_frame(3, 80, 60, speed=1).astype(np.float32)  # content moved 3 px right
    flow = np.zeros((60, 80, 2), np.float32)
    flow[..., 0] = -3.0  # each pixel of `shifted` came from 3 px to its left
    back = warp(image, flow)
    np.testing.assert_allclose(back[:, 3:], shifted[:, 3:], atol=1e-3)
    assert np.abs(back[:, 3:] - image[:, 3:]).mean() > 10  # and it did move


def test_dis_finds_the_shift():
    a, b = to_gray(pattern_frame(0, 96, 72)), to_gray(pattern_frame(2, 96, 72, speed=1))
    flow = DISFlow()(b, a)
    assert np.median(flow[8:-8, 8:-8, 0]) == pytest.approx(-2.0, abs=0.3)
    assert np.median(flow[8:-8, 8:-8, 1]) == pytest.approx(0.0, abs=0.3)


def _square_scene(x0: int) -> np.ndarray:
    frame = pattern_frame(0, 120, 80)  # static textured background
    frame[25:55, x0:x0 + 30] = 255 - pattern_frame(0, 30, 30)[::-1]  # a moving square, textured otherwise
    return frame


def test_mask_flags_the_disoccluded_region():
    prev, cur = to_gray(_square_scene(30)), to_gray(_square_scene(36))
    dis = DISFlow()
    mask = consistency_mask(dis(cur, prev), dis(prev, cur))
    revealed = mask[28:52, 31:36]  # where the square was and the background now shows
    far = mask[:, 90:]
    assert revealed.mean() < 0.5
    assert far.mean() > 0.9


@pytest.mark.parametrize("args", [
    (np.zeros((4, 4, 3)), np.zeros((4, 4))),
    (np.zeros((4, 4, 3)), np.zeros((5, 4, 2))),
])
def test_warp_rejects_bad_shapes(args):
    with pytest.raises(ValueError):
        warp(*args)


def test_mask_rejects_mismatched_flows():
    with pytest.raises(ValueError):
        consistency_mask(np.zeros((4, 4, 2), np.float32), np.zeros((4, 5, 2), np.float32))


def test_frame_difference_tells_a_cut_from_motion():
    a, b = to_gray(pattern_frame(0, 96, 72)), to_gray(pattern_frame(1, 96, 72))
    cut = to_gray(255 - pattern_frame(40, 96, 72)[::-1])
    assert frame_difference(a, b) < 0.1 < frame_difference(a, cut)

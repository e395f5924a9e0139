import re

import numpy as np
import pytest

from tests.conftest import said
import torch

from streamdream.engine.flow import DISFlow, consistency_mask, frame_difference, resize_flow, small_gray, to_gray
from streamdream.engine.warp import warp, warp_tensor

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


def test_resize_flow_scales_the_vectors():
    flow = np.zeros((30, 40, 2), np.float32)
    flow[..., 0], flow[..., 1] = 2.0, -1.0
    big = resize_flow(flow, 60, 80)
    assert big.shape == (60, 80, 2)
    np.testing.assert_allclose(big[..., 0], 4.0)
    np.testing.assert_allclose(big[..., 1], -2.0)


@pytest.fixture
def raft_weights(tmp_path):
    import torch
    from torchvision.models.optical_flow import raft_small

    path = tmp_path / "raft_small.pth"
    torch.save(raft_small(weights=None).state_dict(), path)
    return path


def test_raft_flow_from_a_weights_file(raft_weights):
    from streamdream.engine.raft import RAFTFlow

    flow = RAFTFlow("cpu", str(raft_weights))
    a, b = to_gray(pattern_frame(0, 60, 44)), to_gray(pattern_frame(1, 60, 44))  # sizes not divisible by 8
    out = flow(a, b)
    assert out.shape == (44, 60, 2) and out.dtype == np.float32 and np.isfinite(out).all()


def test_raft_takes_both_ways_in_one_pass(raft_weights):
    from streamdream.engine.motion import MotionTracker
    from streamdream.engine.raft import RAFTFlow

    flow = RAFTFlow("cpu", str(raft_weights))
    a, b = to_gray(pattern_frame(0, 64, 48)), to_gray(pattern_frame(1, 64, 48))
    there, back = flow.pair(a, b)
    np.testing.assert_allclose(there, flow(a, b), atol=1e-4)
    np.testing.assert_allclose(back, flow(b, a), atol=1e-4)
    batches = []
    flow.model.register_forward_pre_hook(lambda module, args: batches.append(args[0].shape[0]))
    tracker = MotionTracker(0.15, flow, width=64)
    tracker.next(pattern_frame(0, 64, 48))
    assert tracker.next(pattern_frame(1, 64, 48)) is not None
    assert batches == [2]  # the tracker's two flows: one pass of two


def test_raft_offline_names_the_fix(tmp_path, monkeypatch):
    import socket

    import torch

    from streamdream.errors import UsageError
    from streamdream.engine.raft import RAFTFlow

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    with pytest.raises(UsageError) as info:
        RAFTFlow("cpu")
    assert re.search("--flow-weights.*--optical-flow dis", said(info))


def test_raft_rejects_weights_of_another_network(tmp_path, lite0):
    import torch

    from streamdream.errors import UsageError
    from streamdream.engine.raft import RAFTFlow

    torch.save(lite0[1].state_dict(), tmp_path / "lite0.pth")
    with pytest.raises(UsageError, match="do not fit RAFT-small"):
        RAFTFlow("cpu", str(tmp_path / "lite0.pth"))


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_tensor_warp_matches_opencv_warp(mode):
    import torch

    from streamdream.engine.warp import warp_tensor

    image = pattern_frame(0, 80, 60).astype(np.float32) / 255
    rng = np.random.default_rng(0)
    flow = np.stack([np.full((60, 80), 2.5), np.full((60, 80), -1.25)], -1).astype(np.float32)
    flow += rng.normal(0, 0.3, flow.shape).astype(np.float32)
    expected = warp(image, flow)
    got = warp_tensor(torch.from_numpy(image).permute(2, 0, 1)[None], torch.from_numpy(flow), mode)
    got = got[0].permute(1, 2, 0).numpy()
    inner = (slice(4, -4), slice(4, -4))
    tolerance = 1e-4 if mode == "bilinear" else 0.03  # bicubic differs from bilinear by design
    assert np.abs(got[inner] - expected[inner]).mean() < tolerance


def test_tensor_warp_rejects_bad_shapes():
    import torch

    from streamdream.engine.warp import warp_tensor

    with pytest.raises(ValueError):
        warp_tensor(torch.zeros(3, 8, 8), torch.zeros(8, 8, 2))
    with pytest.raises(ValueError):
        warp_tensor(torch.zeros(1, 3, 8, 8), torch.zeros(8, 9, 2))


@pytest.mark.parametrize("mode", ["bicubic", "bilinear"])
def test_warp_tensor_on_a_cpu_matches_grid_sample(mode):
    # float32 on a CPU goes through cv2.remap, float64 through grid_sample: one warp, two kernels
    torch.manual_seed(1)
    image, flow = torch.rand(2, 3, 40, 64), torch.randn(40, 64, 2) * 4
    fast = warp_tensor(image, flow, mode)
    reference = warp_tensor(image.double(), flow.double(), mode).float()
    assert fast.shape == image.shape and fast.dtype == torch.float32
    assert float((fast - reference).abs().max()) < 1e-3
    assert float((fast - reference).abs().mean()) < 1e-5


def test_a_video_run_s_flow_width_follows_the_device_unless_set():
    import torch

    from streamdream.config import VideoConfig
    from streamdream.engine.motion import CPU_FLOW_WIDTH, GPU_FLOW_WIDTH, flow_width_for, make_tracker

    assert flow_width_for(VideoConfig(), torch.device("cpu")) == CPU_FLOW_WIDTH == 1280
    assert flow_width_for(VideoConfig(), torch.device("cuda")) == GPU_FLOW_WIDTH == 640
    assert flow_width_for(VideoConfig(flow_width=480), torch.device("cpu")) == 480
    assert make_tracker(VideoConfig(), torch.device("cpu")).width == 1280
    assert make_tracker(VideoConfig(flow=False), torch.device("cpu")) is None


def test_small_gray_shrinks_to_its_width_and_to_its_height_if_given():
    landscape, portrait = np.zeros((360, 640, 3), np.uint8), np.zeros((640, 360, 3), np.uint8)
    assert small_gray(landscape, 320).shape == (180, 320)
    assert small_gray(landscape, 320, height=320).shape == (180, 320)  # the height bound is met already
    assert small_gray(portrait, 320).shape == (569, 320)  # a width alone: a portrait copy stays large
    assert small_gray(portrait, 320, height=320).shape == (320, 180)  # both: the longer side is bound
    assert small_gray(portrait, 800, height=800).shape == (640, 360)  # never enlarged
    assert small_gray(np.zeros((400, 20, 3), np.uint8), 100, min_height=8, height=100).shape == (100, 5)

"""The dream's device path, here on a CPU: run on torch's `meta` device, under a logger of every
value read, download and mix of devices (device_log.py), a dream step makes the host wait for
the device never, a carried frame once (its download), and nothing mixes a device's tensors with
the host's. Where a GPU is visible the same checks run on it too; and which frames are tiled,
which precision and which kernels a card gets, are decided as the card calls for."""

from dataclasses import replace

import pytest
import torch

from streamdream import models
from streamdream.engine import gradient
from streamdream.engine.dream import ascent_step
from streamdream.engine.dreamer import Dreamer
from streamdream.engine.motion import MotionTracker
from streamdream.engine.temporal import StreamDreamer
from streamdream.engine.tensors import to_tensor, upload
from streamdream.models.dreamnet import memory_format_for
from streamdream.presets import build_config

from .conftest import passes_of, pattern_frame
from .device_log import DeviceLog

DEVICES = ["meta"] + (["cuda"] if torch.cuda.is_available() else [])


def dreamer_on(device: str, preset: str | None = None, **dream) -> tuple[Dreamer, object]:
    """The preset's dreamer with its network on `device` (meta: shapes, no data), and its config."""
    config = build_config(preset, {"dream": {"device": "cpu", "seed": 1, **dream}})
    cpu = Dreamer.from_config(config.dream)
    if device == "cpu":
        return cpu, config
    return replace(cpu, net=cpu.net.to(device), device=torch.device(device)), config


@pytest.mark.parametrize("device", DEVICES)
def test_a_dream_step_never_waits_for_the_device(device):
    dreamer, _ = dreamer_on(device, layers="block4")
    image = torch.rand(1, 3, 96, 160, device=device)
    with DeviceLog(device) as log:
        ascent_step(image, dreamer.net, dreamer.objective, 0.01, 8, dreamer.generator,
                    weight=torch.ones(1, 1, 96, 160, device=device), limit=4.0)
        gradient.tiled_gradient(image, dreamer.net, dreamer.objective, 64, 0, dreamer.generator)
    assert log.syncs == [], log.where
    assert log.mixed == [], log.where


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("preset,live", [(None, False), (None, True), ("live", True)])
def test_a_carried_frame_waits_for_the_device_once_and_a_keyframe_twice(device, preset, live):
    dreamer, config = dreamer_on(device, preset)
    stream = StreamDreamer(dreamer, config.video, live=live)
    tracker = MotionTracker(config.video.scene_cut)
    counts = []
    for k in range(6):
        frame = pattern_frame(k, 160, 96)
        motion = tracker.next(frame)
        with DeviceLog(device) as log:
            (stream.next_detail if live else stream.next)(frame, motion if k else None)
        assert log.mixed == [], log.where
        counts.append(len(log.syncs))
        if k:
            assert len(log.syncs) == 1, log.where  # the dream coming back
    assert stream.keyframes == 1 and stream.carried == 5
    assert counts[0] == 2  # the keyframe's strength targets, two numbers in one copy, and its dream


def test_frames_are_tiled_on_a_cpu_past_720p_and_on_a_gpu_only_where_memory_is_short():
    assert gradient.tile_side(1280 * 720, "cpu") is None
    assert gradient.tile_side(1920 * 1080, "cpu") == gradient.TILE_SIDE
    big_card, small_card = 140 * 2**30, 2 * 2**30
    assert gradient.tile_side(1920 * 1080, "cuda", big_card) is None
    assert gradient.tile_side(3840 * 2160, "cuda", big_card) is None
    assert gradient.tile_side(3840 * 2160, "cuda", small_card) == gradient.GPU_TILE_SIDE
    assert gradient.tile_side(1920 * 1080, "cuda", small_card) == gradient.GPU_TILE_SIDE
    assert gradient.tile_side(1920 * 1080, "meta") is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU visible to PyTorch")
def test_a_1080p_step_on_a_large_card_runs_whole():
    if torch.cuda.mem_get_info()[0] < 8 * 2**30:
        pytest.skip("less than 8 GiB free on this card")
    dreamer, _ = dreamer_on("cuda")
    with passes_of(dreamer.net) as passes:
        ascent_step(torch.rand(1, 3, 1080, 1920, device="cuda"), dreamer.net, dreamer.objective, 0.01, 8,
                    dreamer.generator)
    assert passes == [(1080, 1920)]


@pytest.mark.parametrize("capability,native", [((7, 5), False), ((7, 0), False), ((8, 0), True), ((9, 0), True)])
def test_auto_precision_takes_bf16_only_on_cards_that_compute_it(monkeypatch, capability, native):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # as torch says with emulation
    assert models.uses_bf16("auto", torch.device("cuda"), models.get_spec("lite0")) is native
    assert models.uses_bf16("bf16", torch.device("cuda"), models.get_spec("lite0")) is True


def test_a_seed_asks_for_deterministic_kernels_and_no_seed_leaves_them_free(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    was = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
           torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    try:
        models.cuda_determinism(True)
        assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        assert __import__("os").environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
        models.cuda_determinism(False, autotune=True)
        assert not torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.benchmark and not torch.backends.cudnn.deterministic
        models.cuda_determinism(True, autotune=True)
        assert not torch.backends.cudnn.benchmark  # timed kernels may differ from run to run
    finally:
        torch.use_deterministic_algorithms(was[0], warn_only=was[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = was[2], was[3]


def test_frames_go_to_the_device_asked_for():
    frame = pattern_frame(0, 32, 24)
    assert upload(frame, "meta").device.type == "meta"
    assert to_tensor(frame, "meta").shape == (1, 3, 24, 32)
    assert upload(frame, "cpu").device.type == "cpu"


def test_a_live_show_on_a_gpu_meets_its_cut_seed_sizes_before_its_first_dream():
    from streamdream.engine import temporal
    from streamdream.engine.dream import octave_sizes

    sizes = {}
    for device in ("meta", "cpu"):
        dreamer, config = dreamer_on(device)
        stream = StreamDreamer(dreamer, config.video, live=True)
        with passes_of(dreamer.net) as passes, DeviceLog(device):  # on meta: what is read back is made up
            stream.next_detail(pattern_frame(0, 320, 180), None)
        sizes[device] = set(passes)
    seed = (round(180 * temporal.CUT_SEED_SCALE), round(320 * temporal.CUT_SEED_SCALE))
    assert seed in sizes["meta"] and seed not in sizes["cpu"]  # a CPU has no such cost, and is not slowed
    assert set(octave_sizes(180, 320, config.dream.octaves, config.dream.octave_scale)) <= sizes["cpu"]


def test_a_visualisation_step_neither_waits_for_the_device_nor_makes_it_wait():
    from streamdream.engine import objectives
    from streamdream.engine.feature_vis import VisualizeSettings, visualize

    dreamer, _ = dreamer_on("meta", layers="block4")
    settings = VisualizeSettings(view_size=64)
    counts = []
    for steps in (2, 6):
        with DeviceLog("meta") as log:
            visualize(dreamer.net, [objectives.from_layers("block4", lambda n: n, lambda n: 1)], 64, 64,
                      replace(settings, steps=steps), "meta", torch.Generator().manual_seed(0))
        assert log.syncs == [] and log.mixed == [], log.where
        counts.append(len(log.waited_uploads))
    assert counts[0] == counts[1], log.where  # the parameters' move to the device, once; no step adds one


def test_the_hardware_encoder_is_tried_at_the_video_s_size_with_its_options(monkeypatch):
    import types

    import av

    from streamdream.media import video_out

    tried = []

    class Card:  # an encoder that opens up to 1080p, as a card's limits or a driver may say
        def open(self):
            tried.append((self.width, self.height, dict(self.options)))
            if self.width > 1920:
                raise RuntimeError("no such size")

        def encode(self, frame=None):
            return []

        def close(self):
            pass

    monkeypatch.setattr(av, "codecs_available", set(av.codecs_available) | {"h264_nvenc"})
    monkeypatch.setattr(av, "CodecContext", types.SimpleNamespace(create=lambda name, mode: Card()))
    video_out.nvenc_works.cache_clear()
    try:
        assert video_out._video_codec(True, 1280, 720, 20) == "h264_nvenc"
        assert tried[-1] == (1280, 720, video_out.nvenc_options(20))
        assert video_out._video_codec(True, 3840, 2160, 20) == "libx264"  # refused at its size: software
        assert video_out._video_codec(False, 1280, 720, 20) == "libx264"
    finally:
        video_out.nvenc_works.cache_clear()


def test_the_network_s_probes_run_where_its_weights_are():
    from streamdream.models import fold_batchnorm, layer_shapes

    spec = models.get_spec("lite0")
    network = spec.build(1000).eval().to("meta")
    with DeviceLog("meta") as log:
        shapes = layer_shapes(spec, network, 64)
        fold_batchnorm(network, 64)
    assert log.mixed == [] and shapes["block4"][0] > 0


def test_a_network_with_depthwise_convolutions_stays_contiguous_on_a_gpu_and_not_on_a_cpu():
    # cuDNN compiles channels_last depthwise kernels at run time, seconds a new size on an H200
    # (docs/gpu.md); a CPU runs every convolution fastest in channels_last
    depthwise = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Conv2d(8, 8, 3, groups=8))
    plain = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Conv2d(8, 8, 3))
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert memory_format_for(depthwise, cuda) == torch.contiguous_format
    assert memory_format_for(depthwise, cpu) == torch.channels_last
    assert memory_format_for(plain, cuda) == torch.channels_last
    lite0 = models.get_spec("lite0")
    net = models.DreamNet(lite0, models.load_network(lite0), ["block10"]).prepare(cpu, "fp32")
    assert memory_format_for(net, cuda) == torch.contiguous_format
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in net.parameters() if p.ndim == 4)

"""Speed work that must not change the picture: precision, layout, stage timers, the hardware
encoder's fallback, and the benchmark script itself (timings are printed by it, never asserted)."""

import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
import torch

from streamdream import models
from streamdream.models import runtime
from streamdream.config import DreamConfig
from streamdream.engine.gradient import objective_gradient
from streamdream.errors import UsageError
from streamdream.engine.objectives import from_layers

from .conftest import probe, write_clip

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("flags,model,expected", [
    (set(), "lite0", False),  # bf16 emulated: slower, so fp32
    (set(), "googlenet", False),
    ({"avx512_bf16"}, "googlenet", True),  # dense: bf16 at every size
    ({"avx512_bf16"}, "lite0", False),  # depthwise: the casts cost more than bf16 gains
    ({"amx_bf16", "avx512_bf16"}, "lite0", False),  # even with AMX (measured slower)
    ({"amx_bf16"}, "googlenet", True),
])
def test_auto_precision_on_a_cpu_follows_what_it_computes_natively(monkeypatch, flags, model, expected):
    monkeypatch.setattr(runtime, "cpu_flags", lambda: frozenset(flags))
    assert models.uses_bf16("auto", torch.device("cpu"), models.get_spec(model)) == expected


@pytest.mark.parametrize("precision,expected", [("fp32", False), ("bf16", True)])
def test_explicit_precision_wins(precision, expected):
    assert models.uses_bf16(precision, torch.device("cpu"), models.get_spec("lite0")) == expected


def test_unknown_precision_is_refused_where_settings_are_checked():
    from streamdream.config import Config, check

    with pytest.raises(UsageError, match="precision must be auto, fp32 or bf16") as info:
        check(Config(dream=DreamConfig(precision="half")))
    assert info.value.setting == "precision"


def _net(lite0, precision, layer="block4"):
    spec, network = lite0
    net = models.DreamNet(spec, network, [layer]).prepare(torch.device("cpu"), precision)
    return net, from_layers(layer, lambda n: n, lambda n: 1)


@pytest.mark.parametrize("precision,on", [("fp32", False), ("bf16", True)])
def test_autocast_follows_the_precision_at_every_size(lite0, precision, on):
    net, _ = _net(lite0, precision)
    for side in (32, 96, 400):
        with net.autocast(torch.zeros(1, 3, side, side)):
            assert torch.is_autocast_enabled("cpu") is on


def test_prepared_network_is_channels_last_and_dreams_as_before(lite0, image_tensor):
    spec, network = lite0
    plain = models.DreamNet(spec, network, ["block4"])
    prepared, objective = _net(lite0, "fp32")
    conv = next(m for m in prepared.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (1, 1))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    a, _ = objective_gradient(image_tensor, plain, objective)
    b, _ = objective_gradient(image_tensor, prepared, objective)
    assert torch.allclose(a, b, atol=1e-4 * float(a.abs().max()))


def test_bf16_gradient_points_where_fp32_does(lite0, image_tensor):
    # the step is normalised, so bf16 only matters if it turns the gradient: it must not
    fp32, objective = _net(lite0, "fp32")
    bf16, _ = _net(lite0, "bf16")
    a, _ = objective_gradient(image_tensor, fp32, objective)
    b, _ = objective_gradient(image_tensor, bf16, objective)
    assert b.dtype == torch.float32
    # measured: 0.6 on this synthetic picture, 0.85-0.9 on a real frame (bf16 rounds each layer;
    # a broken path, e.g. a wrong layer or a cast that zeroes the gradient, gives about 0)
    assert float(torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0)) > 0.5


def test_stage_timers_count_every_stage(tmp_path):
    from streamdream.video import dream_video_file
    from streamdream.presets import build_config
    from streamdream.media.video_in import VideoFileSource

    clip = tmp_path / "in.mp4"
    write_clip(clip, frames=6, width=64, height=48)
    config = build_config(None, {"dream": {"layers": "block2", "octaves": 1, "iterations": 1, "seed": 1,
                                           "device": "cpu"}})
    stats = dream_video_file(config, VideoFileSource(clip), tmp_path / "out.mp4").stats
    assert stats.frames == 6
    for name in ("capture_seconds", "flow_seconds", "dream_seconds", "sink_seconds"):
        assert getattr(stats, name) > 0, name
    # each stage runs on its own thread inside the run: none can have been busy longer than the run
    for name in ("capture_seconds", "flow_seconds", "dream_seconds", "sink_seconds"):
        assert getattr(stats, name) <= stats.wall_seconds, name


def test_hardware_encoding_falls_back_to_software_where_nvenc_does_not_open(tmp_path):
    import numpy as np

    from streamdream.media.video_out import VideoFileSink

    sink = VideoFileSink(tmp_path / "out.mp4", Fraction(25), Fraction(1, 25), hardware=True)
    for i in range(5):
        sink.write(np.full((48, 64, 3), 40 * i, np.uint8), i / 25)
    sink.close()
    frames, _, facts, _ = probe(tmp_path / "out.mp4")
    assert len(frames) == 5 and (facts["width"], facts["height"]) == (64, 48)
    import torch

    # without a CUDA card NVENC cannot open, so the software encoder must have been taken
    names = ("h264_nvenc", "libx264") if torch.cuda.is_available() else ("libx264",)
    assert sink.stream.codec_context.name in names


@pytest.mark.slow
def test_bench_script_prints_one_json_document(tmp_path):
    clip = tmp_path / "clip.mp4"
    write_clip(clip, frames=6, width=128, height=72)
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--device", "cpu", "--models", "lite0,googlenet",
         "--sizes", "64x36", "--steps", "1", "--video-sizes", "64x36", "--frames", "4", "--input", str(clip),
         "--live-seconds", "2", "--live-runs", "2", "--profile-width", "64", "--out", str(tmp_path / "bench.json")],
        capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report == json.loads((tmp_path / "bench.json").read_text())
    assert report["peak"]["fp32"] > 0 and report["peak"]["bf16"] > 0
    steps = report["steps"]
    assert {(r["model"], r["precision"]) for r in steps} == {(m, p) for m in ("lite0", "googlenet")
                                                            for p in ("fp32", "bf16")}
    for row in steps:
        assert row["seconds_per_step"] > 0 and row["gflop_per_step"] > 0 and 0 <= row["share_of_peak"] <= 1
    # GoogLeNet does several times Lite0's arithmetic at any size
    flops = {r["model"]: r["gflop_per_step"] for r in steps}
    assert flops["googlenet"] > 2 * flops["lite0"]
    for row in report["video"]:
        assert "error" not in row, row
        assert row["frames"] == 4 and row["fps"] > 0 and row["peak_memory_mb"] > 0
        assert row["wall_over_dream"] >= 1.0
    live = report["live"]
    # the scene's first frame is captured at once on any machine; how many get dreamt in a short
    # run is the benchmark's figure, not this test's
    assert "error" not in live and live["camera_fps"] > 0 and live["dream_fps"] >= 0
    assert len(live["runs_dream_fps"]) == 2
    assert live["dream_fps"] in live["runs_dream_fps"] and live["runs_dream_fps"] == sorted(live["runs_dream_fps"])
    parts = report["profile"]["ms_per_frame"]
    assert parts["ascent"] > 0 and parts["flow"] > 0 and parts["encode"] > 0 and parts["wall"] > 0
    assert {t["what"] for t in report["targets"]} >= {"default video path 640x360, fps"}
    table = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), "--markdown",
                            str(tmp_path / "bench.json")], capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert table.returncode == 0 and "| lite0 | 64x36 |" in table.stdout


@pytest.mark.slow
def test_compile_is_opt_in_reports_its_time_and_dreams_the_same(picture):
    import shutil

    from streamdream.engine.dreamer import Dreamer

    if not (shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")):
        pytest.skip("no C++ compiler: torch.compile cannot build CPU kernels here")
    settings = dict(model="lite0", layers="block1", octaves=1, iterations=2, seed=1, device="cpu", width=48)
    plain = Dreamer.from_config(DreamConfig(**settings))
    assert not DreamConfig().compile and not plain.net.compiled
    compiled = Dreamer.from_config(DreamConfig(**settings, compile=True))
    frame = picture[:36, :48]
    from torch._dynamo.utils import counters

    graphs = counters["stats"]["unique_graphs"]
    expected, got = plain.dream_frame(frame), compiled.dream_frame(frame)
    assert counters["stats"]["unique_graphs"] > graphs  # dynamo did compile the network
    assert compiled.net.compiled and compiled.net.compile_seconds > 0
    first = compiled.net.compile_seconds
    compiled.dream_frame(frame)  # the same shape: nothing more to compile
    assert compiled.net.compile_seconds == first
    # inductor may sum in another order: the same dream to a rounding
    assert (got != frame).any() and abs(got.astype(int) - expected.astype(int)).max() <= 2


def test_the_profile_counts_a_label_s_host_time_not_its_span_on_the_device():
    # on CUDA a label around device work comes twice from the profiler, its span on the device
    # (no host time) after its host entry; the profile of a card once read 0 for every stage
    import importlib.util
    from types import SimpleNamespace

    from torch.autograd import DeviceType

    spec = importlib.util.spec_from_file_location("bench_script", ROOT / "scripts" / "bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    event = lambda key, device, host, own=0.0, on_device=0.0: SimpleNamespace(
        key=key, device_type=device, cpu_time_total=host, self_cpu_time_total=own, self_device_time_total=on_device)
    events = [event("streamdream.carry", DeviceType.CPU, 3e6, 1e6), event("streamdream.carry", DeviceType.CUDA, 0.0),
              event("streamdream.decode", DeviceType.CPU, 2e6), event("aten::copy_", DeviceType.CPU, 5e5, 5e5),
              event("Memcpy HtoD", DeviceType.CUDA, 0.0, on_device=2e5), event("kernel", DeviceType.CUDA, 0.0, on_device=1e6)]
    labelled, own, copies, busy, memcpy = bench.stage_times(events, cuda=True)
    assert labelled == {"carry": 3.0, "decode": 2.0} and own == {"carry": 1.0, "decode": 0.0}
    assert (copies, busy, memcpy) == (0.5, 1.2, 0.2)
    assert bench.stage_times(events, cuda=False)[2:] == (0.0, 0.0, 0.0)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="per-thread CPU counts are read from Linux's /proc")
def test_the_live_benchmark_tells_each_thread_s_share_of_a_core():
    # bench_live.py prints how much of a core each thread of a show used: a dream thread that got
    # less than its core is why a real show dreams slower than its own work allows
    import importlib.util
    import threading

    spec = importlib.util.spec_from_file_location("live_timing", ROOT / "scripts" / "live_timing.py")
    timing = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(timing)
    with pytest.raises(ValueError):
        timing.ThreadLoad(1.0, 1.0)
    done = threading.Event()

    def spin() -> None:
        while not done.is_set():
            sum(range(1000))

    threads = [threading.Thread(target=spin, name="busy"), threading.Thread(target=done.wait, name="waiting")]
    for thread in threads:
        thread.start()
    assert timing.ThreadLoad(60.0, 61.0).line() is None  # the window has not passed
    load = timing.ThreadLoad(0.0, 0.5)
    load._thread.join()
    done.set()
    for thread in threads:
        thread.join()
    assert load.shares["busy"] > 0.0 and load.shares["waiting"] < load.shares["busy"]
    assert load.shares["waiting"] < 0.05  # a thread that waits uses no core, however busy the machine
    assert "load" not in load.shares  # not the watcher itself
    assert load.line().startswith("a core's share each thread used") and "busy" in load.line()

"""Speed against the machine's own limits: one JSON document on stdout.

    python scripts/bench.py [--device auto|cpu|cuda] [--models lite0,googlenet]
                            [--sizes 320x180,640x360,1280x720,1920x1080] [--video-sizes ...]
                            [--input CLIP] [--frames 24] [--steps 4] [--no-video] [--no-live] [--live-runs 3]
                            [--no-profile] [--markdown] [--out FILE]

- `machine`: the CPU (model, cores, threads, bf16 support), the card, the library versions.
- `peak`: this machine's dense matmul rate, fp32 and bf16, in GFLOP/s (best of several runs,
  measured before and after the steps; the higher is kept).
- `steps`: for each model and size, fp32 and bf16: seconds per dream ascent step (the
  default preset's layer; lite0 with its shipped weights, googlenet with random ones: same
  compute), its floating-point operations (counted with torch.utils.flop_counter, forward and
  backward), the GFLOP/s that makes and its share of the peak of that precision. `auto` says
  which precision the tool picks here.
- `video`: `streamdream video` file to file (decode, flow, dream, encode; audio kept) with the
  default preset (googlenet: the classic preset) at each of `--video-sizes`, each in a fresh
  process: seconds per frame and fps over every frame (the first is a full octave dream),
  steady fps after it, pipeline wall time over the dream stage's, each stage's busy time, and
  peak memory (RSS on a CPU, CUDA max allocated on a GPU); with `--compile`, compiled with
  torch.compile, and the seconds that took.
- `live`: `streamdream webcam --preset live` headless on the built-in scene at 320x180,
  `--live-runs` times in fresh processes: the median run, and every run's dream fps.
- `profile`: one video frame of the default path taken apart with torch.profiler: decode,
  flow, upload, carry (warp and hold), ascent steps, download, encode, and the dream stage's
  time outside any tensor op (Python and dispatch).

`--markdown JSON` prints docs/benchmarks.md from a report, `--summary JSON` the README's short table.
The targets of the speed issue are in `targets`, each with the figure it is judged on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path

import torch

from streamdream import models
from streamdream.models import allocator, runtime
from streamdream.engine.dream import ascent_step
from streamdream.engine.objectives import from_layers
from streamdream.presets import build_config

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INPUT = ROOT.parent / "shared" / "media" / "bigbuckbunny.mp4"
SIZES = "320x180,640x360,1280x720,1920x1080"
PRESETS = {"lite0": None, "googlenet": "classic"}  # the look each model is timed with
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def parse_sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for part in filter(None, text.split(",")):
        w, h = part.lower().split("x")
        sizes.append((int(w), int(h)))
    return sizes


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


# --- the machine and its ceiling --------------------------------------------------------------

def machine(device: torch.device) -> dict:
    import av
    import cv2

    flags = runtime.cpu_flags()
    out = {"cpu": runtime.cpu_name(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
           "cpu_bf16": sorted(flags & {"avx512_bf16", "amx_bf16", "amx_tile"}),
           "cpu_capability": torch.backends.cpu.get_cpu_capability(),
           "device": device.type, "gpu": torch.cuda.get_device_name() if device.type == "cuda" else None,
           "torch": torch.__version__, "av": av.__version__, "ffmpeg": av.ffmpeg_version_info,
           "opencv": cv2.__version__, "python": platform.python_version(),
           "when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    return out


def matmul_peak(device: torch.device, dtype: torch.dtype, repeats: int = 6) -> dict:
    """This machine's dense matmul rate in GFLOP/s, the ceiling a convolution's arithmetic could
    reach: the best of torch.matmul (MKL or cuBLAS) and the same product as a 1x1 convolution
    (oneDNN or cuDNN, the library the dream's convolutions run in). On this project's AMD CPU MKL's
    sgemm reached 30 GFLOP/s and oneDNN 68: taking only the first would flatter every share."""
    n = 4096 if device.type == "cuda" else 2048
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    side = 64  # the 1x1 convolution: (side * side) x n times n x n
    x = torch.randn(1, n, side, side, device=device, dtype=dtype).contiguous(memory_format=torch.channels_last)
    w = torch.randn(n, n, 1, 1, device=device, dtype=dtype).contiguous(memory_format=torch.channels_last)
    inner = 20 if device.type == "cuda" else 1
    rates = {}
    for name, work, flops in (("matmul", lambda: a @ b, 2 * n**3), ("conv1x1", lambda: torch.conv2d(x, w),
                                                                      2 * n * n * side * side)):
        best = float("inf")
        for i in range(repeats + 1):
            sync(device)
            start = time.perf_counter()
            for _ in range(inner):
                work()
            sync(device)
            if i:  # the first run warms up the library
                best = min(best, (time.perf_counter() - start) / inner)
        rates[name] = round(flops / best / 1e9, 1)
    return {**rates, "peak": max(rates.values())}


# --- dream steps ------------------------------------------------------------------------------

def dream_net(model: str, device: torch.device, precision: str):
    spec = models.get_spec(model)
    # googlenet's weights are a download: random ones cost the same arithmetic
    network = models.load_network(spec) if spec.packaged is not None else spec.build(1000).eval()
    layer = build_config(PRESETS[model]).dream.layers  # the layer its preset dreams
    net = models.DreamNet(spec, network, [layer]).prepare(device, precision)
    return net, from_layers(layer, lambda name: name, lambda name: 1)


def step_flops(net, objective, image) -> float:
    """Floating-point operations of one ascent step's forward and backward pass as it is timed
    (whole, or window by window where the device tiles this size: `gradient.tile_side_for`), counted by
    torch (convolutions and matmuls; the step's elementwise work is a rounding error beside them).
    Counted with .backward(), as FlopCounterMode's module tracking refuses autograd.grad on a leaf."""
    from torch.utils.flop_counter import FlopCounterMode

    from streamdream.engine import gradient
    from streamdream.models import efficientnet_lite

    side = gradient.tile_side_for(image)
    if side is not None:  # the step is timed in tiles: count the windows it runs
        (h, w), inner = image.shape[2:], side - 2 * gradient.TILE_MARGIN
        # the grid's offset is random on each step; a typical one cuts each side once more than none
        windows = len(gradient.tile_spans(h, inner, inner // 2)) * len(gradient.tile_spans(w, inner, inner // 2))
        return windows * step_flops(net, objective, image[:, :, :min(side, h), :min(side, w)])
    x = image.detach().clone().requires_grad_(True)
    counter = FlopCounterMode(display=False)
    # counted on the plain arithmetic the network defines: the counter does not see the fused
    # oneDNN convolution+ReLU6 of the CPU fast path, and would count the zero row of its
    # padded depthwise kernels
    fast, efficientnet_lite.CPU_FAST_PATH = efficientnet_lite.CPU_FAST_PATH, False
    try:
        with counter, net.autocast(x):
            objective(net(x)).backward()
    finally:
        efficientnet_lite.CPU_FAST_PATH = fast
    return float(counter.get_total_flops())


def time_steps(net, objective, image, steps: int) -> list[float]:
    device = image.device
    generator = torch.Generator().manual_seed(0)
    ascent_step(image, net, objective, 0.006, 32, generator)  # warm-up: allocations, kernel choice
    times = []
    for _ in range(steps):
        sync(device)
        start = time.perf_counter()
        ascent_step(image, net, objective, 0.006, 32, generator)
        sync(device)
        times.append(time.perf_counter() - start)
    return times


def bench_steps(args, device: torch.device, peak: dict) -> list[dict]:
    rows = []
    for model in args.models:
        nets = {p: dream_net(model, device, p) for p in ("fp32", "bf16")}
        for w, h in args.sizes:
            image = torch.rand(1, 3, h, w, device=device)
            flops = step_flops(*nets["fp32"], image)
            for precision, (net, objective) in nets.items():
                # a shared machine's speed drifts within minutes, so each row's share
                # is taken against a peak measured right beside it
                nearby = matmul_peak(device, DTYPES[precision], repeats=2)["peak"]
                times = sorted(time_steps(net, objective, image, args.steps))
                median, best = times[len(times) // 2], times[0]
                rows.append({"model": model, "size": f"{w}x{h}", "precision": precision,
                             "seconds_per_step": round(median, 4), "best_seconds_per_step": round(best, 4),
                             "gflop_per_step": round(flops / 1e9, 2),
                             "gflops": round(flops / median / 1e9, 1), "best_gflops": round(flops / best / 1e9, 1),
                             "peak_nearby": nearby,
                             "share_of_peak": round(flops / best / 1e9 / max(nearby, peak[precision]), 3),
                             "share_of_nearby_peak": round(flops / best / 1e9 / nearby, 3)})
                print(f"step {model} {w}x{h} {precision}: {median * 1000:.0f} ms "
                      f"(best {best * 1000:.0f}), {flops / best / 1e9:.1f} GFLOP/s", file=sys.stderr, flush=True)
    return rows


# --- file to file -----------------------------------------------------------------------------

def make_clip(path: Path, frames: int = 48) -> None:
    """A 1920x1080 H.264 clip of the built-in moving scene (when no real clip is at hand)."""
    import av

    from streamdream.live.scene import SyntheticSource

    scene = SyntheticSource(1920, 1080, fps=25, realtime=False)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25, options={"crf": "18", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(scene.render(i / 25), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())


def video_child(args) -> dict:
    """One `streamdream video` run, in this (fresh) process: its numbers and its peak memory."""
    from streamdream.video import dream_video_file
    from streamdream.media.video_in import VideoFileSource

    model, (w, _) = args.child_model, parse_sizes(args.child_size)[0]
    device = models.pick_device(args.device)
    config = build_config(PRESETS[model], {"dream": {"width": w, "device": args.device,
                                                     "precision": args.precision, "compile": args.compile}})
    network = None if model == "lite0" else models.get_spec(model).build(1000).eval()
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        source = VideoFileSource(args.input, w, 0.0, args.frames)
        result = dream_video_file(config, source, Path(tmp) / "out.mp4", network=network,
                                  progress=lambda done, total: times.append(time.perf_counter()))
    s = result.stats
    steady = (len(times) - 2) / (times[-1] - times[1]) if len(times) > 3 else None
    memory = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else peak_rss_mb()
    return {"model": model, "size": f"{result.info.width}x{result.info.height}", "frames": s.frames,
            "keyframes": s.keyframes, "seconds_per_frame": round(s.wall_seconds / s.frames, 4),
            "fps": round(s.frames / s.wall_seconds, 2), "steady_fps": steady and round(steady, 2),
            "wall_over_dream": round(s.wall_seconds / s.dream_seconds, 3),
            "stage_seconds_per_frame": {k: round(v / s.frames, 4) for k, v in (
                ("decode", s.capture_seconds), ("flow", s.flow_seconds), ("dream", s.dream_seconds),
                ("encode", s.sink_seconds))},
            "peak_memory_mb": round(memory), "memory_kind": "cuda max allocated" if device.type == "cuda" else "rss",
            "precision": models.describe_precision(models.uses_bf16(args.precision, device, models.get_spec(model))),
            "compiled": args.compile, "compile_seconds": round(result.compile_seconds, 1)}


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM). Not ru_maxrss: Linux carries that over from
    the parent across fork and exec, so every child reported the parent's 3 GB."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(args, kind: str, **fields) -> dict:
    command = [sys.executable, __file__, "--child", kind, "--device", args.device, "--precision", args.precision,
               *(["--compile"] if args.compile else []),
               "--input", str(args.input), "--frames", str(args.frames), "--live-seconds", str(args.live_seconds),
               "--profile-width", str(args.profile_width)]
    for key, value in fields.items():
        command += [f"--child-{key}", value]
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))  # the caller's packages too
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": path})
    if done.returncode:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1], **fields}
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_video(args) -> list[dict]:
    rows = []
    for model in args.models:
        for w, h in args.video_sizes:
            row = child(args, "video", model=model, size=f"{w}x{h}")
            rows.append(row)
            print(f"video {model} {w}x{h}: {row.get('fps')} fps (steady {row.get('steady_fps')})",
                  file=sys.stderr, flush=True)
    return rows


def live_child(args) -> dict:
    from streamdream.live.show import WebcamOptions, run_webcam

    config = build_config("live", {"dream": {"width": 320, "device": args.device, "precision": args.precision}})
    options = WebcamOptions("test", window=False, duration=args.live_seconds, preset="live")
    s = run_webcam(options, config, say=lambda m: None).stats
    return {"preset": "live", "size": "320x180", "seconds": round(s.wall_seconds, 1),
            "dream_fps": round(s.dreamt / s.wall_seconds, 2), "display_fps": round(s.frames / s.wall_seconds, 2),
            "camera_fps": round(s.captured / s.wall_seconds, 2), "dropped": s.dropped,
            "latency_ms_median": round(s.latency_ms, 1)}


# --- one frame taken apart --------------------------------------------------------------------

def stage_times(events, cuda: bool) -> tuple[dict, dict, float, float, float]:
    """From a profile's averaged events: each `streamdream.` label's time on the host and its own
    (inside the label but in no op: Python, OpenCV), in seconds; and on CUDA the host's time in
    copies, the device's in memcpys and its busy time. A label that ran device work comes twice,
    once for the host and once as its span on the device (grouped apart by device type), and only
    the host's counts here: taken in turn, the device's (no host time) overwrote it with 0."""
    from torch.autograd import DeviceType

    labelled, own, copies, device_busy, memcpy = {}, {}, 0.0, 0.0, 0.0
    for event in events:
        if event.key.startswith("streamdream."):
            if event.device_type == DeviceType.CPU:
                name = event.key.split(".", 1)[1]
                labelled[name] = labelled.get(name, 0.0) + event.cpu_time_total / 1e6
                own[name] = own.get(name, 0.0) + event.self_cpu_time_total / 1e6
        elif cuda:
            if event.key in ("aten::copy_", "aten::_to_copy"):
                copies += event.self_cpu_time_total / 1e6
            device_time = getattr(event, "self_device_time_total", 0.0) / 1e6
            if "Memcpy" in event.key:
                memcpy += device_time
            device_busy += device_time
    return labelled, own, copies, device_busy, memcpy


def profile_child(args) -> dict:
    """The default path (--profile-width, 640) under torch.profiler, its stages run one after another on
    this thread (the profiler sees only the thread it started on): where one frame's time goes."""
    from torch.profiler import ProfilerActivity, profile, record_function

    from streamdream.engine.dreamer import Dreamer
    from streamdream.media.video_out import VideoFileSink
    from streamdream.media.video_in import VideoFileSource
    from streamdream.engine.motion import make_tracker
    from streamdream.engine.temporal import StreamDreamer

    device = models.pick_device(args.device)
    config = build_config(None, {"dream": {"width": args.profile_width, "device": args.device,
                                           "precision": args.precision}})
    source = VideoFileSource(args.input, args.profile_width, 0.0, args.frames)
    info = source.info
    dreamer = Dreamer.from_config(config.dream)
    stream, tracker = StreamDreamer(dreamer, config.video), make_tracker(config.video, device)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    frames = iter(source.frames())
    count = 0
    with tempfile.TemporaryDirectory() as tmp:
        sink = VideoFileSink(Path(tmp) / "o.mp4", info.rate, info.time_base, config.video.crf, None, 0.0)
        with profile(activities=activities) as prof:
            start = time.perf_counter()  # inside: the profiler's start and its processing at exit are not the frames'
            while True:
                with record_function("streamdream.decode"):
                    frame = next(frames, None)
                if frame is None:
                    break
                with record_function("streamdream.flow"):
                    motion = tracker.next(frame.image)
                dreamt = stream.next(frame.image, motion)
                with record_function("streamdream.encode"):
                    sink.write(dreamt, frame.time)
                count += 1
            wall = time.perf_counter() - start
        sink.close()
    source.close()
    carried = max(1, count - stream.keyframes)
    labelled, own, copies, device_busy, memcpy = stage_times(prof.key_averages(), device.type == "cuda")
    ms = lambda seconds, frames: round(1000 * seconds / frames, 2)
    stages = ("decode", "flow", "upload", "keyframe", "carry", "ascent", "download", "encode")
    out = {"decode": ms(labelled.get("decode", 0.0), count), "flow": ms(labelled.get("flow", 0.0), count),
           "upload": ms(labelled.get("upload", 0.0), count), "carry": ms(labelled.get("carry", 0.0), carried),
           "ascent": ms(labelled.get("ascent", 0.0), carried),
           "ascent_outside_ops": ms(own.get("ascent", 0.0), carried),
           "download": ms(labelled.get("download", 0.0), count), "encode": ms(labelled.get("encode", 0.0), count),
           "keyframe": ms(labelled.get("keyframe", 0.0), max(1, stream.keyframes)),
           "between_stages": ms(max(0.0, wall - sum(labelled.get(k, 0.0) for k in stages)), count),
           "wall": ms(wall, count)}
    if device.type == "cuda":
        out.update({"host_device_copies_cpu": ms(copies, count), "memcpy_device": ms(memcpy, count),
                    "device_busy_share": round(device_busy / wall, 3)})
    return {"size": f"{info.width}x{info.height}", "frames": count, "keyframes": stream.keyframes,
            "note": "ms per frame, stages run one after another under torch.profiler (which slows small "
                    "ops); carry, ascent and ascent_outside_ops (Python and dispatch between the steps' "
                    "ops) per carried frame, keyframe per full dream, the rest over all frames",
            "ms_per_frame": out}


# --- the report -------------------------------------------------------------------------------

def targets(report: dict) -> list[dict]:
    """The speed issue's targets beside the figures they are judged on (None: not measured here)."""
    gpu = report["machine"]["device"] == "cuda"
    video = {(r.get("model"), r.get("size")): r for r in report.get("video", [])}
    steps = report.get("steps", [])
    out = []
    if not gpu:
        row = video.get(("lite0", "640x360"), {})
        out.append({"what": "default video path 640x360, fps", "target": ">= 2", "value": row.get("fps")})
        live = report.get("live", {})
        out.append({"what": "live preset 320x180, dream fps", "target": ">= 12", "value": live.get("dream_fps")})
        for model, share in (("googlenet", 0.5), ("lite0", 0.35)):
            rows = [r for r in steps if r["model"] == model and r["size"] == "640x360" and r["precision"] == "fp32"]
            # against the peak measured beside the step: a shared machine's speed drifts within minutes
            out.append({"what": f"{model} 640x360 fp32 step, share of fp32 matmul peak", "target": f">= {share}",
                        "value": rows[0]["share_of_nearby_peak"] if rows else None,
                        "against_the_highest_peak_of_the_run": rows[0]["share_of_peak"] if rows else None})
    else:
        for model in ("lite0", "googlenet"):
            for size, fps in (("1280x720", 60), ("1920x1080", 30)):
                out.append({"what": f"{model} {size} file to file, fps", "target": f">= {fps}",
                            "value": video.get((model, size), {}).get("fps")})
    return out


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def summary(report: dict) -> str:
    """The README's short table: the default path's speed on this machine, one row a job (the
    machine and the date stand in docs/benchmarks.md)."""
    video = {(r.get("model"), r.get("size")): r for r in report.get("video", [])}
    steps = {(r["model"], r["size"], r["precision"]): r for r in report.get("steps", [])}
    lines = ["| what | measured |", "|---|---|"]
    for size in ("320x180", "640x360"):
        v = video.get(("lite0", size))
        if v and "fps" in v:
            lines.append(f"| `video` {size}, default look, file to file ({v['frames']} frames, the first full dream "
                         f"included) | {v['fps']} fps ({v['steady_fps']} after the first frame) |")
    live = report.get("live")
    if live and "dream_fps" in live:
        lines.append(f"| `webcam --preset live` {live['size']}, built-in scene | {live['dream_fps']} dream fps, "
                     f"display {live['display_fps']} fps |")
    for key in (("lite0", "640x360", "fp32"), ("lite0", "1280x720", "fp32")):
        row = steps.get(key)
        if row:
            lines.append(f"| one dream step, Lite0 {key[1]} | {_ms(row['seconds_per_step'])} |")
    return "\n".join(lines)


def markdown(reports: dict[str, dict]) -> str:
    """docs/benchmarks.md: every part of each report ({its file: report}), as tables; the first
    report's sections come first, each other's under a heading naming its machine."""
    names = list(reports)
    out = ["# Benchmarks", "",
           f"Generated by `python scripts/bench.py --markdown {','.join(names)}` from runs of `scripts/bench.py` "
           "(`--out` those files); edit the script, not this page.", ""]
    for k, (name, report) in enumerate(reports.items()):
        body = report_markdown(report)
        if k:
            m = report["machine"]
            body = [f"# On {m['gpu'] or m['cpu']} (`{name}`)", ""] + [line.replace("## ", "### ", 1)
                                                                        if line.startswith("## ") else line for line in body]
        out += body
    return "\n".join(out)


def report_markdown(report: dict) -> list[str]:
    """One report's sections: its machine, then a table for each part it holds."""
    m = report["machine"]
    where = f"{m['gpu']}, on a host of {m['cpu']}, {m['cores']} cores" if m["gpu"] else f"{m['cpu']}, {m['cores']} cores"
    out = [f"- **Machine:** {where}; bf16 in hardware: {', '.join(m.get('cpu_bf16') or []) or 'none'}; "
           f"torch {m['torch']} ({m['torch_threads']} threads), PyAV {m['av']} (FFmpeg {m['ffmpeg']}), "
           f"OpenCV {m['opencv']}, Python {m['python']}.",
           f"- **When:** {m['when']}.",
           f"- **Peak:** dense matmul {report['peak']['fp32']:.0f} GFLOP/s fp32, {report['peak']['bf16']:.0f} bf16 "
           "(the best measured before and after the steps, if any).", ""]
    if report.get("steps"):
        auto = ", ".join(f"{k} {v}" for k, v in report.get("auto_precision", {}).items())
        out += ["## One dream ascent step", "",
                "Seconds per step of the default preset's layer (GoogLeNet: `inception4c`, random weights, the "
                "same arithmetic), FLOPs counted forward and backward, share of the peak of that precision. "
                f"`--precision auto` picks: {auto}.", "",
                "| model | size | fp32 | bf16 | GFLOP/step | fp32 share of peak | bf16 share |", "|---|---|---|---|---|---|---|"]
        keys = sorted({(r["model"], r["size"]) for r in report["steps"]}, key=lambda k: (k[0], int(k[1].split("x")[0])))
        for model, size in keys:
            rows = {r["precision"]: r for r in report["steps"] if (r["model"], r["size"]) == (model, size)}
            out.append(f"| {model} | {size} | {_ms(rows['fp32']['seconds_per_step'])} | "
                       f"{_ms(rows['bf16']['seconds_per_step'])} | {rows['fp32']['gflop_per_step']} | "
                       f"{rows['fp32']['share_of_peak']:.0%} | {rows['bf16']['share_of_peak']:.0%} |")
        out.append("")
    if report.get("video"):
        out += ["## `streamdream video`, file to file", "",
                f"Decode, flow, dream and encode of `{Path(report.get('input', '')).name}`, each size in a fresh process; "
                "fps over every frame (the first is a full octave dream) and after the first; the pipeline's wall "
                "time over the dream stage's; peak memory.", "",
                "| model | size | frames | fps | fps after the first | wall / dream | memory |", "|---|---|---|---|---|---|---|"]
        for v in report["video"]:
            if "fps" not in v:
                out.append(f"| {v.get('model')} | {v.get('size')} | failed: {v.get('error', '')} | | | | |")
                continue
            out.append(f"| {v['model']} | {v['size']} | {v['frames']} | {v['fps']} | {v['steady_fps']} | "
                       f"{v['wall_over_dream']} | {v['peak_memory_mb']} MB ({v['memory_kind']}) |")
        out.append("")
    live = report.get("live")
    if live and "dream_fps" in live:
        out += ["## `streamdream webcam`", "",
                f"`--preset live` headless on the built-in scene at {live['size']}, {live['seconds']} s a run, "
                f"{len(live['runs_dream_fps'])} runs in fresh processes; the median run:", "",
                "| dream fps | display fps | camera fps | latency (median) | each run's dream fps |", "|---|---|---|---|---|",
                f"| {live['dream_fps']} | {live['display_fps']} | {live['camera_fps']} | {live['latency_ms_median']} ms | "
                f"{', '.join(map(str, live['runs_dream_fps']))} |", ""]
    profile = report.get("profile")
    if profile and "ms_per_frame" in profile:
        ms = profile["ms_per_frame"]
        out += ["## Where a frame goes", "",
                f"One {profile['size']} frame of the default video path under `torch.profiler`: {profile['note']}.", "",
                "| " + " | ".join(ms) + " |", "|" + "---|" * len(ms), "| " + " | ".join(f"{v}" for v in ms.values()) + " |", ""]
    if report.get("targets"):
        out += ["## Targets", "", "| what | target | measured |", "|---|---|---|"]
        for t in report["targets"]:
            out.append(f"| {t['what']} | {t['target']} | {t['value'] if t['value'] is not None else 'not measured'} |")
        out.append("")
    return out


def main() -> None:
    allocator.keep_freed_memory()  # as the command line does, before any thread starts
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                   help="for the video, live and profile runs (the steps are timed in both)")
    p.add_argument("--compile", action="store_true",
                   help="the file-to-file runs with --compile (torch.compile); their rows give compile_seconds")
    p.add_argument("--models", default="lite0,googlenet")
    p.add_argument("--sizes", default=SIZES, help="sizes the steps are timed at")
    p.add_argument("--video-sizes", help=f"sizes of the file-to-file runs (default: {SIZES} on a GPU, "
                                         f"320x180,640x360 on a CPU, where a 1080p dream takes minutes)")
    p.add_argument("--steps", type=int, default=4, help="timed steps per model, size and precision")
    p.add_argument("--frames", type=int, default=24, help="frames per file-to-file run")
    p.add_argument("--live-seconds", type=float, default=15.0)
    p.add_argument("--live-runs", type=int, default=3,
                   help="live runs; the report gives the median run and every run's dream fps (single runs of this "
                        "shared machine varied widely for one setting)")
    p.add_argument("--profile-width", type=int, default=640)
    p.add_argument("--input", help="the clip to dream (default: the shared clip, else a generated 1080p one)")
    p.add_argument("--no-steps", action="store_true")
    p.add_argument("--no-video", action="store_true")
    p.add_argument("--no-live", action="store_true")
    p.add_argument("--no-profile", action="store_true")
    p.add_argument("--out", help="also write the JSON here")
    p.add_argument("--markdown", metavar="JSON[,JSON]", help="print docs/benchmarks.md from these reports and stop")
    p.add_argument("--summary", metavar="JSON", help="print the README's short table from this report and stop")
    p.add_argument("--child", choices=["video", "live", "profile"], help=argparse.SUPPRESS)
    p.add_argument("--child-model", help=argparse.SUPPRESS)
    p.add_argument("--child-size", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.markdown or args.summary:
        if args.markdown:
            print(markdown({name: json.loads(Path(name).read_text()) for name in args.markdown.split(",")}))
        else:
            print(summary(json.loads(Path(args.summary).read_text())))
        return
    if args.child:
        print(json.dumps({"video": video_child, "live": live_child, "profile": profile_child}[args.child](args)))
        return
    device = models.pick_device(args.device)
    if device.type == "cuda":
        models.cuda_determinism(False)  # the kernels an unseeded run gets
    args.models = [m for m in args.models.split(",") if m]
    for model in args.models:
        if model not in PRESETS:
            p.error(f"--models: choose from {', '.join(PRESETS)}")
    args.sizes = parse_sizes(args.sizes)
    args.video_sizes = parse_sizes(args.video_sizes or (SIZES if device.type == "cuda" else "320x180,640x360"))
    with tempfile.TemporaryDirectory() as tmp:
        if args.input is None:
            args.input = DEFAULT_INPUT
            if not DEFAULT_INPUT.exists():
                args.input = Path(tmp) / "scene.mp4"
                make_clip(args.input)
        report = {"machine": machine(device)}
        runs = [{k: matmul_peak(device, dtype) for k, dtype in DTYPES.items()}]
        report["peak"] = {k: runs[0][k]["peak"] for k in DTYPES}
        if not args.no_steps:
            report["steps"] = bench_steps(args, device, report["peak"])
            runs.append({k: matmul_peak(device, dtype) for k, dtype in DTYPES.items()})
            report["peak"] = {k: max(r[k]["peak"] for r in runs) for k in DTYPES}
            for row in report["steps"]:  # against the highest peak seen, before, beside or after
                row["share_of_peak"] = round(row["best_gflops"] / max(row["peak_nearby"], report["peak"][row["precision"]]), 3)
        report["peak_runs"] = runs
        report["auto_precision"] = {m: models.describe_precision(models.uses_bf16("auto", device, models.get_spec(m)))
                                    for m in args.models}
        report["input"] = str(args.input)
        if not args.no_video:
            report["video"] = bench_video(args)
        if not args.no_live:
            runs = sorted((child(args, "live") for _ in range(max(1, args.live_runs))), key=lambda r: r["dream_fps"])
            report["live"] = {**runs[len(runs) // 2], "runs_dream_fps": [r["dream_fps"] for r in runs]}
        if not args.no_profile:
            report["profile"] = child(args, "profile")
        report["targets"] = targets(report)
    text = json.dumps(report, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

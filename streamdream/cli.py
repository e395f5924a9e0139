"""The command line: parse flags, build the config, call the library, report.

All terminal output goes through `console`. Exit codes: 0 done, 1 the work failed,
2 bad usage or input, 128 + the signal when stopped by one (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from . import __version__, allocator, signals
from .errors import RunError, StreamdreamError, UsageError
from .signals import exit_code

console = Console(highlight=False)


def say(message: str, style: str | None = None) -> None:
    console.print(Text(message, style=style), soft_wrap=True)


@contextmanager
def progress_bar(description: str, unit: str):
    """A rich progress bar; yields update(done, total). Shows rate and ETA.

    The bar appears with the first update, so work that fails while loading (a bad input, an
    offline model) prints its one error line and no empty bar.
    """
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn()]
    bar = Progress(*columns, console=console, transient=False)
    task = bar.add_task(description, total=None, rate="")
    start = None

    def update(done: int, total: int) -> None:
        nonlocal start
        if start is None:
            start = time.perf_counter()
            bar.start()
        elapsed = time.perf_counter() - start
        rate = f"{done / elapsed:.2f} {unit}/s" if elapsed > 0 and done else ""
        bar.update(task, completed=done, total=total, rate=rate)

    try:
        yield update
    finally:
        if start is not None:
            bar.stop()


# --- flags ---------------------------------------------------------------------------------------

def add_dream_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("dream options (override the preset)")
    g.add_argument("--preset", help="a built-in preset (see `streamdream presets`) or a .toml file")
    g.add_argument("--model", help="network: lite0 (default), lite1, lite2 (offline), googlenet, inception_v3, vgg16, resnet50")
    g.add_argument("--weights", metavar="FILE", help="a local state dict for the model")
    g.add_argument("--num-classes", type=int, help="classes in the --weights file's head (e.g. 365 for Places365)")
    g.add_argument("--layers", metavar="SPEC", help="what to amplify: block9, block9:12, block5*0.5+block9")
    g.add_argument("--class", dest="class_name", metavar="NAME", help="an ImageNet class to dream towards, e.g. banana")
    g.add_argument("--guide", metavar="IMG", help="an image whose features guide the dream at --layers")
    g.add_argument("--octaves", type=int, help="image pyramid levels")
    g.add_argument("--octave-scale", type=float, help="size ratio between pyramid levels")
    g.add_argument("--iterations", type=int, help="ascent steps per octave")
    g.add_argument("--step", type=float, help="step size (typical per-pixel change, 0-1 scale)")
    g.add_argument("--jitter", type=int, help="random shift per step, in pixels")
    g.add_argument("--seed", type=int, help="make the run repeatable")
    g.add_argument("--width", type=int, help="rescale the input to this width first, keeping the aspect")
    g.add_argument("--device", choices=["auto", "cpu", "cuda"], help="where to dream (auto: CUDA when present)")
    g.add_argument("--precision", choices=["auto", "fp32", "bf16"],
                   help="what a dream step computes in (auto: bf16 where this device runs it faster)")
    g.add_argument("--compile", action="store_true", default=None,
                   help="compile the network with torch.compile for each frame size met (tens of seconds "
                        "to minutes each, reported; may pay off over a long video on a GPU, slower on a CPU here)")


def dream_flags(args: argparse.Namespace) -> dict:
    keys = ["model", "weights", "num_classes", "layers", "class_name", "guide", "octaves", "octave_scale",
            "iterations", "step", "jitter", "seed", "width", "device", "precision", "compile"]
    return {k: getattr(args, k, None) for k in keys}


def load_config(args: argparse.Namespace, video: dict | None = None, zoom: dict | None = None,
                live: dict | None = None):
    from dataclasses import replace

    from .presets import build_config

    config = build_config(args.preset, {"dream": dream_flags(args), "video": video or {}, "zoom": zoom or {},
                                        "live": live or {}})
    if args.class_name is not None and args.layers is None and args.guide is None:
        # `--class banana` asks for a banana, not a banana on top of the preset's layers
        config = replace(config, dream=replace(config.dream, layers=None))
    return config


# --- commands ------------------------------------------------------------------------------------

def compiling(compiled: bool, seconds: float) -> str:
    """The report's note on --compile: how much of the time went into compiling."""
    return f", {seconds:.1f} s of it compiling" if compiled else ""


def cmd_image(args: argparse.Namespace) -> int:
    from .dreamer import Dreamer
    from .sinks import IMAGE_SUFFIXES, check_output, write_image
    from .sources import check_size, fit_width, fitted_size, load_guide, noise_image, parse_noise, read_image

    config = load_config(args)
    output = check_output(args.output, [args.input, config.dream.guide], args.overwrite, IMAGE_SUFFIXES)
    size = None if Path(args.input).exists() else parse_noise(args.input)
    if size:
        check_size(*fitted_size(size[1], size[0], config.dream.width), f"input {args.input}")
    source = noise_image(*size, seed=config.dream.seed or 0) if size else read_image(args.input)
    check_size(*fitted_size(*source.shape[:2], config.dream.width), f"input {args.input}")
    frame = fit_width(source, config.dream.width)
    dreamer = Dreamer.from_config(config.dream, guide=load_guide(config.dream))
    start = time.perf_counter()
    with progress_bar("dreaming", "steps") as update:
        dreamt = dreamer.dream_frame(frame, update)
    seconds = time.perf_counter() - start
    write_image(dreamt, output)
    say(f"wrote {output} ({frame.shape[1]}x{frame.shape[0]}, {config.dream.model} "
        f"{dreamer.objective.description}, seed {dreamer.seed}, {seconds:.1f} s on {dreamer.device.type}"
        f"{compiling(config.dream.compile, dreamer.net.compile_seconds)})")
    return 0


def cmd_video(args: argparse.Namespace) -> int:
    from .pipeline import dream_video_file
    from .sinks import VIDEO_SUFFIXES, check_output
    from .sources import VideoFileSource

    config = load_config(args, video={"flow": False if args.no_flow else None, "crf": args.crf,
                                      "optical_flow": args.optical_flow, "flow_weights": args.flow_weights})
    if args.start is not None and not math.isfinite(args.start):
        raise UsageError(f"--start must be a number of seconds, got {args.start}")
    if args.resume and args.overwrite:
        raise UsageError("--resume continues the partial file and --overwrite starts over; give one of them")
    output = check_output(args.output, [args.input, config.dream.guide], args.overwrite, VIDEO_SUFFIXES,
                          resume=args.resume)
    source = VideoFileSource(args.input, config.dream.width, args.start or 0.0, args.frames)
    with progress_bar("dreaming", "frames") as update:
        result = dream_video_file(config, source, output,
                                  lambda done, expected: update(done, max(done, expected or done)),
                                  overwrite=args.overwrite, resume=args.resume)
    for warning in result.warnings:
        say(f"warning: {warning}", "yellow")
    stats, info = result.stats, result.info
    if result.resumed:
        say(f"resumed after the {result.resumed} frames the partial file held")
    padded = f" padded to {info.width + info.width % 2}x{info.height + info.height % 2}" \
        if info.width % 2 or info.height % 2 else ""
    say(f"wrote {output} ({result.resumed + stats.frames} frames, {info.width}x{info.height}{padded}, "
        f"{float(info.rate):.3f} fps, "
        f"{result.audio}; {result.description}; {'flow' if config.video.flow else 'no flow'}, "
        f"{stats.keyframes} full dreams; {stats.wall_seconds / max(stats.frames, 1):.2f} s/frame on {result.device}"
        f"{compiling(config.dream.compile, result.compile_seconds)})")
    if stats.interrupted:
        say("interrupted: the file holds the frames dreamt so far", "yellow")
        return exit_code(stats.signal)
    return 0


def cmd_metrics(args: argparse.Namespace) -> int:
    from .metrics import measure_files

    with progress_bar("measuring", "frames") as update:
        m = measure_files(args.input, args.output, max_frames=args.frames, reference=args.reference,
                          progress=lambda done, expected: update(done, max(done, expected or done)),
                          warn=lambda message: say(f"warning: {message}", "yellow"))
    against = f"the full dream {args.reference}" if args.reference else "output frame 0"
    table = Table(title=f"{args.output} against {args.input} ({m.frames} frames)", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("E_warp output", f"{m.ewarp_output:.6f}"),
        ("E_warp input", f"{m.ewarp_input:.6f}"),
        ("E_warp ratio (output / input)", f"{m.ratio:.3f}"),
        ("strength, all frames", f"{m.strength:.4f}"),
        ("strength, first 50 frames", f"{m.strength_first:.4f}"),
        ("strength, last 50 frames", f"{m.strength_last:.4f}"),
        (f"covered (against {against}): mean", f"{m.covered:.3f}"),
        ("covered: lowest frame / last third", f"{m.covered_min:.3f} / {m.covered_last_third:.3f}"),
        ("moving covered", f"{m.moving_covered:.3f}"),
        ("concentration: mean / highest frame", f"{m.concentration:.3f} / {m.concentration_max:.3f}"),
        ("detail coherence: trusted / moving pixels", f"{m.coherence:.3f} / {m.coherence_moving:.3f}"),
    ]
    if m.reference_strength:
        rows.append(("strength / full dream's", f"{m.strength / m.reference_strength:.3f}"))
    for row in rows:
        table.add_row(*row)
    console.print(table)
    return 0


def _size(text: str | None, default: tuple[int, int]) -> tuple[int, int]:
    from .sources import parse_size

    return default if text is None else parse_size(text)


def cmd_zoom(args: argparse.Namespace) -> int:
    from .dreamer import Dreamer
    from .pipeline import close_all, run
    from .sinks import VIDEO_SUFFIXES, VideoFileSink, WindowSink, check_output
    from .sources import check_size, fit_width, fitted_size, load_guide, noise_image, read_image
    from .zoom import ZoomDreamer, ZoomSource

    config = load_config(args, zoom={"zoom": args.zoom, "rotate": args.rotate, "fps": args.fps,
                                     "keyframe_every": args.keyframe_every})
    z = config.zoom
    if args.frames is not None and args.frames < 1:
        raise UsageError(f"--frames must be at least 1, got {args.frames}")
    if args.output is not None and args.frames is None:
        args.frames = 250  # ten seconds; a window runs until closed
    if args.output is None:
        sink = WindowSink("streamdream zoom  (q to quit)")
    else:
        output = check_output(args.output, [args.source, config.dream.guide], args.overwrite, VIDEO_SUFFIXES)
    width, height = _size(args.size, (640, 360))
    if args.source == "noise":
        check_size(height, width, "the zoom", flag="--size")
        start = noise_image(width, height, seed=config.dream.seed or 0)
    else:
        if args.size is not None:
            raise UsageError("--size is for noise starts; an image start is sized with --width")
        image = read_image(args.source)
        check_size(*fitted_size(*image.shape[:2], config.dream.width), f"the zoom from {args.source}")
        start = fit_width(image, config.dream.width)
    dreamer = Dreamer.from_config(config.dream, guide=load_guide(config.dream))
    zoomer = ZoomDreamer(dreamer, z.zoom, z.rotate, z.keyframe_every)
    if args.output is not None:
        sink = VideoFileSink(output, Fraction(z.fps), Fraction(1, z.fps), config.video.crf)
    commands = getattr(sink, "commands", None)
    try:
        with progress_bar("zooming", "frames") as update:
            stats = run(ZoomSource(zoomer, start, z.fps, args.frames), None, [sink], controls=commands,
                        handle=lambda command: command.name == "quit",
                        progress=lambda s: update(s.frames, args.frames or s.frames))
    except BaseException as exc:
        close_all([sink], error=True)
        kept = getattr(sink, "partial", None)
        if kept is not None and kept.exists() and not isinstance(exc, KeyboardInterrupt):
            exc.add_note(f"the frames made so far are in {kept} (--overwrite starts over)")
        raise
    close_all([sink], error=False)
    if args.output is not None:
        say(f"wrote {output} ({stats.frames} frames, {start.shape[1]}x{start.shape[0]}, {z.fps} fps, "
            f"{zoomer.keyframes} dreamt; {config.dream.model} {dreamer.objective.description}, seed {dreamer.seed}; "
            f"{stats.wall_seconds / max(stats.frames, 1):.2f} s/frame on {dreamer.device.type})")
    else:
        say(f"showed {stats.frames} frames ({zoomer.keyframes} dreamt)")
    if stats.interrupted:
        say("interrupted" + (": the file holds the frames made so far" if args.output else ""), "yellow")
        return exit_code(stats.signal)
    return 0


def cmd_webcam(args: argparse.Namespace) -> int:
    from .live import WebcamOptions, run_webcam
    from .sources import list_cameras

    if args.list:
        found = list_cameras()
        for line in found:
            say(line)
        if not found:
            say("no camera found; --source test runs the built-in scene, --source FILE loops a video", "yellow")
        return 0
    if args.duration is not None and args.duration <= 0:
        raise UsageError(f"--duration must be more than 0 seconds, got {args.duration}")
    if args.osc is not None and not 0 <= args.osc <= 65535:
        raise UsageError(f"--osc must be a UDP port, 0 to 65535, got {args.osc}")
    config = load_config(args, live={"fps": args.fps, "cycle": args.cycle})
    options = WebcamOptions(args.source, not args.no_window, args.fullscreen, args.record, args.overwrite,
                            args.duration, args.installation, args.virtual_camera, args.osc, args.osc_host,
                            args.preset)
    with live_status(args.installation) as status:
        result = run_webcam(options, config, say, status)
    stats = result.stats
    for warning in result.warnings:
        say(f"warning: {warning}", "yellow")
    shown = stats.frames / max(stats.wall_seconds, 1e-9)
    dreamt = stats.dreamt / max(stats.wall_seconds, 1e-9)
    latency = 1000 * sorted(stats.latencies)[len(stats.latencies) // 2] if stats.latencies else 0.0
    say(f"showed {stats.frames} frames in {stats.wall_seconds:.1f} s ({shown:.1f} fps), dreamt {stats.dreamt} "
        f"({dreamt:.1f} fps) on {result.device}; latency {latency:.0f} ms (median), {stats.dropped} camera frames "
        f"not dreamt; {result.look}")
    for path in result.recordings:
        say(f"recorded {path}")
    if stats.interrupted:
        say("interrupted" + ("; the recording is finalised" if result.recordings else ""), "yellow")
        return exit_code(stats.signal)
    return 0


@contextmanager
def live_status(installation: bool):
    """A rich Live status table for a live run (camera, dream and display fps, latency, dropped
    frames, recording); in installation mode also one plain log line a minute."""
    from rich.live import Live

    from .live import rss_mb

    last = {"table": 0.0, "log": time.perf_counter()}
    view = Live(console=console, refresh_per_second=2, transient=True)

    def status(stats, look: str) -> None:
        now = time.perf_counter()
        if now - last["table"] >= 0.5:
            last["table"] = now
            table = Table(show_header=False, box=None)
            for name, value in [("camera", f"{stats.camera_fps:.1f} fps"), ("dream", f"{stats.dream_fps:.1f} fps"),
                                ("display", f"{stats.display_fps:.1f} fps"), ("latency", f"{stats.latency_ms:.0f} ms"),
                                ("dropped", str(stats.dropped)), ("look", look)]:
                table.add_row(name, value)
            view.update(table)
        if installation and now - last["log"] >= 60:
            last["log"] = now
            view.console.log(f"camera {stats.camera_fps:.1f} fps, dream {stats.dream_fps:.1f} fps, "
                             f"display {stats.display_fps:.1f} fps, latency {stats.latency_ms:.0f} ms, "
                             f"RSS {rss_mb():.0f} MB; {look}")

    with view:
        yield status


def cmd_visualize(args: argparse.Namespace) -> int:
    import torch

    from . import models, objectives
    from .dreamer import to_frame
    from .sinks import IMAGE_SUFFIXES, check_output, write_image
    from .sources import check_size
    from .visualize import SAMPLE_DIVERSITY, VisualizeSettings, shown, visualize

    if not 1 <= args.steps <= 100_000:
        raise UsageError(f"--steps must be 1 to 100000, got {args.steps}")
    if not 1 <= args.samples <= 64:
        raise UsageError(f"--samples must be 1 to 64, got {args.samples}")
    if args.diversity is not None and not 0 <= args.diversity <= 1e4:
        raise UsageError(f"--diversity must be 0 to 10000, got {args.diversity}")
    if args.seed is not None and not 0 <= args.seed < 2**63:
        raise UsageError(f"--seed must be 0 to 2**63-1, got {args.seed}")
    width, height = _size(args.size, (256, 256))
    check_size(height, width, "the visualisation", flag="--size")
    check_output(args.output, [], args.overwrite, IMAGE_SUFFIXES)
    # a layer or channel belongs to one network; a class is shared by the whole ensemble
    names = [n.strip() for n in (args.model or ("lite0" if args.layers else "lite0,lite1")).split(",")]
    specs = [models.get_spec(n) for n in names]
    if len(specs) > 1 and (args.layers or args.weights):
        raise UsageError(f"{'--layers' if args.layers else '--weights'} needs one network: give --model NAME "
                         f"instead of the ensemble {'+'.join(names)}")
    tiles_count = len(args.classes) * args.samples if args.classes else args.samples
    if tiles_count > 1 and not args.grid:
        raise UsageError("several classes or --samples go into one image with --grid")
    if args.alpha and (args.opaque or not args.classes or Path(args.output).suffix.lower() not in (".png", ".webp")):
        raise UsageError("--alpha writes a class on transparency to a PNG or WebP: name a class, use a .png or "
                         ".webp output, and leave out --opaque")
    networks = [models.load_network(spec, args.weights, args.num_classes) for spec in specs]
    classes = models.imagenet_classes() if args.num_classes == 1000 else [str(i) for i in range(args.num_classes)]
    indices = [objectives.class_index(name, classes) for name in args.classes]
    if args.layers:
        from .config import DreamConfig
        from .dreamer import build_objective

        extra = build_objective(DreamConfig(layers=args.layers, model=specs[0].name), specs[0], networks[0])
        objs = [objectives.class_logit(i, classes[i]) + extra for i in indices] if indices else [extra]
    else:
        objs = [objectives.class_logit(i, classes[i]) for i in indices]
    if not objs:
        raise UsageError("name at least one class (e.g. banana) or give --layers")
    groups = [g for g in range(len(objs)) for _ in range(args.samples)]
    objs = [objs[g] for g in groups]
    # layers alone draw textures, which have no outline to find: those stay opaque
    transparent = not args.opaque and bool(indices)
    settings = VisualizeSettings(steps=args.steps, transparent=transparent, param=args.param,
                                 diversity=(SAMPLE_DIVERSITY if args.diversity is None else args.diversity)
                                 if args.samples > 1 else 0.0)
    device = models.pick_device(args.device)
    layers = set().union(*(o.layers for o in objs))
    diversity_layers = [_middle_layer(spec) for spec in specs]
    nets = [models.DreamNet(spec, network, sorted(layers | ({d} if settings.diversity else set()))).prepare(device)
            for spec, network, d in zip(specs, networks, diversity_layers)]
    seed = args.seed if args.seed is not None else int(time.time()) % 2**31
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    with progress_bar("visualising", "steps") as update:
        images = visualize(nets, objs, height, width, settings, device, generator, update, groups, diversity_layers)
    if not args.alpha:
        images = shown(images)
    tiles = [to_frame(images[i:i + 1]) for i in range(len(objs))]
    write_image(_grid(tiles) if len(tiles) > 1 else tiles[0], args.output)
    what = dict.fromkeys(o.description for o in objs)  # each class once, in order
    say(f"wrote {args.output} ({', '.join(what)}{f', {args.samples} samples each' if args.samples > 1 else ''}; "
        f"{'+'.join(names)}, seed {seed}, {time.perf_counter() - start:.1f} s on {device.type})")
    return 0


def _middle_layer(spec) -> str:
    """The layer halfway up a network's dreamable layers: where samples are told apart by their
    parts and textures rather than by their pixels or their class."""
    layers = list(spec.layers)
    return layers[len(layers) // 2]


def _grid(tiles):
    import math

    import numpy as np

    columns = math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / columns)
    h, w, c = tiles[0].shape
    sheet = np.full((rows * h, columns * w, c), 255 if c == 3 else 0, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        sheet[r * h:(r + 1) * h, c * w:(c + 1) * w] = tile
    return sheet


def cmd_layers(args: argparse.Namespace) -> int:
    from . import models

    spec = models.get_spec(args.model)
    network = spec.build(args.num_classes) if args.weights is None else \
        models.load_network(spec, args.weights, args.num_classes)
    shapes = models.layer_shapes(spec, network)
    table = Table(title=f"{spec.name}: {spec.description}", title_justify="left")
    table.add_column("layer", style="bold")
    table.add_column("shape at 224x224 (C, H, W)")
    table.add_column("tends to draw")
    for name, hint in spec.layers.items():
        table.add_row(name, "x".join(map(str, shapes[name])), hint)
    console.print(table)
    say("combine layers as block5*0.5+block9, pick a channel as block9:12")
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    from .presets import describe_presets

    table = Table(title="presets (--preset NAME, or --preset path/to/file.toml)", title_justify="left")
    table.add_column("name", style="bold")
    table.add_column("description")
    for name, description in describe_presets():
        table.add_row(name, description)
    console.print(table)
    return 0


# --- entry point ---------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streamdream", description="DeepDream for images, videos and cameras.")
    parser.add_argument("--version", action="version", version=f"streamdream {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show the full traceback on failure")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("image", parents=[common], help="dream one image (PNG, JPEG, WebP)")
    p.add_argument("input", help="the image to dream on, or noise[:WxH] to dream from soft noise")
    p.add_argument("-o", "--output", required=True, help="where to write the dream (.png, .jpg, .webp)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    add_dream_options(p)
    p.set_defaults(run=cmd_image)

    p = sub.add_parser("video", parents=[common], help="dream a video file (audio kept)")
    p.add_argument("input", help="a video file FFmpeg can read")
    p.add_argument("-o", "--output", required=True, help="where to write the dream (.mp4, .mkv, .mov)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output (or start a partial one over)")
    p.add_argument("--resume", action="store_true",
                   help="continue the NAME.partial file an interrupted run left (same input and flags)")
    p.add_argument("--start", type=float, help="skip this many seconds first")
    p.add_argument("--frames", type=int, help="dream at most this many frames")
    p.add_argument("--no-flow", action="store_true", help="dream every frame from scratch (flickers; the baseline)")
    p.add_argument("--crf", type=int, help="H.264 quality, 0 (lossless) to 51; default 18")
    p.add_argument("--optical-flow", choices=["dis", "raft"],
                   help="dis (OpenCV, default) or raft (torchvision RAFT-small, for CUDA; downloads its weights)")
    p.add_argument("--flow-weights", metavar="FILE", help="a local RAFT-small state dict for --optical-flow raft")
    add_dream_options(p)
    p.set_defaults(run=cmd_video)

    p = sub.add_parser("zoom", parents=[common], help="the endless zoom: dream, zoom in, dream again")
    p.add_argument("-o", "--output", help="a video file (.mp4, .mkv, .mov); without it, a live window")
    p.add_argument("--from", dest="source", default="noise", help="an image to start from, or noise (default)")
    p.add_argument("--size", help="WIDTHxHEIGHT when starting from noise (default 640x360)")
    p.add_argument("--frames", type=int, help="how many frames (default: 250 to a file, endless in a window)")
    p.add_argument("--zoom", type=float, help="enlargement from one dreamt keyframe to the next (default 1.05)")
    p.add_argument("--rotate", type=float, help="degrees turned from one dreamt keyframe to the next")
    p.add_argument("--fps", type=int, help="frames per second of the output (default 25)")
    p.add_argument("--keyframe-every", type=int, help="output frames per dreamt keyframe (default 5)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    add_dream_options(p)
    p.set_defaults(run=cmd_zoom)

    p = sub.add_parser("webcam", parents=[common], help="dream a camera live: window, recording, performer outputs")
    p.add_argument("--source", default="0", help="a camera index (0), /dev/videoN, a video file (looped), "
                                                 "an rtsp:// or http:// URL, or test (a built-in moving scene)")
    p.add_argument("--list", action="store_true", help="list the cameras that open, then exit")
    p.add_argument("--fps", type=float, help="frame rate to ask of the camera (default 30)")
    p.add_argument("--fullscreen", action="store_true", help="start fullscreen (f toggles)")
    p.add_argument("--no-window", action="store_true", help="show nothing (record, virtual camera, or a benchmark)")
    p.add_argument("--record", metavar="FILE", help="record what is shown to FILE (.mp4, .mkv, .mov) from the start")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --record file")
    p.add_argument("--duration", type=float, metavar="SEC", help="stop cleanly after this many seconds")
    p.add_argument("--installation", action="store_true",
                   help="unattended: fullscreen, no cursor, presets cycled, deepens when still, survives unplugging")
    p.add_argument("--cycle", type=float, metavar="SEC", help="installation: seconds between presets (default 120)")
    p.add_argument("--virtual-camera", action="store_true", help="send the dream to a virtual camera (OBS, Zoom); "
                                                                 "needs the [live] extra")
    p.add_argument("--osc", type=int, metavar="PORT", help="take OSC control messages on this UDP port ([live] extra)")
    p.add_argument("--osc-host", default="127.0.0.1", help="address to listen for OSC on (default 127.0.0.1 only)")
    add_dream_options(p)
    p.set_defaults(run=cmd_webcam)

    p = sub.add_parser("visualize", parents=[common], help="what the network imagines for a class, from noise")
    p.add_argument("classes", nargs="*", metavar="CLASS", help="ImageNet class names or numbers, e.g. banana")
    p.add_argument("-o", "--output", required=True, help="the image to write (.png, .jpg, .webp)")
    p.add_argument("--model", help="a network, or an ensemble as NAME,NAME (default lite0,lite1 for classes, "
                                    "lite0 for --layers)")
    p.add_argument("--weights", metavar="FILE")
    p.add_argument("--num-classes", type=int, default=1000)
    p.add_argument("--size", help="WIDTHxHEIGHT of each image (default 256x256)")
    p.add_argument("--steps", type=int, default=256, help="optimisation steps (default 256)")
    p.add_argument("--layers", metavar="SPEC", help="a layer or channel objective, alone or added to the classes")
    p.add_argument("--grid", action="store_true", help="several classes or samples side by side in one image")
    p.add_argument("--samples", type=int, default=1, help="images per class, pushed apart from each other")
    p.add_argument("--diversity", type=float,
                   help="how hard --samples are pushed apart, in units of the class score (default 10)")
    p.add_argument("--opaque", action="store_true",
                   help="no alpha channel: the class fills the frame as texture instead of an object on white")
    p.add_argument("--alpha", action="store_true", help="keep the alpha channel in the PNG/WebP instead of white")
    p.add_argument("--param", choices=["fourier", "pyramid", "pixel"], default="fourier",
                   help="the image prior: a Fourier spectrum falling as 1/f^1.5 (default), a Laplacian pyramid, "
                        "or none (pixels: the adversarial-noise baseline)")
    p.add_argument("--seed", type=int)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(run=cmd_visualize)

    p = sub.add_parser("metrics", parents=[common], help="temporal coherence and strength of a dreamt video")
    p.add_argument("input", help="the original video")
    p.add_argument("output", help="its dream")
    p.add_argument("--frames", type=int, help="measure at most this many frames")
    p.add_argument("--reference", metavar="FULL", help="a --no-flow dream of the same input: coverage is judged "
                                                      "against it (default: against output frame 0)")
    p.set_defaults(run=cmd_metrics)

    p = sub.add_parser("layers", parents=[common], help="list a model's dreamable layers")
    p.add_argument("--model", default="lite0")
    p.add_argument("--weights", metavar="FILE", help="read the layers of a local state dict")
    p.add_argument("--num-classes", type=int, default=1000)
    p.set_defaults(run=cmd_layers)

    p = sub.add_parser("presets", parents=[common], help="list the built-in presets")
    p.set_defaults(run=cmd_presets)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    allocator.keep_freed_memory()  # before any thread starts: each keeps the allocator arena it starts with
    try:
        with signals.handled():
            return args.run(args)
    except KeyboardInterrupt as exc:
        say("interrupted", "yellow")
        return exit_code(signals.signal_number(exc))
    except StreamdreamError as exc:
        if args.debug:
            console.print_exception()
        say(f"error: {exc}", "red")
        for note in getattr(exc, "__notes__", []):
            say(note, "yellow")
        return exc.exit_code
    except Exception as exc:  # a bug or an environment failure: one line unless --debug
        if args.debug:
            console.print_exception()
        message = str(exc).splitlines()[0] if str(exc) else ""
        if "out of memory" in message.lower():
            message += "; try a smaller --width"
        say(f"error: {type(exc).__name__}: {message} (run with --debug for the traceback)", "red")
        for note in getattr(exc, "__notes__", []):
            say(note, "yellow")
        return RunError.exit_code


if __name__ == "__main__":
    sys.exit(main())

"""The command line: parse flags, build the config, call the library, report.

All terminal output goes through `console`. Exit codes: 0 done, 1 the work failed,
2 bad usage or input, 128 + the signal when stopped by one (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from . import __version__, signals
from .models import allocator
from .errors import RunError, StreamdreamError, UsageError
from .signals import exit_code

console = Console(highlight=False)


def say(message: str, style: str | None = None) -> None:
    console.print(Text(message, style=style), soft_wrap=True)


@contextmanager
def progress_bar(description: str, unit: str):
    """A rich progress bar; yields update(done, total, note=None). Shows the rate (or `note`) and ETA.

    The bar appears with the first update, so work that fails while loading (a bad input, an
    offline model) prints its one error line and no empty bar.
    """
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn()]
    bar = Progress(*columns, console=console, transient=False)
    task = bar.add_task(description, total=None, rate="")
    start = None

    def update(done: int, total: int, note: str | None = None) -> None:
        nonlocal start
        if start is None:
            start = time.perf_counter()
            bar.start()
        elapsed = time.perf_counter() - start
        rate = note if note is not None else f"{done / elapsed:.2f} {unit}/s" if elapsed > 0 and done else ""
        bar.update(task, completed=done, total=total, rate=rate)

    try:
        yield update
    finally:
        if start is not None:
            bar.stop()


# --- flags ---------------------------------------------------------------------------------------

# the library names a setting as `name`; here it is the flag that sets it (the rest: --name)
FLAGS = {"class_name": "--class", "output": "-o FILE", "window = false": "--no-window", "source": "--source",
         "path": "--record", "flow": "--no-flow"}


MESSAGE_LIMIT = 400  # characters in one error line


def flag(setting: str) -> str:
    return FLAGS.get(setting, "--" + setting.replace("_", "-"))


def in_flags(message: str, setting: str | None = None) -> str:
    """A library message as the command line says it: each `setting` named by its flag, and a
    value from the command line ("command line: width must be ...") by the flag it came in."""
    prefix = "command line: "
    if setting and message.startswith(prefix + setting + " "):
        message = flag(setting) + message[len(prefix) + len(setting):]
    message = re.sub(r"`([a-z_]+(?: = false)?)`", lambda m: flag(m.group(1)), message)
    # one line, and a short one, whatever a message carries (a value a user typed, a path)
    message = " ".join(message.split())
    return message if len(message) <= MESSAGE_LIMIT else message[:MESSAGE_LIMIT - 1] + "…"


def add_network_options(g) -> None:
    """The flags every command that loads a network takes (dream commands and visualize)."""
    g.add_argument("--model", help="network: lite0 (default), lite1, lite2 (offline), googlenet, inception_v3, "
                                   "vgg16, resnet50; visualize also takes an ensemble NAME,NAME")
    g.add_argument("--weights", metavar="FILE", help="a local state dict for the model")
    g.add_argument("--num-classes", type=int, help="classes in the --weights file's head (e.g. 365 for Places365)")
    g.add_argument("--seed", type=int, help="make the run repeatable")
    g.add_argument("--device", choices=["auto", "cpu", "cuda"], help="where to dream (auto: CUDA when present)")

def add_schedule_options(g) -> None:
    """The flags every command that takes a schedule has (the dream commands and schedule)."""
    g.add_argument("--schedule", action="append", metavar="KEY=SPEC", default=[],
                   help="change a setting over time, e.g. strength=\"0:(0.4), 10s:(2.0)\" or "
                        "strength=\"0:(0.6 + 1.6*beat)\"; repeatable; overrides the preset's [schedule] entry")
    g.add_argument("--bpm", type=float, help="the tempo beats are counted in (default: the beats found in the audio)")


def add_dream_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("dream options (override the preset)")
    g.add_argument("--preset", help="a built-in preset (see `streamdream presets`) or a .toml file")
    add_network_options(g)
    g.add_argument("--layers", metavar="SPEC", help="what to amplify: block9, block9:12, block5*0.5+block9")
    g.add_argument("--class", dest="class_name", metavar="NAME", help="an ImageNet class to dream towards, e.g. banana")
    g.add_argument("--guide", metavar="IMG", help="an image whose features guide the dream at --layers")
    g.add_argument("--octaves", type=int, help="image pyramid levels")
    g.add_argument("--octave-scale", type=float, help="size ratio between pyramid levels")
    g.add_argument("--iterations", type=int, help="ascent steps per octave")
    g.add_argument("--step", type=float, help="step size (typical per-pixel change, 0-1 scale)")
    g.add_argument("--jitter", type=int, help="random shift per step, in pixels")
    g.add_argument("--width", type=int, help="rescale the input to this width first, keeping the aspect")
    g.add_argument("--precision", choices=["auto", "fp32", "bf16"],
                   help="what a dream step computes in (auto: bf16 where this device runs it faster)")
    add_schedule_options(g)
    g.add_argument("--compile", action="store_true", default=None,
                   help="compile the network with torch.compile for each frame size met (tens of seconds "
                        "to minutes each, reported; may pay off over a long video on a GPU, slower on a CPU here)")


def dream_flags(args: argparse.Namespace) -> dict:
    keys = ["model", "weights", "num_classes", "layers", "class_name", "guide", "octaves", "octave_scale",
            "iterations", "step", "jitter", "seed", "width", "device", "precision", "compile"]
    return {k: getattr(args, k, None) for k in keys}


def schedule_flags(args: argparse.Namespace) -> dict:
    """--schedule KEY=SPEC (each) and --bpm as the schedule section's settings."""
    from .errors import did_you_mean
    from .schedule.timeline import schedule_keys

    out: dict = {"bpm": getattr(args, "bpm", None)}
    for item in getattr(args, "schedule", None) or []:
        key, equals, spec = item.partition("=")
        key = key.strip()
        if not equals:
            raise UsageError(f"--schedule {item!r}: write KEY=SPEC, e.g. strength=\"0:(0.4), 10s:(2.0)\"")
        if key not in schedule_keys():
            raise UsageError(f"--schedule {key}: not a setting a schedule can change{did_you_mean(key, schedule_keys())}; "
                             f"choose from {', '.join(schedule_keys())}")
        out[key] = spec
    return out


def load_config(args: argparse.Namespace, video: dict | None = None, zoom: dict | None = None,
                live: dict | None = None):
    from dataclasses import replace

    from .presets import build_config

    config = build_config(args.preset, {"dream": dream_flags(args), "video": video or {}, "zoom": zoom or {},
                                        "live": live or {}, "schedule": schedule_flags(args)})
    if args.class_name is not None and args.layers is None and args.guide is None:
        # `--class banana` asks for a banana, not a banana on top of the preset's layers
        config = replace(config, dream=replace(config.dream, layers=None))
    return config


# --- commands ------------------------------------------------------------------------------------

def compiling(compiled: bool, seconds: float) -> str:
    """The report's note on --compile: how much of the time went into compiling."""
    return f", {seconds:.1f} s of it compiling" if compiled else ""


def cmd_image(args: argparse.Namespace) -> int:
    from .image import dream_image

    config = load_config(args)
    with progress_bar("dreaming", "steps") as update:
        result = dream_image(config, args.input, args.output, args.overwrite, update)
    for note in result.notes:
        say(f"note: {note}")
    h, w = result.image.shape[:2]
    say(f"wrote {result.output} ({w}x{h}, {result.description}, {result.seconds:.1f} s on {result.device}"
        f"{compiling(config.dream.compile, result.compile_seconds)})")
    return 0


def cmd_video(args: argparse.Namespace) -> int:
    from .media.outputs import VIDEO_SUFFIXES, check_output
    from .media.sequences import is_sequence
    from .media.video_in import VideoFileSource
    from .media.video_out import even_size
    from .video import dream_video_file

    config = load_config(args, video={"flow": False if args.no_flow else None, "crf": args.crf,
                                      "optical_flow": args.optical_flow, "flow_weights": args.flow_weights})
    if args.resume and args.overwrite:
        raise UsageError("--resume continues the partial file and --overwrite starts over; give one of them")
    if args.fps is not None and not is_sequence(args.input):
        raise UsageError(f"--fps is the frame rate of an image sequence; {args.input} is a video file, which "
                         f"keeps its own: leave --fps out")
    if args.cluster is not None:
        return _video_on_cluster(args, config)
    for flag in ("chunk_seconds", "warmup_seconds", "overlap_seconds", "chunks_dir", "worker_cpus"):
        if getattr(args, flag) is not None:
            raise UsageError(f"--{flag.replace('_', '-')} is for a render on a cluster; give --cluster too")
    output = check_output(args.output, [args.input, config.dream.guide, args.audio], args.overwrite, VIDEO_SUFFIXES,
                          resume=args.resume)
    if args.schedule_out is not None:
        check_output(args.schedule_out, [args.input, args.audio, str(output)], args.overwrite, (".json",))
    source = VideoFileSource(args.input, config.dream.width, args.start or 0.0, args.frames, rate=args.fps)
    with progress_bar("dreaming", "frames") as update:
        result = dream_video_file(config, source, output,
                                  lambda done, expected: update(done, max(done, expected or done)),
                                  overwrite=args.overwrite, resume=args.resume, audio=args.audio,
                                  schedule_out=args.schedule_out, say=say)
    for warning in result.warnings:
        say(f"warning: {warning}", "yellow")
    stats, info = result.stats, result.info
    if result.resumed:
        say(f"resumed after the {result.resumed} frames the partial file held")
    even = even_size(info.height, info.width)
    padded = f" padded to {even[1]}x{even[0]}" if even != (info.height, info.width) else ""
    say(f"wrote {output} ({result.resumed + stats.frames} frames, {info.width}x{info.height}{padded}, "
        f"{float(info.rate):.3f} fps, "
        f"{result.audio}; {result.description}; {'flow' if config.video.flow else 'no flow'}, "
        f"{stats.keyframes} full dream{'' if stats.keyframes == 1 else 's'}; {stats.wall_seconds / max(stats.frames, 1):.2f} s/frame on {result.device}"
        f"{compiling(config.dream.compile, result.compile_seconds)})")
    if stats.interrupted:
        say("interrupted: the file holds the frames dreamt so far", "yellow")
        return exit_code(stats.signal)
    return 0


def _video_on_cluster(args: argparse.Namespace, config) -> int:
    import os
    from dataclasses import fields

    from .cluster.manifest import check_folder
    from .cluster.render import dream_video_on_cluster
    from .config import ClusterConfig, check_cluster
    from .media.outputs import VIDEO_SUFFIXES, check_output
    from .media.video_in import VideoFileSource

    given = {f.name: getattr(args, f.name) for f in fields(ClusterConfig) if f.name != "address"}
    settings = check_cluster(ClusterConfig(address=args.cluster, **{k: v for k, v in given.items() if v is not None}),
                             "command line")
    if settings.chunks_dir is not None and not os.path.isdir(settings.chunks_dir):
        raise UsageError(f"--chunks-dir {settings.chunks_dir} is not a folder; make it (on a disk every worker "
                         f"shares) or leave it out")
    if args.resume and os.path.lexists(args.output):
        raise UsageError(f"output {args.output} exists, and a resume would replace it; move it away first "
                         f"(or --overwrite and start over)")
    # the partial a resumed render left is only the finished chunks joined: the join makes it again
    output = check_output(args.output, [args.input, config.dream.guide, args.audio], args.overwrite or args.resume,
                          VIDEO_SUFFIXES, resume=None)
    check_folder(output, args.resume, args.overwrite)
    if args.schedule_out is not None:
        check_output(args.schedule_out, [args.input, args.audio, str(output)], args.overwrite, (".json",))
    source = VideoFileSource(args.input, config.dream.width, args.start or 0.0, args.frames, rate=args.fps)
    with progress_bar("dreaming", "frames") as update:
        result = dream_video_on_cluster(config, settings, source, output,
                                        lambda done, total, note: update(done, total, note),
                                        overwrite=args.overwrite, resume=args.resume, audio=args.audio,
                                        schedule_out=args.schedule_out, say=say)
    for line in [*result.retries, *result.warnings]:
        say(f"warning: {line}", "yellow")
    info, plan = result.info, result.plan
    if result.kept:
        say(f"resumed: kept {result.kept} finished chunks, rendered {result.rendered} "
            f"({result.redone_frames} warm-up frames dreamt again)")
    say(f"wrote {output} ({result.frames} frames, {info.width}x{info.height}, {float(info.rate):.3f} fps, "
        f"{result.audio}; {result.description}; {len(plan.chunks)} chunks on {result.where}, "
        f"{result.seconds.get('render', 0) + result.seconds.get('join', 0) + result.seconds.get('scan', 0):.0f} s)")
    return 0


def cmd_schedule(args: argparse.Namespace) -> int:
    import json

    from .media.outputs import check_output
    from .presets import build_config, builtin_presets
    from .schedule.plan import build_timeline, curves_record, describe, frame_times

    if args.output is None and not args.json:
        raise UsageError("say what to make: -o curves.png for a plot, --json for the values")
    config = build_config(args.preset, {"schedule": schedule_flags(args)})
    if args.output is not None:
        check_output(args.output, [args.audio, args.input], args.overwrite, (".png", ".svg", ".pdf"))
    fps, length = args.fps, args.seconds
    if args.input is not None:
        from .media.video_in import VideoFileSource

        source = VideoFileSource(args.input)
        info = source.info
        source.close()
        fps = fps or float(info.rate)
        if length is None and info.frames:
            length = info.frames / float(info.rate)
    fps = fps or 25.0
    if not 1 <= fps <= 240:
        raise UsageError(f"--fps must be 1 to 240, got {fps:g}")
    timeline = build_timeline(config, args.job, fps, args.input, args.audio, 0.0, builtin_presets())
    if timeline is None:
        raise UsageError("nothing is scheduled: give --schedule KEY=SPEC or a preset with a [schedule] table")
    if length is None:
        length = timeline.audio.duration if timeline.audio is not None else 10.0
    if not 0 < length <= 24 * 3600:
        raise UsageError(f"--seconds must be above 0 and at most a day, got {length:g}")
    times = frame_times(max(1, round(length * fps)), fps)
    record = curves_record(timeline, times)
    if args.json:
        print(json.dumps(record))
    else:
        for line in describe(timeline):
            say(line)
    if args.output is not None:
        from .schedule.plot import plot_curves

        plot_curves(timeline, record, args.output)
        if not args.json:
            say(f"wrote {args.output}")
    return 0


def cmd_service(args: argparse.Namespace) -> int:
    import contextlib
    import io

    from . import service

    if args.action == "remove":
        service.remove(say)
        return 0
    if "--installation" in args.webcam_args:
        raise UsageError("the service runs webcam --installation already; leave --installation out")
    said = io.StringIO()
    try:  # refused now, not at the next boot
        with contextlib.redirect_stderr(said), contextlib.redirect_stdout(said):
            build_parser().parse_args(["webcam", *args.webcam_args])
    except SystemExit as exc:
        if exc.code:
            why = (said.getvalue().strip().splitlines() or [""])[-1].split("error: ")[-1]
            raise UsageError(f"webcam would refuse {' '.join(args.webcam_args)}: {why}") from None
    service.install(["webcam", "--installation", *args.webcam_args], args.print_only, say)
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
    if args.depth:
        from .depth import DEPTH_MODEL, measure_depth_files

        with progress_bar(f"judging depth with {DEPTH_MODEL}", "frames") as update:
            depth, reference = measure_depth_files(args.input, args.output, args.reference, max_frames=args.frames,
                                                   progress=lambda done: update(done, max(done, m.frames)))
        for layer, ratio in depth.ratio.items():
            value = f"{ratio:.3f}"
            if reference is not None:
                value += f" (full dream {reference.ratio[layer]:.3f}, retained {depth.retained(reference, layer):.0%})"
            rows.append((f"depth at {DEPTH_MODEL} {layer} (output / input)", value))
        moving = f"{depth.moving['block16']:.3f}"
        if reference is not None:
            moving += (f" (full dream {reference.moving['block16']:.3f}, "
                       f"retained {depth.retained(reference, 'block16', moving=True):.0%})")
        rows.append((f"depth at {DEPTH_MODEL} block16 where the input moves", moving))
    for row in rows:
        table.add_row(*row)
    console.print(table)
    return 0


def _size(text: str | None, default: tuple[int, int]) -> tuple[int, int]:
    from .media.images import parse_size

    return default if text is None else parse_size(text)


def cmd_zoom(args: argparse.Namespace) -> int:
    from .zoom import run_zoom

    config = load_config(args, zoom={"zoom": args.zoom, "rotate": args.rotate, "fps": args.fps,
                                     "keyframe_every": args.keyframe_every})
    if args.frames is not None and args.frames < 1:
        raise UsageError(f"--frames must be at least 1, got {args.frames}")
    if args.output is not None and args.frames is None:
        args.frames = 250  # ten seconds; a window runs until closed
    if args.source != "noise" and args.size is not None:
        raise UsageError("--size is for noise starts; an image start is sized with --width")
    start = args.source
    if args.source == "noise":
        from .media.images import check_size

        width, height = _size(args.size, (640, 360))
        check_size(height, width, "the zoom", setting="size")
        start = f"noise:{width}x{height}"
    with progress_bar("zooming", "frames") as update:
        result = run_zoom(config, start, args.output, args.frames, args.overwrite, update, args.audio, say)
    stats, (w, h) = result.stats, result.size
    if args.output is not None:
        say(f"wrote {args.output} ({stats.frames} frames, {w}x{h}, {config.zoom.fps} fps, {result.keyframes} dreamt; "
            f"{result.description}; {stats.wall_seconds / max(stats.frames, 1):.2f} s/frame on {result.device})")
    else:
        say(f"showed {stats.frames} frames ({result.keyframes} dreamt)")
    if stats.interrupted:
        say("interrupted" + (": the file holds the frames made so far" if args.output else ""), "yellow")
        return exit_code(stats.signal)
    return 0


def cmd_webcam(args: argparse.Namespace) -> int:
    from .live.camera import list_cameras
    from .live.show import WebcamOptions, run_webcam

    if args.list:
        found = list_cameras()
        for index, width, height in found:
            say(f"--source {index}: {width}x{height}")
        if not found:
            say("no camera found; --source test runs the built-in scene, --source FILE loops a video", "yellow")
        return 0
    if args.duration is not None and not 0.1 <= args.duration <= 1e7:
        raise UsageError(f"--duration must be 0.1 to 10000000 seconds, got {args.duration}")
    if args.osc is not None and not 0 <= args.osc <= 65535:
        raise UsageError(f"--osc must be a UDP port, 0 to 65535, got {args.osc}")
    if args.serve is not None and not 0 <= args.serve <= 65535:
        raise UsageError(f"--serve must be a TCP port, 0 to 65535, got {args.serve}")
    if args.serve_token is not None and len(args.serve_token) < 8:
        raise UsageError("--serve-token must be at least 8 characters")
    config = load_config(args, live={"fps": args.fps, "cycle": args.cycle})
    options = WebcamOptions(args.source, not args.no_window, args.fullscreen, args.record, args.overwrite,
                            args.duration, args.installation, args.virtual_camera, args.osc, args.osc_host,
                            args.preset, args.audio_input, args.serve, args.serve_host, args.serve_token,
                            args.midi, args.midi_map, args.midi_learn)
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
    if args.record and not result.recordings:
        raise RunError(f"nothing was recorded to {args.record}: no frame was shown before the run ended")
    return 0


@contextmanager
def live_status(installation: bool):
    """A rich Live status table for a live run (camera, dream and display fps, latency, dropped
    frames, recording); in installation mode also one plain log line a minute."""
    from rich.live import Live

    from .live.show import rss_mb

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
    from .config import VisualizeConfig, check_visualize
    from .visualize import visualize_classes

    v = check_visualize(VisualizeConfig(
        tuple(args.classes), args.model, args.weights, args.num_classes, _size(args.size, (256, 256)), args.steps,
        args.layers, args.grid, args.samples, args.diversity, args.opaque, args.alpha, args.param, args.seed,
        args.device), "command line")
    with progress_bar("visualising", "steps") as update:
        result = visualize_classes(v, args.output, args.overwrite, update)
    say(f"wrote {result.output} ({', '.join(result.what)}{f', {v.samples} samples each' if v.samples > 1 else ''}; "
        f"{'+'.join(result.networks)}, seed {result.seed}, {result.seconds:.1f} s on {result.device})")
    return 0


def cmd_layers(args: argparse.Namespace) -> int:
    from . import models
    from .config import Config, DreamConfig, check

    d = check(Config(dream=DreamConfig(model=args.model, weights=args.weights, num_classes=args.num_classes)),
              "command line").dream
    spec = models.get_spec(d.model)
    network = spec.build(d.num_classes) if d.weights is None else models.load_network(spec, d.weights, d.num_classes)
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
    p.add_argument("input", help="a video file FFmpeg can read, or an image sequence: a folder of numbered "
                                 "pictures or a pattern such as renders/frame_%%04d.png")
    p.add_argument("--fps", help="frames a second of an image sequence (default 25; 23.976 is 24000/1001)")
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
    p.add_argument("--audio", metavar="FILE", help="a sound file: what --schedule hears (beat, rms, ...) and the "
                                                   "output's soundtrack, cut to the video (default: the input's own)")
    p.add_argument("--schedule-out", metavar="FILE.json", help="also write the schedule's value at every frame")
    g = p.add_argument_group("on many machines (Ray; pip install 'streamdream[cluster]')")
    g.add_argument("--cluster", metavar="WHERE", help="render in chunks on a Ray cluster: local:N (N workers here), "
                                                      "auto (RAY_ADDRESS or a running `ray start --head`), "
                                                      "ray://HOST:PORT")
    g.add_argument("--chunk-seconds", type=float, help="longest chunk inside a shot (default 20); cut at scene cuts first")
    g.add_argument("--warmup-seconds", type=float, help="a chunk inside a shot starts dreaming this early (default 2)")
    g.add_argument("--overlap-seconds", type=float,
                   help="the end of the warm-up, cross-faded with the chunk before (default 1)")
    g.add_argument("--chunks-dir", metavar="DIR", help="a folder every worker can write: chunks go there, "
                                                       "not through Ray's object store")
    g.add_argument("--worker-cpus", type=int, help="CPU cores a worker takes (default: local:N shares this "
                                                   "machine's; elsewhere 4, or one GPU each)")
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
    p.add_argument("--audio", metavar="FILE", help="a sound file: what --schedule hears, and the soundtrack")
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
    p.add_argument("--serve", nargs="?", type=int, const=8080, metavar="PORT",
                   help="a web page to watch and steer the show from a phone (default port 8080; [web] extra)")
    p.add_argument("--serve-host", default="127.0.0.1",
                   help="address for the web page (default 127.0.0.1 only; any other needs the printed token)")
    p.add_argument("--serve-token", help="the web page's token (default: a new one, printed, off loopback)")
    p.add_argument("--midi", nargs="?", const="", metavar="PORT",
                   help="take a MIDI controller's knobs and pads (default: the first port; [live] extra)")
    p.add_argument("--midi-map", metavar="FILE.toml", help="what each control steers; learn saves here")
    p.add_argument("--midi-learn", action="store_true", help="start in learn mode: move a control for each "
                                                             "parameter in turn (l arms the next one too)")
    p.add_argument("--audio-input", nargs="?", const="", metavar="DEVICE",
                   help="hear a microphone (default one, or a name or index) for --schedule's rms, beat, ...; "
                        "needs the [audio] extra; t taps the tempo")
    add_dream_options(p)
    p.set_defaults(run=cmd_webcam)

    p = sub.add_parser("visualize", parents=[common], help="what the network imagines for a class, from noise")
    p.add_argument("classes", nargs="*", metavar="CLASS", help="ImageNet class names or numbers, e.g. banana")
    p.add_argument("-o", "--output", required=True, help="the image to write (.png, .jpg, .webp)")
    add_network_options(p)
    p.set_defaults(num_classes=1000, device="auto")
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
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(run=cmd_visualize)

    p = sub.add_parser("schedule", parents=[common], help="plot or print a schedule's values over time, before rendering")
    p.add_argument("-o", "--output", help="the plot to write (.png, .svg, .pdf)")
    p.add_argument("--json", action="store_true", help="print every value at every frame as JSON")
    p.add_argument("--preset", help="a built-in preset or a .toml file whose [schedule] to show")
    add_schedule_options(p)
    p.add_argument("--audio", metavar="FILE", help="the sound the schedule hears")
    p.add_argument("--input", metavar="CLIP", help="a video: its frame rate, length and own sound")
    p.add_argument("--seconds", type=float, help="how long to show (default: the clip's or sound's length, or 10 s)")
    p.add_argument("--fps", type=float, help="frames per second (default: the clip's, else 25)")
    p.add_argument("--job", choices=["image", "video", "zoom", "webcam"], default="video",
                   help="the job it is for (zoom takes zoom, rotate, pan_x, pan_y)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing plot")
    p.set_defaults(run=cmd_schedule)

    p = sub.add_parser("service", parents=[common], help="an installation that restarts itself (a systemd user unit)")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    q = actions.add_parser("install", help="write and enable the unit: runs webcam --installation ARGS")
    q.add_argument("--print", dest="print_only", action="store_true", help="show the unit, write nothing")
    q.set_defaults(webcam_args=[])  # every other argument: webcam's flags, e.g. --source 0 --serve (see main)
    actions.add_parser("remove", help="disable and delete the unit")
    p.set_defaults(run=cmd_service)

    p = sub.add_parser("metrics", parents=[common], help="temporal coherence, strength and depth of a dreamt video")
    p.add_argument("input", help="the original video")
    p.add_argument("output", help="its dream")
    p.add_argument("--frames", type=int, help="measure at most this many frames")
    p.add_argument("--reference", metavar="FULL", help="a --no-flow dream of the same input: coverage is judged "
                                                      "against it (default: against output frame 0)")
    p.add_argument("--no-depth", dest="depth", action="store_false",
                   help="skip the depth measure (how much more EfficientNet-Lite2 sees in the output than the input)")
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
    args, extra = parser.parse_known_args(argv)
    if getattr(args, "command", None) == "service" and getattr(args, "action", None) == "install":
        args.webcam_args = extra  # checked against webcam's own flags by service.install
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    allocator.keep_freed_memory()  # before any thread starts: each keeps the allocator arena it starts with
    try:
        with signals.handled(exiting=True):
            return args.run(args)
    except KeyboardInterrupt as exc:
        say("interrupted", "yellow")
        for note in getattr(exc, "__notes__", []):
            say(in_flags(note), "yellow")
        return exit_code(signals.signal_number(exc))
    except StreamdreamError as exc:
        if args.debug:
            console.print_exception()
        say(f"error: {in_flags(str(exc), exc.setting)}", "red")
        for note in getattr(exc, "__notes__", []):
            say(in_flags(note), "yellow")
        return exc.exit_code
    except Exception as exc:  # a bug or an environment failure: one line unless --debug
        if args.debug:
            console.print_exception()
        message = str(exc).splitlines()[0] if str(exc) else ""
        if "out of memory" in message.lower():
            message += "; try a smaller --width"
        say(f"error: {type(exc).__name__}: {message} (run with --debug for the traceback)", "red")
        for note in getattr(exc, "__notes__", []):
            say(in_flags(note), "yellow")
        return RunError.exit_code


if __name__ == "__main__":
    sys.exit(main())

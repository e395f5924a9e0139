"""The video benchmark: the flow path against `--no-flow` on a real clip.

    python scripts/bench_video.py [--input ../shared/media/bigbuckbunny.mp4] [--width 640]
                                  [--frames 50] [--preset NAME] [--flow-only] [--reference NOFLOW.mp4]
                                  [--set flow_width=640] [--keep DIR]

For each path it runs the same pipeline as `streamdream video`, then measures the flow path
against its input with the `--no-flow` dream as the reference (see metrics.py): where the dream
is (covered, moving covered, concentration), whether it moves with the picture (detail
coherence), the E_warp ratio, the strength against the full dream and its drift, and the cost:
seconds per frame, pipeline wall time over the dream stage's own time. The targets of the motion
issue are printed beside them.
"""

import argparse
import tempfile
import tomllib
from pathlib import Path

import torch

from streamdream.models import allocator
from streamdream.models.runtime import cpu_name
from streamdream.depth import DepthJudge, measure_depth_files
from streamdream.media.video_out import match_size
from streamdream.metrics import mean_edges, measure_files
from streamdream.video import dream_video_file
from streamdream.presets import apply, build_config
from streamdream.media.video_in import VideoFileSource

DEFAULT_INPUT = Path(__file__).resolve().parent.parent.parent / "shared" / "media" / "bigbuckbunny.mp4"


def edge_numbers(source, dreamt: Path, width: int, frames: int) -> tuple[float, float]:
    """metrics.edges over every third frame of a dream and its input: the weakest edge band's
    strength against the interior's, and the lines repeated near the edges, each a mean."""
    inputs, outputs = VideoFileSource(source, width, max_frames=frames), VideoFileSource(dreamt, max_frames=frames, role="output")
    try:
        pairs = list(zip(inputs.frames(), outputs.frames()))[::3]
    finally:
        inputs.close(), outputs.close()
    return mean_edges([out.image for _, out in pairs],
                      [match_size(frame.image, *out.image.shape[:2]) for frame, out in pairs])


def dream_video(args, flow: bool, output: Path):
    config = build_config(args.preset, {"dream": {"seed": 1, "width": args.width, "device": args.device},
                                        "video": {"flow": flow, "optical_flow": args.optical_flow}})
    if args.set:  # read as TOML and laid over like a preset's [video] table: typed, checked, unknown keys refused
        config = apply(config, {"video": tomllib.loads("\n".join(args.set))}, "--set")
    return dream_video_file(config, VideoFileSource(args.input, config.dream.width, 0.0, args.frames), output)


def line(name, stats, m) -> str:
    return (f"{name:10s} {stats.frames} frames: {stats.wall_seconds / stats.frames:.3f} s/frame wall, "
            f"dream stage {stats.dream_seconds / stats.frames:.3f} s/frame, "
            f"wall/dream {stats.wall_seconds / stats.dream_seconds:.3f}, full dreams {stats.keyframes}; "
            f"covered {m.covered:.3f} (min {m.covered_min:.3f}, last third {m.covered_last_third:.3f}), "
            f"moving covered {m.moving_covered:.3f}, concentration {m.concentration:.3f} (max {m.concentration_max:.3f}), "
            f"coherence {m.coherence:.3f} (moving {m.coherence_moving:.3f}), E_warp ratio {m.ratio:.3f}, "
            f"strength {m.strength:.4f} (first {m.strength_first:.4f}, last {m.strength_last:.4f})")


def main() -> None:
    allocator.keep_freed_memory()  # as the command line does, before any thread starts
    p = argparse.ArgumentParser()
    p.add_argument("--input", default=str(DEFAULT_INPUT))
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--frames", type=int, default=50)
    p.add_argument("--preset")
    p.add_argument("--device", default="auto")
    p.add_argument("--window", type=int, default=50, help="frames in the first/last strength windows")
    p.add_argument("--flow-only", action="store_true", help="skip the slow --no-flow baseline (coverage is then "
                                                            "judged against output frame 0)")
    p.add_argument("--optical-flow", default="dis", choices=["dis", "raft"])
    p.add_argument("--reference", metavar="FILE", help="an existing --no-flow dream of the same input, width, frames "
                                                      "and preset (e.g. from --keep), instead of dreaming it again")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a [video] preset key in TOML, e.g. flow_width=640 or flow=false (repeatable)")
    p.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    p.add_argument("--keep", metavar="DIR", help="keep the two videos in DIR (e.g. for scripts/contact_sheet.py)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        flow_out, full_out = folder / "flow.mp4", folder / "noflow.mp4"
        fs = dream_video(args, True, flow_out).stats
        ns = None
        if args.reference:
            full_out = Path(args.reference)
        elif not args.flow_only:
            result = dream_video(args, False, full_out)
            ns = result.stats
        reference = None if args.flow_only else full_out
        fm = measure_files(args.input, flow_out, args.width, args.frames, args.window, reference=reference)
        print(line("flow path", fs, fm), flush=True)
        if ns is not None:
            nm = measure_files(args.input, full_out, args.width, args.frames, args.window, reference=full_out)
            print(line("--no-flow", ns, nm), flush=True)
        edge_strength, edge_repeats = edge_numbers(args.input, flow_out, args.width, args.frames)
        full_edges = None if reference is None else edge_numbers(args.input, reference, args.width, args.frames)
        depth, full_depth = measure_depth_files(args.input, flow_out, reference, args.width, args.frames,
                                                judge=DepthJudge())
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() and args.device != "cpu" else \
        f"cpu ({cpu_name()}), {torch.get_num_threads()} threads"
    print(f"device: {gpu}")
    print(f"moving covered {fm.moving_covered:.3f} (target >= 0.85); covered {fm.covered:.3f} (>= 0.9), "
          f"lowest frame {fm.covered_min:.3f} (>= 0.8); concentration max {fm.concentration_max:.3f} (<= 0.2)")
    print(f"detail coherence {fm.coherence:.3f} (>= 0.85), moving {fm.coherence_moving:.3f} (>= 0.8); "
          f"E_warp ratio {fm.ratio:.3f} (< 2)")
    print(f"strength drift, last {args.window} / first {args.window} frames: "
          f"{fm.strength_last / fm.strength_first:.3f} (target within 0.7-1.3)")
    print(f"flow path wall / dream stage: {fs.wall_seconds / fs.dream_seconds:.3f}")
    print(f"edges (metrics.edges): the weakest band at {edge_strength:.0%} of the interior's strength (within 20%), "
          f"{edge_repeats:.2f} lines repeated a frame (none)"
          + ("" if full_edges is None else f"; --no-flow {full_edges[0]:.0%}, {full_edges[1]:.2f}"))
    for layer, ratio in depth.ratio.items():
        text = f"depth at lite2 {layer}: {ratio:.3f}"
        if full_depth is not None:
            text += (f", --no-flow {full_depth.ratio[layer]:.3f}, retained {depth.retained(full_depth, layer):.0%}"
                     + (" (target >= 80%)" if layer == "block16" else ""))
        print(text)
    if full_depth is not None:
        print(f"depth at block16 where the input moves: {depth.moving['block16']:.3f}, --no-flow "
              f"{full_depth.moving['block16']:.3f}, retained {depth.retained(full_depth, 'block16', moving=True):.0%}")
    print("depth per frame at block16: " + " ".join(f"{v:.2f}" for v in depth.per_frame["block16"]))
    if args.json:
        import json

        numbers = {"input": Path(args.input).name, "width": args.width, "frames": fs.frames, "device": gpu,
                   "flow_s_per_frame": round(fs.wall_seconds / fs.frames, 3),
                   "moving_covered": round(fm.moving_covered, 3), "concentration_max": round(fm.concentration_max, 3),
                   "coherence": round(fm.coherence, 3), "coherence_moving": round(fm.coherence_moving, 3),
                   "ewarp_ratio": round(fm.ratio, 3), "edge_strength": round(edge_strength, 3),
                   "edge_repeats": round(edge_repeats, 2), "depth_block16": round(depth.ratio["block16"], 3),
                   "depth_block10": round(depth.ratio["block10"], 3)}
        if full_edges is not None:
            numbers.update(noflow_edge_strength=round(full_edges[0], 3), noflow_edge_repeats=round(full_edges[1], 2))
        if full_depth is not None:
            numbers.update(noflow_depth_block16=round(full_depth.ratio["block16"], 3),
                           retained_block16=round(depth.retained(full_depth, "block16"), 3),
                           moving_depth_block16=round(depth.moving["block16"], 3),
                           noflow_moving_depth_block16=round(full_depth.moving["block16"], 3),
                           moving_retained_block16=round(depth.retained(full_depth, "block16", moving=True), 3))
        if ns is not None:
            numbers.update(noflow_s_per_frame=round(ns.wall_seconds / ns.frames, 3),
                           speedup=round(ns.wall_seconds / ns.frames / (fs.wall_seconds / fs.frames), 2))
        Path(args.json).write_text(json.dumps(numbers, indent=2))
    if args.flow_only:
        return
    print(f"strength flow / no-flow: {fm.strength / fm.reference_strength:.3f} (target 0.9-1.2)")
    if ns is None:
        return
    print(f"speed-up per frame: {ns.wall_seconds / ns.frames / (fs.wall_seconds / fs.frames):.2f}x (target >= 5)")


if __name__ == "__main__":
    main()

"""The video benchmark: the flow path against `--no-flow` on a real clip.

    python scripts/bench_video.py [--input ../shared/media/bigbuckbunny.mp4] [--width 640]
                                  [--frames 50] [--preset NAME]

For each path it runs the same pipeline as `streamdream video`, then prints seconds per frame,
pipeline wall time over the dream stage's own time, the E_warp ratio (Lai et al. 2018) and the
dream strength, with the targets of issue 3 beside them.
"""

import argparse
import tempfile
from pathlib import Path

import torch

from streamdream.metrics import measure_files
from streamdream.pipeline import dream_video_file
from streamdream.presets import build_config
from streamdream.sources import VideoFileSource

DEFAULT_INPUT = Path(__file__).resolve().parent.parent.parent / "shared" / "media" / "bigbuckbunny.mp4"


def dream_video(args, flow: bool, output: Path):
    config = build_config(args.preset, {"dream": {"seed": 1, "width": args.width, "device": args.device},
                                        "video": {"flow": flow, "optical_flow": args.optical_flow}})
    return dream_video_file(config, VideoFileSource(args.input, config.dream.width, 0.0, args.frames), output)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--input", default=str(DEFAULT_INPUT))
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--frames", type=int, default=50)
    p.add_argument("--preset")
    p.add_argument("--device", default="auto")
    p.add_argument("--window", type=int, default=50, help="frames in the first/last strength windows")
    p.add_argument("--flow-only", action="store_true", help="skip the slow --no-flow baseline")
    p.add_argument("--optical-flow", default="dis", choices=["dis", "raft"])
    args = p.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for flow in (True,) if args.flow_only else (True, False):
            out = Path(tmp) / f"{'flow' if flow else 'noflow'}.mp4"
            result = dream_video(args, flow, out)
            stats = result.stats
            results[flow] = (stats, measure_files(args.input, out, args.width, args.frames, args.window))
            name = "flow path" if flow else "--no-flow"
            m = results[flow][1]
            print(f"{name:10s} {stats.frames} frames: {stats.wall_seconds / stats.frames:.3f} s/frame wall, "
                  f"dream stage {stats.dream_seconds / stats.frames:.3f} s/frame, "
                  f"wall/dream {stats.wall_seconds / stats.dream_seconds:.3f}, full dreams {stats.keyframes}; "
                  f"E_warp out {m.ewarp_output:.6f} in {m.ewarp_input:.6f} ratio {m.ratio:.3f}; "
                  f"strength {m.strength:.4f} (first {m.strength_first:.4f}, last {m.strength_last:.4f})",
                  flush=True)
    gpu = torch.cuda.get_device_name() if result.device == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    print(f"device: {gpu}")
    if args.flow_only:
        return
    (fs, fm), (ns, nm) = results[True], results[False]
    print(f"E_warp ratio: flow {fm.ratio:.3f} (target <= 1.2), no-flow {nm.ratio:.3f} (target > 2)")
    print(f"strength flow / no-flow: {fm.strength / nm.strength:.3f} (target >= 0.9)")
    print(f"speed-up per frame: {ns.wall_seconds / ns.frames / (fs.wall_seconds / fs.frames):.2f}x (target >= 6)")
    print(f"flow path wall / dream stage: {fs.wall_seconds / fs.dream_seconds:.3f} (target <= 1.15)")
    print(f"strength drift, last {args.window} / first {args.window} frames (flow): "
          f"{fm.strength_last / fm.strength_first:.3f} (target within 0.7-1.3)")


if __name__ == "__main__":
    main()

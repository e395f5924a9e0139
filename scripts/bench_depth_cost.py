#!/usr/bin/env python
"""What depth costs: quick dreams of a few frames, each spending the network's time another way,
with the depth a network that did not dream them sees (streamdream.depth) against what they
cost in full-size ascent steps (the pixels the dream network ran forward and back over, as a
share of one step over the whole frame) and in seconds on this machine's one thread (as a live
show leaves its dream).

A live show on a CPU has a few full-size steps' worth of time a second (its dream takes a band of
the frame a step, see live/stage.py): this says how much depth that buys a new shot, whichever
way it is spent, and so how much of a full dream's depth a source that cuts every second or two
can keep.

    python scripts/bench_depth_cost.py                       # the shared clip, 640 wide
    python scripts/bench_depth_cost.py --clip shots.mp4 --out docs/depth_cost.md
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch

from streamdream.depth import DepthJudge, measure_depths
from streamdream.engine import temporal
from streamdream.engine.dream import dream, refine_at, resize
from streamdream.engine.dreamer import Dreamer
from streamdream.engine.tensors import to_frame, to_tensor
from streamdream.media.video_in import VideoFileSource
from streamdream.presets import build_config

DEFAULT_CLIP = Path(__file__).resolve().parent.parent.parent / "shared" / "media" / "bigbuckbunny.mp4"


def ways(seed: dict, build: tuple) -> list[tuple[str, dict]]:
    """The ways of spending compared: (what it is, how: the size it dreams at as a share of the
    frame's, octaves, steps an octave, a multiple of the step, and build steps after it as
    (size share, steps, step multiple))."""
    full = {"scale": 1.0, "octaves": None, "iterations": None}
    return [
        ("full dream (the default look's octaves and steps)", full),
        ("a live cut's seed", seed),
        (f"the seed and a live cut's {temporal.CUT_BUILD_FRAMES} build steps", {**seed, "builds": [build] * temporal.CUT_BUILD_FRAMES}),
        (f"the seed and {2 * temporal.CUT_BUILD_FRAMES} build steps", {**seed, "builds": [build] * 2 * temporal.CUT_BUILD_FRAMES}),
        ("the seed and 6 full-size double steps", {**seed, "builds": [(1.0, 1, 2.0)] * 6}),
        ("4 octaves, 2 steps each", {"scale": 1.0, "octaves": 4, "iterations": 2}),
        ("4 octaves, 3 steps each", {"scale": 1.0, "octaves": 4, "iterations": 3}),
        ("at 0.71 of the size, 4 octaves, 3 steps each", {"scale": 0.71, "octaves": 4, "iterations": 3}),
        ("the same with double steps", {"scale": 0.71, "octaves": 4, "iterations": 3, "step": 2.0}),
        ("at 0.71 of the size, 4 octaves, 5 steps each", {"scale": 0.71, "octaves": 4, "iterations": 5}),
        ("at half the size, 3 octaves, 4 steps each", {"scale": 0.5, "octaves": 3, "iterations": 4}),
    ]


def spend(dreamer: Dreamer, image: np.ndarray, scale: float, octaves: int | None, iterations: int | None,
          step: float = 1.0, builds: tuple = ()) -> np.ndarray:
    """`image` (H, W, 3) uint8 dreamt one way (see `ways`)."""
    d = dreamer.config
    base = to_tensor(image, dreamer.device)
    h, w = base.shape[2:]
    small = resize(base, (round(h * scale), round(w * scale)))
    settings = replace(d, octaves=octaves or d.octaves, iterations=iterations or d.iterations, step=d.step * step)
    # (not mirrored beyond the edges, as a live cut's seed is not: see temporal.StreamDreamer._seed)
    seeded = dream(small, dreamer.net, dreamer.objective, settings, dreamer.generator, mirror=0)
    dreamt = (base + resize(seeded - small, (h, w))).clamp(0, 1)
    for share, steps, multiple in builds:
        dreamt = refine_at(dreamt, (round(h * share), round(w * share)), dreamer.net, dreamer.objective, steps,
                           d.step * multiple, d.jitter, dreamer.generator)
    return to_frame(dreamt)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clip", default=str(DEFAULT_CLIP))
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--frames", type=int, default=6, help="frames of the clip, spread over it")
    p.add_argument("--out", metavar="FILE.md", help="also write the table as a Markdown page")
    args = p.parse_args()

    torch.set_num_threads(1)  # as a live show on a CPU leaves the dream
    cv2.setNumThreads(1)
    config = build_config(None, {"dream": {"width": args.width, "device": "cpu", "seed": 3}})
    source = VideoFileSource(args.clip, args.width)
    clip = [f.image for f in source.frames()]
    source.close()
    frames = [clip[round(k * (len(clip) - 1) / max(1, args.frames - 1))] for k in range(args.frames)]
    dreamer = Dreamer.from_config(config.dream)
    d = dreamer.config
    h, w = frames[0].shape[:2]
    seed = {"scale": temporal.CUT_SEED_SCALE, "octaves": min(d.octaves, temporal.CUT_SEED_OCTAVES),
            "iterations": max(1, round(d.iterations * temporal.CUT_SEED_ITERATIONS))}
    build = (1 / d.octave_scale, 1, temporal.CUT_BUILD_STEP)

    passes: list[tuple[int, int]] = []
    hook = dreamer.net.register_forward_pre_hook(lambda module, a: passes.append(tuple(a[0].shape[2:])))
    judge, rows, reference = DepthJudge(), [], None
    try:
        for name, how in ways(seed, build):
            passes.clear()
            begin = time.perf_counter()
            dreams = [spend(dreamer, image, **how) for image in frames]
            seconds = (time.perf_counter() - begin) / len(frames)
            steps = sum(a * b for a, b in passes) / (h * w) / len(frames)
            depth = measure_depths(frames, [dreams], judge)[0]
            reference = reference or depth
            rows.append((name, steps, seconds, depth.ratio["block16"], depth.retained(reference, "block16"),
                         depth.ratio["block10"]))
            print(f"{name:58s} {steps:6.2f} steps {seconds:6.2f} s  depth {depth.ratio['block16']:.3f} "
                  f"({depth.retained(reference, 'block16'):.0%})", flush=True)
    finally:
        hook.remove()

    per_step = rows[0][2] / rows[0][1]
    lines = [
        "# What depth costs",
        "",
        f"Generated by `scripts/bench_depth_cost.py` on {Path(args.clip).name} at {w}x{h}, {len(frames)} frames "
        "spread over it, the default look, on cpu, 1 thread (as a live show leaves its dream). *Steps* "
        "are what each way of dreaming ran the dream network over, in full-size ascent steps (a step "
        "over a smaller picture counts its share of the pixels); *depth* is streamdream.depth's "
        "(EfficientNet-Lite2, block16; 1 is the input's own), and *retained* its excess over 1 as a share "
        "of the full dream's.",
        "",
        "| way of dreaming | steps | seconds (1 thread) | depth | retained | depth over 1, a step | depth at block10 |",
        "|---|---|---|---|---|---|---|",
        *[f"| {name} | {steps:.2f} | {seconds:.2f} | {depth:.3f} | {retained:.0%} | {(depth - 1) / steps:.3f} | {shallow:.3f} |"
          for name, steps, seconds, depth, retained, shallow in rows],
        "",
        f"A full-size step took {per_step:.3f} s here, all in (the full dream's seconds over its steps): "
        f"{1 / per_step:.1f} of them a second on this thread, were it to do nothing else.",
    ]
    print(lines[-1])
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

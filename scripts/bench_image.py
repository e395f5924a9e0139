"""Seconds per image for `streamdream image` settings, on this machine.

    python scripts/bench_image.py [--width 640] [--height 360] [--preset NAME] [--repeats 3] [--device auto]

Prints model load time and the time of each dream after one warm-up run.
"""

import argparse
import statistics
import time

import torch

from streamdream.engine.dreamer import Dreamer
from streamdream.presets import build_config
from streamdream.media.images import noise_image


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--preset")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="auto")
    args = p.parse_args()
    config = build_config(args.preset, {"dream": {"device": args.device}})  # unseeded: the default kernels
    start = time.perf_counter()
    dreamer = Dreamer.from_config(config.dream)
    load = time.perf_counter() - start
    frame = noise_image(args.width, args.height)
    start = time.perf_counter()
    dreamer.dream_frame(frame)  # warm-up: kernels, allocator
    warm_up = time.perf_counter() - start
    times = []
    for _ in range(args.repeats):
        if dreamer.device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        dreamer.dream_frame(frame)
        if dreamer.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    name = args.preset or "default"
    print(f"device {dreamer.device} ({torch.cuda.get_device_name() if dreamer.device.type == 'cuda' else 'cpu'}), "
          f"threads {torch.get_num_threads()}")
    print(f"preset {name}: {config.dream.model} {dreamer.objective.description}, "
          f"{dreamer.steps_for(args.height, args.width)} steps")
    print(f"model load {load:.2f} s; first image (kernels chosen, memory taken) {warm_up:.2f} s; {args.width}x{args.height}: "
          f"median {statistics.median(times):.2f} s per image (min {min(times):.2f}, max {max(times):.2f})")


if __name__ == "__main__":
    main()

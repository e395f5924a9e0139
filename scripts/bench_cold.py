#!/usr/bin/env python
"""What a dream step costs the first time a device meets a size, against the next time: one
JSON line a case, each case in a fresh process.

    python scripts/bench_cold.py [--device cuda] [--model lite0] [--sizes 1280x720,448x252]

On a GPU the first step at a size also picks its convolution kernels, and cuDNN 9.10 and later
compiles some at run time (depthwise ones among them): seconds a size, where the step after takes
milliseconds. A show meets new sizes at its start and at its first cut. The cases are the
network's memory format (channels_last, or contiguous: PyTorch then runs depthwise convolutions
with its own kernels, not cuDNN's; `DreamNet.prepare` picks one, see `memory_format_for`) times
its precision (fp32, bf16).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def case(args) -> dict:
    import torch

    from streamdream import models
    from streamdream.engine.dream import ascent_step
    from streamdream.engine.objectives import from_layers
    from streamdream.presets import build_config

    device = models.pick_device(args.device)
    start = time.perf_counter()
    spec = models.get_spec(args.model)
    layer = build_config(None).dream.layers
    net = models.DreamNet(spec, models.load_network(spec), [layer]).prepare(device, args.precision)
    net = net.to(memory_format=torch.channels_last if args.format == "channels_last" else torch.contiguous_format)
    objective = from_layers(layer, lambda name: name, lambda name: 1)
    generator = torch.Generator().manual_seed(0)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    out = {"format": args.format, "precision": args.precision, "load_s": round(time.perf_counter() - start, 2)}
    for size in args.sizes.split(","):
        w, h = (int(v) for v in size.split("x"))
        image = torch.rand(1, 3, h, w, device=device)
        for which in ("first", "second"):
            start = time.perf_counter()
            ascent_step(image, net, objective, 0.01, 8, generator)
            sync()
            out[f"{size}_{which}_ms"] = round((time.perf_counter() - start) * 1000, 1)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto")
    p.add_argument("--model", default="lite0")
    p.add_argument("--sizes", default="1280x720,448x252")
    p.add_argument("--format", choices=["channels_last", "contiguous"], help=argparse.SUPPRESS)
    p.add_argument("--precision", choices=["fp32", "bf16"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.format:
        print(json.dumps(case(args)))
        return
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    for memory_format in ("channels_last", "contiguous"):
        for precision in ("bf16", "fp32"):
            done = subprocess.run([sys.executable, __file__, "--device", args.device, "--model", args.model,
                                   "--sizes", args.sizes, "--format", memory_format, "--precision", precision],
                                  capture_output=True, text=True, env=env)
            lines = done.stdout.strip().splitlines()
            print(lines[-1] if done.returncode == 0 and lines else json.dumps(
                {"format": memory_format, "precision": precision,
                 "error": (done.stderr.strip().splitlines() or ["failed"])[-1]}), flush=True)


if __name__ == "__main__":
    main()

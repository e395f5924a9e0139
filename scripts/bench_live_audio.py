#!/usr/bin/env python
"""Live sound to picture: how long from a sound reaching `webcam --audio-input` to a shown frame
dreamt with its effect. An injected sound (silence, then loud noise, in turns) stands in for a
microphone; the schedule is `strength = "0:(0.3 + 2.7*rms)"`.

    python scripts/bench_live_audio.py [--width 640] [--bursts 5] [--source test]

For each burst: the time its first block is heard, the first frame dreamt at the raised
strength, and the first time the display shows that dream; printed per burst and as a median.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from streamdream.live.listen import BLOCK, RATE
from streamdream.live.show import WebcamOptions, run_webcam
from streamdream.models import allocator
from streamdream.presets import build_config

from live_timing import report, time_frames, write_page

QUIET, LOUD = 1.5, 1.5  # seconds of each, in turn


def main() -> None:
    allocator.keep_freed_memory()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--bursts", type=int, default=5)
    p.add_argument("--source", default="test")
    p.add_argument("--markdown", type=Path, help="also write the lines printed here as a Markdown page")
    args = p.parse_args()
    lines: list[str] = []
    print = report(lines)  # noqa: A001 (every line printed is also kept for --markdown)
    bursts: list[float] = []  # when each loud stretch's first block was handed over

    def sound():
        rng = np.random.default_rng(0)
        start = time.perf_counter()
        k = 0
        while True:
            time.sleep(BLOCK / RATE)
            at = time.perf_counter() - start
            loud = (at % (QUIET + LOUD)) >= QUIET
            if loud and (not bursts or time.perf_counter() - bursts[-1] > LOUD):
                bursts.append(time.perf_counter())
            k += 1
            yield (0.3 * rng.standard_normal(BLOCK) if loud else 0.001 * rng.standard_normal(BLOCK)).astype(np.float32)

    dreamt, shown = time_frames()  # (finished at, strength) per dreamt frame; count -> first shown
    config = build_config(None, {"dream": {"width": args.width}, "schedule": {"strength": "0:(0.3 + 2.7*rms)"}})
    seconds = 4.0 + args.bursts * (QUIET + LOUD)  # the first full dream takes a few seconds
    run_webcam(WebcamOptions(args.source, window=False, duration=seconds, sound=sound()), config, say=lambda m: None)
    latencies = []
    for at in bursts:
        if not dreamt or at < dreamt[0][0]:
            continue  # heard while the first full dream was still being made
        count = next((k + 1 for k, (done, strength) in enumerate(dreamt) if done > at and strength > 1.0), None)
        if count is None or count not in shown:
            continue
        latencies.append(shown[count] - at)
        print(f"burst at {at - bursts[0]:5.2f} s: shown {1000 * latencies[-1]:.0f} ms later "
              f"(dreamt frame {count}, strength {dreamt[count - 1][1]:.2f})")
    if latencies:
        print(f"sound to shown frame, {len(latencies)} bursts: median {1000 * np.median(latencies):.0f} ms, "
              f"max {1000 * max(latencies):.0f} ms ({args.width} wide, {args.source})")
    if args.markdown:
        write_page(args.markdown, "Live sound to picture: measured", lines, args.width)


if __name__ == "__main__":
    main()

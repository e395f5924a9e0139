#!/usr/bin/env python
"""Live benchmark: `streamdream webcam` headless on the built-in scene or a looped file, with the
targets beside the numbers. Dream fps, display fps and the camera-to-display latency of each
frame shown; with --record, the frames a recording holds; with --rss-every, resident memory over
the run (use --seconds 1800 for the 30-minute check).

    python scripts/bench_live.py --source test --width 320 --seconds 20
    python scripts/bench_live.py --source ../shared/media/bigbuckbunny.mp4 --width 320 --record
    python scripts/bench_live.py --source test --seconds 1800 --rss-every 60 --installation
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from streamdream.models import allocator
from streamdream.live.show import WebcamOptions, rss_mb, run_webcam
from streamdream.presets import build_config


def main() -> None:
    allocator.keep_freed_memory()  # as the command line does, before any thread starts
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", default="test")
    p.add_argument("--width", type=int, default=320)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--preset", default="clouds")
    p.add_argument("--device", default="auto")
    p.add_argument("--record", action="store_true", help="also record, and count the frames the file holds")
    p.add_argument("--installation", action="store_true")
    p.add_argument("--rss-every", type=float, metavar="SEC", help="print resident memory this often")
    p.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    args = p.parse_args()

    config = build_config(args.preset, {"dream": {"width": args.width, "device": args.device}})
    folder = Path(tempfile.mkdtemp())
    record = str(folder / "bench.mp4") if args.record else None
    options = WebcamOptions(args.source, window=False, record=record, duration=args.seconds,
                            installation=args.installation, preset=args.preset)
    rss, last = [], [0.0]
    begin = time.perf_counter()

    def status(stats, look):
        now = time.perf_counter()
        if args.rss_every and now - last[0] >= args.rss_every:
            last[0] = now
            rss.append((round(now - begin), round(rss_mb())))
            print(f"{now - begin:7.0f} s  RSS {rss[-1][1]} MB  dream {stats.dream_fps:.1f} fps  "
                  f"display {stats.display_fps:.1f} fps  latency {stats.latency_ms:.0f} ms", flush=True)

    result = run_webcam(options, config, say=lambda m: None, status=status)
    s = result.stats
    wall = s.wall_seconds
    lat = np.array(s.latencies) * 1000 if s.latencies else np.zeros(1)
    numbers = {
        "source": result.source, "look": result.look, "device": result.device, "seconds": round(wall, 1),
        "dream_fps": round(s.dreamt / wall, 2), "display_fps": round(s.frames / wall, 2),
        "camera_fps": round(s.captured / wall, 2), "dream_fps_last_2s": round(s.dream_fps, 2), "latency_ms_median": round(float(np.median(lat)), 1),
        "latency_ms_p95": round(float(np.percentile(lat, 95)), 1), "dropped": s.dropped,
        "rss_mb": rss or [(round(wall), round(rss_mb()))],
    }
    if record:
        import av

        with av.open(record) as container:
            numbers["recorded_frames"] = sum(1 for _ in container.decode(video=0))
    targets = [("dream fps", numbers["dream_fps"], ">= 8"), ("display fps", numbers["display_fps"], ">= 25"),
               ("latency ms (median)", numbers["latency_ms_median"], "<= 150")]
    if record:
        targets.append(("recorded frames", numbers["recorded_frames"], f">= {8 * args.seconds:.0f}"))
    print(f"{numbers['source']}; {numbers['look']}; {numbers['device']}; {wall:.1f} s")
    for name, value, target in targets:
        print(f"  {name:22s} {value:>9}   target {target}")
    print(f"  dream fps over the last 2 s (after the first full dream): {s.dream_fps:.2f}")
    print(f"  latency p95 {numbers['latency_ms_p95']} ms; camera {numbers['camera_fps']} fps; "
          f"{numbers['dropped']} frames not dreamt; RSS {numbers['rss_mb'][-1][1]} MB")
    if args.json:
        Path(args.json).write_text(json.dumps(numbers, indent=2))


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""The summary table of a `scripts/gpu_check.sh` run, from what it left in its folder:

    python scripts/gpu_summary.py OUT [FAILED STEP ...]

Reads steps.json (with its profiled frame), video_*.json, live*.json and check.log (the image's
line, bench_cold.py's lines, the tests' count); prints Markdown. A figure that is
missing was not measured (its step failed or ran out of time), and says so.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path


def load(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def found(pattern: str, text: str) -> str | None:
    match = re.findall(pattern, text)
    return match[-1] if match else None


def main() -> None:
    out, failed = Path(sys.argv[1]), sys.argv[2:]
    log = (out / "check.log").read_text() if (out / "check.log").exists() else ""
    steps = load(out / "steps.json")
    machine = steps.get("machine", {})
    rows = [("card", machine.get("gpu") or machine.get("cpu")),
            ("torch", machine.get("torch")),
            ("matmul peak fp32 / bf16, GFLOP/s", " / ".join(str(v) for v in steps.get("peak", {}).values()) or None),
            ("precision picked (auto)", ", ".join(f"{k} {v}" for k, v in steps.get("auto_precision", {}).items()) or None)]
    for row in steps.get("steps", []):
        rows.append((f"step {row['model']} {row['size']} {row['precision']}",
                     f"{row['seconds_per_step'] * 1000:.1f} ms, {row['gflop_per_step']} GFLOP, "
                     f"{row['share_of_peak']:.0%} of peak"))
    profile = steps.get("profile", {})
    if "ms_per_frame" in profile:
        rows.append((f"one video frame profiled, {profile['size']}, ms",
                     ", ".join(f"{k} {v}" for k, v in profile["ms_per_frame"].items())))
    image = found(r"(\d+x\d+): median ([\d.]+) s per image", log)
    rows.append(("image, default look", f"{image[1]} s at {image[0]}" if image else None))
    for model in ("lite0", "googlenet"):
        for row in load(out / f"video_{model}.json").get("video", []):
            if "fps" in row:
                rows.append((f"video {model} {row['size']}, file to file",
                             f"{row['fps']} fps ({row['steady_fps']} after the first frame), wall/dream "
                             f"{row['wall_over_dream']}, {row['precision']}, peak {row['peak_memory_mb']} MB"))
            else:
                rows.append((f"video {model} {row.get('size')}", f"failed: {row.get('error')}"))
    for name, label in (("live", "webcam on the clip"), ("live_shots", "webcam on a clip cutting every 1.6 s")):
        live = load(out / f"{name}.json")
        if live:
            rows.append((f"{label}, {live.get('device')}",
                         f"dream {live['dream_fps']} fps ({live.get('dream_fps_after_first')} after the first), "
                         f"display {live['display_fps']} fps, latency p95 {live['latency_ms_p95']} ms"))
            if "depth_retained_block16" in live:
                cuts = live.get("plain_after_cut")
                rows.append((f"{label}: depth", f"retained {live['depth_retained_block16']:.0%} of a full dream's "
                             f"(moving {live['depth_retained_moving_block16']:.0%}), moving covered "
                             f"{live['moving_covered']}, coherence {live['coherence']}"
                             + (f", cuts shown plain {sum(1 for c in cuts if c)} of {len(cuts)}" if cuts else "")))
    for line in log.splitlines():
        if line.startswith('{"format"'):
            cold = json.loads(line)
            rows.append((f"first step at a size against the next, {cold['format']} {cold['precision']}",
                         cold.get("error") or ", ".join(f"{k[:-3]} {v} ms" for k, v in cold.items() if k.endswith("_ms"))))
    tests = found(r"(\d+ (?:passed|failed)[^\n]*?) in [\d.]+s", log)
    rows.append(("CUDA tests", tests))
    print("| what | measured |\n|---|---|")
    for what, value in rows:
        print(f"| {what} | {value if value is not None else 'not measured'} |")
    if failed:
        print("\nFailed or out of time: " + "; ".join(failed))


if __name__ == "__main__":
    main()

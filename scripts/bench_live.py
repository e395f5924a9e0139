#!/usr/bin/env python
"""Live benchmark: `streamdream webcam` headless on the built-in scene or a looped file, with the
targets beside the numbers. Dream fps, display fps and the camera-to-display latency of each
frame shown, and how much of a core each thread used over the middle of the show; with --record,
the frames a recording holds; with --rss-every, resident memory over the run (use --seconds 1800
for the 30-minute check).

    python scripts/bench_live.py --source test --width 320 --seconds 20
    python scripts/bench_live.py --source ../shared/media/bigbuckbunny.mp4 --width 320 --record
    python scripts/bench_live.py --source test --seconds 1800 --rss-every 60 --installation [--web-clients 1]
    python scripts/bench_live.py --source ../shared/media/bigbuckbunny.mp4 --width 640 --depth 8

With a file as the source and --depth N, what was shown is also judged against the file's frames
at the times shown: its depth (depth.py) beside a full per-frame dream of N of those frames
(`--no-flow`'s), the motion measures (metrics.py), and, at each scene cut the file holds (its
loop's wrap included), how soon the dream's strength comes back.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from live_timing import ThreadLoad, time_frames
from streamdream.engine.flow import frame_difference, to_gray
from streamdream.live.compositor import CUT_HOLD
from streamdream.models import allocator
from streamdream.models.runtime import cpu_name
from streamdream.live.show import WebcamOptions, rss_mb, run_webcam
from streamdream.presets import build_config


# how many frames behind its time stamp a looped file's frame may be (see `source_frame`); a
# picture held over a cut (live.compositor.CUT_HOLD) is older by the hold
LATE_FRAMES = 3


def main() -> None:
    allocator.keep_freed_memory()  # as the command line does, before any thread starts
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", default="test")
    p.add_argument("--width", type=int, default=320)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--preset", help="a built-in look (default: the default look, as webcam)")
    p.add_argument("--device", default="auto")
    p.add_argument("--record", action="store_true", help="also record, and count the frames the file holds")
    p.add_argument("--installation", action="store_true")
    p.add_argument("--rss-every", type=float, metavar="SEC", help="print resident memory this often")
    p.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    p.add_argument("--web-clients", type=int, default=0, metavar="N",
                   help="serve the web page and keep N clients watching its preview")
    p.add_argument("--depth", type=int, metavar="N", help="a file source: judge what was shown (see above), "
                                                          "against full dreams of N of its frames")
    p.add_argument("--sheet", metavar="FILE", help="with --depth: a contact sheet (JPEG or PNG) of those N frames: "
                                                   "input, full dream, what was shown")
    args = p.parse_args()

    config = build_config(args.preset, {"dream": {"width": args.width, "device": args.device}})
    folder = Path(tempfile.mkdtemp())
    record = str(folder / "bench.mp4") if args.record else None
    options = WebcamOptions(args.source, window=False, record=record, duration=args.seconds,
                            installation=args.installation, preset=args.preset,
                            serve=0 if args.web_clients else None)
    rss, last = [], [0.0]
    begin = time.perf_counter()

    def status(stats, look):
        now = time.perf_counter()
        if args.rss_every and now - last[0] >= args.rss_every:
            last[0] = now
            rss.append((round(now - begin), round(rss_mb())))
            print(f"{now - begin:7.0f} s  RSS {rss[-1][1]} MB  dream {stats.dream_fps:.1f} fps  "
                  f"display {stats.display_fps:.1f} fps  latency {stats.latency_ms:.0f} ms", flush=True)

    keep = Keep(keep=bool(args.depth))
    dreamt_at, shown_at = time_frames()  # when each dreamt frame was finished; dreamt count -> when first shown
    def said(message: str) -> None:
        if args.web_clients and "web page on" in message:  # clients watch the preview all along
            url = message.split("web page on ")[1]
            for _ in range(args.web_clients):
                threading.Thread(target=watch, args=(url + "stream.mjpg",), daemon=True).start()

    # over the middle of the show: after the first (full) dream, before the threads end
    load = ThreadLoad(0.4 * args.seconds, 0.95 * args.seconds) if args.seconds >= 5 else None
    result = run_webcam(options, config, say=said, status=status, sinks=[keep])
    s = result.stats
    wall = s.wall_seconds
    lat = np.array(s.latencies) * 1000 if s.latencies else np.zeros(1)
    numbers = {
        "source": result.source, "look": result.look, "device": result.device, "cpu": cpu_name(), "seconds": round(wall, 1),
        "dream_fps": round(s.dreamt / wall, 2), "display_fps": round(s.frames / wall, 2),
        "camera_fps": round(s.captured / wall, 2), "dream_fps_last_2s": round(s.dream_fps, 2), "latency_ms_median": round(float(np.median(lat)), 1),
        "latency_ms_p95": round(float(np.percentile(lat, 95)), 1), "dropped": s.dropped,
        "rss_mb": rss or [(round(wall), round(rss_mb()))],
        # the first dream is a full one: until it comes the camera is shown plain
        "first_dream_s": round(shown_at[min(shown_at)] - keep.at[0], 2) if shown_at and keep.at else None,
        # the rate the show dreams at once it runs: the frames after the first (a full dream) over the time since
        "dream_fps_after_first": round((len(dreamt_at) - 1) / (dreamt_at[-1][0] - dreamt_at[0][0]), 2)
        if len(dreamt_at) > 1 else None,
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
    print(f"  dream fps after the first full dream: {numbers['dream_fps_after_first']} (target >= 12); "
          f"over the last 2 s: {s.dream_fps:.2f}")
    print(f"  the first dream was shown {numbers['first_dream_s']} s after the first frame")
    print(f"  latency p95 {numbers['latency_ms_p95']} ms; camera {numbers['camera_fps']} fps; "
          f"{numbers['dropped']} frames not dreamt; RSS {numbers['rss_mb'][-1][1]} MB")
    if load is not None and load.line():
        print(f"  {load.line()}")
        numbers["thread_core_share"] = {name: round(share, 3) for name, share in load.shares.items()}
    if args.depth:
        numbers.update(judge(args, config, keep.frames, keep.at, shown_at[min(shown_at)] if shown_at else None))
    if args.json:
        Path(args.json).write_text(json.dumps(numbers, indent=2))


def write_sheet(path: str, inputs, references, shown, times, width: int = 400) -> None:
    """Input, full dream and what the show showed, a column per moment, each `width` wide."""
    from contact_sheet import fit, label

    from streamdream.media.images import write_image

    rows = [np.hstack([label(fit(f, width), f"{name}  {t:.1f} s") for f, t in zip(frames, times)])
            for name, frames in (("input", inputs), ("full dream", references), ("webcam (live)", shown))]
    write_image(np.vstack(rows), path)
    print(f"  wrote {path}")


def watch(url: str) -> None:
    """A web client reading the preview until the show ends."""
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=30) as stream:
            while stream.read1(65536):
                pass
    except OSError:
        pass


class Keep:
    """A sink that keeps what was shown, with its source time (`frames`, or only the clock it was
    shown at, `at`, with keep=False)."""

    def __init__(self, keep: bool = True):
        self.frames, self.at, self.keep = [], [], keep

    def write(self, image, at):
        self.at.append(time.perf_counter())
        if self.keep:
            self.frames.append((image, at))

    def close(self):
        pass

    def abort(self):
        # a show that failed: nothing to finalise, and the show's own error is the one to see
        pass


def judged_from(shown_at: list[float], first_dream: float | None, rate: float) -> int:
    """The first of the frames shown (each shown at `shown_at`, perf_counter) that a judge looks
    at: a second after the first one shown with a dream on it (the first dream, a full one, takes
    seconds), the last but one at most."""
    start = next((k for k, at in enumerate(shown_at) if at >= first_dream), 0) if first_dream else 0
    return max(0, min(len(shown_at) - 2, start + int(rate)))


def source_frame(image: np.ndarray, at: float, rate: float, decoded: list) -> int:
    """Which of the looped file's frames `image` was shown on, `at` s into the show. The source
    stamps a frame when it hands it over, later than its turn when it fell behind (as it does
    where it reopens the file to loop), so the time alone can point a frame or two ahead: of the
    frames it can be, the one nearest the picture."""
    late = int(round(at * rate))
    behind = LATE_FRAMES + int(np.ceil(CUT_HOLD * rate))
    candidates = [k % len(decoded) for k in range(late - behind, late + 1)]
    small = lambda picture: cv2.resize(picture, (64, 36), interpolation=cv2.INTER_AREA).astype(np.float32)
    shown = small(image)
    return min(candidates, key=lambda k: float(np.abs(small(decoded[k]) - shown).mean()))


def judge(args, config, shown, shown_at, first_dream) -> dict:
    """Depth, motion measures and cut recovery of the frames shown, against the source's; `shown_at`
    is when each was shown, `first_dream` when the first dream was (perf_counter)."""
    from dataclasses import replace

    from streamdream.depth import DepthJudge, measure_depth, measure_depths
    from streamdream.engine.dreamer import Dreamer
    from streamdream.media.video_in import VideoFileSource
    from streamdream.metrics import EDGE_BAND, mean_edges, specks, strength, temporal_metrics

    video = VideoFileSource(args.source, shown[0][0].shape[1])
    decoded = [f.image for f in video.frames()]
    rate = float(video.info.rate)
    video.close()
    index = [source_frame(image, t, rate, decoded) for image, t in shown]
    start = judged_from(shown_at, first_dream, rate)
    images, inputs = [image for image, _ in shown[start:]], [decoded[i] for i in index[start:]]
    depth_judge = DepthJudge(device=config.dream.device if config.dream.device != "auto" else "cpu")
    live = measure_depth(inputs, images, depth_judge)
    picks = np.linspace(0, len(inputs) - 1, args.depth).round().astype(int)
    dreamer = Dreamer.from_config(replace(config.dream, seed=1, width=images[0].shape[1]))
    references = [dreamer.dream_frame(inputs[k]) for k in picks]
    # where each picked frame moves: against the clip's frame before it
    frames_before = [decoded[(index[start + k] - 1) % len(decoded)] for k in picks]
    full, sampled = measure_depths([inputs[k] for k in picks], [references, [images[k] for k in picks]], depth_judge,
                                   before=frames_before)
    if args.sheet:
        write_sheet(args.sheet, [inputs[k] for k in picks], references, [images[k] for k in picks],
                    [shown[start + k][1] for k in picks])
    m = temporal_metrics(inputs, images)
    out = {"depth_block16": round(live.ratio["block16"], 3), "depth_block10": round(live.ratio["block10"], 3),
           "depth_full_block16": round(full.ratio["block16"], 3), "depth_frames": len(picks),
           "depth_retained_block16": round(sampled.retained(full, "block16"), 3),
           "depth_retained_moving_block16": round(sampled.retained(full, "block16", moving=True), 3),
           "moving_covered": round(m.moving_covered, 3), "concentration_max": round(m.concentration_max, 3),
           "coherence": round(m.coherence, 3), "coherence_moving": round(m.coherence_moving, 3),
           "ewarp_ratio": round(m.ratio, 3),
           "specks_per_10k": round(float(np.mean([specks(images[k]) for k in picks])), 1),
           "specks_full_per_10k": round(float(np.mean([specks(r) for r in references])), 1)}
    ratio, repeats = mean_edges(images[::3], inputs[::3])
    full_ratio, full_repeats = mean_edges(references, [inputs[k] for k in picks])
    out.update(edge_strength=round(ratio, 3), edge_repeats=round(repeats, 2),
               edge_strength_full=round(full_ratio, 3), edge_repeats_full=round(full_repeats, 2))
    print(f"  depth at lite2 block16 {live.ratio['block16']:.3f} (block10 {live.ratio['block10']:.3f}); "
          f"on {args.depth} frames {sampled.ratio['block16']:.3f} against a full dream's "
          f"{full.ratio['block16']:.3f}: retained {out['depth_retained_block16']:.0%} (target >= 50%); "
          f"where the input moves {sampled.moving['block16']:.3f} against {full.moving['block16']:.3f}: "
          f"retained {out['depth_retained_moving_block16']:.0%}")
    print(f"  moving covered {m.moving_covered:.3f} (>= 0.85), concentration max {m.concentration_max:.3f} (<= 0.2), "
          f"coherence {m.coherence:.3f} / moving {m.coherence_moving:.3f} (>= 0.85 / 0.8), E_warp ratio {m.ratio:.3f}")
    print(f"  specks a 10,000 pixels (metrics.specks) {out['specks_per_10k']}, the full dreams' "
          f"{out['specks_full_per_10k']}")
    print(f"  edges (metrics.edges): the weakest {EDGE_BAND} px band at {out['edge_strength']:.0%} of the interior's "
          f"strength (within 20%; the full dreams' {out['edge_strength_full']:.0%}), {out['edge_repeats']} lines repeated "
          f"a frame (none; the full dreams' {out['edge_repeats_full']})")
    # cuts: where consecutive source frames differ as a scene cut does; strength 1 s after each,
    # against the second before it
    grays = [to_gray(f) for f in decoded]
    cuts = [k for k in range(len(decoded)) if frame_difference(grays[k - 1], grays[k]) > config.video.scene_cut]
    strengths = [strength(image, frame) for image, frame in zip(images, inputs)]
    times = [t for _, t in shown[start:]]
    period = len(decoded) / rate
    recoveries, plain, held = [], [], []
    for k, (t, i) in enumerate(zip(times, index[start:])):
        # the first frame shown of the shot a cut begins (a cut frame itself may not be shown)
        passed = [i] if k == 0 else [(index[start + k - 1] + j) % len(decoded)
                                     for j in range(1, (i - index[start + k - 1]) % len(decoded) + 1)]
        if any(c in cuts for c in passed):
            # the frames the picture before the cut was shown for beyond its own (a hold, see CUT_HOLD)
            repeats = 0
            while k - 2 - repeats >= 0 and index[start + k - 2 - repeats] == index[start + k - 1]:
                repeats += 1
            held.append(repeats)
            before = [s for s, u in zip(strengths, times) if t - 1.0 <= u < t]
            after = [s for s, u in zip(strengths, times) if t + 0.9 <= u <= t + 1.0]
            if before and after and t + 1.0 <= times[-1] and 1.0 < period:
                recoveries.append(float(np.mean(after) / np.mean(before)))
                # the frames shown from the cut on before the new shot's dream came: weaker than a
                # fifth of the second before's
                weak = [s < 0.2 * np.mean(before) for s in strengths[k:]]
                plain.append(weak.index(False) if False in weak else len(weak))
    out["strength_per_frame"] = [round(x, 4) for x in strengths]
    out["concentration_per_frame"] = [round(c, 3) for c in m.concentrations]
    out["source_frame_per_frame"] = index[start:]
    out["depth_per_frame"] = [round(x, 3) for x in live.per_frame["block16"]]
    if recoveries:
        out["cut_recovery_1s"] = [round(r, 3) for r in recoveries]
        print(f"  strength 1 s after each of {len(recoveries)} cuts, as a share of the second before: "
              + ", ".join(f"{r:.0%}" for r in recoveries) + " (target >= 80%)")
        out["plain_after_cut"] = plain
        out["held_at_cut"] = held
        print(f"  frames shown plain after each cut: {', '.join(map(str, plain))}; the picture before "
              f"it held over: {', '.join(map(str, held))}")
    return out


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Contact sheet of a live run: the input, a full dream of that input (the reference), what
`webcam` showed, and heat maps of where each dream is, at several moments.

    python scripts/live_sheet.py --source test -o docs/live_sheet.png
    python scripts/live_sheet.py --source ../shared/media/bigbuckbunny.mp4 -o out/live_bbb.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_live import Keep, judged_from, source_frame  # noqa: E402
from contact_sheet import fit, label, strength_view  # noqa: E402
from live_timing import time_frames  # noqa: E402

from streamdream.engine.dreamer import Dreamer  # noqa: E402
from streamdream.live.show import WebcamOptions, run_webcam  # noqa: E402
from streamdream.metrics import local_strength  # noqa: E402
from streamdream.presets import build_config  # noqa: E402
from streamdream.media.images import write_image  # noqa: E402
from streamdream.live.scene import SyntheticSource  # noqa: E402
from streamdream.media.video_in import VideoFileSource  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", default="test")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--preset", help="a built-in look (default: the default look, as webcam)")
    p.add_argument("--columns", type=int, default=4)
    args = p.parse_args()

    config = build_config(args.preset, {"dream": {"width": args.width, "seed": 1}})
    keep = Keep()
    _, shown_at = time_frames()  # dreamt count -> when the display first showed it
    result = run_webcam(WebcamOptions(args.source, window=False, duration=args.seconds, preset=args.preset),
                        config, say=lambda m: None, sinks=[keep])
    if not shown_at:
        sys.exit(f"live_sheet: no dream was shown in {args.seconds:g} s; give it more --seconds")
    if args.source == "test":
        scene = SyntheticSource(args.width)
        source_at = lambda image, t: scene.render(t)
    else:
        video = VideoFileSource(args.source, args.width)
        decoded = [f.image for f in video.frames()]
        rate = float(video.info.rate)
        video.close()
        source_at = lambda image, t: decoded[source_frame(image, t, rate, decoded)]
    dreamer = Dreamer.from_config(config.dream)
    # from a second after the first dream was shown: before it the camera shows plain (a fixed
    # share of the run skipped showed a plain first column where the first dream came late)
    shown_rate = (len(keep.at) - 1) / max(keep.at[-1] - keep.at[0], 1e-6)  # frames shown a second
    shown = keep.frames[judged_from(keep.at, shown_at[min(shown_at)], shown_rate):]
    picks = [shown[int(i * (len(shown) - 1) / (args.columns - 1))] for i in range(args.columns)]
    inputs = [source_at(image, t) for image, t in picks]
    refs = [dreamer.dream_frame(x) for x in inputs]
    lives = [image for image, _ in picks]
    scale = float(np.percentile(local_strength(refs[0], inputs[0]), 90)) or 1.0
    rows = []
    for name, frames in (("input", inputs), (f"full dream ({args.preset or 'default'})", refs), ("webcam (live)", lives)):
        rows.append(np.hstack([label(fit(f, None), f"{name}  {t:.1f} s") for f, (_, t) in zip(frames, picks)]))
    for name, frames in (("full: where", refs), ("live: where", lives)):
        rows.append(np.hstack([label(strength_view(f, x, scale), f"{name}  {t:.1f} s")
                               for f, x, (_, t) in zip(frames, inputs, picks)]))
    write_image(np.vstack(rows), args.output)
    s = result.stats
    print(f"wrote {args.output}: {result.source}; {result.look}; shown {s.frames / s.wall_seconds:.1f} fps, "
          f"dreamt {s.dreamt / s.wall_seconds:.1f} fps")


if __name__ == "__main__":
    main()

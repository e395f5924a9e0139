#!/usr/bin/env python3
"""Checksums of seeded outputs, to show a change that should not change the picture did not:
a seeded image from noise, a seeded 24-frame video of CLIP, and the pictures the live show
displays for the test scene's first 16 frames fed to the live stage in order (a live run itself
drops frames by timing). Prints one JSON line.

    python scripts/fingerprint.py CLIP [--work DIR]
"""

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


def digest(arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def decoded(path):
    import av

    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def streamdream(*args) -> None:
    subprocess.run([sys.executable, "-m", "streamdream", *map(str, args), "--seed", "3", "--overwrite"], check=True,
                   capture_output=True)


def live_pictures(count: int = 16) -> list:
    from streamdream.engine.motion import MotionTracker
    from streamdream.frames import Dreamt
    from streamdream.live.compositor import Compositor
    from streamdream.live.scene import SyntheticSource
    from streamdream.live.stage import LiveStage
    from streamdream.presets import build_config, builtin_presets

    config = build_config(None, {"dream": {"seed": 3, "width": 320}})
    stage = LiveStage(config, sorted(builtin_presets()), {"device": "auto", "seed": 3, "width": 320})
    compositor = Compositor()
    tracker = MotionTracker(config.video.scene_cut, width=stage.dream_size(320, 320)[1])
    shown = []
    for i, frame in enumerate(SyntheticSource(320, realtime=False, frames=count).frames()):
        output = stage.next(frame.image, tracker.next(frame.image))
        shown.append(compositor.present(frame, Dreamt(frame, output, i + 1)))
    return shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", help="a video with at least 24 frames (e.g. ../shared/media/bigbuckbunny.mp4)")
    parser.add_argument("--work", help="where to write the outputs (default: a temporary folder)")
    args = parser.parse_args()
    import cv2

    work = Path(args.work or tempfile.mkdtemp())
    work.mkdir(parents=True, exist_ok=True)
    streamdream("image", "noise:160x96", "-o", work / "image.png", "--iterations", "4")
    streamdream("video", args.clip, "-o", work / "video.mp4", "--frames", "24", "--width", "256")
    video = decoded(work / "video.mp4")
    print(json.dumps({"image": digest([cv2.imread(str(work / "image.png"))]), "video": [digest(video), len(video)],
                      "live": digest(live_pictures())}))


if __name__ == "__main__":
    main()

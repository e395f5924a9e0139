"""The zoom benchmark: N frames of the endless zoom from noise, written to a video.

    python scripts/bench_zoom.py [--frames 300] [--size 640x360] [--preset NAME] [--device auto]

Prints the total time, seconds per output frame and per dreamt keyframe, and the mean
correlation between each frame and the previous one zoomed (coherence).
"""

import argparse
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from streamdream.engine.dreamer import Dreamer
from streamdream.engine.tensors import to_frame, to_tensor
from streamdream.presets import build_config
from streamdream.media.video_out import VideoFileSink
from streamdream.media.images import noise_image
from streamdream.engine.warp import zoom_view
from streamdream.zoom import ZoomDreamer


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--size", default="640x360")
    p.add_argument("--preset")
    p.add_argument("--device", default="auto")
    args = p.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    config = build_config(args.preset, {"dream": {"device": args.device}})  # unseeded: the default kernels
    z = config.zoom
    dreamer = Dreamer.from_config(config.dream)
    zoomer = ZoomDreamer(dreamer, z.zoom, z.rotate, z.keyframe_every)
    step = z.zoom ** (1 / z.keyframe_every)
    correlations, previous = [], None
    with tempfile.TemporaryDirectory() as tmp:
        sink = VideoFileSink(Path(tmp) / "zoom.mp4", Fraction(z.fps), Fraction(1, z.fps), config.video.crf)
        start = time.perf_counter()
        for i, frame in enumerate(zoomer.frames(noise_image(width, height, seed=1), args.frames)):
            sink.write(frame, i / z.fps)
            if previous is not None:
                zoomed = to_frame(zoom_view(to_tensor(previous), step, z.rotate / z.keyframe_every)[0])
                correlations.append(np.corrcoef(frame.ravel().astype(float), zoomed.ravel().astype(float))[0, 1])
            previous = frame
        seconds = time.perf_counter() - start
        sink.close()
    gpu = torch.cuda.get_device_name() if dreamer.device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    print(f"device: {gpu}")
    print(f"zoom {args.frames} frames at {width}x{height} from noise: {seconds:.1f} s in all "
          f"({seconds / 60:.2f} min; target <= 10 min on the 2-core CPU), {seconds / args.frames:.3f} s/frame, "
          f"{zoomer.keyframes} keyframes at {seconds / zoomer.keyframes:.2f} s each")
    print(f"coherence: mean correlation of frame t+1 with frame t zoomed {np.mean(correlations):.3f} "
          f"(min {np.min(correlations):.3f})")


if __name__ == "__main__":
    main()

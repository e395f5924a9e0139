#!/usr/bin/env python3
"""Make the short real clip that ships inside the package (streamdream/data/bigbuckbunny.mp4):
the first 4 s of the shared Big Buck Bunny excerpt at 640x360, with its audio, small enough to
ship (a few hundred KB). Big Buck Bunny is CC BY 3.0, (c) Blender Foundation, www.bigbuckbunny.org.

    python scripts/make_demo_clip.py ../shared/media/bigbuckbunny.mp4
"""

import argparse
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

OUT = Path(__file__).resolve().parent.parent / "streamdream" / "data" / "bigbuckbunny.mp4"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("-o", "--output", default=str(OUT))
    args = parser.parse_args()
    with av.open(args.source) as src, av.open(args.output, "w") as out:
        vin = src.streams.video[0]
        rate = vin.average_rate or Fraction(25)
        video = out.add_stream("libx264", rate=rate)
        video.width, video.height, video.pix_fmt = 640, 360, "yuv420p"
        video.codec_context.options = {"crf": "27", "preset": "slower"}
        audio = out.add_stream("aac", rate=48000)
        audio.layout = "stereo"
        audio.bit_rate = 96_000
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=48000, frame_size=1024)
        frames = round(args.seconds * float(rate))
        for i, frame in enumerate(src.decode(vin)):
            if i >= frames:
                break
            image = frame.to_ndarray(format="rgb24", width=640, height=360)
            picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            picture.pts = i
            picture.time_base = 1 / rate
            out.mux(video.encode(picture))
        out.mux(video.encode(None))
        samples = 0
        src.seek(0)
        for frame in src.decode(audio=0):
            if frame.time is not None and frame.time >= args.seconds:
                break
            frame.pts = None
            for chunk in resampler.resample(frame):
                chunk.pts = samples
                samples += chunk.samples
                out.mux(audio.encode(chunk))
        out.mux(audio.encode(None))
    print(f"wrote {args.output} ({Path(args.output).stat().st_size / 1e3:.0f} kB, {frames} frames)")


if __name__ == "__main__":
    main()

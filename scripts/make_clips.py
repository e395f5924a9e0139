"""Test footage for the motion targets, made from the shared real clip (or any clip given):

    python scripts/make_clips.py [--input ../shared/media/bigbuckbunny.mp4] [--out out/clips] [--width 320]

- `object.mp4`: a textured disc (a crop of one frame) moving on a curved path at 2-6 px/frame
  over a still textured background (another frame): known motion, sharp motion boundaries.
- `handheld.mp4`: the real clip (moving subject) seen through a shaky, drifting, slightly
  rotating and zooming hand-held camera; ping-ponged to 264 frames for the drift check.
- `cut.mp4`: 40 frames of the clip, a hard cut to a mirrored, shaken later part, 40 more.
- `shots.mp4`: 16 shots of 40 frames, none like another (crops of the clip at other zooms,
  places and times, some panning, every other one mirrored): a source that cuts every 1.6 s to a
  shot a live show has never seen, as a music video does.
- `upright.mp4`: the real clip turned upright, `--width` tall: a phone held upright as the camera,
  or a vertical clip.
- `close.mp4`: the real clip seen twice as close, on its moving subject, which fills most of the
  frame: a performer in front of a webcam.

Each is H.264 at 25 fps, `--width` wide (but `upright.mp4`). Print nothing but the paths written.
"""

import argparse
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

DEFAULT_INPUT = Path(__file__).resolve().parent.parent.parent / "shared" / "media" / "bigbuckbunny.mp4"


def read_frames(path: Path, width: int) -> list[np.ndarray]:
    frames = []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            img = f.to_ndarray(format="rgb24")
            h = round(img.shape[0] * width / img.shape[1] / 2) * 2
            frames.append(cv2.resize(img, (width, h), interpolation=cv2.INTER_AREA))
    return frames


def write(path: Path, frames: list[np.ndarray]) -> None:
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=Fraction(25))
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = "yuv420p"
        s.codec_context.options = {"crf": "16", "preset": "fast"}
        for img in frames:
            # converted here, not by FFmpeg: from FFmpeg's conversion the upright clip (360 wide)
            # came out a little different from one run of this script to the next, and so did every
            # number measured on it; the other clips did not
            yuv = cv2.cvtColor(img, cv2.COLOR_RGB2YUV_I420)
            out.mux(s.encode(av.VideoFrame.from_ndarray(yuv, format="yuv420p")))
        out.mux(s.encode(None))
    print(path)


def shake(frames: list[np.ndarray], seed: int, amount: float = 1.0) -> list[np.ndarray]:
    """A hand-held camera: smoothed random walk of shift, rotation and zoom, 8% margin cropped."""
    rng = np.random.default_rng(seed)
    h, w = frames[0].shape[:2]
    n = len(frames)
    walk = np.cumsum(rng.normal(0, 1, (n, 4)), axis=0)
    kernel = np.ones(7) / 7
    walk = np.stack([np.convolve(walk[:, i], kernel, mode="same") for i in range(4)], 1)
    out = []
    for img, (dx, dy, rot, zoom) in zip(frames, walk):
        m = cv2.getRotationMatrix2D((w / 2, h / 2), 0.15 * amount * rot, 1.09 + 0.004 * amount * zoom)
        m[:, 2] += (1.2 * amount * dx, 1.2 * amount * dy)
        out.append(cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
    return out


def moving_object(background: np.ndarray, texture: np.ndarray, n: int) -> list[np.ndarray]:
    h, w = background.shape[:2]
    r = h // 4
    patch = cv2.resize(texture, (2 * r, 2 * r), interpolation=cv2.INTER_AREA)
    yy, xx = np.mgrid[-r:r, -r:r]
    alpha = np.clip(r - np.hypot(yy + 0.5, xx + 0.5), 0, 1)[..., None]
    out = []
    for i in range(n):
        t = i / n
        cx = r + (w - 2 * r) * (0.5 - 0.5 * np.cos(2 * np.pi * t))
        cy = h / 2 + 0.25 * h * np.sin(4 * np.pi * t)
        # rotate the disc slowly too: the texture itself moves, not only its outline
        m = cv2.getRotationMatrix2D((r, r), 120 * t, 1.0)
        disc = cv2.warpAffine(patch, m, (2 * r, 2 * r), borderMode=cv2.BORDER_REFLECT)
        frame = background.astype(np.float32).copy()
        # sub-pixel placement through an affine warp of the disc and its alpha onto the frame
        place = np.float32([[1, 0, cx - r], [0, 1, cy - r]])
        d = cv2.warpAffine(disc.astype(np.float32), place, (w, h))
        a = cv2.warpAffine(alpha.astype(np.float32), place, (w, h))[..., None]
        out.append((frame * (1 - a) + d * a).clip(0, 255).astype(np.uint8))
    return out


def shots(frames: list[np.ndarray], count: int = 16, length: int = 40, seed: int = 5) -> list[np.ndarray]:
    """`count` shots of `length` frames cut from `frames` (at least `length` of them): each a crop
    at its own zoom (1 to 1.9), centre, start and pan, every other one mirrored, at the frames' size."""
    rng = np.random.default_rng(seed)
    h, w = frames[0].shape[:2]
    out = []
    for k in range(count):
        start = (k * 37) % (len(frames) - length + 1)
        zoom = 1.0 + 0.9 * rng.random()
        cx, cy = rng.uniform(0.3, 0.7) * w, rng.uniform(0.35, 0.65) * h
        pan = rng.uniform(-2, 2) * w / 640  # pixels a frame, at the crop's scale
        cw, ch = w / zoom, h / zoom
        y0 = float(np.clip(cy - ch / 2, 0, h - ch))  # the pan is across
        for i in range(length):
            x0 = float(np.clip(cx - cw / 2 + pan * i, 0, w - cw))
            # the crop's corner and scale as an affine map, so the pan moves by sub-pixel steps
            m = np.float32([[1 / zoom, 0, x0], [0, 1 / zoom, y0]])
            frame = cv2.warpAffine(frames[start + i], m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
            out.append(frame[:, ::-1] if k % 2 else frame)
    return out


def close_up(frames: list[np.ndarray], width: int) -> list[np.ndarray]:
    """The frames seen twice as close, `width` wide: a window half their size, from an eighth of
    the width in and a sixteenth of the height down (the shared clip's rabbit), brought to `width`."""
    h, w = frames[0].shape[:2]
    x0, y0, cw, ch = w // 8, h // 16, w // 2, h // 2
    height = round(h * width / w / 2) * 2
    return [cv2.resize(f[y0:y0 + ch, x0:x0 + cw], (width, height), interpolation=cv2.INTER_AREA) for f in frames]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--input", default=str(DEFAULT_INPUT))
    p.add_argument("--out", default="out/clips")
    p.add_argument("--width", type=int, default=320)
    p.add_argument("--only", help="some of them, comma-separated (object,handheld,cut,shots,upright,close)")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    frames = read_frames(Path(args.input), args.width)
    n = len(frames)
    later = [f[:, ::-1] for f in frames[n // 2:n // 2 + 40]]
    makers = {"object": lambda: moving_object(frames[n // 2], frames[0][:, ::-1], 100),
              "handheld": lambda: shake(frames + frames[::-1], seed=1),
              "cut": lambda: frames[:40] + shake(later, seed=2, amount=1.5),
              "shots": lambda: shots(frames),
              "upright": lambda: [np.ascontiguousarray(np.rot90(f)) for f in frames],
              "close": lambda: close_up(read_frames(Path(args.input), 2 * args.width), args.width)}
    names = args.only.split(",") if args.only else list(makers)
    unknown = [name for name in names if name not in makers]
    if unknown:
        p.error(f"--only: no clip named {', '.join(unknown)}; choose from {', '.join(makers)}")
    for name in names:
        write(out / f"{name}.mp4", makers[name]())


if __name__ == "__main__":
    main()

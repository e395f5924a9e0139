"""A contact sheet: input, `--no-flow` (every frame dreamt in full) and the flow path, side by
side at several frames, with a row showing where the flow path's dream is. Look at it before
believing any number.

    python scripts/contact_sheet.py INPUT -o sheet.png [--width 320] [--frames 60] [--at 0,20,40,59]
                                    [--preset P] [--reference noflow.mp4 --dream flow.mp4] [--tile-width 320]

Without `--dream` both videos are rendered here (seed 1) with the same pipeline as
`streamdream video`; with it, the given files are used as they are.
"""

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np

from streamdream.metrics import local_strength
from streamdream.video import dream_video_file
from streamdream.presets import build_config
from streamdream.media.video_in import VideoFileSource

LABEL_HEIGHT = 18


def read(path, width=None, frames=None):
    source = VideoFileSource(path, width, 0.0, frames)
    try:
        return [f.image for f in source.frames()]
    finally:
        source.close()


def render(args, flow: bool, output: Path) -> Path:
    config = build_config(args.preset, {"dream": {"seed": 1, "width": args.width, "device": args.device},
                                        "video": {"flow": flow}})
    dream_video_file(config, VideoFileSource(args.input, config.dream.width, 0.0, args.frames), output)
    return output


def label(image: np.ndarray, text: str) -> np.ndarray:
    bar = np.full((LABEL_HEIGHT, image.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (4, LABEL_HEIGHT - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([bar, image])


def strength_view(dreamt: np.ndarray, frame: np.ndarray, scale: float) -> np.ndarray:
    """The local strength map as a heat image, 0 black to `scale` (the reference's 90th percentile) white-hot."""
    local = np.clip(local_strength(dreamt, frame) / scale, 0, 1)
    return cv2.applyColorMap((local * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)[..., ::-1]


def fit(image: np.ndarray, width: int | None) -> np.ndarray:
    if not width or image.shape[1] == width:
        return image
    height = round(image.shape[0] * width / image.shape[1])
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def sheet(inputs, references, dreams, at: list[int], tile_width: int | None = None,
          names: tuple[str, str] = ("--no-flow", "flow"), also: tuple = ()) -> np.ndarray:
    """Rows input / reference / dream / any `also` (name, frames) / where the reference dreams /
    where the dream is, a column per frame in `at`; `names` labels the reference and the dream rows."""
    rows = []
    ref_name, dream_name = names
    for name, frames in (("input", inputs), (ref_name, references), (dream_name, dreams), *also):
        rows.append(np.hstack([label(fit(frames[i], tile_width), f"{name}  frame {i}") for i in at]))
    scale = float(np.percentile(local_strength(references[at[0]], inputs[at[0]]), 90)) or 1.0
    heat = [label(fit(strength_view(dreams[i], inputs[i], scale), tile_width), f"{dream_name}: where the dream is, frame {i}")
            for i in at]
    heat_ref = [label(fit(strength_view(references[i], inputs[i], scale), tile_width), f"{ref_name}: where, frame {i}")
                for i in at]
    rows += [np.hstack(heat_ref), np.hstack(heat)]
    return np.vstack(rows)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("input")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--width", type=int)
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--at", default=None, help="comma-separated frame indices (default: four spread over the clip)")
    p.add_argument("--preset")
    p.add_argument("--device", default="auto")
    p.add_argument("--reference", help="an existing --no-flow dream of INPUT")
    p.add_argument("--dream", help="an existing flow-path dream of INPUT")
    p.add_argument("--tile-width", type=int, default=320, help="each picture shrunk to this width (0: as is)")
    p.add_argument("--names", default="--no-flow,flow", help="labels of the reference and dream rows")
    p.add_argument("--also", action="append", default=[], metavar="NAME=FILE",
                   help="another dream of INPUT as a row of its own (an older engine's, a webcam recording's)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dream = Path(args.dream) if args.dream else render(args, True, Path(tmp) / "flow.mp4")
        reference = Path(args.reference) if args.reference else render(args, False, Path(tmp) / "noflow.mp4")
        dreams, references = read(dream, frames=args.frames), read(reference, frames=args.frames)
    n = min(len(dreams), len(references))
    inputs = [cv2.resize(f, dreams[0].shape[1::-1], interpolation=cv2.INTER_AREA) if f.shape != dreams[0].shape else f
              for f in read(args.input, args.width, n)]
    n = min(n, len(inputs))
    at = [int(v) for v in args.at.split(",")] if args.at else sorted({0, n // 3, 2 * n // 3, n - 1})
    at = [i for i in at if 0 <= i < n]
    also = []
    for item in args.also:
        name, path = item.split("=", 1)
        frames = read(path, frames=args.frames)
        also.append((name, [cv2.resize(f, dreams[0].shape[1::-1], interpolation=cv2.INTER_AREA) for f in frames]))
    at = [i for i in at if all(i < len(frames) for _, frames in also)]
    image = sheet(inputs, references, dreams, at, args.tile_width, tuple(args.names.split(",", 1)), tuple(also))
    cv2.imwrite(args.output, image[..., ::-1])
    print(f"{args.output}: {len(at)} frames {at}, {image.shape[1]}x{image.shape[0]}")


if __name__ == "__main__":
    main()

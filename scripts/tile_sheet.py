#!/usr/bin/env python
"""Look for tile seams: one picture dreamt whole and in tiles (the path every frame above a
million pixels takes), same seed and preset, with crops at full resolution side by side.

    python scripts/tile_sheet.py [--input IMG] [--size 2000x1500] [-o docs/tile_sheet.png]

Rows: the input, the whole-frame dream and the tiled dream (crops, 1:1 pixels). The two dreams
differ in their details (the tiles draw their random grid offsets from the same generator as the
jitter), so compare their look and strength; seams would show as straight lines in the third row.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from streamdream.engine import gradient
from streamdream.config import DreamConfig
from streamdream.engine.dreamer import Dreamer
from streamdream.media.images import write_image
from streamdream.media.images import read_image

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "media" / "bigbuckbunny.mp4"


def first_frame() -> np.ndarray:
    ok, frame = cv2.VideoCapture(str(SHARED)).read()
    if not ok:
        raise SystemExit(f"cannot read {SHARED}; give --input")
    return frame[:, :, ::-1].copy()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", type=Path)
    parser.add_argument("--size", default="2000x1500")
    parser.add_argument("--crop", type=int, default=400, help="crop side, pixels")
    parser.add_argument("-o", "--output", type=Path, default=Path("docs/tile_sheet.png"))
    args = parser.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    image = cv2.resize(read_image(args.input) if args.input else first_frame(), (w, h), interpolation=cv2.INTER_CUBIC)
    results = {}
    for name, above in (("whole", 10**12), ("tiled", gradient.TILE_ABOVE)):
        gradient.TILE_ABOVE = above
        dreamer = Dreamer.from_config(DreamConfig(seed=0, device="cpu"))
        start = time.perf_counter()
        results[name] = dreamer.dream_frame(image)
        print(f"{name}: {time.perf_counter() - start:.0f} s")
    c = args.crop
    spots = [(h // 4, w // 4), (h // 2 - c // 2, w // 2 - c // 2), (3 * h // 4 - c, 3 * w // 4 - c)]
    crops = lambda img: np.concatenate([img[y:y + c, x:x + c] for y, x in spots], axis=1)
    rows = [crops(image), crops(results["whole"]), crops(results["tiled"])]
    sheet = np.concatenate(rows, axis=0)
    for i, label in enumerate(["input", "whole frame", "tiled (448 px windows)"]):
        cv2.putText(sheet, label, (8, i * c + 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_image(sheet, args.output)
    strength = {k: float(np.abs(v.astype(np.float32) - image).mean()) for k, v in results.items()}
    print(f"wrote {args.output}; mean |dream - input| (0-255): whole {strength['whole']:.2f}, "
          f"tiled {strength['tiled']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The built-in moving test scene: every live feature runs without a camera."""

from __future__ import annotations

import math
from typing import Iterator

import cv2
import numpy as np

from ..frames import Frame, height_for
from ..media.images import check_size, noise_image
from .camera import pace


def _sprite(size: int, seed: int, shape: str) -> tuple[np.ndarray, np.ndarray]:
    """A textured sprite (size, size, 3) float32 and its alpha (size, size, 1) for the test scene."""
    rng = np.random.default_rng(seed)
    texture = noise_image(size, size, seed).astype(np.float32)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    stripes = 60 * np.sin((x * rng.uniform(8, 20) + y * rng.uniform(-10, 10)) * np.pi)[..., None]
    texture = (texture * 0.8 + stripes + rng.uniform(0, 255, 3) * 0.3).clip(0, 255)
    if shape == "disc":
        inside = x**2 + y**2 < 0.22
    elif shape == "square":
        inside = (abs(x) < 0.4) & (abs(y) < 0.4)
    else:  # a triangle
        inside = (y < 0.4) & (abs(x) < (y + 0.45) * 0.5)
    alpha = cv2.GaussianBlur(inside.astype(np.float32), (0, 0), max(0.5, size / 60))[..., None]
    return texture, alpha


class SyntheticSource:
    """A built-in synthetic scene, so every live feature runs without a camera: textured shapes
    (a disc, a square, a triangle), turning on curved paths at 2-6 px/frame (at 320 wide) over a
    textured, slowly drifting background. Delivered in real time at `fps` (`realtime=False`: as
    fast as read, for tests). `still_after` seconds in, the shapes stop for `still_for` seconds,
    so an installation's stillness can be seen too.
    """

    live = True

    def __init__(self, width: int = 640, height: int | None = None, fps: float = 30.0, frames: int | None = None,
                 realtime: bool = True, still_after: float | None = None, still_for: float = 0.0):
        height = height or height_for(width)
        check_size(height, width, "the test scene", setting="width")
        self.width, self.height, self.fps = width, height, float(fps)
        self.count, self.realtime = frames, realtime
        self.still_after, self.still_for = still_after, still_for
        pad = width // 8
        big = noise_image(width + 2 * pad, height + 2 * pad, seed=11).astype(np.float32)
        yy, xx = np.mgrid[0:height + 2 * pad, 0:width + 2 * pad].astype(np.float32)
        big += 40 * (np.sin(xx / 9.0) * np.cos(yy / 13.0))[..., None]
        self.background, self.pad = big.clip(0, 255), pad
        side = max(12, min(width, height) // 3)
        self.sprites = [_sprite(side, seed, shape) for seed, shape in ((1, "disc"), (2, "square"), (3, "triangle"))]
        self.info = f"the built-in test scene, {width}x{height} at {self.fps:g} fps"

    def scene_time(self, t: float) -> float:
        """Time along the shapes' paths: it stands still from `still_after` for `still_for` s."""
        if self.still_after is None or t < self.still_after:
            return t
        return t - min(t - self.still_after, self.still_for)

    def render(self, t: float) -> np.ndarray:
        """The scene at `t` seconds: RGB uint8 (height, width, 3)."""
        t = self.scene_time(t)
        w, h, pad = self.width, self.height, self.pad
        ox = int(round(pad + pad * 0.8 * math.sin(t * 0.21)))
        oy = int(round(pad + pad * 0.8 * math.sin(t * 0.17 + 1.0)))
        frame = self.background[oy:oy + h, ox:ox + w].copy()
        for i, (texture, alpha) in enumerate(self.sprites):
            side = texture.shape[0]
            # Lissajous paths: up to ~6 px a frame at 30 fps on a 320-wide frame
            cx = w / 2 + (w / 2 - side / 2) * math.sin(t * (0.9 + 0.35 * i) + i * 2.1)
            cy = h / 2 + (h / 2 - side / 2) * math.sin(t * (0.7 + 0.25 * i) + i * 1.3)
            angle = math.degrees(t * (0.8 - 0.5 * i))
            turn = cv2.getRotationMatrix2D((side / 2, side / 2), angle, 1.0)
            tex = cv2.warpAffine(texture, turn, (side, side), borderMode=cv2.BORDER_REFLECT)
            alp = cv2.warpAffine(alpha, turn, (side, side))[..., None]
            x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
            xs, ys = slice(max(0, x0), min(w, x0 + side)), slice(max(0, y0), min(h, y0 + side))
            tx, ty = slice(xs.start - x0, xs.stop - x0), slice(ys.start - y0, ys.stop - y0)
            a = alp[ty, tx]
            frame[ys, xs] = frame[ys, xs] * (1 - a) + tex[ty, tx] * a
        return frame.clip(0, 255).astype(np.uint8)

    def frames(self) -> Iterator[Frame]:
        import itertools
        import time

        start = time.perf_counter()
        for index in itertools.count():
            if self.count is not None and index >= self.count:
                return
            at = index / self.fps
            clock = pace(start, at) if self.realtime else time.perf_counter()
            yield Frame(self.render(at), at, index, clock)

    def close(self) -> None:
        pass

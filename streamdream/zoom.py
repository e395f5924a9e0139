"""The endless zoom ("we must go deeper"): dream, zoom into the centre, dream on the result.

Only every `keyframe_every`-th output frame is dreamt; the frames between are the two keyframes
around them, zoomed to the same moment and cross-faded, so a smooth 25 fps stream costs a
fraction of the dream steps.
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from .dreamer import Dreamer, to_frame, to_tensor


def zoom_view(image: torch.Tensor, scale: float, degrees: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """`image` (1, C, H, W) zoomed into its centre by `scale` (>1 enlarges) and turned by `degrees`.

    Returns the view and a mask (1, 1, H, W): 1 where the view shows the image, 0 where a
    zoom-out (scale < 1) or a turn reaches past its edges (there the border is reflected).
    """
    if image.ndim != 4 or image.shape[0] != 1:
        raise ValueError(f"expected (1, C, H, W), got {tuple(image.shape)}")
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    _, _, h, w = image.shape
    a = math.radians(degrees)
    cos, sin = math.cos(a) / scale, math.sin(a) / scale
    theta = torch.tensor([[[cos, -sin * h / w, 0.0], [sin * w / h, cos, 0.0]]], dtype=image.dtype, device=image.device)
    grid = F.affine_grid(theta, list(image.shape), align_corners=False)
    view = F.grid_sample(image, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    inside = (grid.abs() <= 1.0).all(dim=-1)[:, None].to(image.dtype)
    return view, inside


class ZoomDreamer:
    """Frames of an endless zoom, starting from `start` (RGB uint8), dreamt with `dreamer`.

    zoom: enlargement from one dreamt keyframe to the next (> 1); rotate: degrees per keyframe;
    keyframe_every: output frames per keyframe (1: dream every frame).
    """

    def __init__(self, dreamer: Dreamer, zoom: float, rotate: float = 0.0, keyframe_every: int = 5):
        if zoom <= 1.0:
            raise ValueError(f"zoom must be above 1, got {zoom}")
        if keyframe_every < 1:
            raise ValueError(f"keyframe_every must be at least 1, got {keyframe_every}")
        self.dreamer, self.zoom, self.rotate, self.every = dreamer, zoom, rotate, keyframe_every
        self.keyframes = 0

    def _dream(self, image: torch.Tensor) -> torch.Tensor:
        self.keyframes += 1
        return self.dreamer.dream_tensor(image)

    def frames(self, start: np.ndarray, count: int | None = None) -> Iterator[np.ndarray]:
        """Yield `count` frames (None: without end), each RGB uint8 of `start`'s size."""
        if count is not None and count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        a = self._dream(to_tensor(start, self.dreamer.device))
        yield to_frame(a)
        produced = 1
        k = self.every
        while count is None or produced < count:
            b = self._dream(zoom_view(a, self.zoom, self.rotate)[0])
            for j in range(1, k + 1):
                t = j / k
                if j == k:
                    frame = b
                else:
                    # both keyframes brought to the moment j/k of the way: A zoomed in, B zoomed out
                    from_a, _ = zoom_view(a, self.zoom**t, self.rotate * t)
                    from_b, inside = zoom_view(b, self.zoom ** (t - 1), self.rotate * (t - 1))
                    weight = t * inside
                    frame = (1 - weight) * from_a + weight * from_b
                yield to_frame(frame)
                produced += 1
                if count is not None and produced >= count:
                    return
            a = b


class ZoomSource:
    """The zoom as a run's source (a feedback source: each frame comes from the last dream), for
    `pipeline.run` with no dream stage. `count` None: without end."""

    live = False

    def __init__(self, zoomer: ZoomDreamer, start: np.ndarray, fps: int, count: int | None):
        self.zoomer, self.start, self.fps, self.count = zoomer, start, fps, count

    def frames(self):
        from .sources import Frame

        for index, image in enumerate(self.zoomer.frames(self.start, self.count)):
            yield Frame(image, index / self.fps, index)

    def close(self) -> None:
        pass

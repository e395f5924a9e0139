"""What a still camera's scene was dreamt as, pixel by pixel, for what a moving subject uncovers.

An installation's camera stands still while people cross its view. Behind them the room's dream
has grown deep over minutes, but each pixel a passer-by uncovers was newly shown to the flow and
started again from its fresh steps, a texture with no depth: on a still scene crossed by a moving
subject, most of the picture is such a wake at one time or another. The memory keeps, for each
pixel where the camera and the scene stood still, its latest dream and what the camera saw there;
a pixel uncovered later that looks as it did is given that dream back. A moving camera (a pan, a
hand-held shot) keeps nothing: its pixels are never where they were.

It also counts how long each pixel has stood still, so the steps there can stop once its dream is
grown: a still pixel's dream is carried without resampling, and steps on it beyond a keyframe's
worth overcook it, into single pixels of saturated colour (after 160 dreamt frames of a still
scene, one pixel in 130).
"""

from __future__ import annotations

import numpy as np
import torch

from .blur import box_blur
from .motion import plane_to
from .tensors import check_image, upload

# a pixel moving less than this (pixels a dreamt frame) stands still
STILL_PX = 0.25


# the camera moves when more than this share of the frame does: the memory is of another view
MOVING_SHARE = 0.5


# a pixel's steps are whole until it has stood still this many dreamt frames, and stop at STILL_END
STILL_FULL = 30
STILL_END = 60


# an uncovered pixel looks as it did when its picture differs from the kept one by less than
# this (mean over colours, values in [0, 1], averaged over a few pixels around it)
SAME_PICTURE = 0.04


class StillMemory:
    """Per pixel of a still camera's frame: the latest dream detail (1, 3, H, W) of where it
    stood still, the picture (1, 3, H, W) it was dreamt on, whether it holds one (1, 1, H, W),
    and how many dreamt frames it has stood still (1, 1, H, W)."""

    def __init__(self):
        self.forget()

    def forget(self) -> None:
        self.detail = self.picture = self.held = self.age = None

    def watch(self, still: torch.Tensor) -> None:
        """Count one more dreamt frame for the pixels `still` (1, 1, H, W, 0 or 1) says stood
        still, and start again from 0 for the others."""
        if self.age is None or self.age.shape != still.shape:
            self.age = torch.zeros_like(still)
        self.age.add_(1.0).mul_(still)

    def taper(self) -> torch.Tensor | None:
        """The share of a step each pixel takes, (1, 1, H, W): whole until it has stood still
        STILL_FULL frames, none from STILL_END on; None before the first `watch`."""
        if self.age is None:
            return None
        return ((STILL_END - self.age) / (STILL_END - STILL_FULL)).clamp_(0.0, 1.0)

    def update(self, picture: torch.Tensor, detail: torch.Tensor, still: torch.Tensor) -> None:
        """Keep `detail` (1, 3, H, W), dreamt on `picture` (1, 3, H, W), where `still` (1, 1, H, W,
        0 or 1) says the pixel stood still and had been dreamt a while."""
        check_image(picture)
        if self.detail is None or self.detail.shape != detail.shape:
            self.detail, self.picture, self.held = torch.zeros_like(detail), torch.zeros_like(picture), torch.zeros_like(still)
        self.detail.lerp_(detail, still)
        self.picture.lerp_(picture, still)
        torch.maximum(self.held, still, out=self.held)

    def recall(self, picture: torch.Tensor, uncovered: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """For `picture` (1, 3, H, W), whose pixels `uncovered` (1, 1, H, W, in [0, 1]) were not
        shown by the frame before: the kept detail, and how much of it each pixel takes back
        (1, 1, H, W): the uncovered ones that look as they did when it was kept. None when the
        memory holds nothing of this size."""
        if self.detail is None or self.picture.shape != picture.shape:
            return None
        different = box_blur((picture - self.picture).abs_().mean(1, keepdim=True), 5)
        weight = (different < SAME_PICTURE).to(picture.dtype).mul_(self.held).mul_(uncovered)
        if self.age is not None and self.age.shape == weight.shape:
            # what is given back is a grown dream: it takes no more steps
            torch.maximum(self.age, weight * STILL_END, out=self.age)
        return self.detail, weight


def still_pixels(flow: np.ndarray, width: int) -> tuple[np.ndarray, bool]:
    """Which pixels of a frame `width` wide stand still, bool (h, w), by its backward flow (h, w, 2)
    at the flow's own size, and whether the camera does (no more than MOVING_SHARE of the frame
    moves). On the host, where the flow is."""
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"flow must be (H, W, 2), got {flow.shape}")
    limit = STILL_PX * flow.shape[1] / width  # in the flow's own pixels
    still = flow[..., 0] ** 2 + flow[..., 1] ** 2 < limit * limit
    return still, float(still.mean()) >= 1.0 - MOVING_SHARE


def standing_still(flow: np.ndarray, height: int, width: int, device) -> tuple[torch.Tensor, bool]:
    """Which pixels of a frame (height, width) stand still, (1, 1, height, width) 0 or 1 on
    `device`, by its backward flow (h, w, 2) at the flow's own size (the flow stage's), and
    whether the camera does (see `still_pixels`; worked out on the host: no wait for the device)."""
    still, camera = still_pixels(flow, width)
    small = upload(still.astype(np.float32), device)[None, None]
    return plane_to(small, height, width).ge_(0.5).to(small.dtype), camera

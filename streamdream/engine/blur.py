"""A box blur on the dream device: the local averages the carried dream's hold, the flow check's
trust and the still camera's memory are read through; and the local strength of a dream (or of a
gradient, for an even step) read through it."""

from __future__ import annotations

import cv2
import torch
import torch.nn.functional as F

from .tensors import check_image

# the local strength map averages over cells this share of the frame's width (as the metrics do)
LOCAL_SHARE = 1 / 20


def box_blur(image: torch.Tensor, side: int) -> torch.Tensor:
    """Mean over a `side` x `side` box (made odd, so it stays centred), edges replicated:
    (N, C, H, W) -> same shape. On a CPU OpenCV's box filter, plane by plane; elsewhere two
    separable passes, each a running sum (cumsum) read at the box's two ends. Either way the cost
    does not grow with the box (avg_pool2d sums every box afresh, which on a CPU cost a large
    share of a video frame)."""
    if image.ndim != 4:
        raise ValueError(f"image must be (N, C, H, W), got {tuple(image.shape)}")
    half = max(1, side) // 2
    if half == 0:
        return image
    side = 2 * half + 1
    if image.device.type == "cpu" and image.dtype == torch.float32:
        image = image.detach().contiguous()
        out = torch.empty_like(image)
        for n in range(image.shape[0]):
            for c in range(image.shape[1]):
                cv2.blur(image[n, c].numpy(), (side, side), dst=out[n, c].numpy(), borderType=cv2.BORDER_REPLICATE)
        return out
    for dim in (3, 2):
        n = image.shape[dim]
        ends = (half, half, 0, 0) if dim == 3 else (0, 0, half, half)
        total = F.pad(image, ends, mode="replicate").cumsum(dim)
        total = F.pad(total, (1, 0, 0, 0) if dim == 3 else (0, 0, 1, 0))  # the sum before the first
        image = (total.narrow(dim, side, n) - total.narrow(dim, 0, n)).div_(side)
    return image


def local_strength(detail: torch.Tensor) -> torch.Tensor:
    """Where the dream is: |detail| averaged over colour and box-blurred over LOCAL_SHARE of the
    width (as the metrics measure it). (1, 3, H, W) -> (1, 1, H, W).

    A true sliding box: an estimate pooled on a coarse grid and interpolated is biased along the
    grid, and `temporal.hold_strength`, fed it frame after frame, printed that grid into the dream
    as a lattice of strong spots.
    """
    check_image(detail)
    return box_blur(detail.abs().mean(1, keepdim=True), round(detail.shape[3] * LOCAL_SHARE))

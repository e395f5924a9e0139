"""Moving pictures along a flow or a zoom: backward warps on numpy arrays and on tensors."""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F


def check_flow(flow: np.ndarray, name: str = "flow") -> None:
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"{name} must have shape (H, W, 2), got {flow.shape}")


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward warp: out[y, x] = image[y + flow_y, x + flow_x] (bilinear, edges replicated).

    image: (H, W) or (H, W, C) float32 or uint8; flow: (H, W, 2) of the same H, W.
    """
    check_flow(flow)
    if image.shape[:2] != flow.shape[:2]:
        raise ValueError(f"image {image.shape[:2]} and flow {flow.shape[:2]} differ in size")
    h, w = flow.shape[:2]
    return cv2.remap(image, flow + pixel_grid(h, w), None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def warp_tensor(image, flow, mode: str = "bicubic"):
    """Backward warp on the dream device: out[..., y, x] = image[..., y + flow_y, x + flow_x].

    image: float32 tensor (N, C, H, W); flow: float tensor (H, W, 2) in pixels, on the same device.
    Edges are replicated. Bicubic keeps fine detail that bilinear would blur a little on every
    frame it is carried (the blur compounds over a moving subject); its overshoot is harmless on
    dream detail, which is a signed difference.

    On a GPU this is grid_sample. On a CPU it is cv2.remap on the tensors' own memory (no copy):
    the same kernel, several times faster there than grid_sample's bicubic.
    """
    import torch
    import torch.nn.functional as F

    if image.ndim != 4:
        raise ValueError(f"image must be (N, C, H, W), got {tuple(image.shape)}")
    if flow.ndim != 3 or flow.shape[2] != 2 or tuple(flow.shape[:2]) != tuple(image.shape[2:]):
        raise ValueError(f"flow must be (H, W, 2) matching the image {tuple(image.shape[2:])}, got {tuple(flow.shape)}")
    if mode not in ("bicubic", "bilinear"):
        raise ValueError(f"mode must be bicubic or bilinear, got {mode!r}")
    h, w = flow.shape[:2]
    if image.device.type == "cpu" and image.dtype == torch.float32:
        return _remap(image, flow, mode)
    ys, xs = torch.meshgrid(torch.arange(h, device=flow.device, dtype=flow.dtype),
                            torch.arange(w, device=flow.device, dtype=flow.dtype), indexing="ij")
    # grid_sample wants positions in [-1, 1], corners on pixel centres (align_corners=True)
    gx = (xs + flow[..., 0]) * (2.0 / max(w - 1, 1)) - 1.0
    gy = (ys + flow[..., 1]) * (2.0 / max(h - 1, 1)) - 1.0
    grid = torch.stack([gx, gy], dim=-1)[None].expand(image.shape[0], h, w, 2)
    return F.grid_sample(image, grid.to(image.dtype), mode=mode, padding_mode="border", align_corners=True)


@functools.lru_cache(maxsize=8)
def pixel_grid(h: int, w: int) -> np.ndarray:
    """(h, w, 2) float32 of each pixel's (x, y): made once per size, as a live show warps several
    planes a frame and building it cost as much as the warps."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    grid = np.stack([xs, ys], axis=-1)
    grid.flags.writeable = False
    return grid


def _remap(image, flow, mode: str):
    # warp_tensor on a CPU: each (H, W) plane remapped by OpenCV straight into the output tensor
    import torch

    h, w = flow.shape[:2]
    where = flow.detach().float().contiguous().numpy() + pixel_grid(h, w)
    image = image.detach().contiguous()
    out = torch.empty_like(image)
    interpolation = cv2.INTER_CUBIC if mode == "bicubic" else cv2.INTER_LINEAR
    for n in range(image.shape[0]):
        for c in range(image.shape[1]):
            cv2.remap(image[n, c].numpy(), where, None, interpolation, dst=out[n, c].numpy(),
                      borderMode=cv2.BORDER_REPLICATE)
    return out


def zoom_view(image: torch.Tensor, scale: float, degrees: float = 0.0,
              shift: tuple[float, float] = (0.0, 0.0)) -> tuple[torch.Tensor, torch.Tensor]:
    """`image` (1, C, H, W) zoomed into its centre by `scale` (>1 enlarges) and turned by `degrees`,
    the view moved by `shift` (x, y), shares of the width and height (0.01: the view moves 1%
    of the width right, so the picture moves left).

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
    # affine_grid's coordinates run -1 to 1 across the frame: a share p of it is 2p
    tx, ty = 2.0 * shift[0], 2.0 * shift[1]
    theta = torch.tensor([[[cos, -sin * h / w, tx], [sin * w / h, cos, ty]]], dtype=image.dtype, device=image.device)
    grid = F.affine_grid(theta, list(image.shape), align_corners=False)
    view = F.grid_sample(image, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    inside = (grid.abs() <= 1.0).all(dim=-1)[:, None].to(image.dtype)
    return view, inside


def compose_flow(reach: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Chain backward flows: `reach` (H, W, 2) points each pixel of the previous frame to where it
    came from in an earlier one, `flow` (H, W, 2) each pixel of this frame to the previous one;
    the result points this frame's pixels to the earlier one. Both in pixels, on one device.

    Only the smooth flow field is resampled (bilinear), so content carried along the result is
    resampled once, not once a frame: each resampling softens fine detail a little, and chained
    over a shot it wore a dream's structure down to texture."""
    if reach.shape != flow.shape or flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"need two (H, W, 2) flows of one size, got {tuple(reach.shape)} and {tuple(flow.shape)}")
    moved = warp_tensor(reach.permute(2, 0, 1)[None].contiguous(), flow, "bilinear")[0].permute(1, 2, 0)
    return moved.add_(flow).contiguous()


def chain_flow(earlier: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """`compose_flow` on numpy arrays (the live display's chain): `earlier` (H, W, 2) takes the
    previous frame's pixels to an earlier frame, `flow` (H, W, 2) this frame's to the previous one;
    the result takes this frame's to the earlier one (`warp` checks the sizes)."""
    return warp(earlier, flow) + flow


def inside(flow: torch.Tensor) -> torch.Tensor:
    """1 where a backward `flow` (H, W, 2) lands inside the frame, else 0, as (1, 1, H, W): a
    warp replicates the edge for the rest, which a pan drew out into stripes."""
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"flow must be (H, W, 2), got {tuple(flow.shape)}")
    h, w = flow.shape[:2]
    xs = torch.arange(w, device=flow.device, dtype=flow.dtype).view(1, w)
    ys = torch.arange(h, device=flow.device, dtype=flow.dtype).view(h, 1)
    x, y = flow[..., 0] + xs, flow[..., 1] + ys
    ok = (x >= -0.5) & (x <= w - 0.5) & (y >= -0.5) & (y <= h - 0.5)
    return ok.to(flow.dtype)[None, None]

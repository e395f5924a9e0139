"""Moving pictures along a flow or a zoom: backward warps on numpy arrays and on tensors."""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .tensors import send


def check_flow(flow: np.ndarray, name: str = "flow") -> None:
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"{name} must have shape (H, W, 2), got {flow.shape}")


BORDERS = {"replicate": cv2.BORDER_REPLICATE, "reflect": cv2.BORDER_REFLECT_101}


# a mirror about the edge (outside="reflect") skips this many pixels at its axis: mirrored about
# the edge itself, the lines either side of the axis sampled nearly the same values, the flow's
# fraction of a pixel deciding how nearly (a line stretched one wide, counted by metrics.edges).
# Two pixels is a seam too short to show in a dream's detail
MIRROR_SKIP = 2.0


def warp(image: np.ndarray, flow: np.ndarray, outside: str = "replicate") -> np.ndarray:
    """Backward warp: out[y, x] = image[y + flow_y, x + flow_x] (bilinear). Where the flow leads
    out of the image, `outside` says what is sampled: the edge pixel ("replicate"), or the image
    mirrored about its edge ("reflect", see `mirror_inside`; a picture's edge replicated down what
    came in draws stripes).

    image: (H, W) or (H, W, C) float32 or uint8; flow: (H, W, 2) of the same H, W.
    """
    check_flow(flow)
    if image.shape[:2] != flow.shape[:2]:
        raise ValueError(f"image {image.shape[:2]} and flow {flow.shape[:2]} differ in size")
    if outside not in BORDERS:
        raise ValueError(f"outside must be one of {', '.join(BORDERS)}, got {outside!r}")
    h, w = flow.shape[:2]
    points = flow + pixel_grid(h, w)
    if outside == "reflect":
        mirror_inside(points, MIRROR_SKIP)
    return cv2.remap(image, points, None, cv2.INTER_LINEAR, borderMode=BORDERS[outside])


def beyond(flow: np.ndarray) -> np.ndarray:
    """Where a backward `flow` (H, W, 2) samples beyond the picture, however little: (H, W) float32,
    1 there and 0 where it samples inside. A warp fills those pixels from its border (with
    outside="reflect", a mirror), not from the picture."""
    check_flow(flow)
    h, w = flow.shape[:2]
    ok = cv2.inRange(flow + pixel_grid(h, w), (0.0, 0.0), (w - 1.0, h - 1.0))
    return 1.0 - ok.astype(np.float32) / 255.0


def mirror_inside(points: np.ndarray, skip: float) -> np.ndarray:
    """Mirror the points (H, W, 2) float32 (x, y) of a backward warp that fall outside the image,
    (H, W) pixels, about its edges, `skip` pixels further in, in place: a point `d` past an edge
    samples `d + skip` inside it. Returns `points`; any still outside (a reach past the whole
    image) are left to the warp's border."""
    check_flow(points, "points")
    if skip < 0:
        raise ValueError(f"skip must be >= 0, got {skip}")
    h, w = points.shape[:2]
    for axis, size in ((0, w), (1, h)):
        at = points[..., axis]
        low, high = at < 0, at > size - 1
        if low.any():
            at[low] = skip - at[low]
        if high.any():
            at[high] = 2 * (size - 1) - skip - at[high]
    return points


def warp_tensor(image, flow, mode: str = "bicubic"):
    """Backward warp on the dream device: out[..., y, x] = image[..., y + flow_y, x + flow_x].

    image: float32 tensor (N, C, H, W); flow: float tensor (H, W, 2) in pixels, on the same device.
    Edges are replicated. Bicubic keeps fine detail that bilinear would blur a little on every
    frame it is carried (the blur compounds over a moving subject); its overshoot is harmless on
    dream detail, which is a signed difference. Several images warped along one flow share the
    work of finding where each pixel samples: see `Along`."""
    return Along(flow).warp(image, mode)


class Along:
    """Backward warps along one flow (H, W, 2) in pixels, on its device: where each pixel samples
    is worked out once, for every image warped along it (a video frame warps five planes and a
    flow along the flow it carries its dream on).

    On a GPU a warp is grid_sample. On a CPU it is cv2.remap on the tensors' own memory (no copy):
    the same kernel, several times faster there than grid_sample's bicubic."""

    def __init__(self, flow: torch.Tensor):
        if flow.ndim != 3 or flow.shape[2] != 2:
            raise ValueError(f"flow must be (H, W, 2), got {tuple(flow.shape)}")
        self.flow = flow
        self.size = tuple(flow.shape[:2])
        h, w = self.size
        self.points = self.grid = None
        if flow.device.type == "cpu":
            # where each pixel samples, (H, W, 2) float32 (x, y), as cv2.remap takes it
            self.points = flow.detach().float().contiguous().numpy() + pixel_grid(h, w)
        else:
            ys, xs = torch.meshgrid(torch.arange(h, device=flow.device, dtype=flow.dtype),
                                    torch.arange(w, device=flow.device, dtype=flow.dtype), indexing="ij")
            # grid_sample wants positions in [-1, 1], corners on pixel centres (align_corners=True)
            gx = (xs + flow[..., 0]) * (2.0 / max(w - 1, 1)) - 1.0
            gy = (ys + flow[..., 1]) * (2.0 / max(h - 1, 1)) - 1.0
            self.grid = torch.stack([gx, gy], dim=-1)[None]

    def warp(self, image: torch.Tensor, mode: str = "bicubic") -> torch.Tensor:
        """`image` (N, C, H, W) float, warped along the flow (see `warp_tensor`)."""
        if image.ndim != 4:
            raise ValueError(f"image must be (N, C, H, W), got {tuple(image.shape)}")
        if tuple(image.shape[2:]) != self.size:
            raise ValueError(f"flow must be (H, W, 2) matching the image {tuple(image.shape[2:])}, "
                             f"got {tuple(self.flow.shape)}")
        if mode not in ("bicubic", "bilinear"):
            raise ValueError(f"mode must be bicubic or bilinear, got {mode!r}")
        if self.points is not None and image.dtype == torch.float32:
            return _remap(image, self.points, mode)
        grid = self.grid if self.grid is not None else self._grid()
        grid = grid.expand(image.shape[0], *self.size, 2).to(image.dtype)
        return F.grid_sample(image, grid, mode=mode, padding_mode="border", align_corners=True)

    def _grid(self) -> torch.Tensor:
        # a CPU warp of a tensor cv2.remap does not take (float64, in the tests)
        h, w = self.size
        points = torch.from_numpy(self.points)
        return torch.stack([points[..., 0] * (2.0 / max(w - 1, 1)) - 1.0,
                            points[..., 1] * (2.0 / max(h - 1, 1)) - 1.0], dim=-1)[None].to(self.flow.dtype)

    def compose(self, reach: torch.Tensor) -> torch.Tensor:
        """Chain backward flows: `reach` (H, W, 2) points each pixel of the previous frame to where
        it came from in an earlier one, this flow each pixel of this frame to the previous one; the
        result points this frame's pixels to the earlier one (see `compose_flow`)."""
        if tuple(reach.shape) != tuple(self.flow.shape):
            raise ValueError(f"need two (H, W, 2) flows of one size, got {tuple(reach.shape)} and "
                             f"{tuple(self.flow.shape)}")
        # plane by plane: cv2.remap of the (H, W, 2) array at once samples on a 1/32 pixel grid,
        # and the chain would gather that error over a shot
        moved = self.warp(reach.permute(2, 0, 1)[None].contiguous(), "bilinear")[0].permute(1, 2, 0)
        return moved.add_(self.flow).contiguous()

    def inside(self) -> torch.Tensor:
        """1 where the flow lands inside the frame, else 0, as (1, 1, H, W): a warp replicates the
        edge for the rest, which a pan drew out into stripes."""
        h, w = self.size
        if self.points is not None:
            ok = cv2.inRange(self.points, (-0.5, -0.5), (w - 0.5, h - 0.5))
            return torch.from_numpy(ok).to(self.flow.dtype).div_(255)[None, None]
        x = (self.grid[0, ..., 0] + 1.0) * (max(w - 1, 1) / 2.0)
        y = (self.grid[0, ..., 1] + 1.0) * (max(h - 1, 1) / 2.0)
        ok = (x >= -0.5) & (x <= w - 0.5) & (y >= -0.5) & (y <= h - 0.5)
        return ok.to(self.flow.dtype)[None, None]


@functools.lru_cache(maxsize=8)
def pixel_grid(h: int, w: int) -> np.ndarray:
    """(h, w, 2) float32 of each pixel's (x, y): made once per size, as a live show warps several
    planes a frame and building it cost as much as the warps."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    grid = np.stack([xs, ys], axis=-1)
    grid.flags.writeable = False
    return grid


def _remap(image, points: np.ndarray, mode: str):
    # a CPU warp: each (H, W) plane remapped by OpenCV straight into the output tensor
    image = image.detach().contiguous()
    out = torch.empty_like(image)
    interpolation = cv2.INTER_CUBIC if mode == "bicubic" else cv2.INTER_LINEAR
    for n in range(image.shape[0]):
        for c in range(image.shape[1]):
            cv2.remap(image[n, c].numpy(), points, None, interpolation, dst=out[n, c].numpy(),
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
    # made on the host and sent without a wait: made on a GPU, it would wait for the work queued there
    theta = send(torch.tensor([[[cos, -sin * h / w, tx], [sin * w / h, cos, ty]]]), image.device, image.dtype)
    grid = F.affine_grid(theta, list(image.shape), align_corners=False)
    view = F.grid_sample(image, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    inside = (grid.abs() <= 1.0).all(dim=-1)[:, None].to(image.dtype)
    return view, inside


def compose_flow(reach: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Chain backward flows: `reach` (H, W, 2) points each pixel of the previous frame to where it
    came from in an earlier one, `flow` (H, W, 2) each pixel of this frame to the previous one;
    the result points this frame's pixels to the earlier one. Both in pixels, on one device.

    Only the smooth flow field is resampled (bilinear), so content carried along the result is
    resampled once, not once a frame: each resampling softens fine detail a little, and a live
    show, which takes one step a dreamt frame, lost depth to it (see temporal.ANCHOR_FRAMES)."""
    if reach.shape != flow.shape or flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"need two (H, W, 2) flows of one size, got {tuple(reach.shape)} and {tuple(flow.shape)}")
    return Along(flow).compose(reach)


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
    return Along(flow).inside()

"""Optical flow and what video coherence needs from it: pure functions on numpy arrays.

Flow is float32 (H, W, 2) in pixels, (dx, dy): `flow[y, x]` points from a pixel of the frame it
belongs to towards the matching pixel of the other frame. Backward warping samples the other
frame there, so `warp(previous, flow_to_previous)` lines the previous frame up with the current.
"""

from __future__ import annotations

import cv2
import numpy as np

# Ruder, Dosovitskiy and Brox 2016, "Artistic style transfer for videos", section 3.2
CONSISTENCY_RATIO = 0.01
CONSISTENCY_BIAS = 0.5
MOTION_BOUNDARY_RATIO = 0.01
MOTION_BOUNDARY_BIAS = 0.002


def _check_flow(flow: np.ndarray, name: str = "flow") -> None:
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"{name} must have shape (H, W, 2), got {flow.shape}")


def to_gray(frame: np.ndarray) -> np.ndarray:
    """RGB uint8 (H, W, 3) -> grey uint8 (H, W)."""
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an RGB frame (H, W, 3), got {frame.shape}")
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def small_gray(frame: np.ndarray, width: int, min_height: int = 1) -> np.ndarray:
    """RGB uint8 (H, W, 3) -> grey uint8, shrunk to `width` (keeping the aspect) if it is wider:
    flow is computed on such a copy where its cost matters more than its last pixel of detail."""
    gray = to_gray(frame)
    h, w = gray.shape
    if w > width:
        gray = cv2.resize(gray, (width, max(min_height, round(h * width / w))), interpolation=cv2.INTER_AREA)
    return gray


class DISFlow:
    """Dense flow with OpenCV's DIS (fast, CPU). Holds the OpenCV object, so one per thread.

    MEDIUM, not FAST, for the dream's flow: FAST took 34-88 ms for a 640x360 frame's two flows
    against 280-320, but the carried dream lost hold of moving subjects (scripts/bench_video.py,
    50 frames of the shared clip: detail coherence on moving pixels 0.776 against 0.889, E_warp
    ratio 1.94 against 1.67). MEDIUM on a half-size copy fared no better (0.752)."""

    def __init__(self, preset: int = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM):
        self.dis = cv2.DISOpticalFlow_create(preset)

    def __call__(self, source: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Flow (H, W, 2) from grey `source` (H, W) to grey `target` (H, W)."""
        if source.shape != target.shape or source.ndim != 2:
            raise ValueError(f"need two grey frames of one size, got {source.shape} and {target.shape}")
        return self.dis.calc(source, target, None)


class RAFTFlow:
    """Dense flow with torchvision's RAFT-small: sharper motion edges than DIS, meant for CUDA.

    Weights come from `weights_file` (a state dict) or torchvision's download cache.
    """

    def __init__(self, device, weights_file: str | None = None):
        import torch
        from torchvision.models.optical_flow import Raft_Small_Weights, raft_small

        from .models import download_weights, load_weights_file

        model = raft_small(weights=None)
        if weights_file is not None:
            state = load_weights_file(weights_file)
        else:
            state = download_weights(Raft_Small_Weights.DEFAULT, "--optical-flow raft",
                                     "pass --flow-weights FILE, or use --optical-flow dis")
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            from .errors import UsageError

            raise UsageError(f"flow weights do not fit RAFT-small ({str(exc).splitlines()[0]}); "
                             f"pass a raft_small state dict") from None
        self.torch, self.device = torch, torch.device(device)
        self.model = model.eval().to(self.device)

    def __call__(self, source: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Flow (H, W, 2) from grey `source` (H, W) to grey `target` (H, W)."""
        if source.shape != target.shape or source.ndim != 2:
            raise ValueError(f"need two grey frames of one size, got {source.shape} and {target.shape}")
        torch = self.torch
        h, w = source.shape
        # RAFT works on sizes divisible by 8 and at least 128 (its correlation pyramid)
        pad_h, pad_w = max(128, h + -h % 8) - h, max(128, w + -w % 8) - w

        def prepare(gray):
            x = torch.from_numpy(gray).to(self.device).float().div(127.5).sub(1.0)
            x = x[None, None].expand(1, 3, h, w)
            return torch.nn.functional.pad(x, (0, pad_w, 0, pad_h), mode="replicate")

        with torch.no_grad():
            flow = self.model(prepare(source), prepare(target))[-1]
        return flow[0, :, :h, :w].permute(1, 2, 0).float().cpu().numpy()


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward warp: out[y, x] = image[y + flow_y, x + flow_x] (bilinear, edges replicated).

    image: (H, W) or (H, W, C) float32 or uint8; flow: (H, W, 2) of the same H, W.
    """
    _check_flow(flow)
    if image.shape[:2] != flow.shape[:2]:
        raise ValueError(f"image {image.shape[:2]} and flow {flow.shape[:2]} differ in size")
    h, w = flow.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, grid_x + flow[..., 0], grid_y + flow[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def consistency_mask(flow_back: np.ndarray, flow_fwd: np.ndarray) -> np.ndarray:
    """Which pixels of the current frame the previous frame really shows: float32 (H, W), 1 or 0.

    flow_back: current -> previous; flow_fwd: previous -> current. A pixel is trusted when
    following the flow back and then forward returns near where it started, and it does not sit
    on a motion boundary (Ruder et al. 2016). Occluded and newly revealed pixels get 0.
    """
    _check_flow(flow_back, "flow_back")
    _check_flow(flow_fwd, "flow_fwd")
    if flow_back.shape != flow_fwd.shape:
        raise ValueError(f"flows differ in shape: {flow_back.shape} and {flow_fwd.shape}")
    fwd_at_target = warp(flow_fwd, flow_back)
    bu, bv = flow_back[..., 0], flow_back[..., 1]
    fu, fv = fwd_at_target[..., 0], fwd_at_target[..., 1]
    back_sq = bu * bu + bv * bv
    round_trip = (fu + bu) ** 2 + (fv + bv) ** 2
    consistent = round_trip <= CONSISTENCY_RATIO * (fu * fu + fv * fv + back_sq) + CONSISTENCY_BIAS
    # central differences, as np.gradient inside the frame, but with OpenCV's filters (several times faster)
    dx = np.array([[-0.5, 0.0, 0.5]], np.float32)
    gradient = np.zeros_like(bu)
    for channel in (np.ascontiguousarray(bu), np.ascontiguousarray(bv)):
        for kernel in (dx, dx.T):
            d = cv2.filter2D(channel, -1, kernel, borderType=cv2.BORDER_REPLICATE)
            gradient += d * d
    boundary = gradient > MOTION_BOUNDARY_RATIO * back_sq + MOTION_BOUNDARY_BIAS
    return (consistent & ~boundary).astype(np.float32)


def resize_flow(flow: np.ndarray, height: int, width: int) -> np.ndarray:
    """Flow (h, w, 2) computed on a resized frame, brought to (height, width, 2) with its vectors scaled."""
    _check_flow(flow)
    h, w = flow.shape[:2]
    if (h, w) == (height, width):
        return flow
    out = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
    out[..., 0] *= width / w
    out[..., 1] *= height / h
    return out


def frame_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference in [0, 1] of two grey uint8 frames, on a small copy (cheap, noise-robust)."""
    if a.shape != b.shape:
        raise ValueError(f"frames differ in size: {a.shape} and {b.shape}")
    size = (64, max(1, round(64 * a.shape[0] / a.shape[1])))
    small_a = cv2.resize(a, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    small_b = cv2.resize(b, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    return float(np.abs(small_a - small_b).mean() / 255.0)


def warp_tensor(image, flow, mode: str = "bicubic"):
    """Backward warp on the dream device: out[..., y, x] = image[..., y + flow_y, x + flow_x].

    image: float32 tensor (N, C, H, W); flow: float tensor (H, W, 2) in pixels, on the same device.
    Edges are replicated. Bicubic keeps fine detail that bilinear would blur a little on every
    frame it is carried (the blur compounds over a moving subject); its overshoot is harmless on
    dream detail, which is a signed difference.

    On a GPU this is grid_sample. On a CPU it is cv2.remap on the tensors' own memory (no copy):
    the same kernel, about 5x faster there than grid_sample's bicubic (27 vs 133 ms at 640x360).
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


def _remap(image, flow, mode: str):
    # warp_tensor on a CPU: each (H, W) plane remapped by OpenCV straight into the output tensor
    import torch

    h, w = flow.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    where = flow.detach().float().contiguous().numpy() + np.stack([xs, ys], axis=-1)
    image = image.detach().contiguous()
    out = torch.empty_like(image)
    interpolation = cv2.INTER_CUBIC if mode == "bicubic" else cv2.INTER_LINEAR
    for n in range(image.shape[0]):
        for c in range(image.shape[1]):
            cv2.remap(image[n, c].numpy(), where, None, interpolation, dst=out[n, c].numpy(),
                      borderMode=cv2.BORDER_REPLICATE)
    return out

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


class DISFlow:
    """Dense flow with OpenCV's DIS (fast, CPU). Holds the OpenCV object, so one per thread."""

    def __init__(self, preset: int = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM):
        self.dis = cv2.DISOpticalFlow_create(preset)

    def __call__(self, source: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Flow (H, W, 2) from grey `source` (H, W) to grey `target` (H, W)."""
        if source.shape != target.shape or source.ndim != 2:
            raise ValueError(f"need two grey frames of one size, got {source.shape} and {target.shape}")
        return self.dis.calc(source, target, None)


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
    round_trip = np.sum((fwd_at_target + flow_back) ** 2, axis=2)
    magnitude = np.sum(fwd_at_target**2, axis=2) + np.sum(flow_back**2, axis=2)
    consistent = round_trip <= CONSISTENCY_RATIO * magnitude + CONSISTENCY_BIAS
    du = np.gradient(flow_back[..., 0])
    dv = np.gradient(flow_back[..., 1])
    gradient = du[0] ** 2 + du[1] ** 2 + dv[0] ** 2 + dv[1] ** 2
    boundary = gradient > MOTION_BOUNDARY_RATIO * np.sum(flow_back**2, axis=2) + MOTION_BOUNDARY_BIAS
    return (consistent & ~boundary).astype(np.float32)


def frame_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference in [0, 1] of two grey uint8 frames, on a small copy (cheap, noise-robust)."""
    if a.shape != b.shape:
        raise ValueError(f"frames differ in size: {a.shape} and {b.shape}")
    size = (64, max(1, round(64 * a.shape[0] / a.shape[1])))
    small_a = cv2.resize(a, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    small_b = cv2.resize(b, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    return float(np.abs(small_a - small_b).mean() / 255.0)

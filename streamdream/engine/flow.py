"""Optical flow and what video coherence needs from it: pure functions on numpy arrays.

Flow is float32 (H, W, 2) in pixels, (dx, dy): `flow[y, x]` points from a pixel of the frame it
belongs to towards the matching pixel of the other frame. Backward warping samples the other
frame there, so `warp(previous, flow_to_previous)` lines the previous frame up with the current.
"""

from __future__ import annotations

import cv2
import numpy as np

from .warp import check_flow, warp

# Ruder, Dosovitskiy and Brox 2016, "Artistic style transfer for videos", section 3.2
CONSISTENCY_RATIO = 0.01


CONSISTENCY_BIAS = 0.5


MOTION_BOUNDARY_RATIO = 0.01


MOTION_BOUNDARY_BIAS = 0.002


def to_gray(frame: np.ndarray) -> np.ndarray:
    """RGB uint8 (H, W, 3) -> grey uint8 (H, W)."""
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an RGB frame (H, W, 3), got {frame.shape}")
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def small_gray(frame: np.ndarray, width: int, min_height: int = 1, height: int | None = None) -> np.ndarray:
    """RGB uint8 (H, W, 3) -> grey uint8, shrunk (keeping the aspect) to `width` if it is wider,
    and to `height` if it is taller: flow is computed on such a copy where its cost matters more
    than its last pixel of detail (a live show bounds both sides, so a portrait frame's flow costs
    what a landscape one's does)."""
    gray = to_gray(frame)
    h, w = gray.shape
    if height is not None and h > height and height / h < min(1.0, width / w):  # the height binds
        size = (max(1, round(w * height / h)), max(min_height, height))
    elif w > width:
        size = (width, max(min_height, round(h * width / w)))
    else:
        return gray
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA)


class DISFlow:
    """Dense flow with OpenCV's DIS (fast, CPU). Holds the OpenCV object, so one per thread.

    MEDIUM, not FAST, for the dream's flow: FAST is several times cheaper, but the carried dream
    loses hold of moving subjects with it (lower detail coherence on moving pixels, more flicker;
    scripts/bench_video.py compares them), and MEDIUM on a half-size copy fares no better."""

    def __init__(self, preset: int = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM):
        self.dis = cv2.DISOpticalFlow_create(preset)

    def __call__(self, source: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Flow (H, W, 2) from grey `source` (H, W) to grey `target` (H, W)."""
        if source.shape != target.shape or source.ndim != 2:
            raise ValueError(f"need two grey frames of one size, got {source.shape} and {target.shape}")
        return self.dis.calc(source, target, None)


def consistency_mask(flow_back: np.ndarray, flow_fwd: np.ndarray) -> np.ndarray:
    """Which pixels of the current frame the previous frame really shows: float32 (H, W), 1 or 0.

    flow_back: current -> previous; flow_fwd: previous -> current. A pixel is trusted when
    following the flow back and then forward returns near where it started, and it does not sit
    on a motion boundary (Ruder et al. 2016). Occluded and newly revealed pixels get 0, and so
    do pixels whose flow leads out of the frame: the previous frame did not show them either.
    """
    check_flow(flow_back, "flow_back")
    check_flow(flow_fwd, "flow_fwd")
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
    h, w = bu.shape
    x = bu + np.arange(w, dtype=np.float32)[None, :]
    y = bv + np.arange(h, dtype=np.float32)[:, None]
    inside = (x >= -0.5) & (x <= w - 0.5) & (y >= -0.5) & (y <= h - 0.5)
    return (consistent & ~boundary & inside).astype(np.float32)


def resize_flow(flow: np.ndarray, height: int, width: int) -> np.ndarray:
    """Flow (h, w, 2) computed on a resized frame, brought to (height, width, 2) with its vectors scaled."""
    check_flow(flow)
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

"""Whose colours a dream shows: its own, or the input's with the dream in luminance only."""

from __future__ import annotations

import numpy as np

# BT.601 luma, the weights of the YCbCr that video is coded in: a detail with equal R, G and B
# leaves Cb and Cr exactly as they were
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def mix_colors(detail: np.ndarray, amount: float) -> np.ndarray:
    """A dream's detail (dream - input, float (H, W, 3)) with `amount` of its colour: 1 as it is,
    0 its luminance alone (grey, so the input's chroma shows through), between a mix.
    Returns float32 (H, W, 3)."""
    if detail.ndim != 3 or detail.shape[2] != 3:
        raise ValueError(f"detail must be (H, W, 3), got {detail.shape}")
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"amount must be in [0, 1], got {amount}")
    detail = detail.astype(np.float32, copy=False)
    if amount == 1.0:
        return detail
    luma = detail @ LUMA
    return detail * amount + (luma * (1.0 - amount))[..., None]


def keep_colors(dreamt: np.ndarray, frame: np.ndarray, amount: float) -> np.ndarray:
    """The dream (RGB uint8 (H, W, 3)) of `frame` (same shape) with `amount` of the dream's own
    colour (see `mix_colors`); RGB uint8."""
    if dreamt.shape != frame.shape:
        raise ValueError(f"dream {dreamt.shape} and frame {frame.shape} differ in shape")
    if amount == 1.0:
        return dreamt
    base = frame.astype(np.float32)
    detail = mix_colors(dreamt.astype(np.float32) - base, amount)
    return np.clip(base + detail + 0.5, 0, 255).astype(np.uint8)

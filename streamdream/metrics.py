"""How steady and how strong a dreamt video is, measured against its input.

E_warp (Lai et al. 2018, "Learning Blind Video Temporal Consistency"): for each pair of frames,
the mean squared RGB error (values in [0, 1]) between output frame t and output frame t-1 warped
onto it by the *input's* optical flow, over the pixels the flow can be trusted at (not occluded,
not on a motion boundary); averaged over pairs. The same on the input itself is the floor that
flow errors alone give; their ratio tells flicker added by the dream.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import cv2
import numpy as np

from .flow import DISFlow, consistency_mask, to_gray, warp


@dataclass(frozen=True)
class TemporalMetrics:
    frames: int
    ewarp_output: float
    ewarp_input: float
    strength: float  # mean |output - input| in [0, 1] over all frames
    strength_first: float  # over the first `window` frames
    strength_last: float  # over the last `window` frames

    @property
    def ratio(self) -> float:
        return self.ewarp_output / self.ewarp_input if self.ewarp_input > 0 else float("inf")


def strength(dreamt: np.ndarray, frame: np.ndarray) -> float:
    """Dream strength: mean absolute difference, in [0, 1], between a dream and its input (H, W, 3)."""
    return float(np.abs(dreamt.astype(np.float32) - frame.astype(np.float32)).mean() / 255.0)


def _pair_error(current: np.ndarray, previous: np.ndarray, flow: np.ndarray, mask: np.ndarray) -> float:
    """Masked mean squared error in [0, 1] of `current` against `previous` warped by `flow`."""
    a = current.astype(np.float32) / 255.0
    b = warp(previous.astype(np.float32) / 255.0, flow)
    squared = ((a - b) ** 2).mean(axis=2)
    return float((squared * mask).sum() / max(mask.sum(), 1.0))


def _match(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """The input frame at the output's size: cropped when the output only padded to even sides."""
    h, w = frame.shape[:2]
    if (h, w) == (height, width):
        return frame
    if 0 <= height - h <= 1 and 0 <= width - w <= 1:
        return np.pad(frame, ((0, height - h), (0, width - w), (0, 0)), mode="edge")
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)


def temporal_metrics(inputs: Iterable[np.ndarray], outputs: Iterable[np.ndarray], window: int = 50,
                     progress: Callable[[int], None] | None = None) -> TemporalMetrics:
    """Metrics of RGB uint8 frame sequences (H, W, 3), paired in order; stops at the shorter one."""
    dis = DISFlow()
    previous = None
    out_errors, in_errors, strengths = [], [], []
    for frame_in, frame_out in zip(inputs, outputs):
        frame_in = _match(frame_in, *frame_out.shape[:2])
        strengths.append(strength(frame_out, frame_in))
        gray = to_gray(frame_in)
        if previous is not None:
            prev_in, prev_out, prev_gray = previous
            back = dis(gray, prev_gray)
            mask = consistency_mask(back, dis(prev_gray, gray))
            out_errors.append(_pair_error(frame_out, prev_out, back, mask))
            in_errors.append(_pair_error(frame_in, prev_in, back, mask))
        previous = (frame_in, frame_out, gray)
        if progress:
            progress(len(strengths))
    if len(strengths) < 2:
        raise ValueError("temporal metrics need at least two frames in both videos")
    return TemporalMetrics(len(strengths), float(np.mean(out_errors)), float(np.mean(in_errors)),
                           float(np.mean(strengths)), float(np.mean(strengths[:window])),
                           float(np.mean(strengths[-window:])))


def measure_files(source: str | Path, dreamt: str | Path, width: int | None = None, max_frames: int | None = None,
                  window: int = 50, progress: Callable[[int, int | None], None] | None = None) -> TemporalMetrics:
    """Metrics of a dreamt video file against its source (rescaled to `width` first, if given).

    UsageError when either is not a readable video or they share fewer than two frames.
    """
    from .errors import UsageError
    from .sources import VideoFileSource

    inputs = VideoFileSource(source, width, max_frames=max_frames)
    try:
        outputs = VideoFileSource(dreamt, max_frames=max_frames)
    except BaseException:
        inputs.close()
        raise
    expected = min(inputs.info.frames or 0, outputs.info.frames or 0) or None
    try:
        return temporal_metrics((f.image for f in inputs.frames()), (f.image for f in outputs.frames()), window,
                                progress and (lambda done: progress(done, expected)))
    except ValueError as exc:
        raise UsageError(f"cannot measure {dreamt} against {source}: {exc}") from None
    finally:
        inputs.close()
        outputs.close()

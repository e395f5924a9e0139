"""Temporal coherence for video: the state carried from one frame to the next.

`MotionTracker` (flow stage) turns each input frame into `Motion` relative to the previous
input: backward flow, a mask of the pixels the previous frame really shows, and whether this is
a scene cut. `StreamDreamer` (dream stage) then moves the previous frame's dream detail (dream
minus input) along the flow onto the current frame, leaves occluded pixels to be dreamt fresh,
and refines with a few ascent steps instead of dreaming from scratch.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from .config import VideoConfig
from .dream import refine
from .dreamer import Dreamer, to_frame
from .flow import DISFlow, consistency_mask, frame_difference, resize_flow, to_gray, warp
from .metrics import strength

# below this share of trusted pixels the flow explains too little of the frame to carry a dream
MIN_TRUSTED = 0.3
# flow on wider frames is computed on a copy this wide: DIS cost grows with the pixels, and the
# dream's detail is coarser than the flow error this leaves
FLOW_WIDTH = 640


@dataclass(frozen=True)
class Motion:
    """How the current input frame relates to the previous one (all (H, W) of the current frame)."""

    flow: np.ndarray  # float32 (H, W, 2): current -> previous
    mask: np.ndarray  # float32 (H, W): 1 where the previous frame shows this pixel, 0 where occluded
    cut: bool  # a scene cut: start the dream over


class MotionTracker:
    """Flow between consecutive input frames (DIS unless another flow is given, e.g. RAFTFlow).
    Keeps the previous grey frame; one per thread."""

    def __init__(self, scene_cut: float, flow=None):
        self.scene_cut = scene_cut
        self.flow = flow or DISFlow()
        # the forward flow runs beside the backward one (OpenCV lets go of the GIL), with its own
        # DIS object: on a fast GPU the flow stage, not the dream, would otherwise set the pace
        self.forward_flow = DISFlow() if flow is None else flow
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="flow") if flow is None else None
        self.previous: np.ndarray | None = None

    def next(self, frame: np.ndarray) -> Motion | None:
        """Motion of RGB uint8 `frame` (H, W, 3) relative to the last frame given; None for the first."""
        h, w = frame.shape[:2]
        gray = to_gray(frame)
        if w > FLOW_WIDTH:
            gray = cv2.resize(gray, (FLOW_WIDTH, max(1, round(h * FLOW_WIDTH / w))), interpolation=cv2.INTER_AREA)
        previous, self.previous = self.previous, gray
        if previous is None or previous.shape != gray.shape:
            return None
        if frame_difference(previous, gray) > self.scene_cut:
            return Motion(np.zeros((h, w, 2), np.float32), np.zeros((h, w), np.float32), True)
        if self.pool is not None:
            forward = self.pool.submit(self.forward_flow, previous, gray)
            back = self.flow(gray, previous)
            forward = forward.result()
        else:
            back, forward = self.flow(gray, previous), self.flow(previous, gray)
        mask = consistency_mask(back, forward)
        if mask.shape != (h, w):
            back = resize_flow(back, h, w)
            mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)
        return Motion(back, mask, bool(mask.mean() < MIN_TRUSTED))


def make_tracker(video: VideoConfig, device) -> MotionTracker | None:
    """The flow stage a video config asks for; None when flow is off."""
    if not video.flow:
        return None
    if video.optical_flow == "raft":
        from .flow import RAFTFlow

        return MotionTracker(video.scene_cut, RAFTFlow(device, video.flow_weights))
    return MotionTracker(video.scene_cut)


class StreamDreamer:
    """The dream stage's state between frames: `next(frame, motion) -> dream`.

    The first frame and every scene cut get the full octave dream; its strength becomes the
    reference. Later frames carry the warped detail and refine it; the detail is scaled back
    when it outgrows the reference, so the dream does not build up over a long clip.
    """

    def __init__(self, dreamer: Dreamer, video: VideoConfig):
        self.dreamer = dreamer
        self.video = video
        self.previous_detail: np.ndarray | None = None  # float32 (H, W, 3), dream - input in [0, 1] units
        self.reference = 0.0
        self.keyframes = 0

    def next(self, frame: np.ndarray, motion: Motion | None) -> np.ndarray:
        """RGB uint8 (H, W, 3) -> its dream. `motion` relates it to the previous frame (None: start over)."""
        if (not self.video.flow or motion is None or motion.cut or self.previous_detail is None
                or self.previous_detail.shape[:2] != frame.shape[:2]):
            dreamt = self.dreamer.dream_frame(frame)
            self.keyframes += 1
            self.reference = strength(dreamt, frame)
        else:
            dreamt = self._carry(frame, motion)
        self.previous_detail = (dreamt.astype(np.float32) - frame.astype(np.float32)) / 255.0
        return dreamt

    def _carry(self, frame: np.ndarray, motion: Motion) -> np.ndarray:
        if motion.flow.shape[:2] != frame.shape[:2]:
            raise ValueError(f"motion {motion.flow.shape[:2]} does not match frame {frame.shape[:2]}")
        d, v = self.dreamer.config, self.video
        base = frame.astype(np.float32) / 255.0
        carried = warp(self.previous_detail, motion.flow) * motion.mask[..., None]
        # Warping blurs the detail a little and occlusions remove some: win the strength back
        # by scaling what was carried, at most `max_gain` a frame, never above the keyframe's.
        now = float(np.abs(carried).mean())
        if 0 < now < self.reference:
            carried *= min(self.reference / now, 1.0 + v.max_gain)
        start = np.clip(base + carried, 0.0, 1.0)
        # Carried pixels take a small share of each step, so their dream stays put; pixels the
        # previous frame did not show take the whole step and are dreamt fresh.
        weight = v.carried_step + (1.0 - v.carried_step) * (1.0 - motion.mask)
        device = self.dreamer.device
        image = refine(torch.from_numpy(start).permute(2, 0, 1)[None].to(device), self.dreamer.net,
                       self.dreamer.objective, v.refine_octaves, d.octave_scale, v.refine_iterations, d.step,
                       d.jitter, self.dreamer.generator, torch.from_numpy(weight)[None, None].to(device))
        dreamt = to_frame(image)
        detail = dreamt.astype(np.float32) / 255.0 - base
        now = float(np.abs(detail).mean())
        if now > self.reference > 0:
            detail *= self.reference / now
            dreamt = (np.clip(base + detail, 0.0, 1.0) * 255).round().astype(np.uint8)
        return dreamt

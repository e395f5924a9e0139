"""The flow stage: how each input frame relates to the previous one.

`MotionTracker` turns each input frame into `Motion` relative to the previous input: backward
flow, a mask of the pixels the previous frame really shows, and whether this is a scene cut.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..config import VideoConfig
from .flow import DISFlow, consistency_mask, frame_difference, resize_flow, small_gray
from .tensors import upload

# below this share of trusted pixels the flow explains too little of the frame to carry a dream
MIN_TRUSTED = 0.3


@dataclass(frozen=True)
class Motion:
    """How the current input frame relates to the previous one, at the flow's size (h, w), which
    may be smaller than the frame's, with the same aspect."""

    flow: np.ndarray  # float32 (h, w, 2): current -> previous, in pixels of this size
    mask: np.ndarray  # float32 (h, w): 1 where the previous frame shows this pixel, 0 where occluded
    cut: bool  # a scene cut: start the dream over


# the flow's width where a video run sets none. On a CPU the dream of a frame takes several times
# the flow's time at any size, and on frames past 640 wide the dream stuck to moving subjects and
# flickered less along a flow computed at up to 1280 than along one at 640 scaled up (the dream's
# detail is fine at any size, and so must the flow be that carries it; scripts/bench_video.py
# --width 1280 --set flow_width=640 compares). On a GPU the dream of a frame takes tens of ms,
# and DIS on a 1280-wide copy would set the pace
CPU_FLOW_WIDTH = 1280
GPU_FLOW_WIDTH = 640


class MotionTracker:
    """Flow between consecutive input frames (DIS unless another flow is given, e.g. RAFTFlow),
    computed on a copy at most `width` wide (VideoConfig.flow_width), and `height` tall if given,
    and given at that size (`motion_on` brings it to the frame's). Keeps the previous grey frame;
    one per thread."""

    def __init__(self, scene_cut: float, flow=None, width: int = GPU_FLOW_WIDTH, height: int | None = None):
        self.scene_cut, self.width, self.height = scene_cut, width, height
        self.flow = flow or DISFlow()
        # the forward flow runs beside the backward one (OpenCV lets go of the GIL), with its own
        # DIS object: on a fast GPU the flow stage, not the dream, would otherwise set the pace
        self.forward_flow = DISFlow() if flow is None else flow
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="flow") if flow is None else None
        self.previous: np.ndarray | None = None

    def next(self, frame: np.ndarray) -> Motion | None:
        """Motion of RGB uint8 `frame` (H, W, 3) relative to the last frame given; None for the first."""
        h, w = frame.shape[:2]
        gray = small_gray(frame, self.width, height=self.height)
        previous, self.previous = self.previous, gray
        if previous is None or previous.shape != gray.shape:
            return None
        if frame_difference(previous, gray) > self.scene_cut:
            return Motion(np.zeros((h, w, 2), np.float32), np.zeros((h, w), np.float32), True)
        if self.pool is not None:
            forward = self.pool.submit(self.forward_flow, previous, gray)
            back = self.flow(gray, previous)
            forward = forward.result()
        elif hasattr(self.flow, "pair"):  # a network's flow: both ways in one pass
            back, forward = self.flow.pair(gray, previous)
        else:
            back, forward = self.flow(gray, previous), self.flow(previous, gray)
        mask = consistency_mask(back, forward)
        # kept at the flow's size: the dream stage brings it to the frame's on its device, so a 4K
        # frame's motion is 4 MB in the queue and on the bus, not 100 MB
        return Motion(back, mask, bool(mask.mean() < MIN_TRUSTED))


def motion_on(motion: Motion, height: int, width: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """`motion` as tensors on `device` at a frame's size: flow (height, width, 2) in that
    frame's pixels and mask (1, 1, height, width). Upscaled there, so only the small flow crosses."""
    flow, mask = upload(motion.flow, device), upload(motion.mask, device)[None, None]
    if tuple(flow.shape[:2]) == (height, width):
        return flow, mask
    return flow_to(flow, height, width), plane_to(mask, height, width)


def flow_to(flow: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """A flow (h, w, 2) in its own pixels, resized to (height, width, 2) with its vectors scaled."""
    h, w = flow.shape[:2]
    if (h, w) == (height, width):
        return flow
    if abs(h / w - height / width) > 0.05:
        raise ValueError(f"motion {h}x{w} does not fit a frame of {height}x{width}")
    if flow.device.type == "cpu" and flow.dtype == torch.float32:
        # OpenCV's bilinear resize: the same numbers as F.interpolate's, several times sooner on a CPU
        return torch.from_numpy(resize_flow(flow.contiguous().numpy(), height, width))
    flow = F.interpolate(flow.permute(2, 0, 1)[None], size=(height, width), mode="bilinear", align_corners=False)[0]
    flow[0] *= width / w
    flow[1] *= height / h
    return flow.permute(1, 2, 0).contiguous()


def plane_to(plane: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """A smooth map (1, 1, h, w) (a mask, a trust) resized bilinearly to (1, 1, height, width)."""
    if plane.ndim != 4 or plane.shape[:2] != (1, 1):
        raise ValueError(f"plane must be (1, 1, H, W), got {tuple(plane.shape)}")
    if tuple(plane.shape[2:]) == (height, width):
        return plane
    if plane.device.type == "cpu" and plane.dtype == torch.float32:
        return torch.from_numpy(cv2.resize(plane[0, 0].contiguous().numpy(), (width, height),
                                           interpolation=cv2.INTER_LINEAR))[None, None]
    return F.interpolate(plane, size=(height, width), mode="bilinear", align_corners=False)


def flow_width_for(video: VideoConfig, device) -> int:
    """How wide a copy the flow of a video run is computed on: `flow_width`, or where it is not
    set CPU_FLOW_WIDTH on a CPU and GPU_FLOW_WIDTH on a GPU."""
    if video.flow_width is not None:
        return video.flow_width
    return CPU_FLOW_WIDTH if torch.device(device).type == "cpu" else GPU_FLOW_WIDTH


def make_tracker(video: VideoConfig, device) -> MotionTracker | None:
    """The flow stage a video config asks for; None when flow is off."""
    if not video.flow:
        return None
    width = flow_width_for(video, device)
    if video.optical_flow == "raft":
        from .raft import RAFTFlow

        return MotionTracker(video.scene_cut, RAFTFlow(device, video.flow_weights), width)
    return MotionTracker(video.scene_cut, width=width)

"""The display between dreamt frames: every camera frame gets the latest dream detail warped
onto it with a cheap flow, so the display runs at the camera's rate while the dream runs at its
own; it also cross-fades switches, freezes, and fades out a lost camera."""

from __future__ import annotations

import time

import cv2
import numpy as np

from ..engine.flow import DISFlow, resize_flow, small_gray
from ..engine.warp import warp
from ..frames import Dreamt, Frame

# the display's flow (last dreamt input -> newest camera frame) runs on a copy this wide: it must
# cost a few ms a frame, but at a quarter of a 640-wide show it misplaced the detail enough to
# double the flicker (E_warp) of what was shown
DISPLAY_FLOW_WIDTH = 320


# after this long without a camera frame the display starts fading the last picture out
LOST_AFTER = 1.0


# a strength the display follows ahead of the dream is let go of after this long, should no dream
# at it come (a schedule may have set another meanwhile)
FOLLOW_SECONDS = 1.0


class Compositor:
    """The display between dreamt frames: lays the latest dream's detail onto each newer camera
    frame along a cheap flow (DIS ultrafast on a 160-wide copy), so motion shows at the
    camera's rate. Also: cross-fades over `blend` seconds when the look changes, freezes, and
    fades the last picture out when the camera is lost."""

    def __init__(self, blend: float = 0.5, fade: float = 20.0):
        self.blend, self.fade = blend, fade
        self.flow = DISFlow(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self.count = -1
        self.reference: np.ndarray | None = None  # small grey of the last dreamt input
        self.detail: np.ndarray | None = None  # float32 (H, W, 3): last dream - its input
        self.last: np.ndarray | None = None  # the last picture shown
        self.blend_from: np.ndarray | None = None
        self.blend_start = 0.0
        self.frozen: np.ndarray | None = None
        self.last_frame_at = time.perf_counter()
        self.dream_strength = 1.0  # the strength of the latest dream
        self.ahead: tuple[float, float] | None = None  # (strength, since): see `follow`

    @property
    def strength(self) -> float:
        """The strength shown now."""
        return self.ahead[0] if self.ahead is not None else self.dream_strength

    def follow(self, strength: float) -> None:
        """Show the dream at `strength` from the next camera frame on, by scaling its detail, until
        a dream made at it comes: a knob or a slider answers at the camera's rate, not a dream later."""
        self.ahead = (strength, time.perf_counter())

    def start_blend(self) -> None:
        if self.last is not None and self.blend > 0:
            self.blend_from, self.blend_start = self.last, time.perf_counter()

    def freeze(self, on: bool | None = None) -> bool:
        on = self.frozen is None if on is None else on
        self.frozen = self.last if on else None
        return self.frozen is not None

    def present(self, frame: Frame, dreamt: Dreamt | None) -> np.ndarray:
        """The picture to show for camera `frame` (RGB uint8, same shape) given the latest dream,
        whose output is the live stage's float32 detail (see stage.LiveStage.next)."""
        self.last_frame_at = time.perf_counter()
        if self.frozen is not None:
            return self.frozen
        out = frame.image
        if dreamt is not None and dreamt.output.shape == frame.image.shape:
            if dreamt.count != self.count:
                self.count = dreamt.count
                self.reference = small_gray(dreamt.frame.image, DISPLAY_FLOW_WIDTH, min_height=8)
                self.detail = dreamt.output  # float32 dream - input, from the live stage
                self.dream_strength = dreamt.strength
            detail = self.detail
            if self.ahead is not None:
                wanted, since = self.ahead
                if abs(wanted - self.dream_strength) < 1e-6 or time.perf_counter() - since > FOLLOW_SECONDS:
                    self.ahead = None  # the dream has caught up (or gone elsewhere)
                elif self.dream_strength > 1e-3:
                    detail = detail * (wanted / self.dream_strength)
            if frame.index != dreamt.frame.index:
                small = small_gray(frame.image, DISPLAY_FLOW_WIDTH, min_height=8)
                h, w = frame.image.shape[:2]
                flow = resize_flow(self.flow(small, self.reference), h, w)  # this frame -> the dreamt one
                detail = warp(self.detail, flow)
            # the one place the live dream is clipped to what a screen shows
            out = (frame.image + detail).clip(0, 255).astype(np.uint8)
        if self.blend_from is not None and self.blend_from.shape == out.shape:
            t = (time.perf_counter() - self.blend_start) / self.blend
            if t >= 1:
                self.blend_from = None
            else:
                out = cv2.addWeighted(self.blend_from, 1 - t, out, t, 0)
        self.last = out
        return out

    def idle(self) -> np.ndarray | None:
        """With no camera frame for LOST_AFTER s: the last picture, fading to black over `fade` s."""
        quiet = time.perf_counter() - self.last_frame_at
        if self.last is None or quiet < LOST_AFTER:
            return None
        time.sleep(1 / 30)  # a lost camera shows at about 30 fps, not as fast as the loop spins
        level = max(0.0, 1 - (quiet - LOST_AFTER) / self.fade) if self.fade > 0 else 0.0
        return (self.last.astype(np.float32) * level).astype(np.uint8)

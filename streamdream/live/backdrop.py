"""What a still camera's scene was shown as, for what a moving subject uncovers between two dreams.

The display lays the latest dream, made frames ago, onto each newer camera frame along the flow
between the two (see compositor.FlowChain). Where a fast subject has moved on since, that flow
leads the pixels it uncovered back into the subject, which covered them when the dream was made:
the subject's dream was drawn out behind it, a trail of smeared streaks that changed with every
dream. Such pixels are found by their picture: the dreamt frame's, brought along the same flow,
is not what the camera shows there now. Where the camera stands still, the backdrop keeps the
detail shown on each pixel that stood still and what the camera saw there; an uncovered pixel
that looks as it did then is shown that detail again, as the dream stage gives its own still
scene's dream back (engine/still.py). A moving camera keeps nothing: its pixels are never where
they were.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..engine.still import SAME_PICTURE, still_pixels
from ..engine.warp import check_flow, warp

# a pixel counts as uncovered from the first of these differences (grey levels, over 5x5 pixels)
# between the camera frame and the dreamt one brought along the flow, fully from the second: a
# subject moved off a background it does not match goes past them. Higher, less of the trail was
# found (scripts/live_sim.py --clock, on a clip of a fast subject over a still scene: from 12.5 to
# 37.5, the shown flicker fell half as much)
UNCOVERED_GREY = (5.0, 15.0)


# an uncovered pixel looks as it did while it stood still when the two pictures differ by less than
# this (grey levels, over 5x5 pixels): the dream stage's judgement (engine.still.SAME_PICTURE, in
# [0, 1]) in grey levels; twice it measured no better
SAME_GREY = round(SAME_PICTURE * 255)


def uncovered(now: np.ndarray, then: np.ndarray, back: np.ndarray) -> np.ndarray:
    """How surely each pixel of a frame was not shown by an earlier one, float32 (h, w) in [0, 1]:
    0 where the earlier frame's picture brought along `back` (h, w, 2: the flow from `now` to
    `then`) matches it, but for a change of the whole picture's brightness, rising to 1 across
    UNCOVERED_GREY apart. `now` and `then` are grey uint8 (h, w)."""
    check_flow(back)
    if now.shape != then.shape or now.shape != back.shape[:2]:
        raise ValueError(f"need two greys and a flow of one size, got {now.shape}, {then.shape} and {back.shape[:2]}")
    change = now.astype(np.float32) - warp(then, back)
    # a change of light over the whole picture (a camera's exposure, a lamp) uncovers nothing: the
    # typical change, a median (over every fourth pixel each way, cheap, and what a subject
    # uncovered does not move), is taken off
    apart = cv2.blur(np.abs(change - float(np.median(change[::4, ::4]))), (5, 5))
    low, high = UNCOVERED_GREY
    return np.clip((apart - low) / (high - low), 0.0, 1.0)


class Backdrop:
    """Per pixel of a still camera's view: the detail (H, W, 3) last shown there while it stood
    still, and the grey (h, w) of the camera frame then, at the display flow's size."""

    def __init__(self):
        self.forget()

    def forget(self) -> None:
        """Keep nothing: a cut, or the camera moves."""
        self.detail: np.ndarray | None = None
        self.gray: np.ndarray | None = None
        self.held: np.ndarray | None = None  # (h, w) bool: where a detail is kept

    def keep(self, gray: np.ndarray, detail: np.ndarray, link: np.ndarray | None,
             doubted: np.ndarray | None = None) -> None:
        """Keep `detail` (H, W, 3) float32, shown on a frame of grey `gray` (h, w), where the pixel
        stood still since the frame before (`link`, its flow there, (h, w, 2); None: no frame
        before, nothing kept) and its detail is the dream of what it shows (`doubted`, see
        `uncovered`, below a half). The camera moving forgets all."""
        if link is None:
            return
        if link.shape[:2] != gray.shape:
            raise ValueError(f"link {link.shape[:2]} and grey {gray.shape} differ in size")
        still, camera_still = still_pixels(link, detail.shape[1])
        if not camera_still:
            self.forget()
            return
        if doubted is not None:
            still &= doubted < 0.5
        if self.detail is None or self.detail.shape != detail.shape or self.gray.shape != gray.shape:
            self.detail, self.gray = np.zeros_like(detail), np.zeros_like(gray)
            self.held = np.zeros(gray.shape, bool)
        h, w = detail.shape[:2]
        cv2.copyTo(detail, cv2.resize(still.view(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST), self.detail)
        np.copyto(self.gray, gray, where=still)
        self.held |= still

    def given(self, gray: np.ndarray, doubted: np.ndarray) -> np.ndarray | None:
        """Where `lay` gives the kept detail back on a frame of grey `gray` (h, w): (h, w) float32
        in [0, 1], how surely the pixel is uncovered (`doubted`, see `uncovered`) where it looks as
        it did when kept; None where nowhere."""
        if self.detail is None or self.gray.shape != gray.shape:
            return None
        same = cv2.blur(cv2.absdiff(gray, self.gray), (5, 5)) < SAME_GREY
        weight = doubted * (same & self.held)
        return weight if weight.any() else None

    def lay(self, detail: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
        """`detail` (H, W, 3) float32 laid along the flow onto a frame, with the kept detail in its
        place by `weight` (H, W): `given`'s on that frame, brought to the frame's size (None:
        nowhere). The display uses that weight itself too, so it is worked out, and brought to
        size, once a frame."""
        if weight is None or self.detail is None or self.detail.shape != detail.shape:
            return detail
        if weight.shape != detail.shape[:2]:
            raise ValueError(f"weight {weight.shape} must be the detail's size {detail.shape[:2]}")
        return cv2.blendLinear(self.detail, detail, weight, 1.0 - weight)

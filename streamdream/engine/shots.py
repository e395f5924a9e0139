"""The dreams of the shots a live show has left, so that a shot it cuts back to is dreamt on from
where it was left instead of from nothing.

A cut in a live show otherwise starts the new shot from a quick small seed, which has strength
but no depth, and a CPU cannot give a shot of a second or two its eyes and faces. But the shots
a show cuts to are often ones it has shown before: a looped clip (the VJ's four bars, played
over and over), a film's shot and reverse shot, a camera covered and uncovered. The memory keeps
frames of the shots shown lately with their dream detail (each shot's last frame, one from its
first second, and one every few seconds inside a long one); at a cut, a frame that looks like
one it holds (as near as two frames of one shot are: no cut from it) gets that detail back, laid
onto it along the flow between the two, so the dream goes on deepening from visit to visit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .flow import DISFlow, consistency_mask, frame_difference, small_gray
from .motion import Motion
from .tensors import check_image, to_frame

# how many frames are kept: each holds a full-size detail (2.8 MB at 640x360, 11 MB at 1280x720)
SHOTS = 12


# the width the shots' frames are compared and their flow computed at, as a live show's flow
SHOT_WIDTH = 320


# a kept frame that looks like the new one (their small copies differ as little as one shot's
# frames do) is its shot only where the flow between the two explains at least this share of
# the new frame: small copies of two unlike fine textures can look alike
MATCHED = 0.5


@dataclass
class Shot:
    """One shot as it was left: its last frame, grey at SHOT_WIDTH, and its dream detail then,
    (1, 3, H, W) on the dream device, made at `strength`."""

    gray: np.ndarray
    detail: torch.Tensor
    strength: float


def gray_of(image: torch.Tensor, width: int = SHOT_WIDTH) -> np.ndarray:
    """A frame tensor (1, 3, H, W) in [0, 1] -> grey uint8 (h, w), at most `width` wide."""
    check_image(image)
    return small_gray(np.ascontiguousarray(to_frame(image)), width, min_height=8)


class ShotMemory:
    """The last `size` shots left (see the module's docstring), newest first. `scene_cut` is the
    difference two frames of one shot stay under (VideoConfig.scene_cut)."""

    def __init__(self, scene_cut: float, size: int = SHOTS):
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        self.scene_cut, self.size = scene_cut, size
        self.shots: list[Shot] = []
        self.flow = DISFlow()
        self.recalled = 0  # cuts that found their shot here

    def _match(self, gray: np.ndarray, size: tuple[int, ...]) -> int | None:
        """The index of the kept frame nearest `gray`, of a frame of `size` (h, w), if it is near
        enough to be of the same shot."""
        best, nearest = None, self.scene_cut
        for k, shot in enumerate(self.shots):
            if shot.gray.shape == gray.shape and tuple(shot.detail.shape[2:]) == tuple(size):
                difference = frame_difference(shot.gray, gray)
                if difference <= nearest:
                    best, nearest = k, difference
        return best

    def keep(self, frame: torch.Tensor, detail: torch.Tensor, strength: float) -> None:
        """Keep a frame (1, 3, H, W) and its detail, made at `strength`: the last of a shot being
        left, or one inside a long shot. It takes the place of a kept frame it matches (the same
        place, dreamt further since), or of the oldest."""
        gray = gray_of(frame)
        same = self._match(gray, frame.shape[2:])
        if same is not None:
            del self.shots[same]
        self.shots.insert(0, Shot(gray, detail.detach().clone(), strength))
        del self.shots[self.size:]

    def recall(self, frame: torch.Tensor) -> tuple[Shot, Motion] | None:
        """The kept frame nearest `frame` (1, 3, H, W), if it is of the same shot, with the motion
        from `frame` back to it (flow at SHOT_WIDTH and the flow check's mask); None when it is a
        shot not seen lately. It is taken out: the show is in that shot again, and keeps it anew."""
        gray = gray_of(frame)
        k = self._match(gray, frame.shape[2:])
        if k is None:
            return None
        shot = self.shots[k]
        back = self.flow(gray, shot.gray)
        mask = consistency_mask(back, self.flow(shot.gray, gray))
        if float(mask.mean()) < MATCHED:
            return None
        del self.shots[k]
        self.recalled += 1
        return shot, Motion(back, mask, False)


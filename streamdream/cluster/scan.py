"""The cheap pass over a film before a cluster render: every frame's time and the scene cuts,
from frames decoded small and grey."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..engine.flow import frame_difference
from ..media.video_in import VideoFileSource

# the scan's pictures: as wide as frame_difference compares them
SCAN_WIDTH = 64


@dataclass(frozen=True)
class Scan:
    times: list[float]  # each frame's, seconds from `start`
    cuts: list[int]  # frames that start a new shot
    corrupt: int  # packets that would not decode


def scan(source: VideoFileSource, scene_cut: float, progress: Callable[[int], None] | None = None) -> Scan:
    """Read `source` (opened with the run's start and frames) to its end: each frame's time and
    where the picture changes by more than `scene_cut` (mean absolute difference in [0, 1], as
    the flow stage judges a cut), so the plan cuts where the dream restarts anyway. Closes it."""
    times, cuts, previous = [], [], None
    ctx = source.stream.codec_context
    height = max(2, round(SCAN_WIDTH * (ctx.height or 1) / max(ctx.width or 1, 1)))
    try:
        for frame, time, index in source.timed():
            grey = frame.reformat(width=SCAN_WIDTH, height=height, format="gray").to_ndarray()
            grey = np.ascontiguousarray(grey[:, :SCAN_WIDTH])  # rows may be padded for alignment
            if previous is not None and frame_difference(previous, grey) > scene_cut:
                cuts.append(index)
            times.append(time)
            previous = grey
            if progress is not None:
                progress(len(times))
    finally:
        source.close()
    return Scan(times, cuts, source.corrupt)

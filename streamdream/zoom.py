"""The endless zoom ("we must go deeper"): dream, zoom into the centre, dream on the result.

Only every `keyframe_every`-th output frame is dreamt; the frames between are the two keyframes
around them, zoomed to the same moment and cross-faded, so a smooth 25 fps stream costs a
fraction of the dream steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from .config import Config
from .live.window import WindowSink
from .media.images import load_guide, start_picture
from .media.outputs import VIDEO_SUFFIXES, check_output
from .media.video_out import VideoFileSink
from .pipeline import RunStats, close_all, run

from .engine.dreamer import Dreamer
from .engine.tensors import to_frame, to_tensor
from .engine.warp import zoom_view
from .frames import Frame


class ZoomDreamer:
    """Frames of an endless zoom, starting from `start` (RGB uint8), dreamt with `dreamer`.

    zoom: enlargement from one dreamt keyframe to the next (> 1); rotate: degrees per keyframe;
    keyframe_every: output frames per keyframe (1: dream every frame).
    """

    def __init__(self, dreamer: Dreamer, zoom: float, rotate: float = 0.0, keyframe_every: int = 5):
        self.dreamer, self.zoom, self.rotate, self.every = dreamer, zoom, rotate, keyframe_every
        self.keyframes = 0

    def _dream(self, image: torch.Tensor) -> torch.Tensor:
        self.keyframes += 1
        return self.dreamer.dream_tensor(image)

    def frames(self, start: np.ndarray, count: int | None = None) -> Iterator[np.ndarray]:
        """Yield `count` frames (None: without end), each RGB uint8 of `start`'s size."""
        if count is not None and count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        a = self._dream(to_tensor(start, self.dreamer.device))
        yield to_frame(a)
        produced = 1
        k = self.every
        while count is None or produced < count:
            b = self._dream(zoom_view(a, self.zoom, self.rotate)[0])
            for j in range(1, k + 1):
                t = j / k
                if j == k:
                    frame = b
                else:
                    # both keyframes brought to the moment j/k of the way: A zoomed in, B zoomed out
                    from_a, _ = zoom_view(a, self.zoom**t, self.rotate * t)
                    from_b, inside = zoom_view(b, self.zoom ** (t - 1), self.rotate * (t - 1))
                    weight = t * inside
                    frame = (1 - weight) * from_a + weight * from_b
                yield to_frame(frame)
                produced += 1
                if count is not None and produced >= count:
                    return
            a = b


class ZoomSource:
    """The zoom as a run's source (a feedback source: each frame comes from the last dream), for
    `pipeline.run` with no dream stage. `count` None: without end."""

    live = False

    def __init__(self, zoomer: ZoomDreamer, start: np.ndarray, fps: int, count: int | None):
        self.zoomer, self.start, self.fps, self.count = zoomer, start, fps, count

    def frames(self):

        for index, image in enumerate(self.zoomer.frames(self.start, self.count)):
            yield Frame(image, index / self.fps, index)

    def cancel(self) -> None:
        """Stop the keyframe being dreamt at its next step: the run is stopping."""
        self.zoomer.dreamer.cancel()

    def close(self) -> None:
        pass


@dataclass
class ZoomResult:
    stats: RunStats
    size: tuple[int, int]  # (width, height)
    keyframes: int  # frames dreamt; the rest interpolated
    description: str  # the model, objective and seed, for the report
    device: str


def run_zoom(config: Config, start: str, output: str | Path | None = None, frames: int | None = None,
             overwrite: bool = False, progress: Callable[[int, int], None] | None = None) -> ZoomResult:
    """`streamdream zoom` as a library call: the endless zoom from `start` (an image file, or
    `noise` / `noise:WxH`) into the video `output`, or into a window when `output` is None
    (until it is closed, or `frames`). A video is crash-safe through its partial file: a failure
    keeps the frames made so far there."""
    z = config.zoom
    if output is None:
        sink = WindowSink("streamdream zoom  (q to quit)")
    else:
        output = check_output(output, [start, config.dream.guide], overwrite, VIDEO_SUFFIXES)
    picture = start_picture(start, config.dream.width, config.dream.seed or 0, f"the zoom from {start}")
    dreamer = Dreamer.from_config(config.dream, guide=load_guide(config.dream))
    zoomer = ZoomDreamer(dreamer, z.zoom, z.rotate, z.keyframe_every)
    if output is not None:
        sink = VideoFileSink(output, Fraction(z.fps), Fraction(1, z.fps), config.video.crf)
    commands = getattr(sink, "commands", None)
    try:
        stats = run(ZoomSource(zoomer, picture, z.fps, frames), None, [sink], controls=commands,
                    handle=lambda command: command.name == "quit",
                    progress=progress and (lambda s: progress(s.frames, frames or s.frames)))
    except BaseException as exc:
        close_all([sink], error=True)
        kept = getattr(sink, "partial", None)
        if kept is not None and kept.exists() and not isinstance(exc, KeyboardInterrupt):
            exc.add_note(f"the frames made so far are in {kept}; overwrite starts over")
        raise
    close_all([sink], error=False)
    return ZoomResult(stats, (picture.shape[1], picture.shape[0]), zoomer.keyframes,
                      f"{config.dream.model} {dreamer.objective.description}, seed {dreamer.seed}", dreamer.device.type)

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

from .commands import Command
from .config import Config
from .engine.colors import mix_colors
from .engine.steering import scheduled_dreamer, steer
from .live.window import WindowSink
from .media.audio_in import check_audio
from .media.images import load_guide, start_picture
from .media.outputs import VIDEO_SUFFIXES, check_output
from .media.video_out import VideoFileSink
from .pipeline import RunStats, close_all, run
from .schedule.plan import build_timeline, check_timeline, frame_times

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
        self.pan = (0.0, 0.0)  # shares of the width and height the view moves a keyframe
        self.strength, self.colors = 1.0, 1.0
        self.keyframes = 0
        # called with the output index of each keyframe before it is dreamt (a schedule's commands)
        self.before_keyframe: Callable[[int], None] | None = None

    def control(self, command: Command) -> None:
        """Take a command that changes the zoom (zoom, rotate, pan_x, pan_y) or its dream
        (set_strength, strength, step, jitter, layer, colors), from the next keyframe on."""
        name, value = command.name, command.value
        changed = steer(command, self.dreamer, self.strength, self.colors)
        if changed is not None:
            self.dreamer, self.strength, self.colors = changed
        elif name in ("zoom", "rotate"):
            setattr(self, name, float(value))
        elif name == "pan_x":
            self.pan = (float(value), self.pan[1])
        elif name == "pan_y":
            self.pan = (self.pan[0], float(value))
        else:
            raise ValueError(f"the zoom takes no command {name!r}")

    def _dream(self, image: torch.Tensor, index: int) -> torch.Tensor:
        if self.before_keyframe is not None:
            self.before_keyframe(index)
        self.keyframes += 1
        d = self.dreamer
        if self.strength != 1.0:
            d = d.with_settings(step=d.config.step * self.strength)
        dreamt = d.dream_tensor(image)
        if self.colors != 1.0:
            # the dream in luminance over the colours it was dreamt on: a zoom keeps its start's palette
            detail = mix_colors((dreamt - image)[0].permute(1, 2, 0).cpu().numpy(), self.colors)
            dreamt = (image + torch.from_numpy(detail).permute(2, 0, 1)[None].to(image.device)).clamp_(0, 1)
        return dreamt

    def _view(self, image: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor]:
        """`image` carried `t` keyframes on (negative: back) along the zoom, turn and pan."""
        return zoom_view(image, self.zoom**t, self.rotate * t, (self.pan[0] * t, self.pan[1] * t))

    def frames(self, start: np.ndarray, count: int | None = None) -> Iterator[np.ndarray]:
        """Yield `count` frames (None: without end), each RGB uint8 of `start`'s size."""
        if count is not None and count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        a = self._dream(to_tensor(start, self.dreamer.device), 0)
        yield to_frame(a)
        produced = 1
        k = self.every
        while count is None or produced < count:
            b = self._dream(self._view(a, 1.0)[0], produced + k - 1)
            for j in range(1, k + 1):
                t = j / k
                if j == k:
                    frame = b
                else:
                    # both keyframes brought to the moment j/k of the way: A zoomed in, B zoomed out
                    from_a, _ = self._view(a, t)
                    from_b, inside = self._view(b, t - 1)
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
             overwrite: bool = False, progress: Callable[[int, int], None] | None = None,
             audio: str | Path | None = None, say: Callable[[str], None] | None = None) -> ZoomResult:
    """`streamdream zoom` as a library call: the endless zoom from `start` (an image file, or
    `noise` / `noise:WxH`) into the video `output`, or into a window when `output` is None
    (until it is closed, or `frames`). A video is crash-safe through its partial file: a failure
    keeps the frames made so far there.

    `config.schedule` steers it, a keyframe at a time (zoom, rotate, pan_x, pan_y and the dream's
    settings); `audio`, a sound file, is what it hears and, into a file, its soundtrack."""
    z = config.zoom
    if output is not None:
        output = check_output(output, [start, config.dream.guide, audio], overwrite, VIDEO_SUFFIXES)
    if audio is not None:
        check_audio(audio)
    timeline = build_timeline(config, "zoom", z.fps, None, audio, 0.0)
    if timeline is not None:  # a window's endless zoom: its first minute checked
        check_timeline(timeline, frame_times(frames or z.fps * 60, z.fps), say)
    if output is None:
        sink = WindowSink("streamdream zoom  (q to quit)")
    picture = start_picture(start, config.dream.width, config.dream.seed or 0, f"the zoom from {start}")
    specs = [k.text for k in timeline.keys.get("layers", [])] if timeline is not None else []
    dreamer = scheduled_dreamer(config.dream, specs, guide=load_guide(config.dream))
    zoomer = ZoomDreamer(dreamer, z.zoom, z.rotate, z.keyframe_every)
    if timeline is not None:
        def follow(index: int) -> None:
            for command in timeline.commands(index, index / z.fps):
                zoomer.control(command)

        zoomer.before_keyframe = follow
    if output is not None:
        sink = VideoFileSink(output, Fraction(z.fps), Fraction(1, z.fps), config.video.crf,
                             Path(audio) if audio is not None else None)
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
    if audio is not None and output is not None:
        sink.close(sink.last_time + 1 / z.fps)  # the soundtrack cut to the zoom's length
    else:
        close_all([sink], error=False)
    return ZoomResult(stats, (picture.shape[1], picture.shape[0]), zoomer.keyframes,
                      f"{config.dream.model} {dreamer.objective.description}, seed {dreamer.seed}", dreamer.device.type)

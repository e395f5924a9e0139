"""How deep a dream is: how much more a network that did *not* dream it sees in the output
than in the input.

Strength and coherence (metrics.py) say how much the dream changes the picture and whether the
change moves with it; both are met by a fine shimmering texture. Structure (eyes, faces,
creatures) is what a mid-to-high layer of an ImageNet network responds to, so the judge is the
mean squared activation of such layers of a network the dream did not use (EfficientNet-Lite2;
the default dream is Lite0's), over the output's frames, divided by the same over the input's
frames at the output's size:

- a copy of the input scores exactly 1; a faint texture about 1, and below 1 when it only adds
  noise (noise breaks the input's own structure, which the layer saw);
- a full octave dream, whose hallucinations are built to excite ImageNet features, well above 1.

*Depth retained* compares two dreams of the same frames: the excess over 1 of one (the flow
path) as a share of the other's (a full per-frame dream, `--no-flow`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

import cv2
import numpy as np
import torch

DEPTH_MODEL = "lite2"
DEPTH_LAYERS = ("block10", "block16")
MOVING_PX = 1.0  # input motion (px/frame) that counts as moving, as the metrics count it


@dataclass(frozen=True)
class Depth:
    """A dream's depth at each judged layer: the ratio over all frames, and per frame."""

    frames: int
    ratio: dict[str, float]  # layer -> sum of output energy / sum of input energy
    per_frame: dict[str, tuple[float, ...]]  # layer -> each frame's own ratio
    # layer -> the same ratio over where the input moves (see MOVING_PX); nan where nothing did
    moving: dict[str, float] = field(default_factory=dict)

    def retained(self, reference: "Depth", layer: str, moving: bool = False) -> float:
        """This dream's excess over 1 at `layer` (over the moving pixels with `moving`) as a share
        of `reference`'s; nan when the reference has none."""
        mine, theirs = (self.moving, reference.moving) if moving else (self.ratio, reference.ratio)
        excess = theirs.get(layer, float("nan")) - 1.0
        return (mine.get(layer, float("nan")) - 1.0) / excess if excess > 1e-9 else float("nan")


class DepthJudge:
    """The judging network, loaded once: `energy(image)` is the mean squared activation of each
    judged layer for an RGB uint8 (H, W, 3) picture."""

    def __init__(self, model: str = DEPTH_MODEL, layers: tuple[str, ...] = DEPTH_LAYERS, device: str = "cpu"):
        from . import models

        spec = models.get_spec(model)
        self.layers = tuple(layers)
        self.net = models.DreamNet(spec, models.load_network(spec), list(self.layers)).to(device)
        self.device = torch.device(device)

    def energy(self, image: np.ndarray) -> dict[str, float]:
        """RGB uint8 (H, W, 3) -> {layer: mean squared activation}."""
        return {name: float(m.mean()) for name, m in self.energy_maps(image).items()}

    def energy_maps(self, image: np.ndarray) -> dict[str, np.ndarray]:
        """RGB uint8 (H, W, 3) -> {layer: squared activation averaged over channels, float32 (h, w)
        at the layer's own resolution}: where in the picture the layer responds."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"need an RGB uint8 (H, W, 3) picture, got {image.dtype} {image.shape}")
        x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float().div_(255.0)
        acts = self.net.features(x.to(self.device))
        return {name: acts[name].float().pow(2).mean(1)[0].cpu().numpy() for name in self.layers}


def measure_depth(inputs: Iterable[np.ndarray], outputs: Iterable[np.ndarray], judge: DepthJudge,
                  match: Callable[[np.ndarray, int, int], np.ndarray] | None = None, every: int = 1,
                  progress: Callable[[int], None] | None = None) -> Depth:
    """The depth of RGB uint8 outputs (H, W, 3) against their inputs, paired in order (stops at
    the shorter); every `every`-th pair is judged. `match(frame, height, width)` brings an input
    to the output's size (default: it must already be)."""
    if every < 1:
        raise ValueError(f"every must be at least 1, got {every}")
    from .engine.flow import DISFlow, to_gray

    dis = DISFlow()
    sums_in = dict.fromkeys(judge.layers, 0.0)
    sums_out = dict.fromkeys(judge.layers, 0.0)
    moving_in = dict.fromkeys(judge.layers, 0.0)
    moving_out = dict.fromkeys(judge.layers, 0.0)
    per_frame: dict[str, list[float]] = {name: [] for name in judge.layers}
    judged, previous = 0, None
    for k, (frame_in, frame_out) in enumerate(zip(inputs, outputs)):
        if match is not None:
            frame_in = match(frame_in, *frame_out.shape[:2])
        if frame_in.shape != frame_out.shape:
            raise ValueError(f"frame {k}: input {frame_in.shape} and output {frame_out.shape} differ in size")
        gray, moves = to_gray(frame_in), None
        if previous is not None and previous.shape == gray.shape:
            flow = dis(gray, previous)
            moves = (np.hypot(flow[..., 0], flow[..., 1]) >= MOVING_PX).astype(np.float32)
        previous = gray
        if k % every:
            continue
        maps_in, maps_out = judge.energy_maps(frame_in), judge.energy_maps(frame_out)
        for name in judge.layers:
            e_in, e_out = float(maps_in[name].mean()), float(maps_out[name].mean())
            sums_in[name] += e_in
            sums_out[name] += e_out
            per_frame[name].append(e_out / max(e_in, 1e-12))
            if moves is not None:
                h, w = maps_in[name].shape
                share = cv2.resize(moves, (w, h), interpolation=cv2.INTER_AREA)  # of each cell that moves
                moving_in[name] += float((maps_in[name] * share).sum())
                moving_out[name] += float((maps_out[name] * share).sum())
        judged += 1
        if progress:
            progress(judged)
    if not judged:
        raise ValueError("depth needs at least one frame in both videos")
    ratio = {name: sums_out[name] / max(sums_in[name], 1e-12) for name in judge.layers}
    moving = {name: moving_out[name] / moving_in[name] if moving_in[name] > 1e-9 else float("nan")
              for name in judge.layers}
    return Depth(judged, ratio, {name: tuple(v) for name, v in per_frame.items()}, moving)


def measure_depth_files(source, dreamt, reference=None, width: int | None = None, max_frames: int | None = None,
                        every: int = 1, judge: DepthJudge | None = None,
                        progress: Callable[[int], None] | None = None) -> tuple[Depth, Depth | None]:
    """The depth of the video file `dreamt` against its `source` (rescaled to `width` first, if
    given), and of `reference` (a full per-frame dream of the same frames) when given.

    UsageError when a file is not a readable video or they share no frame."""
    from .errors import UsageError
    from .media.video_in import VideoFileSource
    from .media.video_out import match_size

    judge = judge or DepthJudge()

    def of(path, role: str) -> Depth:
        inputs = VideoFileSource(source, width, max_frames=max_frames)
        try:
            outputs = VideoFileSource(path, max_frames=max_frames, role=role)
            try:
                return measure_depth((f.image for f in inputs.frames()), (f.image for f in outputs.frames()),
                                     judge, match_size, every, progress)
            finally:
                outputs.close()
        except ValueError as exc:
            raise UsageError(f"cannot judge the depth of {path} against {source}: {exc}") from None
        finally:
            inputs.close()

    return of(dreamt, "output"), None if reference is None else of(reference, "reference")

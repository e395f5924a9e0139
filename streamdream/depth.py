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


class _Sums:
    """One dream's running sums over the frames judged (see `measure_depths`)."""

    def __init__(self, layers: tuple[str, ...]):
        self.layers = layers
        self.all_in, self.all_out = dict.fromkeys(layers, 0.0), dict.fromkeys(layers, 0.0)
        self.moving_in, self.moving_out = dict.fromkeys(layers, 0.0), dict.fromkeys(layers, 0.0)
        self.per_frame: dict[str, list[float]] = {name: [] for name in layers}
        self.frames = 0

    def add(self, maps_in: dict, maps_out: dict, moves: np.ndarray | None) -> None:
        for name in self.layers:
            e_in, e_out = float(maps_in[name].mean()), float(maps_out[name].mean())
            self.all_in[name] += e_in
            self.all_out[name] += e_out
            self.per_frame[name].append(e_out / max(e_in, 1e-12))
            if moves is not None:
                h, w = maps_in[name].shape
                share = cv2.resize(moves, (w, h), interpolation=cv2.INTER_AREA)  # of each cell that moves
                self.moving_in[name] += float((maps_in[name] * share).sum())
                self.moving_out[name] += float((maps_out[name] * share).sum())
        self.frames += 1

    def depth(self) -> Depth:
        if not self.frames:
            raise ValueError("depth needs at least one frame in both videos")
        ratio = {name: self.all_out[name] / max(self.all_in[name], 1e-12) for name in self.layers}
        moving = {name: self.moving_out[name] / self.moving_in[name] if self.moving_in[name] > 1e-9 else float("nan")
                  for name in self.layers}
        return Depth(self.frames, ratio, {name: tuple(v) for name, v in self.per_frame.items()}, moving)


def measure_depths(inputs: Iterable[np.ndarray], dreams: list[Iterable[np.ndarray]], judge: DepthJudge,
                   match: Callable[[np.ndarray, int, int], np.ndarray] | None = None, every: int = 1,
                   progress: Callable[[int], None] | None = None,
                   before: Iterable[np.ndarray] | None = None) -> list[Depth]:
    """The depth of each of several dreams of the same inputs, RGB uint8 (H, W, 3) frames paired
    in order (stops at the shortest); every `every`-th frame is judged. `match(frame, height,
    width)` brings an input to a dream's size (default: it must already be). Each input is read,
    matched, judged and its motion found once, however many dreams it is held against.

    Where the input moves is found from the input before it; `before`, when the inputs are a few
    frames picked from a clip, gives the clip's frame just before each (same size as the input)."""
    if every < 1:
        raise ValueError(f"every must be at least 1, got {every}")
    from .engine.flow import DISFlow, to_gray

    dis = DISFlow()
    sums = [_Sums(judge.layers) for _ in dreams]
    previous: dict[tuple, np.ndarray] = {}  # the last input's grey, at each dream size met
    befores = iter(before) if before is not None else None
    for k, frames in enumerate(zip(inputs, *dreams)):
        frame_in, outs = frames[0], frames[1:]
        if befores is not None:
            frame_before = next(befores, None)
            if frame_before is None or frame_before.shape != frame_in.shape:
                raise ValueError(f"frame {k}: need the frame before each input, of its size")
        seen: dict[tuple, tuple] = {}  # this input at each dream size: (itself, its motion)
        for out in outs:
            size = out.shape[:2]
            if size not in seen:
                matched = frame_in if match is None else match(frame_in, *size)
                gray, moves = to_gray(matched), None
                earlier = previous.get(size) if befores is None else \
                    to_gray(frame_before if match is None else match(frame_before, *size))
                if earlier is not None and earlier.shape == gray.shape:
                    flow = dis(gray, earlier)
                    moves = (np.hypot(flow[..., 0], flow[..., 1]) >= MOVING_PX).astype(np.float32)
                previous[size] = gray
                seen[size] = (matched, moves)
            if seen[size][0].shape != out.shape:
                raise ValueError(f"frame {k}: input {seen[size][0].shape} and output {out.shape} differ in size")
        if k % every:
            continue
        maps_in: dict[tuple, dict] = {}
        for total, out in zip(sums, outs):
            matched, moves = seen[out.shape[:2]]
            if out.shape[:2] not in maps_in:
                maps_in[out.shape[:2]] = judge.energy_maps(matched)
            total.add(maps_in[out.shape[:2]], judge.energy_maps(out), moves)
        if progress:
            progress(sums[0].frames)
    return [total.depth() for total in sums]


def measure_depth(inputs: Iterable[np.ndarray], outputs: Iterable[np.ndarray], judge: DepthJudge,
                  match: Callable[[np.ndarray, int, int], np.ndarray] | None = None, every: int = 1,
                  progress: Callable[[int], None] | None = None) -> Depth:
    """The depth of RGB uint8 outputs (H, W, 3) against their inputs, paired in order (see
    `measure_depths`)."""
    return measure_depths(inputs, [outputs], judge, match, every, progress)[0]


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
    sources = [VideoFileSource(source, width, max_frames=max_frames)]
    try:
        sources.append(VideoFileSource(dreamt, max_frames=max_frames, role="output"))
        if reference is not None:
            sources.append(VideoFileSource(reference, max_frames=max_frames, role="reference"))
        streams = [(f.image for f in s.frames()) for s in sources]
        depths = measure_depths(streams[0], streams[1:], judge, match_size, every, progress)
    except ValueError as exc:
        dreams = f"{dreamt} or {reference}" if reference is not None else str(dreamt)
        raise UsageError(f"cannot judge the depth of {dreams} against {source}: {exc}") from None
    finally:
        for s in sources:
            s.close()
    return depths[0], depths[1] if reference is not None else None

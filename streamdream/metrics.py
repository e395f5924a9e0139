"""How steady, how strong and how evenly spread a dreamt video is, measured against its input.

E_warp (Lai et al. 2018, "Learning Blind Video Temporal Consistency"): for each pair of frames,
the mean squared RGB error (values in [0, 1]) between output frame t and output frame t-1 warped
onto it by the *input's* optical flow, over the pixels the flow can be trusted at (not occluded,
not on a motion boundary); averaged over pairs. The same on the input itself is the floor that
flow errors alone give; their ratio tells flicker added by the dream. It punishes sharp detail,
so it is read beside the measures below, which a whole-frame mean cannot replace:

- where the dream is: a local strength map (|output - input| over colour, box-blurred over 1/20
  of the width). *Covered* is the share of pixels at least half as strong as the median of a full
  dream of that frame (a `--no-flow` reference) or, without one, of output frame 0; *moving
  covered* the same over pixels the input moves at least 1 px/frame; *concentration* the share of
  all strength held by the strongest 10% of pixels (an even dream about 0.15, blobs 0.4-0.7).
- whether the dream moves with the picture: *detail coherence* is the Pearson correlation of the
  dream detail (output - input) of frame t with that of frame t-1 warped onto t along the input's
  flow, over trusted pixels (and over the moving ones). It is blind to how sharp or strong it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import cv2
import numpy as np

from .engine.flow import DISFlow, consistency_mask, to_gray
from .engine.warp import warp
from .media.video_out import match_size

MOVING_PX = 1.0  # input motion (px/frame) that counts as moving
MIN_MOVING_SHARE = 0.02  # frames where less of the picture moves say nothing about moving subjects
COVERED_SHARE = 0.5  # local strength, as a share of the reference's median, that counts as dreamt
TOP_SHARE = 0.1  # concentration: the strongest tenth of the pixels
SPECK_STEP = 0.3  # specks: a channel this far (of the full range) from its 3x3 median
EDGE_BAND = 16  # edges: the pixels nearest each edge judged against the interior
REPEATED = 0.3  # edges: a line that changes less than this share of the typical change repeats its neighbour


@dataclass(frozen=True)
class TemporalMetrics:
    frames: int
    ewarp_output: float
    ewarp_input: float
    strength: float  # mean |output - input| in [0, 1] over all frames
    strength_first: float  # over the first `window` frames
    strength_last: float  # over the last `window` frames
    covered: float  # mean over frames of the covered share
    covered_min: float
    covered_last_third: float
    moving_covered: float  # mean over frames where enough moves; nan when none did
    concentration: float  # mean over frames
    concentration_max: float
    coherence: float  # mean over frame pairs, trusted pixels
    coherence_moving: float  # mean over frame pairs, trusted moving pixels; nan when none moved
    reference_strength: float | None = None  # mean strength of the reference (full dream), if given
    pair_errors: tuple[float, ...] = ()  # E_warp of the output for each frame pair (t-1, t), t = 1, 2 ...
    concentrations: tuple[float, ...] = ()  # each frame's concentration, in order

    @property
    def ratio(self) -> float:
        return self.ewarp_output / self.ewarp_input if self.ewarp_input > 0 else float("inf")


def strength(dreamt: np.ndarray, frame: np.ndarray) -> float:
    """Dream strength: mean absolute difference, in [0, 1], between a dream and its input (H, W, 3)."""
    return float(np.abs(dreamt.astype(np.float32) - frame.astype(np.float32)).mean() / 255.0)


def local_strength(dreamt: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """Where the dream is: |dreamt - frame| averaged over colour and box-blurred over 1/20 of the
    width, float32 (H, W) in [0, 1]. Both RGB uint8 (H, W, 3) of one size."""
    if dreamt.shape != frame.shape or dreamt.ndim != 3:
        raise ValueError(f"need two RGB frames of one size, got {dreamt.shape} and {frame.shape}")
    diff = np.abs(dreamt.astype(np.float32) - frame.astype(np.float32)).mean(axis=2) / 255.0
    side = max(1, round(frame.shape[1] / 20))
    return cv2.blur(diff, (side, side), borderType=cv2.BORDER_REFLECT)


def specks(image: np.ndarray, threshold: float = SPECK_STEP) -> float:
    """Single pixels that stand apart from their 3x3 neighbourhood: the share of an RGB uint8
    image's (H, W, 3) pixels, per 10,000, with a channel more than `threshold` (of the full range)
    from its neighbourhood's median. Dreams left to step on without octaves overcook into such
    specks; a full dream has few."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"need an RGB uint8 image (H, W, 3), got {image.dtype} {image.shape}")
    apart = np.abs(image.astype(np.int16) - cv2.medianBlur(image, 3)).max(axis=2)
    return float((apart > threshold * 255).mean() * 1e4)


def edge_bands(dreamt: np.ndarray, frame: np.ndarray, band: int = EDGE_BAND) -> list[float]:
    """The mean local strength of a dream (RGB uint8 (H, W, 3), its input `frame` of one size) in
    the `band` pixels nearest each edge, top, bottom, left and right, each over the interior's
    (the frame less twice the band along each edge): 1 as dreamt as the middle, 0 plain; nan
    where the interior is plain. Averaged side by side over a show's frames, they tell an edge the
    dream keeps weak (one the camera moves away from) from a dream uneven across the frame, whose
    weakest band falls on a different side from frame to frame."""
    h, w = frame.shape[:2]
    if min(h, w) < 6 * band:
        raise ValueError(f"a {w}x{h} frame is too small for edge bands of {band} px")
    local = local_strength(dreamt, frame)
    interior = float(local[2 * band:-2 * band, 2 * band:-2 * band].mean())
    bands = (local[:band], local[-band:], local[:, :band], local[:, -band:])
    return [float(b.mean()) / interior if interior > 0 else float("nan") for b in bands]


def edges(dreamt: np.ndarray, frame: np.ndarray, band: int = EDGE_BAND) -> tuple[float, int]:
    """How a dream (RGB uint8 (H, W, 3), its input `frame` of one size) holds up along the frame's
    edges: the weakest of the four bands of `band` pixels nearest each edge, as its mean local
    strength over the interior's (1: as dreamt as the middle, 0: plain), and how many rows or
    columns within those bands repeat their neighbour (their detail changes from one to the next
    less than REPEATED of the typical change, while it is there: at least REPEATED of a typical
    line's strength): the stripes of an edge stretched by a warp. Lines left plain are the first
    number's to tell, not stripes."""
    weakest = min(edge_bands(dreamt, frame, band))
    detail = dreamt.astype(np.float32) - frame.astype(np.float32)
    repeats = 0
    for axis in (0, 1):  # rows, then columns
        change = np.abs(np.diff(detail, axis=axis)).mean(axis=(1 - axis, 2))  # from each line to the next
        there = np.abs(detail).mean(axis=(1 - axis, 2))[:-1]  # each line's strength
        typical, typical_there = float(np.median(change)), float(np.median(there))
        stripe = (change < REPEATED * typical) & (there >= REPEATED * typical_there)
        repeats += int(stripe[:band].sum() + stripe[-band:].sum()) if typical > 0 else 0
    return weakest, repeats


def mean_edges(dreams: Iterable[np.ndarray], inputs: Iterable[np.ndarray], band: int = EDGE_BAND) -> tuple[float, float]:
    """`edges` over frames (paired in order): the mean weakest-band ratio, over the frames that
    have one (a frame shown plain has none, nan), and the mean count of repeated lines."""
    found = [edges(dreamt, frame, band) for dreamt, frame in zip(dreams, inputs)]
    if not found:
        raise ValueError("need at least one pair of frames")
    return float(np.nanmean([e[0] for e in found])), float(np.mean([e[1] for e in found]))


def concentration(local: np.ndarray) -> float:
    """Share of the total of a local strength map (H, W) held by its strongest TOP_SHARE of pixels."""
    values = local.ravel()
    total = float(values.sum())
    if total <= 0:
        return 1.0
    k = max(1, round(TOP_SHARE * values.size))
    return float(np.partition(values, values.size - k)[-k:].sum() / total)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two equal-length 1-D arrays; nan when either is constant or empty."""
    if a.size < 2:
        return float("nan")
    a = a - a.mean()
    b = b - b.mean()
    denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denominator) if denominator > 0 else float("nan")


def _pair_error(current: np.ndarray, previous: np.ndarray, flow: np.ndarray, mask: np.ndarray) -> float:
    """Masked mean squared error in [0, 1] of `current` against `previous` warped by `flow`."""
    a = current.astype(np.float32) / 255.0
    b = warp(previous.astype(np.float32) / 255.0, flow)
    squared = ((a - b) ** 2).mean(axis=2)
    return float((squared * mask).sum() / max(mask.sum(), 1.0))


def _nanmean(values: list[float]) -> float:
    values = [v for v in values if v == v]
    return float(np.mean(values)) if values else float("nan")


def temporal_metrics(inputs: Iterable[np.ndarray], outputs: Iterable[np.ndarray], window: int = 50,
                     progress: Callable[[int], None] | None = None,
                     references: Iterable[np.ndarray] | None = None) -> TemporalMetrics:
    """Metrics of RGB uint8 frame sequences (H, W, 3), paired in order; stops at the shorter one.

    `references`, if given, are full dreams of the same inputs (e.g. `--no-flow`): each frame's
    coverage is then judged against the median local strength of its own full dream.
    """
    # the measuring flow stays MEDIUM whatever preset the tool's flow stage uses: the ruler must
    # not change with what it measures
    dis = DISFlow(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    previous = None
    out_errors, in_errors, strengths, ref_strengths = [], [], [], []
    covered, moving_covered, concentrations, coherence, coherence_moving = [], [], [], [], []
    first_median = None
    pairs = zip(inputs, outputs, references) if references is not None else ((i, o, None) for i, o in zip(inputs, outputs))
    for frame_in, frame_out, frame_ref in pairs:
        frame_in = match_size(frame_in, *frame_out.shape[:2])
        strengths.append(strength(frame_out, frame_in))
        local = local_strength(frame_out, frame_in)
        if frame_ref is not None:
            frame_ref = match_size(frame_ref, *frame_out.shape[:2])
            ref_strengths.append(strength(frame_ref, frame_in))
            median = float(np.median(local_strength(frame_ref, frame_in)))
        else:
            first_median = float(np.median(local)) if first_median is None else first_median
            median = first_median
        dreamt = local >= COVERED_SHARE * median
        covered.append(float(dreamt.mean()))
        concentrations.append(concentration(local))
        gray = to_gray(frame_in)
        detail = frame_out.astype(np.float32) - frame_in.astype(np.float32)
        if previous is not None:
            prev_in, prev_out, prev_gray, prev_detail = previous
            back = dis(gray, prev_gray)
            mask = consistency_mask(back, dis(prev_gray, gray))
            out_errors.append(_pair_error(frame_out, prev_out, back, mask))
            in_errors.append(_pair_error(frame_in, prev_in, back, mask))
            moving = np.hypot(back[..., 0], back[..., 1]) >= MOVING_PX
            if moving.mean() >= MIN_MOVING_SHARE:
                moving_covered.append(float(dreamt[moving].mean()))
            carried = warp(prev_detail, back)
            trusted = mask > 0
            coherence.append(pearson(detail[trusted].ravel(), carried[trusted].ravel()))
            trusted_moving = trusted & moving
            if trusted_moving.mean() >= MIN_MOVING_SHARE:
                coherence_moving.append(pearson(detail[trusted_moving].ravel(), carried[trusted_moving].ravel()))
        previous = (frame_in, frame_out, gray, detail)
        if progress:
            progress(len(strengths))
    if len(strengths) < 2:
        raise ValueError("temporal metrics need at least two frames in both videos")
    third = max(1, len(covered) // 3)
    return TemporalMetrics(
        len(strengths), float(np.mean(out_errors)), float(np.mean(in_errors)),
        float(np.mean(strengths)), float(np.mean(strengths[:window])), float(np.mean(strengths[-window:])),
        float(np.mean(covered)), float(np.min(covered)), float(np.mean(covered[-third:])),
        _nanmean(moving_covered), float(np.mean(concentrations)), float(np.max(concentrations)),
        _nanmean(coherence), _nanmean(coherence_moving),
        float(np.mean(ref_strengths)) if ref_strengths else None, tuple(out_errors), tuple(concentrations))


def measure_files(source: str | Path, dreamt: str | Path, width: int | None = None, max_frames: int | None = None,
                  window: int = 50, progress: Callable[[int, int | None], None] | None = None,
                  reference: str | Path | None = None, warn: Callable[[str], None] | None = None) -> TemporalMetrics:
    """Metrics of a dreamt video file against its source (rescaled to `width` first, if given),
    optionally with `reference`, a full (`--no-flow`) dream of the same frames. `warn` hears of
    files that do not look like a pair (another aspect or length).

    UsageError when a file is not a readable video or they share fewer than two frames.
    """
    from contextlib import ExitStack

    from .errors import UsageError
    from .media.video_in import VideoFileSource

    with ExitStack() as stack:
        inputs = VideoFileSource(source, width, max_frames=max_frames)
        stack.callback(inputs.close)
        outputs = VideoFileSource(dreamt, max_frames=max_frames, role="output")
        stack.callback(outputs.close)
        refs = None
        if reference is not None:
            refs = VideoFileSource(reference, max_frames=max_frames, role="reference")
            stack.callback(refs.close)
        if warn is not None:
            for other in [outputs, refs] if refs is not None else [outputs]:
                a, b = inputs.info, other.info
                if abs(a.width / a.height - b.width / b.height) > 0.02:
                    warn(f"{other.path} is {b.width}x{b.height} but {source} is {a.width}x{a.height}: a different "
                         f"aspect, so it is stretched to match; is it the dream of this input?")
                if a.frames and b.frames and abs(a.frames - b.frames) > 1:
                    warn(f"{other.path} has {b.frames} frames and {source} {a.frames}: only the first "
                         f"{min(a.frames, b.frames)} are paired")
        expected = min(inputs.info.frames or 0, outputs.info.frames or 0) or None
        try:
            return temporal_metrics((f.image for f in inputs.frames()), (f.image for f in outputs.frames()), window,
                                    progress and (lambda done: progress(done, expected)),
                                    None if refs is None else (f.image for f in refs.frames()))
        except ValueError as exc:
            raise UsageError(f"cannot measure {dreamt} against {source}: {exc}") from None

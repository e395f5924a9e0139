"""Whose colours a dream shows: its own, or the input's with the dream in luminance only; and no
colour, or speckle, finer than a video file holds."""

from __future__ import annotations

import cv2
import numpy as np

# BT.709 luma (sRGB's luminance), the weights of the YCbCr a video file is written in
# (media.video_out.yuv_of): a detail with equal R, G and B leaves Cb and Cr exactly as they were,
# and one made grey from a colour detail keeps the luma the file codes it with
LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def mix_colors(detail: np.ndarray, amount: float) -> np.ndarray:
    """A dream's detail (dream - input, float (H, W, 3)) with `amount` of its colour: 1 as it is,
    0 its luminance alone (grey, so the input's chroma shows through), between a mix.
    Returns float32 (H, W, 3)."""
    if detail.ndim != 3 or detail.shape[2] != 3:
        raise ValueError(f"detail must be (H, W, 3), got {detail.shape}")
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"amount must be in [0, 1], got {amount}")
    detail = detail.astype(np.float32, copy=False)
    if amount == 1.0:
        return detail
    luma = detail @ LUMA
    return detail * amount + (luma * (1.0 - amount))[..., None]


# a video file (H.264 as players take it, yuv420p) keeps the colour at half the picture's width and
# height. A dream is full of finer colour (red and green fringes along fur, rings round its eyes):
# the encoder's decimation folded it onto its 2x2 grid, where it came out differently as the
# picture moved a pixel, and the file flickered in colour where the frames written did not. A file
# run blurs the dream's colour over this sigma, in pixels, first; the input's own colour is left
# to the encoder as it was. The file's flicker (its E_warp ratio, scripts/bench_video.py) fell on
# every clip measured, and the depth a network that did not dream it sees hardly moved; a sigma
# of 1 took away less of the flicker, 2 little more for a softer colour
FILE_COLOR_SIGMA = 1.5
# and its luminance over this sigma: a dream carries a speckle a pixel or two across (fur, grain)
# that no flow moves exactly; resampled frame after frame and then again by the encoder's motion
# search, it shimmered, most on a 1280-wide picture, whose file's E_warp ratio stayed above 2
# with every setting of the carry's steps. Half a pixel takes the speckle's finest part: the
# eyes and faces, and the depth a network that did not dream them sees, stay (0.4 took less
# than half the shimmer 0.5 takes; 0.6 and 0.8 took more of the depth too). Files written in
# BT.709, whose luma holds more of the dream's fine colour than BT.601's did, shimmer a little
# more; 0.7 took a sixth of that back and a fifth of the depth with it (a fast disc's E_warp
# ratio 1.68 to 1.41, its depth retained 102% to 80%; the shared clip at 1280 wide 1.84 to 1.50,
# 91% to 78%; two seeds each, scripts/bench_video.py's measures)
FILE_LUMA_SIGMA = 0.5


def soften_detail(detail: np.ndarray, sigma: float, luma_sigma: float = 0.0) -> np.ndarray:
    """A dream's detail (dream - input, float (H, W, 3)) with its colour blurred over `sigma`
    pixels and its luminance over `luma_sigma`. Returns float32 (H, W, 3).

    Luma and chroma are a linear change of R, G and B, and a grey detail (equal R, G and B) has
    no chroma: so the result is the detail blurred over `sigma` plus, on all three channels, the
    luminance of its blur over `luma_sigma` less that of its blur over `sigma`. No round trip
    through another colour space."""
    if detail.ndim != 3 or detail.shape[2] != 3:
        raise ValueError(f"detail must be (H, W, 3), got {detail.shape}")
    if sigma < 0 or luma_sigma < 0:
        raise ValueError(f"sigmas must be >= 0, got {sigma} and {luma_sigma}")
    detail = detail.astype(np.float32, copy=False)
    if sigma == luma_sigma:
        return _blur(detail, sigma)
    blurred = _blur(detail, sigma)
    return blurred + ((_blur(detail, luma_sigma) - blurred) @ LUMA)[..., None]


def _blur(detail: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(detail, (0, 0), sigma, borderType=cv2.BORDER_REFLECT) if sigma else detail


def lay_detail(frame: np.ndarray, detail: np.ndarray, amount: float, sigma: float = 0.0,
               luma_sigma: float = 0.0) -> np.ndarray:
    """`frame` (RGB uint8 (H, W, 3)) with a dream's detail laid on (float (H, W, 3), in its 0-255
    units), with `amount` of the detail's own colour (see `mix_colors`), that colour blurred over
    `sigma` pixels and its luminance over `luma_sigma` (see `soften_detail`); RGB uint8, rounded once."""
    if detail.shape != frame.shape:
        raise ValueError(f"detail {detail.shape} and frame {frame.shape} differ in shape")
    detail = soften_detail(mix_colors(detail, amount), sigma, luma_sigma)
    return np.clip(frame.astype(np.float32) + detail + 0.5, 0, 255).astype(np.uint8)


def keep_colors(dreamt: np.ndarray, frame: np.ndarray, amount: float) -> np.ndarray:
    """The dream (RGB uint8 (H, W, 3)) of `frame` (same shape) with `amount` of the dream's own
    colour (see `lay_detail`); RGB uint8."""
    if dreamt.shape != frame.shape:
        raise ValueError(f"dream {dreamt.shape} and frame {frame.shape} differ in shape")
    if amount == 1.0:
        return dreamt
    return lay_detail(frame, dreamt.astype(np.float32) - frame, amount)

"""Where frames come from. Frames are RGB uint8 arrays (H, W, 3).

Still images are read here; video files and cameras join as Source classes.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .errors import UsageError


def read_image(path: str | Path) -> np.ndarray:
    """RGB uint8 (H, W, 3) of a PNG, JPEG or WebP file, upright by its EXIF orientation.

    Alpha is dropped and 16-bit or grey files are brought to 8-bit RGB. UsageError when the file
    is missing or is not an image OpenCV can decode.
    """
    path = Path(path)
    if not path.exists():
        raise UsageError(f"input {path} does not exist")
    if not path.is_file():
        raise UsageError(f"input {path} is not a file")
    # np.fromfile + imdecode reads any path spelling; imdecode applies EXIF orientation
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise UsageError(f"input {path} is not an image OpenCV can read; use a PNG, JPEG or WebP file")
    return np.ascontiguousarray(image[:, :, ::-1])


def fit_width(image: np.ndarray, width: int | None) -> np.ndarray:
    """`image` rescaled to `width` pixels wide keeping the aspect (height at least 1), or as is."""
    if width is None or width == image.shape[1]:
        return image
    height = max(1, round(image.shape[0] * width / image.shape[1]))
    interpolation = cv2.INTER_AREA if width < image.shape[1] else cv2.INTER_CUBIC
    return cv2.resize(image, (width, height), interpolation=interpolation)


def noise_image(width: int, height: int, seed: int = 0) -> np.ndarray:
    """Soft colour noise, RGB uint8 (height, width, 3): blurred noise at a few scales, so a dream
    started from it has shapes to grow from rather than per-pixel static."""
    if width < 1 or height < 1:
        raise ValueError(f"noise size must be positive, got {width}x{height}")
    rng = np.random.default_rng(seed)
    image = np.zeros((height, width, 3), np.float32)
    for cells, weight in ((4, 0.5), (16, 0.3), (64, 0.2)):
        small = rng.random((max(1, height * cells // max(height, width)), cells, 3), dtype=np.float32)
        image += weight * cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    return (image.clip(0, 1) * 255).round().astype(np.uint8)


def parse_noise(spec: str, default: tuple[int, int] = (640, 360)) -> tuple[int, int] | None:
    """`noise` or `noise:WxH` -> (width, height); None for anything else."""
    if spec == "noise":
        return default
    if spec.startswith("noise:"):
        try:
            w, h = (int(v) for v in spec[len("noise:"):].lower().split("x"))
        except ValueError:
            raise UsageError(f"cannot read '{spec}'; write noise:WIDTHxHEIGHT, e.g. noise:640x360") from None
        if w < 16 or h < 16:
            raise UsageError(f"'{spec}' is too small; use at least 16x16")
        return w, h
    return None

"""Where dreamt frames go. Frames are RGB uint8 arrays (H, W, 3).

Every file is written to a temporary name beside the output and renamed into place, so a
failed or interrupted run never leaves half a file under the output's name.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from .errors import RunError, UsageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def check_output(output: str | Path, inputs=(), overwrite: bool = False, suffixes=None) -> Path:
    """Refuse, before any work, an output that would overwrite an input, clobber a file without
    --overwrite, land in a missing folder or have a suffix we cannot write."""
    output = Path(output)
    if suffixes and output.suffix.lower() not in suffixes:
        raise UsageError(f"output {output} must end in one of {', '.join(suffixes)}")
    for source in inputs:
        if source is not None and Path(source).exists() and output.exists() and output.samefile(source):
            raise UsageError(f"output {output} is the input; inputs are never written, choose another name")
    if output.is_dir():
        raise UsageError(f"output {output} is a folder; give a file name")
    if output.exists() and not overwrite:
        raise UsageError(f"output {output} exists; pass --overwrite to replace it")
    if not output.parent.is_dir():
        raise UsageError(f"output folder {output.parent} does not exist")
    return output


@contextmanager
def atomic_path(output: str | Path):
    """A temporary path beside `output`; renamed onto it only when the block succeeds."""
    output = Path(output)
    fd, tmp = tempfile.mkstemp(prefix=f".{output.stem}.", suffix=f".part{output.suffix}", dir=output.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, output)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_image(image: np.ndarray, output: str | Path) -> None:
    """Write RGB uint8 (H, W, 3) as PNG, JPEG (quality 95) or WebP by the output's suffix."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"write_image expects uint8 (H, W, 3), got {image.dtype} {image.shape}")
    output = Path(output)
    suffix = output.suffix.lower()
    params = {".jpg": [cv2.IMWRITE_JPEG_QUALITY, 95], ".jpeg": [cv2.IMWRITE_JPEG_QUALITY, 95],
              ".webp": [cv2.IMWRITE_WEBP_QUALITY, 95]}.get(suffix, [])
    ok, data = cv2.imencode(suffix, np.ascontiguousarray(image[:, :, ::-1]), params)
    if not ok:
        raise RunError(f"could not encode {output} as {suffix}")
    with atomic_path(output) as tmp:
        try:
            data.tofile(tmp)
        except OSError as exc:
            raise RunError(f"could not write {output}: {exc.strerror}") from None

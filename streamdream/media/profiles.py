"""A picture's colours in sRGB, whatever ICC profile its file embeds: a phone's Display P3 photo
or a camera's Adobe RGB one read as if it were sRGB comes out duller than a colour-managed viewer
shows it, and the dream written from it (files are written untagged, which viewers take as sRGB)
duller still."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np


def embedded_profile(path: Path) -> bytes | None:
    """The ICC profile a picture file embeds, or None (no profile, or no file Pillow reads)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return image.info.get("icc_profile") or None
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def to_srgb(image: np.ndarray, profile: bytes | None) -> np.ndarray:
    """`image` (H, W, 3) RGB uint8 in the colours of the ICC `profile`, converted to sRGB
    (relative colorimetric, as browsers show it). As it is with no profile, an sRGB one, one
    that is not an RGB profile (a CMYK JPEG's: the decoder has made it RGB already), or one
    littleCMS cannot read."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3), got {image.shape}")
    if not profile:
        return image
    from PIL import Image, ImageCms

    try:
        given = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        if given.profile.xcolor_space.strip() != "RGB" or "srgb" in (given.profile.profile_description or "").lower():
            return image
        transform = ImageCms.buildTransform(given, ImageCms.createProfile("sRGB"), "RGB", "RGB",
                                            renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC)
        return np.asarray(ImageCms.applyTransform(Image.fromarray(np.ascontiguousarray(image)), transform))
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image

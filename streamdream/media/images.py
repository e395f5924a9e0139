"""Still pictures: reading (upright, 8-bit RGB), soft noise to dream from, sizes, and writing
PNG, JPEG and WebP through an atomic rename."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import RunError, UsageError
from ..frames import MIN_SIDE
from .outputs import DISK_FULL, atomic_path, free_mb
from .profiles import embedded_profile, to_srgb

# beyond this even the frame's own copies (the dream is tiled, see engine/gradient.py) outgrow a laptop's memory
MAX_PIXELS = 40_000_000
# a picture is read whole before `width` rescales it: past this its pixels alone take gigabytes
MAX_DECODE_PIXELS = 120_000_000


def input_file(path: str | Path, role: str = "input") -> Path:
    """`path` as a Path; UsageError when it is missing or not a file. Inputs are only ever read."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{role} {path} does not exist")
    if not path.is_file():
        raise UsageError(f"{role} {path} is not a file")
    return path


def check_header(path: Path, role: str) -> None:
    """UsageError when an image file's header says it is too large to read, before a pixel of
    it is decoded (Pillow's lazy open). A format Pillow does not know is left to OpenCV."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            width, height = image.size
    except Image.DecompressionBombError:
        width = height = None  # Pillow refuses it for its size alone
    except (UnidentifiedImageError, OSError, ValueError):
        return
    if width is None or width * height > MAX_DECODE_PIXELS:
        size = "" if width is None else f" is {width}x{height} and"
        raise UsageError(f"{role} {path}{size} has too many pixels to read (at most {MAX_DECODE_PIXELS // 10**6} "
                         f"million); give a smaller picture")


def read_image(path: str | Path, role: str = "input") -> np.ndarray:
    """RGB uint8 (H, W, 3) of a picture file (PNG, JPEG, WebP, TIFF, ...: what OpenCV decodes, then
    what Pillow does, HEIF with the extra), upright by its EXIF orientation, in sRGB (converted
    from the colour profile it embeds, see `profiles`).

    Alpha is dropped (see `read_alpha`) and 16-bit or grey files are brought to 8-bit RGB.
    UsageError when the file is missing or is not a picture either can decode.
    """
    path = input_file(path, role)
    check_header(path, role)
    # np.fromfile + imdecode reads any path spelling; imdecode applies EXIF orientation
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None and is_heif(data):
        _heif_opener(path, role)
        check_header(path, role)  # Pillow reads a HEIF header now
        return _read_heif(path, role)
    if image is None:
        return _read_pillow(path, role)
    return to_srgb(np.ascontiguousarray(image[:, :, ::-1]), embedded_profile(path))


def _read_pillow(path: Path, role: str) -> np.ndarray:
    # the pictures OpenCV does not decode and Pillow does: a 3D or VFX render's Targa, a Photoshop
    # file's flattened picture, QOI, SGI, DDS, PCX, an icon
    from PIL import Image, ImageOps, UnidentifiedImageError

    kind = None
    try:
        with Image.open(path) as picture:
            kind = picture.format
            upright = ImageOps.exif_transpose(picture)
            rgb, profile = np.array(upright.convert("RGB")), picture.info.get("icc_profile")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        if kind is not None:
            # its header reads: most often a download or a copy that stopped before the end
            raise UsageError(f"{role} {path} is a {kind} picture that cannot be decoded to its end, cut off or "
                             f"damaged ({exc}); copy or download it again") from None
        raise UsageError(f"{role} {path} is not an image OpenCV or Pillow can read; "
                         f"use a PNG, JPEG or WebP file") from None
    return to_srgb(np.ascontiguousarray(rgb), profile)


# the brands a HEIF file (a phone's .heic) names first, where OpenCV reads only AVIF's
HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")


def is_heif(data: np.ndarray) -> bool:
    """Whether a file's bytes (uint8) begin as a HEIF picture's do."""
    head = data[:12].tobytes()
    return len(head) == 12 and head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS


def _heif_opener(path: Path, role: str) -> None:
    try:
        import pillow_heif
    except ImportError:
        raise UsageError(f"{role} {path} is a HEIF picture (a phone's .heic), which needs pillow-heif: "
                         f"pip install 'streamdream[heif]', or convert it to JPEG") from None
    pillow_heif.register_heif_opener()


def _read_heif(path: Path, role: str) -> np.ndarray:
    # pillow-heif turns the picture upright itself (its orientation is in the file, as EXIF is)
    from PIL import Image

    try:
        with Image.open(path) as picture:
            rgb, profile = np.array(picture.convert("RGB")), picture.info.get("icc_profile")
    except (OSError, ValueError, RuntimeError) as exc:
        raise UsageError(f"{role} {path} is a HEIF picture that cannot be decoded ({exc})") from None
    return to_srgb(np.ascontiguousarray(rgb), profile)


def load_guide(cfg) -> np.ndarray | None:
    """The guide picture a DreamConfig names (RGB uint8), or None when it names none."""
    return read_image(cfg.guide, "guide") if cfg.guide else None


def fitted_size(height: int, width: int, wanted: int | None) -> tuple[int, int]:
    """(height, width) of a picture rescaled to `wanted` pixels wide keeping the aspect."""
    if wanted is None or wanted == width:
        return height, width
    return max(1, round(height * wanted / width)), wanted


def width_within(width: int, height: int, longest: int) -> int:
    """The width a `width` x `height` picture is rescaled to so that its longer side is `longest`,
    keeping the aspect: `longest` itself for a landscape or square picture, less for a portrait
    one (at least 1)."""
    if width < 1 or height < 1 or longest < 1:
        raise ValueError(f"need a positive size and longest side, got {width}x{height} and {longest}")
    return longest if width >= height else max(1, round(longest * width / height))


def fit_width(image: np.ndarray, width: int | None) -> np.ndarray:
    """`image` rescaled to `width` pixels wide keeping the aspect (height at least 1), or as is."""
    if width is None:
        return image
    return fit_size(image, width, fitted_size(image.shape[0], image.shape[1], width)[0])


def fit_size(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """`image` (H, W, C) rescaled to `width` x `height`, or as is when it is that size already."""
    if (height, width) == image.shape[:2]:
        return image
    shrinking = width * height < image.shape[0] * image.shape[1]
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


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


def parse_size(text: str, example: str = "640x360") -> tuple[int, int]:
    """'WIDTHxHEIGHT' -> (width, height), both positive; UsageError naming `text` otherwise."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"cannot read size '{text}'; write WIDTHxHEIGHT, e.g. {example}") from None
    if w < 1 or h < 1:
        raise UsageError(f"size '{text}' must be positive")
    return w, h


def parse_noise(spec: str, default: tuple[int, int] = (640, 360)) -> tuple[int, int] | None:
    """`noise` or `noise:WxH` -> (width, height); None for anything else."""
    if spec == "noise":
        return default
    if spec.startswith("noise:"):
        w, h = parse_size(spec[len("noise:"):], "noise:640x360")
        check_size(h, w, f"'{spec}'", setting=None)
        return w, h
    return None


def check_size(height: int, width: int, where: str, setting: str | None = "width") -> None:
    """UsageError when a frame is too small to dream (any job: the same MIN_SIDE) or too large
    to hold in memory. Call it before making the frame. `setting` is what fixes it: `width`
    rescales an input; another name is the setting the size itself was given as; None: the
    size was given in the text `where` names."""
    if min(height, width) < MIN_SIDE:
        if setting == "width":
            fix = f"set `width` to {max(64, -(-MIN_SIDE * width // max(1, min(height, width))))} to scale it up"
        else:
            fix = f"give at least {MIN_SIDE}x{MIN_SIDE}" + (f" as `{setting}`" if setting else "")
        raise UsageError(f"{where} is {width}x{height}, smaller than {MIN_SIDE} pixels a side; {fix}", setting=setting)
    if height * width > MAX_PIXELS:
        fix = "set `width` to 1920 (or smaller) to rescale it first" if setting == "width" else \
            "give a smaller size" + (f" as `{setting}`" if setting else "")
        raise UsageError(f"{where} is {width}x{height}, too large to dream in memory; {fix}", setting=setting)


def start_picture(spec: str, width: int | None, seed: int, where: str, default: tuple[int, int] = (640, 360)) -> np.ndarray:
    """The picture a job starts from, RGB uint8: an image file, or soft noise for `noise`
    (`default` size) or `noise:WxH`; rescaled to `width` when given. A size too small or too
    large is refused before the picture is made."""
    size = None if Path(spec).exists() else parse_noise(spec, default)
    if size is not None:
        check_size(*fitted_size(size[1], size[0], width), where)
        picture = noise_image(*size, seed=seed)
    else:
        picture = read_image(spec)
    check_size(*fitted_size(*picture.shape[:2], width), where)
    return fit_width(picture, width)


def read_alpha(path: str | Path, width: int | None) -> np.ndarray | None:
    """The transparency of a picture file, (H, W) uint8 (255 opaque), upright and rescaled to
    `width` as `start_picture` turns and rescales its colours; None where the file has none, or
    where every pixel is opaque. A cut-out (a sticker, a logo, a person lifted off their
    background) is dreamt within its outline and keeps it."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as picture:
            if picture.mode not in ("RGBA", "LA", "PA", "La", "RGBa") and "transparency" not in picture.info:
                return None
            alpha = np.asarray(ImageOps.exif_transpose(picture).convert("RGBA"))[:, :, 3]
    except (OSError, ValueError):
        return None  # (the colours were read: a picture Pillow cannot open is taken as opaque)
    if alpha.min() == 255:
        return None
    return fit_width(np.ascontiguousarray(alpha), width)


def write_image(image: np.ndarray, output: str | Path) -> None:
    """Write RGB uint8 (H, W, 3) as PNG, JPEG (quality 95) or WebP by the output's suffix; RGBA
    (H, W, 4) as PNG or WebP."""
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.dtype != np.uint8:
        raise ValueError(f"write_image expects uint8 (H, W, 3 or 4), got {image.dtype} {image.shape}")
    output = Path(output)
    suffix = output.suffix.lower()
    if image.shape[2] == 4 and suffix not in (".png", ".webp"):
        raise ValueError(f"{suffix} has no alpha channel: write RGBA as .png or .webp")
    params = {".jpg": [cv2.IMWRITE_JPEG_QUALITY, 95], ".jpeg": [cv2.IMWRITE_JPEG_QUALITY, 95],
              ".webp": [cv2.IMWRITE_WEBP_QUALITY, 95]}.get(suffix, [])
    bgr = image[:, :, [2, 1, 0, 3][:image.shape[2]]]
    ok, data = cv2.imencode(suffix, np.ascontiguousarray(bgr), params)
    if not ok:
        raise RunError(f"could not encode {output} as {suffix}")
    with atomic_path(output) as tmp:
        try:
            data.tofile(tmp)
        except OSError as exc:
            reason = exc.strerror or "only part of it could be written"
            if exc.errno in DISK_FULL or exc.errno is None:
                reason += f"; {output.parent} has {free_mb(output.parent):.1f} MB free and the image needs " \
                          f"{data.size / 1e6:.1f} MB"
            raise RunError(f"could not write {output}: {reason}") from None

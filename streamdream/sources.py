"""Where frames come from. Frames are RGB uint8 arrays (H, W, 3), upright.

Still images and soft noise are functions; a video file is a `VideoFileSource` that yields
`Frame`s (the pixels with their time) and remembers what a sink needs to keep the timing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from .errors import UsageError

MAX_PIXELS = 40_000_000  # beyond this a frame's activations and gradients outgrow a laptop's memory


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
        if w < 16 or h < 16:
            raise UsageError(f"'{spec}' is too small; use at least 16x16")
        return w, h
    return None


def check_size(height: int, width: int, where: str) -> None:
    """UsageError naming --width when a frame is too large to dream in memory."""
    if height * width > MAX_PIXELS:
        raise UsageError(f"{where} is {width}x{height}, too large to dream in memory; "
                         f"pass --width 1920 (or smaller) to rescale it first")


@dataclass(frozen=True)
class Frame:
    """One upright RGB uint8 frame (H, W, 3), its time in seconds from the source's start, its index."""

    image: np.ndarray
    time: float
    index: int


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int  # of the frames this source yields (upright, after --width)
    height: int
    rate: Fraction  # nominal frame rate, exact (30000/1001 stays 30000/1001)
    time_base: Fraction  # the input stream's, so variable-rate timestamps survive
    frames: int | None  # expected frame count, when the container says
    start: float  # seconds skipped at the start (--start)
    has_audio: bool
    rotation: int  # degrees the input's display matrix turned the picture (undone in the frames)


def _open_container(path: Path):
    import av

    if not path.exists():
        raise UsageError(f"input {path} does not exist")
    if not path.is_file():
        raise UsageError(f"input {path} is not a file")
    if path.stat().st_size == 0:
        raise UsageError(f"input {path} is empty")
    try:
        return av.open(str(path), mode="r")
    except av.error.FFmpegError as exc:
        raise UsageError(f"input {path} is not a video file FFmpeg can read ({exc.strerror or exc})") from None


def upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """Undo a display-matrix rotation (degrees counterclockwise, a multiple of 90)."""
    turns = round(rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(image, turns)) if turns else image


class VideoFileSource:
    """Frames of a video file, decoded with PyAV on FFmpeg's own threads.

    Corrupt packets are skipped and counted in `corrupt` (once the file has been read to its
    end); a file cut short ends early and sets `truncated`. The file is opened read-only.
    """

    def __init__(self, path: str | Path, width: int | None = None, start: float = 0.0,
                 max_frames: int | None = None):
        self.path = Path(path)
        if start < 0:
            raise UsageError(f"--start must be 0 or more seconds, got {start}")
        if max_frames is not None and max_frames < 1:
            raise UsageError(f"--frames must be at least 1, got {max_frames}")
        self.container = _open_container(self.path)
        if not self.container.streams.video:
            kind = "audio only" if self.container.streams.audio else "no streams FFmpeg can decode"
            self.container.close()
            raise UsageError(f"input {self.path} has no video stream ({kind}); give a video file")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"
        self.width_wanted = width
        self.max_frames = max_frames
        self.start = start
        self.corrupt = 0
        self.truncated = False
        self.finished = False  # read to the end of the file (not stopped by --frames)
        self.yielded = 0
        ctx = self.stream.codec_context
        rotation = self._rotation()
        w, h = (ctx.height, ctx.width) if rotation % 180 else (ctx.width, ctx.height)
        if not w or not h:
            self.container.close()
            raise UsageError(f"input {self.path} has a video stream with no picture size; is the file damaged?")
        if width:
            w, h = width, max(2, round(h * width / w))
        check_size(h, w, f"input {self.path}")
        rate = self.stream.average_rate or self.stream.guessed_rate or self.stream.base_rate or Fraction(25)
        duration = self._duration()
        frames = self.stream.frames or (math.floor(duration * rate) if duration else None)
        if frames is not None and start:
            frames = max(0, frames - math.floor(start * rate))
        if frames is not None and max_frames:
            frames = min(frames, max_frames)
        if duration is not None and start >= duration:
            self.container.close()
            raise UsageError(f"--start {start} is past the end of {self.path} ({duration:.2f} s)")
        self.info = VideoInfo(self.path, w, h, Fraction(rate), Fraction(self.stream.time_base or Fraction(1, 90000)),
                              frames, start, bool(self.container.streams.audio), rotation)

    def _rotation(self) -> int:
        # PyAV shows the display matrix on decoded frames: peek at the first one in a second
        # handle, so this one still starts at the beginning
        import av

        try:
            with av.open(str(self.path)) as peek:
                for frame in peek.decode(video=0):
                    return int(round(frame.rotation or 0))
        except av.error.FFmpegError:
            pass
        return 0

    def _duration(self) -> float | None:
        if self.stream.duration and self.stream.time_base:
            return float(self.stream.duration * self.stream.time_base)
        if self.container.duration:
            return self.container.duration / 1_000_000
        return None

    def _decoded(self) -> Iterator:
        import av

        if self.start > 0:
            self.container.seek(int(self.start / self.stream.time_base), stream=self.stream)
        packets = self.container.demux(self.stream)
        sent = decoded = 0
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.error.FFmpegError:
                self.truncated = True
                break
            sent += 1 if packet.size else 0
            try:
                for frame in packet.decode():
                    decoded += 1
                    yield frame
            except av.error.FFmpegError:
                self.corrupt += 1
        # A damaged packet often decodes to nothing rather than an error (the decoder waits for
        # the next keyframe): count the pictures that never came out as skipped too.
        self.corrupt = max(self.corrupt, sent - decoded)
        self.finished = True

    def frames(self) -> Iterator[Frame]:
        """Upright RGB frames from --start on, at most --frames of them, with their times."""
        first_time = None
        index = 0
        for frame in self._decoded():
            time = float(frame.pts * frame.time_base) if frame.pts is not None and frame.time_base else None
            if time is None:
                time = (first_time or 0.0) + index / float(self.info.rate)
            if time < self.start - 1e-6:
                continue  # decoded from the keyframe before --start
            if first_time is None:
                first_time = time
            image = upright(frame.to_ndarray(format="rgb24"), self.info.rotation)
            image = fit_width(image, self.width_wanted)
            yield Frame(image, time - self.start, index)
            index += 1
            self.yielded = index
            if self.max_frames and index >= self.max_frames:
                return

    @property
    def missing(self) -> int:
        """Frames the container promised that never decoded (damage the decoder kept quiet about)."""
        if not self.finished or not self.info.frames:
            return 0
        missing = self.info.frames - self.yielded
        return missing if missing > max(1, self.info.frames // 100) else 0

    def close(self) -> None:
        self.container.close()

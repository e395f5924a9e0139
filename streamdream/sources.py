"""Where frames come from. Frames are RGB uint8 arrays (H, W, 3), upright.

Still images and soft noise are functions; a video file is a `VideoFileSource` that yields
`Frame`s (the pixels with their time) and remembers what a sink needs to keep the timing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator, Protocol

import cv2
import numpy as np

from .errors import UsageError

# beyond this even the frame's own copies (the dream is tiled, see dream.py) outgrow a laptop's memory
MAX_PIXELS = 40_000_000
MIN_SIDE = 32  # below this the deeper layers have nothing left to dream in, and optical flow fails


def read_image(path: str | Path, role: str = "input") -> np.ndarray:
    """RGB uint8 (H, W, 3) of a PNG, JPEG or WebP file, upright by its EXIF orientation.

    Alpha is dropped and 16-bit or grey files are brought to 8-bit RGB. UsageError when the file
    is missing or is not an image OpenCV can decode.
    """
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{role} {path} does not exist")
    if not path.is_file():
        raise UsageError(f"{role} {path} is not a file")
    # np.fromfile + imdecode reads any path spelling; imdecode applies EXIF orientation
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise UsageError(f"{role} {path} is not an image OpenCV can read; use a PNG, JPEG or WebP file")
    return np.ascontiguousarray(image[:, :, ::-1])


def load_guide(cfg) -> np.ndarray | None:
    """The guide picture a DreamConfig names (RGB uint8), or None when it names none."""
    return read_image(cfg.guide, "guide") if cfg.guide else None


def fitted_size(height: int, width: int, wanted: int | None) -> tuple[int, int]:
    """(height, width) of a picture rescaled to `wanted` pixels wide keeping the aspect."""
    if wanted is None or wanted == width:
        return height, width
    return max(1, round(height * wanted / width)), wanted


def fit_width(image: np.ndarray, width: int | None) -> np.ndarray:
    """`image` rescaled to `width` pixels wide keeping the aspect (height at least 1), or as is."""
    if width is None or width == image.shape[1]:
        return image
    height = fitted_size(image.shape[0], image.shape[1], width)[0]
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
        check_size(h, w, f"'{spec}'", flag=None)
        return w, h
    return None


def check_size(height: int, width: int, where: str, flag: str | None = "--width") -> None:
    """UsageError when a frame is too small to dream (any command: the same MIN_SIDE) or too
    large to hold in memory. Call it before making the frame. `flag` is the option that fixes
    it (--width rescales an input; None: the size itself was given)."""
    if min(height, width) < MIN_SIDE:
        if flag == "--width":
            fix = f"pass --width {max(64, -(-MIN_SIDE * width // max(1, min(height, width))))} to scale it up"
        else:
            fix = f"give at least {MIN_SIDE}x{MIN_SIDE}" + (f" with {flag}" if flag else "")
        raise UsageError(f"{where} is {width}x{height}, smaller than {MIN_SIDE} pixels a side; {fix}")
    if height * width > MAX_PIXELS:
        fix = "pass --width 1920 (or smaller) to rescale it first" if flag == "--width" else \
            "give a smaller size" + (f" with {flag}" if flag else "")
        raise UsageError(f"{where} is {width}x{height}, too large to dream in memory; {fix}")


@dataclass(frozen=True)
class Frame:
    """One upright RGB uint8 frame (H, W, 3), its time in seconds from the source's start, its index,
    and for live sources the `time.perf_counter()` it was captured at (for latency)."""

    image: np.ndarray
    time: float
    index: int
    captured: float | None = None


class Source(Protocol):
    """Where a run's frames come from. `live` sources deliver in real time (the run keeps only the
    newest frame); the others are read as fast as the run takes them, every frame."""

    live: bool

    def frames(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...


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


def _open_container(path: Path, role: str = "input"):
    import av

    if not path.exists():
        raise UsageError(f"{role} {path} does not exist")
    if not path.is_file():
        raise UsageError(f"{role} {path} is not a file")
    if path.stat().st_size == 0:
        raise UsageError(f"{role} {path} is empty")
    try:
        return av.open(str(path), mode="r")
    except av.error.FFmpegError as exc:
        raise UsageError(f"{role} {path} is not a video file FFmpeg can read ({exc.strerror or exc})") from None


def upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """Undo a display-matrix rotation (degrees counterclockwise, a multiple of 90)."""
    turns = round(rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(image, turns)) if turns else image


class VideoFileSource:
    """Frames of a video file, decoded with PyAV on FFmpeg's own threads.

    Corrupt packets are skipped and counted in `corrupt` (once the file has been read to its
    end); a file cut short ends early and sets `truncated`. The file is opened read-only.
    """

    live = False

    def __init__(self, path: str | Path, width: int | None = None, start: float = 0.0,
                 max_frames: int | None = None, role: str = "input"):
        self.path = Path(path)
        self.skip_to: tuple[float, int] | None = None  # see `continue_at`
        if start < 0:
            raise UsageError(f"--start must be 0 or more seconds, got {start}")
        if max_frames is not None and max_frames < 1:
            raise UsageError(f"--frames must be at least 1, got {max_frames}")
        self.container = _open_container(self.path, role)
        if not self.container.streams.video:
            kind = "audio only" if self.container.streams.audio else "no streams FFmpeg can decode"
            self.container.close()
            raise UsageError(f"{role} {self.path} has no video stream ({kind}); give a video file")
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
            raise UsageError(f"{role} {self.path} has a video stream with no picture size; is the file damaged?")
        if width:
            w, h = width, max(2, round(h * width / w))
        check_size(h, w, f"{role} {self.path}")
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

    def continue_at(self, time: float, index: int) -> None:
        """Start at the frame shown at `time` seconds (from --start), numbering it `index`: a
        resumed run picks up where its partial output ends."""
        self.skip_to = (time, index)

    def _decoded(self) -> Iterator:
        import av

        seek = self.start + (self.skip_to[0] if self.skip_to else 0.0)
        if seek > 0:
            self.container.seek(int(seek / self.stream.time_base), stream=self.stream)
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
        index = self.skip_to[1] if self.skip_to else 0
        # a frame counts as the one asked for when within half a frame of its time
        earliest = self.start + (self.skip_to[0] - 0.5 / float(self.info.rate) if self.skip_to else -1e-6)
        for frame in self._decoded():
            time = float(frame.pts * frame.time_base) if frame.pts is not None and frame.time_base else None
            if time is None:
                time = (first_time or 0.0) + index / float(self.info.rate)
            if time < earliest:
                continue  # decoded from the keyframe before --start (or before the resume point)
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


# --- live sources: frames in real time, for `webcam` ---------------------------------------------

class CameraLost(Exception):
    """A live source stopped delivering: unplugged, stalled, or frozen on one frame."""


def _pace(start: float, at: float) -> float:
    """Sleep until `at` seconds after `start` (perf_counter); return the capture clock."""
    import time

    delay = start + at - time.perf_counter()
    if delay > 0:
        time.sleep(delay)
    return time.perf_counter()


def _sprite(size: int, seed: int, shape: str) -> tuple[np.ndarray, np.ndarray]:
    """A textured sprite (size, size, 3) float32 and its alpha (size, size, 1) for the test scene."""
    rng = np.random.default_rng(seed)
    texture = noise_image(size, size, seed).astype(np.float32)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    stripes = 60 * np.sin((x * rng.uniform(8, 20) + y * rng.uniform(-10, 10)) * np.pi)[..., None]
    texture = (texture * 0.8 + stripes + rng.uniform(0, 255, 3) * 0.3).clip(0, 255)
    if shape == "disc":
        inside = x**2 + y**2 < 0.22
    elif shape == "square":
        inside = (abs(x) < 0.4) & (abs(y) < 0.4)
    else:  # a triangle
        inside = (y < 0.4) & (abs(x) < (y + 0.45) * 0.5)
    alpha = cv2.GaussianBlur(inside.astype(np.float32), (0, 0), max(0.5, size / 60))[..., None]
    return texture, alpha


class SyntheticSource:
    """A built-in synthetic scene, so every live feature runs without a camera: textured shapes
    (a disc, a square, a triangle), turning on curved paths at 2-6 px/frame (at 320 wide) over a
    textured, slowly drifting background. Delivered in real time at `fps` (`realtime=False`: as
    fast as read, for tests). `still_after` seconds in, the shapes stop for `still_for` seconds,
    so an installation's stillness can be seen too.
    """

    live = True

    def __init__(self, width: int = 640, height: int | None = None, fps: float = 30.0, frames: int | None = None,
                 realtime: bool = True, still_after: float | None = None, still_for: float = 0.0):
        height = height or max(2, round(width * 9 / 16 / 2) * 2)
        if width < 32 or height < 32:
            raise UsageError(f"the test scene needs at least 32x32, got {width}x{height}")
        check_size(height, width, "the test scene")
        self.width, self.height, self.fps = width, height, float(fps)
        self.count, self.realtime = frames, realtime
        self.still_after, self.still_for = still_after, still_for
        pad = width // 8
        big = noise_image(width + 2 * pad, height + 2 * pad, seed=11).astype(np.float32)
        yy, xx = np.mgrid[0:height + 2 * pad, 0:width + 2 * pad].astype(np.float32)
        big += 40 * (np.sin(xx / 9.0) * np.cos(yy / 13.0))[..., None]
        self.background, self.pad = big.clip(0, 255), pad
        side = max(12, min(width, height) // 3)
        self.sprites = [_sprite(side, seed, shape) for seed, shape in ((1, "disc"), (2, "square"), (3, "triangle"))]
        self.info = f"the built-in test scene, {width}x{height} at {self.fps:g} fps"

    def scene_time(self, t: float) -> float:
        """Time along the shapes' paths: it stands still from `still_after` for `still_for` s."""
        if self.still_after is None or t < self.still_after:
            return t
        return t - min(t - self.still_after, self.still_for)

    def render(self, t: float) -> np.ndarray:
        """The scene at `t` seconds: RGB uint8 (height, width, 3)."""
        t = self.scene_time(t)
        w, h, pad = self.width, self.height, self.pad
        ox = int(round(pad + pad * 0.8 * math.sin(t * 0.21)))
        oy = int(round(pad + pad * 0.8 * math.sin(t * 0.17 + 1.0)))
        frame = self.background[oy:oy + h, ox:ox + w].copy()
        for i, (texture, alpha) in enumerate(self.sprites):
            side = texture.shape[0]
            # Lissajous paths: up to ~6 px a frame at 30 fps on a 320-wide frame
            cx = w / 2 + (w / 2 - side / 2) * math.sin(t * (0.9 + 0.35 * i) + i * 2.1)
            cy = h / 2 + (h / 2 - side / 2) * math.sin(t * (0.7 + 0.25 * i) + i * 1.3)
            angle = math.degrees(t * (0.8 - 0.5 * i))
            turn = cv2.getRotationMatrix2D((side / 2, side / 2), angle, 1.0)
            tex = cv2.warpAffine(texture, turn, (side, side), borderMode=cv2.BORDER_REFLECT)
            alp = cv2.warpAffine(alpha, turn, (side, side))[..., None]
            x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
            xs, ys = slice(max(0, x0), min(w, x0 + side)), slice(max(0, y0), min(h, y0 + side))
            tx, ty = slice(xs.start - x0, xs.stop - x0), slice(ys.start - y0, ys.stop - y0)
            a = alp[ty, tx]
            frame[ys, xs] = frame[ys, xs] * (1 - a) + tex[ty, tx] * a
        return frame.clip(0, 255).astype(np.uint8)

    def frames(self) -> Iterator[Frame]:
        import itertools
        import time

        start = time.perf_counter()
        for index in itertools.count():
            if self.count is not None and index >= self.count:
                return
            at = index / self.fps
            clock = _pace(start, at) if self.realtime else time.perf_counter()
            yield Frame(self.render(at), at, index, clock)

    def close(self) -> None:
        pass


def _open_capture(device):
    """cv2.VideoCapture for an index, a /dev/video path or a URL (through FFmpeg)."""
    if isinstance(device, str) and "://" in device:
        return cv2.VideoCapture(device, cv2.CAP_FFMPEG)
    return cv2.VideoCapture(device)


class CameraSource:
    """Frames from a camera or a stream (OpenCV), read on their own thread; newest frame wins.

    Asks for MJPG at `width` (16:9) and `fps`, then reads back what the device granted
    (`granted`); frames are rescaled to `width`. A watchdog raises CameraLost from `frames()`
    when no new frame arrives for `stall` seconds, or when only identical frames arrive for
    `frozen` seconds (some backends repeat the last frame after an unplug). `opener` makes the
    capture object (tests pass a fake camera).
    """

    live = True

    def __init__(self, device: int | str, width: int | None = None, fps: float | None = None, stall: float = 3.0,
                 frozen: float = 10.0, opener=_open_capture):
        import threading

        self.device, self.width_wanted, self.stall, self.frozen = device, width, stall, frozen
        self.capture = opener(device)
        if self.capture is None or not self.capture.isOpened():
            if self.capture is not None:
                self.capture.release()
            raise UsageError(f"no camera at {_describe(device)}; list cameras with `streamdream webcam --list`, "
                             f"or pass --source test (the built-in scene), a video file or a URL")
        if not (isinstance(device, str) and "://" in device):
            self.capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))  # full rate over USB 2
            if width:
                self.capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
                self.capture.set(cv2.CAP_PROP_FRAME_HEIGHT, round(width * 9 / 16))
            if fps:
                self.capture.set(cv2.CAP_PROP_FPS, fps)
        gw, gh = int(self.capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self.capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        gfps = float(self.capture.get(cv2.CAP_PROP_FPS) or 0)
        self.granted = (gw, gh, gfps)
        asked = f"asked {width}x{round(width * 9 / 16)}" if width else "asked its default size"
        self.info = (f"camera {_describe(device)}: {gw}x{gh} at {gfps:g} fps ({asked}"
                     f"{' at ' + format(fps, 'g') + ' fps' if fps else ''})")
        self._cond = threading.Condition()
        self._latest: tuple[np.ndarray, float] | None = None
        self._serial = 0
        self._running = True
        self._reader = threading.Thread(target=self._read, name="camera", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        import time

        while self._running:
            ok, image = self.capture.read()
            if not ok or image is None:
                time.sleep(0.01)  # the watchdog in frames() decides when this is a lost camera
                continue
            with self._cond:
                self._latest = (image, time.perf_counter())
                self._serial += 1
                self._cond.notify_all()

    def frames(self) -> Iterator[Frame]:
        import time

        start = time.perf_counter()
        seen, index = 0, 0
        last_new = time.perf_counter()
        last_sum, same_since = None, None
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._serial != seen or not self._running, timeout=0.25)
                if not self._running:
                    return
                fresh = self._serial != seen
                if fresh:
                    seen = self._serial
                    image, clock = self._latest
            now = time.perf_counter()
            if not fresh:
                if now - last_new > self.stall:
                    raise CameraLost(f"{_describe(self.device)} sent no frame for {self.stall:g} s (unplugged?)")
                continue
            last_new = now
            checksum = hash(image[::7, ::7].tobytes())
            if checksum == last_sum:
                same_since = same_since or now
                if now - same_since > self.frozen:
                    raise CameraLost(f"{_describe(self.device)} has sent the same frame for {self.frozen:g} s "
                                     f"(unplugged or frozen?)")
            else:
                last_sum, same_since = checksum, None
            rgb = fit_width(np.ascontiguousarray(image[:, :, ::-1]), self.width_wanted)
            yield Frame(rgb, clock - start, index, clock)
            index += 1

    def close(self) -> None:
        self._running = False
        with self._cond:
            self._cond.notify_all()
        self._reader.join(timeout=2)
        if not self._reader.is_alive():  # releasing under a read that still hangs can crash the backend
            self.capture.release()


def _describe(device) -> str:
    return f"index {device}" if isinstance(device, int) else str(device)


class LoopingFileSource:
    """A video file played in real time at its own rate, over and over: a stand-in camera."""

    live = True

    def __init__(self, path: str | Path, width: int | None = None):
        first = VideoFileSource(path, width)  # checks the file now, so a bad one is a usage error
        self.path, self.width, self.rate = Path(path), width, float(first.info.rate)
        first.close()
        self.info = f"{self.path} ({first.info.width}x{first.info.height} at {self.rate:.3g} fps), looped"

    def frames(self) -> Iterator[Frame]:
        import time

        start = time.perf_counter()
        index = 0
        while True:
            source = VideoFileSource(self.path, self.width)
            count = 0
            try:
                for frame in source.frames():
                    at = index / self.rate
                    yield Frame(frame.image, at, index, _pace(start, at))
                    index += 1
                    count += 1
            finally:
                source.close()
            if count == 0:
                raise CameraLost(f"{self.path} gave no frames to loop")

    def close(self) -> None:
        pass


def open_live_source(spec: str, width: int | None = None, fps: float | None = None, stall: float = 3.0,
                     frozen: float = 10.0, opener=_open_capture):
    """`--source`: test, a camera index (0), /dev/videoN, a URL (rtsp://, http://) or a video file."""
    if spec == "test":
        return SyntheticSource(width or 640, fps=fps or 30.0)
    if spec.isdigit():
        return CameraSource(int(spec), width, fps, stall, frozen, opener)
    if "://" in spec or spec.startswith("/dev/video"):
        return CameraSource(spec, width, fps, stall, frozen, opener)
    if Path(spec).exists():
        return LoopingFileSource(spec, width)
    raise UsageError(f"--source {spec} is not a camera index, a /dev/video device, a URL or an existing file; "
                     f"try --source 0 (the first camera) or --source test")


def list_cameras(limit: int = 10, opener=_open_capture) -> list[str]:
    """One line for each camera index that opens: its index and the size it starts at."""
    found = []
    for index in range(limit):
        capture = opener(index)
        try:
            if capture is not None and capture.isOpened():
                w, h = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
                found.append(f"--source {index}: {w}x{h}")
        finally:
            if capture is not None:
                capture.release()
    return found


class ReconnectingSource:
    """A live source that outlives its camera (installation mode): when the camera is lost it is
    reopened with `open_source`, waiting 1, 2, 4 ... up to `retry_max` seconds between tries, and
    frames carry on from where they were. The first open is not retried: a wrong --source is a
    usage error at once."""

    live = True

    def __init__(self, open_source, retry_max: float = 30.0, warn=lambda message: None):
        self.open_source, self.retry_max, self.warn = open_source, retry_max, warn
        self.current = open_source()
        self.info = self.current.info
        self._closed = False

    def frames(self) -> Iterator[Frame]:
        import time

        start, index = time.perf_counter(), 0
        while not self._closed:
            wait = min(1.0, self.retry_max)
            try:
                for frame in self.current.frames():
                    clock = frame.captured if frame.captured is not None else time.perf_counter()
                    yield Frame(frame.image, clock - start, index, clock)
                    index += 1
                message = "the source ended"
            except CameraLost as exc:
                message = str(exc)
            self.current.close()
            self.current = None
            while self.current is None and not self._closed:
                self.warn(f"camera lost ({message}); trying again in {wait:g} s")
                time.sleep(wait)
                wait = min(wait * 2, self.retry_max)
                try:
                    self.current = self.open_source()
                    self.warn(f"camera back: {self.current.info}")
                except (UsageError, CameraLost) as exc:
                    message = str(exc)

    def close(self) -> None:
        self._closed = True
        if self.current is not None:
            self.current.close()

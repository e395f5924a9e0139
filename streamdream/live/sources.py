"""What `webcam --source` opens: a camera, a URL, a looped file or the test scene; and the
installation's source that outlives its camera."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ..errors import UsageError
from ..frames import Frame
from ..media.images import fitted_size, width_within
from ..media.video_in import VideoFileSource
from .camera import CameraLost, CameraSource, open_capture, pace
from .scene import SyntheticSource


class LoopingFileSource:
    """A video file played in real time at its own rate, over and over: a stand-in camera."""

    live = True

    def __init__(self, path: str | Path, width: int | None = None, longest: int | None = None):
        """Frames `width` wide, or with no width their longer side `longest` (or as they are)."""
        first = VideoFileSource(path, width)  # checks the file now, so a bad one is a usage error
        first.close()
        w, h = first.info.width, first.info.height
        if width is None and longest is not None:
            width = width_within(w, h, longest)
            h, w = fitted_size(h, w, width)
        self.path, self.width, self.rate = Path(path), width, float(first.info.rate)
        self.info = f"{self.path} ({w}x{h} at {self.rate:.3g} fps), looped"

    def frames(self) -> Iterator[Frame]:
        """The file's frames in real time, looped. A file that goes away, is cut short or stops
        decoding mid-show is a lost camera (CameraLost), as an unplugged one is: an
        installation waits for it to come back."""
        import time

        import av

        start = time.perf_counter()
        index = 0
        while True:
            count = 0
            try:
                source = VideoFileSource(self.path, self.width)
                try:
                    for frame in source.frames():
                        at = index / self.rate
                        yield Frame(frame.image, at, index, pace(start, at))
                        index += 1
                        count += 1
                finally:
                    source.close()
            except (UsageError, av.error.FFmpegError, OSError) as exc:
                raise CameraLost(f"{self.path} cannot be read any more ({exc})") from None
            if count == 0:
                raise CameraLost(f"{self.path} gave no frames to loop")

    def close(self) -> None:
        pass


def open_live_source(spec: str, width: int | None = None, fps: float | None = None, stall: float = 3.0,
                     frozen: float = 10.0, opener=open_capture, longest: int | None = None):
    """A live source from its spec: test, a camera index (0), /dev/videoN, a URL (rtsp://, http://) or a
    video file. Its frames are `width` wide, or with no width their longer side is `longest`: a
    portrait camera's or file's frame is then as large as a landscape one, not stretched to the width."""
    if spec == "test":
        return SyntheticSource(width or longest or 640, fps=fps or 30.0)
    if spec.isdigit():
        return CameraSource(int(spec), width, fps, stall, frozen, opener, longest)
    if "://" in spec or spec.startswith("/dev/video"):
        return CameraSource(spec, width, fps, stall, frozen, opener, longest)
    if Path(spec).exists():
        return LoopingFileSource(spec, width, longest)
    raise UsageError(f"`source` {spec} is not a camera index, a /dev/video device, a URL or an existing file; "
                     f"try 0 (the first camera) or test (the built-in scene)", setting="source")


class ReconnectingSource:
    """A live source that outlives its camera (installation mode): when the camera is lost it is
    reopened with `open_source`, waiting 1, 2, 4 ... up to `retry_max` seconds between tries, and
    frames carry on from where they were. The first open is not retried: a wrong source is a
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

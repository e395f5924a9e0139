"""The performer's outputs besides the window: a recorder started and stopped at will, and a
virtual camera for OBS and Zoom."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import UsageError
from ..media.outputs import unused_path
from ..media.video_out import VideoFileSink


class Recorder:
    """Records what is shown into a video file (H.264, variable frame rate), started and stopped
    at will (the r key). Each recording is its own file: `path`, then path-2 ...; without a path,
    streamdream-DATE-TIME.mp4 in `folder`. A recording is finalised on close, so an interrupted
    or failed live run still leaves a playable file."""

    def __init__(self, path: str | Path | None = None, folder: str | Path = ".", fps: float = 30.0, crf: int = 20,
                 overwrite: bool = False):
        self.path = Path(path) if path else None
        self.overwrite = overwrite  # the first recording may replace `path` (it was checked)
        self.folder, self.fps, self.crf = Path(folder), fps, crf
        self.sink: VideoFileSink | None = None
        self.t0: float | None = None  # the first frame's time in the current recording
        self.written: list[Path] = []
        self.first = True

    @property
    def recording(self) -> bool:
        return self.sink is not None

    def start(self) -> Path:
        import time as clock
        from fractions import Fraction

        if self.path is not None:
            # the first recording goes to --record (checked, or --overwrite given); later ones beside it
            target = self.path if self.first and (self.overwrite or not self.path.exists()) else unused_path(self.path)
        else:
            target = unused_path(self.folder / clock.strftime("streamdream-%Y%m%d-%H%M%S.mp4"))
        self.first = False
        self.sink = VideoFileSink(target, Fraction(self.fps).limit_denominator(1001), Fraction(1, 1000), self.crf,
                                  speed="veryfast", overwrite=self.overwrite and target == self.path)
        self.t0 = None
        return target

    def stop(self) -> Path | None:
        """Finalise the recording; its path, or None when nothing was recording."""
        sink, self.sink = self.sink, None
        if sink is None:
            return None
        if sink.container is None:  # stopped before a frame came
            sink.abort()
            return None
        self.written.append(sink.close())
        return sink.output

    def write(self, image: np.ndarray, time: float) -> None:
        if self.sink is None:
            return
        if self.t0 is None:
            self.t0 = time
        self.sink.write(image, time - self.t0)

    def close(self) -> None:
        self.stop()

    def abort(self) -> None:
        # an error mid-performance: keep what was recorded, it is still a playable file
        try:
            self.stop()
        except Exception:
            if self.sink is not None:
                self.sink.abort()


class VirtualCameraSink:
    """The dream as a camera other programs (OBS, Zoom) can pick, through pyvirtualcam (the
    [live] extra). `backend` makes the camera (tests inject one: CI has no v4l2loopback)."""

    def __init__(self, fps: float = 30.0, backend=None):
        if backend is None:
            try:
                import pyvirtualcam
            except ImportError:
                raise UsageError('the virtual camera needs pyvirtualcam; install it with: '
                                 'pip install "streamdream[live]"') from None
            backend = lambda width, height, fps: pyvirtualcam.Camera(width, height, fps, fmt=pyvirtualcam.PixelFormat.RGB)
        self.backend, self.fps = backend, fps
        self.camera = None
        self.size: tuple[int, int] | None = None

    def write(self, image: np.ndarray, time: float) -> None:
        if self.camera is None:
            self.size = (image.shape[1], image.shape[0])
            try:
                self.camera = self.backend(width=self.size[0], height=self.size[1], fps=self.fps)
            except RuntimeError as exc:
                raise UsageError(f"no virtual camera to send to ({exc}); on Linux load v4l2loopback "
                                 f"(sudo modprobe v4l2loopback), elsewhere install OBS") from None
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        self.camera.send(np.ascontiguousarray(image))

    def close(self) -> None:
        if self.camera is not None:
            self.camera.close()
            self.camera = None

    abort = close

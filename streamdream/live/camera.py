"""Cameras and streams through OpenCV, read on their own thread; the newest frame wins."""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

import cv2
import numpy as np

from ..errors import UsageError
from ..frames import Frame, height_for
from ..media.images import fit_width, width_within


class CameraLost(Exception):
    """A live source stopped delivering: unplugged, stalled, or frozen on one frame."""


def pace(start: float, at: float) -> float:
    """Sleep until `at` seconds after `start` (perf_counter); return the capture clock."""
    import time

    delay = start + at - time.perf_counter()
    if delay > 0:
        time.sleep(delay)
    return time.perf_counter()


@contextmanager
def quiet_opencv():
    """OpenCV's own log lines off within the block (unless OPENCV_LOG_LEVEL asks for them):
    where a camera does not open, streamdream says so in one line of its own."""
    if "OPENCV_LOG_LEVEL" in os.environ:
        yield
        return
    previous = cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(previous)


def open_capture(device):
    """cv2.VideoCapture for an index, a /dev/video path or a URL (through FFmpeg)."""
    with quiet_opencv():
        if isinstance(device, str) and "://" in device:
            return cv2.VideoCapture(device, cv2.CAP_FFMPEG)
        return cv2.VideoCapture(device)


class CameraSource:
    """Frames from a camera or a stream (OpenCV), read on their own thread; newest frame wins.

    Asks for MJPG at `width` (16:9) and `fps`, then reads back what the device granted
    (`granted`); frames are rescaled to `width`, or with no width to the width that makes their
    longer side `longest`. A watchdog raises CameraLost from `frames()` when no new frame arrives
    for `stall` seconds, or when only identical frames arrive for `frozen` seconds (some backends
    repeat the last frame after an unplug). `opener` makes the capture object (tests pass a fake
    camera).
    """

    live = True

    def __init__(self, device: int | str, width: int | None = None, fps: float | None = None, stall: float = 3.0,
                 frozen: float = 10.0, opener=open_capture, longest: int | None = None):
        import threading

        self.device, self.width_wanted, self.stall, self.frozen = device, width, stall, frozen
        self.capture = opener(device)
        if self.capture is None or not self.capture.isOpened():
            if self.capture is not None:
                self.capture.release()
            if isinstance(device, str) and "://" in device:
                raise UsageError(f"cannot open the stream {device}; check the address and that it is sending, "
                                 f"or set `source` to a camera or test (the built-in scene)", setting="source")
            raise UsageError(f"no camera at {_describe(device)}; set `source` to a camera that opens (`list` "
                             f"shows them), test (the built-in scene), a video file or a URL", setting="source")
        wanted = width or longest  # a landscape frame is asked for either way
        if not (isinstance(device, str) and "://" in device):
            self.capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))  # full rate over USB 2
            if wanted:
                self.capture.set(cv2.CAP_PROP_FRAME_WIDTH, wanted)
                self.capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height_for(wanted))
            if fps:
                self.capture.set(cv2.CAP_PROP_FPS, fps)
        gw, gh = int(self.capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self.capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        gfps = float(self.capture.get(cv2.CAP_PROP_FPS) or 0)
        self.granted = (gw, gh, gfps)
        if width is None and longest is not None:
            # a portrait camera (a phone held upright) gives frames as large as a landscape one's
            self.width_wanted = width_within(gw, gh, longest) if gw > 0 and gh > 0 else longest
        asked = f"asked {wanted}x{height_for(wanted)}" if wanted else "asked its default size"
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


def list_cameras(limit: int = 10, opener=open_capture) -> list[tuple[int, int, int]]:
    """(index, width, height) for each camera index that opens, at the size it starts at."""
    found = []
    for index in range(limit):
        capture = opener(index)
        try:
            if capture is not None and capture.isOpened():
                w, h = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
                found.append((index, w, h))
        finally:
            if capture is not None:
                capture.release()
    return found

"""The show's window: OpenCV highgui on the main thread, keys to commands, and the libX11
calls OpenCV lacks (is there a screen, hide the cursor)."""

from __future__ import annotations

import os

import cv2
import numpy as np

from ..commands import Command, ControlChannel
from ..errors import UsageError
from .controls import key_command


class WindowSink:
    """Shows frames in an OpenCV window (on the main thread: highgui needs it).

    Keys and closing the window become commands on `commands` (see live.controls.KEYS); q, Esc and
    closing it are `quit`. pace: wait until each frame's time before showing it (a file or the
    zoom); off for live frames, which arrive at the camera's rate.
    """

    def __init__(self, title: str = "streamdream", pace: bool = True, fullscreen: bool = False,
                 hide_cursor: bool = False, commands=None):
        import sys

        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise UsageError("there is no screen to show a window on (DISPLAY is not set); "
                             "give `output` (zoom) or `window = false` (webcam) instead", setting="window")
        if sys.platform.startswith("linux") and os.environ.get("DISPLAY") and _x_display_answers() is False:
            # checked here because OpenCV's Qt aborts the whole process (SIGABRT) on an X server it cannot reach
            raise UsageError(f"cannot reach the screen DISPLAY={os.environ['DISPLAY']} (no X server answers there); "
                             "set DISPLAY to a running one, or give `output` (zoom) or `window = false` (webcam)",
                             setting="window")
        self.title, self.pace = title, pace
        self.commands = commands if commands is not None else ControlChannel()
        self.start: float | None = None
        self.fullscreen = False
        self.overlay = None  # image -> image drawn on what the window shows only (the HUD)
        self.warnings: list[str] = []
        try:
            # WINDOW_NORMAL: the window may be resized and made fullscreen; no toolbar: it is art
            cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_GUI_NORMAL)
        except cv2.error as exc:
            raise UsageError(f"cannot open a window ({str(exc).strip().splitlines()[-1]}); "
                             f"give `output` (zoom) or `window = false` (webcam) instead", setting="window") from None
        if fullscreen:
            self.toggle_fullscreen()
        if hide_cursor and not _hide_cursor():
            self.warnings.append("could not hide the mouse cursor (needs X11 with libXfixes)")

    def toggle_fullscreen(self) -> None:
        self.fullscreen = not self.fullscreen
        cv2.setWindowProperty(self.title, cv2.WND_PROP_FULLSCREEN,
                              cv2.WINDOW_FULLSCREEN if self.fullscreen else cv2.WINDOW_NORMAL)

    def write(self, image: np.ndarray, time: float) -> None:
        """Show RGB uint8 (H, W, 3); with `pace`, at `time` seconds after the first frame."""
        import time as clock

        wait_ms = 1
        if self.pace:
            now = clock.perf_counter()
            if self.start is None:
                self.start = now - time
            wait_ms = max(1, int((self.start + time - now) * 1000))
        shown = self.overlay(image) if self.overlay is not None else image
        cv2.imshow(self.title, np.ascontiguousarray(shown[:, :, ::-1]))
        command = key_command(cv2.waitKey(wait_ms))
        if command is not None:
            self.commands.put(command)
        if cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            self.commands.put(Command("quit"))

    def close(self) -> None:
        try:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)  # lets highgui actually take the window down
        except cv2.error:
            pass

    abort = close  # a window leaves nothing behind to remove


def _libx11():
    """libX11 through ctypes, its display calls typed; None where it is not installed."""
    import ctypes
    import ctypes.util

    try:
        x11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    except OSError:
        return None
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    x11.XDefaultRootWindow.restype = ctypes.c_ulong
    x11.XFlush.argtypes = [ctypes.c_void_p]
    return x11


X_TRIES = 3
X_RETRY_SECONDS = 0.5


def _x_display_answers() -> bool | None:
    """Whether the X server named by $DISPLAY accepts a connection; None where libX11 is not there to ask."""
    import time

    x11 = _libx11()
    if x11 is None:
        return None
    # asked a few times: a server just started, or busy, refused a first connection once (a
    # clean-clone CI run's Xvfb, a moment after it said it was ready)
    for attempt in range(X_TRIES):
        connection = x11.XOpenDisplay(None)
        if connection:
            x11.XCloseDisplay(connection)
            return True
        if attempt + 1 < X_TRIES:
            time.sleep(X_RETRY_SECONDS)
    return False


def _hide_cursor() -> bool:
    """Hide the X11 mouse pointer while this process runs (XFixes); False where that is not possible.
    OpenCV has no cursor control of its own."""
    import ctypes
    import ctypes.util

    try:
        x11 = _libx11()
        if x11 is None:
            return False
        xfixes = ctypes.CDLL(ctypes.util.find_library("Xfixes") or "libXfixes.so.3")
        xfixes.XFixesHideCursor.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        display = x11.XOpenDisplay(None)
        if not display:
            return False
        xfixes.XFixesHideCursor(display, x11.XDefaultRootWindow(display))
        x11.XFlush(display)
        _hide_cursor.display = display  # the pointer comes back when this connection closes
        return True
    except (OSError, AttributeError):
        return False

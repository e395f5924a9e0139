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


def _temporary_beside(output: Path) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{output.stem}.", suffix=f".part{output.suffix}", dir=output.parent)
    os.close(fd)
    return Path(tmp)


def _publish(tmp: Path, output: Path) -> None:
    """Rename the finished temporary file onto the output, with the permissions a new file gets
    (mkstemp makes it private to the user)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, output)


@contextmanager
def atomic_path(output: str | Path):
    """A temporary path beside `output`; renamed onto it only when the block succeeds."""
    output = Path(output)
    tmp = _temporary_beside(output)
    try:
        yield tmp
        _publish(tmp, output)
    finally:
        if tmp.exists():
            tmp.unlink()


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


def even_pad(image: np.ndarray) -> np.ndarray:
    """Pad (H, W, 3) by one replicated row/column where a side is odd: yuv420p needs even sides."""
    h, w = image.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return image
    return np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def _video_codec() -> str:
    import av

    for name in ("libx264", "libopenh264", "h264", "mpeg4"):
        if name in av.codecs_available:
            return name
    raise RunError("this FFmpeg (inside PyAV) has no H.264 or MPEG-4 encoder; reinstall av from PyPI")


class AudioTrack:
    """The input's first audio stream written into an output container alongside the video:
    copied packet for packet when the container takes the codec, otherwise transcoded to AAC.

    `pump(until)` writes the audio up to a time (seconds from --start), so the file interleaves."""

    def __init__(self, source: Path, output, start: float = 0.0):
        import av

        self.input = av.open(str(source))
        self.in_stream = self.input.streams.audio[0]
        self.tb = self.in_stream.time_base
        self.start = start
        codec = self.in_stream.codec_context.name
        self.copy = codec in output.supported_codecs
        if self.copy:
            self.out = output.add_stream_from_template(self.in_stream)
        else:
            rate = self.in_stream.codec_context.sample_rate or 48000
            self.out = output.add_stream("aac", rate=rate)
            self.out.layout = "stereo" if self.in_stream.codec_context.channels != 1 else "mono"
            self.resampler = av.AudioResampler(format="fltp", layout=self.out.layout, rate=rate,
                                               frame_size=self.out.codec_context.frame_size or 1024)
            self.samples = 0
        self.description = f"{codec} copied" if self.copy else f"{codec} transcoded to AAC"
        if start > 0:
            self.input.seek(int(start / self.tb), stream=self.in_stream)
        self.packets = self.input.demux(self.in_stream)
        self.pending = None
        self.offset = None  # pts of the first packet written, so the output starts at 0
        self.done = False

    def _next(self):
        import av

        if self.pending is None and not self.done:
            try:
                while True:
                    packet = next(self.packets)
                    if packet.pts is not None and packet.size:
                        self.pending = packet
                        break
            except (StopIteration, av.error.FFmpegError):
                self.done = True
        return self.pending

    def pump(self, output, until: float | None) -> None:
        """Write audio packets that start before `until` seconds (None: to the end)."""
        while (packet := self._next()) is not None:
            time = float(packet.pts * self.tb) - self.start
            if time < -1e-3:
                self.pending = None  # before --start: the seek landed earlier
                continue
            if until is not None and time >= until:
                return
            self.pending = None
            if self.offset is None:
                self.offset = packet.pts
            if self.copy:
                packet.pts -= self.offset
                if packet.dts is not None:
                    packet.dts -= self.offset
                packet.stream = self.out
                output.mux(packet)
            else:
                self._transcode(output, packet)

    def _transcode(self, output, packet) -> None:
        import av

        try:
            frames = packet.decode()
        except av.error.FFmpegError:
            return  # a damaged audio packet: skip it as the video side does
        for frame in frames:
            frame.pts = None
            for chunk in self.resampler.resample(frame):
                self._encode(output, chunk)

    def _encode(self, output, frame) -> None:
        if frame is not None:
            frame.pts = self.samples
            self.samples += frame.samples
        output.mux(self.out.encode(frame))

    def finish(self, output, until: float | None) -> None:
        self.pump(output, until)
        if not self.copy:
            for chunk in self.resampler.resample(None):
                self._encode(output, chunk)
            self._encode(output, None)
        self.input.close()


class VideoFileSink:
    """H.264 (yuv420p) video with the input's timing and audio, written to a temporary file and
    renamed onto the output by `close()`. `close()` after an interruption still gives a playable
    file of what was written; `abort()` removes it.

    Frame times (seconds) become timestamps in the input's time base, so exact rates (30000/1001)
    and variable frame rates survive.
    """

    def __init__(self, output: str | Path, rate, time_base, crf: int = 18, audio_from: Path | None = None,
                 audio_start: float = 0.0, speed: str = "medium"):
        self.output = Path(output)
        self.rate = rate
        self.time_base = time_base
        self.crf = crf
        self.audio_from = audio_from
        self.audio_start = audio_start
        self.speed = speed  # x264 preset: a live recording must keep up with the camera
        self.tmp = _temporary_beside(self.output)
        self.container = None
        self.stream = None
        self.audio: AudioTrack | None = None
        self.last_pts = -1
        self.last_time = 0.0
        self.warnings: list[str] = []

    def _open(self, height: int, width: int) -> None:
        import av

        self.container = av.open(str(self.tmp), mode="w", format=VIDEO_FORMATS[self.output.suffix.lower()])
        stream = self.container.add_stream(_video_codec(), rate=self.rate)
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = self.time_base
        stream.time_base = self.time_base
        if stream.codec_context.name == "libx264":
            stream.codec_context.options = {"crf": str(self.crf), "preset": self.speed}
        self.stream = stream
        if self.audio_from is not None:
            try:
                self.audio = AudioTrack(self.audio_from, self.container, self.audio_start)
            except Exception as exc:  # an unreadable audio stream must not cost the video
                self.warnings.append(f"audio not kept: {exc}")

    def write(self, image: np.ndarray, time: float) -> None:
        """Encode one RGB uint8 frame (H, W, 3) shown at `time` seconds."""
        import av

        if self.container is None:
            self._open(*image.shape[:2])
        pts = max(round(time / self.time_base), self.last_pts + 1)  # strictly increasing, whatever the input
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(even_pad(image)), format="rgb24")
        frame.pts = pts
        frame.time_base = self.time_base
        self.container.mux(self.stream.encode(frame))
        self.last_pts = pts
        self.last_time = float(pts * self.time_base)
        if self.audio is not None:
            self.audio.pump(self.container, self.last_time)

    def close(self, audio_until: float | None = None) -> Path:
        """Flush, finish the audio (to `audio_until` seconds, or all of it) and rename into place."""
        if self.container is None:
            self.abort()
            raise UsageError("no video frames could be decoded, so nothing was written")
        self.container.mux(self.stream.encode(None))
        if self.audio is not None:
            self.audio.finish(self.container, audio_until)
        self.container.close()
        self.container = None
        _publish(self.tmp, self.output)
        return self.output

    def abort(self) -> None:
        if self.container is not None:
            try:
                self.container.close()
            except Exception:
                pass
            self.container = None
        if self.tmp.exists():
            self.tmp.unlink()


VIDEO_FORMATS = {".mp4": "mp4", ".mkv": "matroska", ".mov": "mov"}  # suffix -> FFmpeg muxer
VIDEO_SUFFIXES = tuple(VIDEO_FORMATS)


class WindowSink:
    """Shows frames in an OpenCV window (on the main thread: highgui needs it).

    Keys and closing the window become commands on `commands` (see controls.KEYS); q, Esc and
    closing it are `quit`. pace: wait until each frame's time before showing it (a file or the
    zoom); off for live frames, which arrive at the camera's rate.
    """

    def __init__(self, title: str = "streamdream", pace: bool = True, fullscreen: bool = False,
                 hide_cursor: bool = False, commands=None):
        import sys

        from .controls import ControlChannel

        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise UsageError("there is no screen to show a window on (DISPLAY is not set); "
                             "give -o FILE (zoom) or --no-window (webcam) instead")
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
                             f"give -o FILE (zoom) or --no-window (webcam) instead") from None
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

        from .controls import Command, key_command

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


def _hide_cursor() -> bool:
    """Hide the X11 mouse pointer while this process runs (XFixes); False where that is not possible.
    OpenCV has no cursor control of its own."""
    import ctypes
    import ctypes.util

    try:
        x11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
        xfixes = ctypes.CDLL(ctypes.util.find_library("Xfixes") or "libXfixes.so.3")
        x11.XOpenDisplay.restype = ctypes.c_void_p
        x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        x11.XDefaultRootWindow.restype = ctypes.c_ulong
        xfixes.XFixesHideCursor.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        x11.XFlush.argtypes = [ctypes.c_void_p]
        display = x11.XOpenDisplay(None)
        if not display:
            return False
        xfixes.XFixesHideCursor(display, x11.XDefaultRootWindow(display))
        x11.XFlush(display)
        _hide_cursor.display = display  # the pointer comes back when this connection closes
        return True
    except (OSError, AttributeError):
        return False


def unused_path(path: Path) -> Path:
    """`path`, or path-2, path-3 ... beside it, whichever does not exist yet."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


class Recorder:
    """Records what is shown into a video file (H.264, variable frame rate), started and stopped
    at will (the r key). Each recording is its own file: `path`, then path-2 ...; without a path,
    streamdream-DATE-TIME.mp4 in `folder`. A recording is finalised on close, so an interrupted
    or failed live run still leaves a playable file."""

    def __init__(self, path: str | Path | None = None, folder: str | Path = ".", fps: float = 30.0, crf: int = 20):
        self.path = Path(path) if path else None
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
            target = self.path if self.first else unused_path(self.path)
        else:
            target = unused_path(self.folder / clock.strftime("streamdream-%Y%m%d-%H%M%S.mp4"))
        self.first = False
        self.sink = VideoFileSink(target, Fraction(self.fps).limit_denominator(1001), Fraction(1, 1000), self.crf,
                                  speed="veryfast")
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
                raise UsageError('--virtual-camera needs pyvirtualcam; install it with: '
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

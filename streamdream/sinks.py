"""Where dreamt frames go. Frames are RGB uint8 arrays (H, W, 3).

Nothing a run writes can be lost or left half-made under the output's name:
- a video is written to `NAME.partial.EXT` beside the output (fragmented MP4, or Matroska in
  half-second clusters), which plays up to its last half second whatever kills the process, and
  which `video --resume` continues; it is renamed onto the output when finished;
- an image is written to a short hidden temporary name and renamed into place.
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
import tempfile
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from . import signals
from .errors import RunError, UsageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
VIDEO_FORMATS = {".mp4": "mp4", ".mkv": "matroska", ".mov": "mov"}  # suffix -> FFmpeg muxer
VIDEO_SUFFIXES = tuple(VIDEO_FORMATS)
# how often the partial file becomes playable up to the frame written: what a kill can cost
FRAGMENT_SECONDS = 0.5
DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def partial_path(output: str | Path) -> Path:
    """Where a video is written until it is finished: NAME.partial.EXT beside NAME.EXT."""
    output = Path(output)
    return output.with_name(f"{output.stem}.partial{output.suffix}")


def _resuming_path(output: Path) -> Path:
    # a resumed run writes here until the old partial's frames are safely copied over
    return output.with_name(f"{output.stem}.resuming{output.suffix}")


def _probe(path: Path, shown: Path) -> None:
    """Create and remove `path`, so an unwritable folder, a read-only or pseudo file system, or a
    name too long for the file system is refused before any work rather than after it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return
    except OSError as exc:
        reason = exc.strerror or "not writable"
        if exc.errno == errno.ENAMETOOLONG:
            reason += f" (the file system allows about {os.pathconf(path.parent, 'PC_NAME_MAX')} bytes a name"
            reason += "; streamdream adds up to 9 for its partial file)" if path != shown else ")"
        raise UsageError(f"cannot write {shown}: {reason}; choose another name or folder") from None
    os.close(fd)
    os.unlink(path)


def check_output(output: str | Path, inputs=(), overwrite: bool = False, suffixes=None,
                 resume: bool | None = None) -> Path:
    """Refuse, before any work, an output that would overwrite an input, clobber a file without
    --overwrite, land in a missing or unwritable folder, or have a suffix we cannot write.

    resume: for outputs written through a partial file (videos). None: the command has no
    --resume, False/True: it has, and it was not/was given. A partial left by an interrupted run
    is continued with --resume, replaced with --overwrite, and refused otherwise.
    """
    output = Path(output)
    if suffixes and output.suffix.lower() not in suffixes:
        raise UsageError(f"output {output} must end in one of {', '.join(suffixes)}")
    if not output.parent.is_dir():
        raise UsageError(f"output folder {output.parent} does not exist")
    limit = os.pathconf(output.parent, "PC_NAME_MAX")
    if len(output.name.encode()) > limit:
        raise UsageError(f"cannot write {output}: its name is {len(output.name.encode())} bytes and the file system "
                         f"allows {limit}; choose a shorter name")
    for source in inputs:
        if source is not None and Path(source).exists() and output.exists() and output.samefile(source):
            raise UsageError(f"output {output} is also an input ({source}); inputs are never written, "
                             f"choose another name")
    if output.is_dir():
        raise UsageError(f"output {output} is a folder; give a file name")
    partial = partial_path(output) if output.suffix.lower() in VIDEO_SUFFIXES else None
    if partial is not None:
        _probe(partial, output)  # first: asking whether a too-long name exists is an error too
    if resume:
        if partial is None or not partial.exists():
            done = " (it is already finished)" if output.exists() else ""
            raise UsageError(f"nothing to resume: {partial or output} does not exist{done}")
        _probe(_resuming_path(output), output)
        return output
    if output.exists() and not overwrite:
        raise UsageError(f"output {output} exists; pass --overwrite to replace it")
    if partial is not None:
        if partial.exists() and not overwrite:
            how = "--resume continues it, --overwrite starts over" if resume is not None else \
                "--overwrite replaces it"
            raise UsageError(f"{partial} is there from an interrupted run (or another run is writing it); {how}")
    else:
        _probe(output.with_name(f".sd{os.getpid()}{output.suffix}"), output)
    return output


@contextmanager
def atomic_path(output: str | Path):
    """A short hidden temporary path beside `output`, renamed onto it when the block succeeds
    (short, so any name the file system takes for the output it takes for this too)."""
    output = Path(output)
    fd, name = tempfile.mkstemp(prefix=".sd", suffix=output.suffix, dir=output.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with signals.deferred():
            _publish(tmp, output)
    finally:
        if tmp.exists():
            tmp.unlink()


def _publish(tmp: Path, output: Path) -> None:
    """Rename a finished file onto the output, with the permissions a new file gets (mkstemp
    makes it private to the user)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, output)


def free_mb(folder: Path) -> float:
    try:
        return shutil.disk_usage(folder).free / 1e6
    except OSError:
        return float("nan")


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


def even_pad(image: np.ndarray) -> np.ndarray:
    """Pad (H, W, 3) by one replicated row/column where a side is odd: yuv420p needs even sides."""
    h, w = image.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return image
    return np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


@functools.cache
def nvenc_works() -> bool:
    """Whether NVIDIA's hardware H.264 encoder opens here: PyAV's FFmpeg may carry h264_nvenc
    and still have no driver or card to run it on, so it is tried once on a small frame."""
    import av

    if "h264_nvenc" not in av.codecs_available:
        return False
    try:
        context = av.CodecContext.create("h264_nvenc", "w")
        context.width, context.height, context.pix_fmt = 256, 144, "yuv420p"
        context.time_base = Fraction(1, 25)
        context.open()
        context.close()
        return True
    except Exception:  # no driver, no card, too old a driver: all mean software encoding
        return False


def _video_codec(hardware: bool = False) -> str:
    import av

    if hardware and nvenc_works():
        return "h264_nvenc"
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


class DiskFull(RunError):
    """The disk filled up while writing; the partial file is kept for --resume."""


class VideoFileSink:
    """H.264 (yuv420p) video with the input's timing and audio.

    Written to `partial_path(output)` as it goes: fragmented MP4 (a fragment at each keyframe
    and every FRAGMENT_SECONDS, keyframes about a second apart) or Matroska in short clusters,
    so whatever stops the process, the partial plays up to its last fragment. `close()`
    finalises it and renames it onto the output (refusing when the output appeared meanwhile
    and `overwrite` is off). `abort()` keeps a partial that holds frames, for --resume, and
    removes one that holds none.

    resume: a `Partial` (see `read_partial`) whose kept frames are copied into the new file
    first; the new frames follow them. Audio is always taken from the input afresh, so it stays
    in step across the seam.

    Frame times (seconds) become timestamps in the input's time base, so exact rates (30000/1001)
    and variable frame rates survive.
    """

    def __init__(self, output: str | Path, rate, time_base, crf: int = 18, audio_from: Path | None = None,
                 audio_start: float = 0.0, speed: str = "faster", overwrite: bool = False,
                 resume: "Partial | None" = None, expected_frames: int | None = None, lean: bool = False,
                 hardware: bool = False):
        self.output = Path(output)
        self.hardware = hardware  # encode on the GPU (h264_nvenc) where it works, so the CPU feeds the dream
        self.rate = rate
        self.time_base = time_base
        self.crf = crf
        self.audio_from = audio_from
        self.audio_start = audio_start
        # x264 preset. "faster", not x264's "medium": on a CPU the encoder shares the cores with the
        # dream, and on a dreamt 640x360 clip at crf 18 medium took 2.4x the time (253 against 107
        # ms a frame on 2 cores) for 1.2 dB more PSNR (35.0 against 33.9) at about the same size.
        # A live recording takes "veryfast" to keep up with the camera
        self.speed = speed
        self.overwrite = overwrite
        self.existed = self.output.exists()
        self.partial = partial_path(self.output)
        self.resume = resume
        self.expected_frames = expected_frames
        self.lean = lean  # one encoder thread and a short lookahead: less memory for big frames
        # a resumed run writes beside the old partial until the old frames are on disk again
        self.path = _resuming_path(self.output) if resume else self.partial
        self._claim(self.path)
        self.container = None
        self.stream = None
        self.audio: AudioTrack | None = None
        self.last_pts = -1
        self.last_time = 0.0
        self.frames = 0  # frames in the file, copied ones included
        self.warnings: list[str] = []

    def _claim(self, path: Path) -> None:
        # created exclusively now, so a second run aiming at the same output fails at once
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if self.overwrite or self.resume else os.O_EXCL)
        try:
            os.close(os.open(path, flags, 0o644))
        except FileExistsError:
            raise UsageError(f"{path} exists: another run is writing it, or one was interrupted") from None
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror}") from None

    def _open(self, height: int, width: int) -> None:
        import av

        kind = VIDEO_FORMATS[self.output.suffix.lower()]
        if kind == "matroska":
            options = {"cluster_time_limit": str(round(FRAGMENT_SECONDS * 1000))}
        else:
            options = {"movflags": "frag_keyframe+empty_moov+default_base_moof",
                       "frag_duration": str(round(FRAGMENT_SECONDS * 1e6))}
        options["flush_packets"] = "1"  # each fragment to the OS at once, not when a 32 KB buffer fills
        self.container = av.open(str(self.path), mode="w", format=kind, options=options)
        stream = self.container.add_stream(_video_codec(self.hardware), rate=self.rate)
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = self.time_base
        stream.time_base = self.time_base
        # a keyframe about every second: --resume restarts at one, so it bounds what is dreamt twice
        stream.codec_context.gop_size = max(1, round(float(self.rate)))
        # no B-frames: decode order is display order, so a resumed run's packets follow the kept
        # ones with rising timestamps, and the encoder holds fewer frames a kill would lose
        stream.codec_context.max_b_frames = 0
        if stream.codec_context.name == "libx264":
            # a short lookahead: frames the encoder holds are frames a kill loses
            options = {"crf": str(self.crf), "preset": self.speed, "rc-lookahead": "10"}
            if self.lean:
                options.update({"threads": "1", "rc-lookahead": "2"})
            stream.codec_context.options = options
        elif stream.codec_context.name == "h264_nvenc":
            # constant quality as x264's crf gives it; no lookahead, so frames are not held back
            stream.codec_context.options = {"rc": "vbr", "cq": str(self.crf), "b": "0", "preset": "p4",
                                            "rc-lookahead": "0"}
        self.stream = stream
        if self.audio_from is not None:
            try:
                self.audio = AudioTrack(self.audio_from, self.container, self.audio_start)
            except Exception as exc:  # an unreadable audio stream must not cost the video
                self.warnings.append(f"audio not kept: {exc}")
        if self.resume is not None:
            self._copy_kept(self.resume)

    def _copy_kept(self, partial: "Partial") -> None:
        """The old partial's kept video packets, as they were (no second encode), with the
        input's audio interleaved up to each one."""
        import av

        with av.open(str(partial.path)) as old:
            source = old.streams.video[0]
            # stored length-prefixed; the encoder's stream (and the muxer) take Annex B, as the
            # encoder itself gives them
            annexb = av.BitStreamFilterContext("h264_mp4toannexb", source) if source.codec_context.name == "h264" \
                else None
            kept = 0
            for packet in old.demux(source):
                if kept >= partial.frames:
                    break
                if not packet.size:
                    continue
                kept += 1
                time = float(packet.pts * packet.time_base)
                for out in annexb.filter(packet) if annexb is not None else [packet]:
                    out.stream = self.stream
                    self._mux(out)
                if self.audio is not None:
                    self.audio.pump(self.container, time)
        self.frames = partial.frames
        self.last_pts = round(partial.last_time / self.time_base)
        self.last_time = partial.last_time

    def _emit(self, packets) -> None:
        self.container.mux(packets)  # the one place bytes go to the file (tests inject failures here)

    def _mux(self, packets) -> None:
        try:
            self._emit(packets)
        except Exception as exc:
            raise self._write_error(exc) from None
        if self.resume is not None and self.path != self.partial and \
                self.path.stat().st_size >= self.resume.path.stat().st_size:
            # every frame of the old partial is on disk again: this file is now the partial
            os.replace(self.path, self.partial)
            self.path = self.partial

    def _write_error(self, exc: Exception) -> Exception:
        code = getattr(exc, "errno", None)
        if code not in DISK_FULL:
            return exc
        folder = self.output.parent.resolve()
        size = self.path.stat().st_size if self.path.exists() else 0
        need = ""
        if self.expected_frames and self.frames:
            remaining = max(0, self.expected_frames - self.frames) * size / self.frames
            need = f"; the rest needs about {remaining / 1e6 * 1.2:.0f} MB"
        return DiskFull(f"the disk is full: {folder} has {free_mb(folder):.1f} MB free after {self.frames} frames"
                        f"{need}; free some space and run the same command with --resume to continue "
                        f"{self.path.name}")

    def write(self, image: np.ndarray, time: float) -> None:
        """Encode one RGB uint8 frame (H, W, 3) shown at `time` seconds."""
        import av

        if self.container is None:
            try:
                self._open(*image.shape[:2])
            except Exception as exc:
                raise self._write_error(exc) from None
        pts = max(round(time / self.time_base), self.last_pts + 1)  # strictly increasing, whatever the input
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(even_pad(image)), format="rgb24")
        frame.pts = pts
        frame.time_base = self.time_base
        self._mux(self.stream.encode(frame))
        self.frames += 1
        self.last_pts = pts
        self.last_time = float(pts * self.time_base)
        if self.audio is not None:
            try:
                self.audio.pump(self.container, self.last_time)
            except Exception as exc:
                raise self._write_error(exc) from None

    def close(self, audio_until: float | None = None) -> Path:
        """Flush, finish the audio (to `audio_until` seconds, or all of it) and rename into place."""
        if self.container is None:
            self.abort()
            raise UsageError("no video frames could be decoded, so nothing was written")
        with signals.deferred():
            try:
                self._mux(self.stream.encode(None))
                if self.audio is not None:
                    self.audio.finish(self.container, audio_until)
                self.container.close()
            except Exception as exc:
                error = self._write_error(exc)
                self.abort()
                raise error from None
            self.container = None
            if self.output.exists() and not self.existed and not self.overwrite:
                raise RunError(f"{self.output} appeared while this run was writing (another run?); "
                               f"it was left alone and this run's video is {self.path}")
            _publish(self.path, self.output)
            if self.resume is not None and self.resume.path.exists() and self.resume.path != self.output:
                self.resume.path.unlink()  # finished before the swap: the old partial is done with
        return self.output

    def abort(self) -> Path | None:
        """Stop writing. The partial is kept when it holds frames (returned, for --resume) and
        removed when it holds none."""
        with signals.deferred():
            if self.container is not None:
                try:
                    self.container.close()
                except Exception:
                    pass
                self.container = None
            if self.path != self.partial:  # resuming, before the swap: the old partial is intact
                self.path.unlink(missing_ok=True)
                return self.partial
            if self.frames == 0:
                self.path.unlink(missing_ok=True)
                return None
            return self.partial


class Partial:
    """What an interrupted run left in a partial file, as `read_partial` found it."""

    def __init__(self, path: Path, frames: int, last_time: float, last_image: np.ndarray | None):
        self.path = path
        self.frames = frames  # leading video packets to keep: one frame each (our files have no B-frames)
        self.last_time = last_time  # seconds: the last kept frame's time
        self.last_image = last_image  # RGB uint8 (H, W, 3) of that frame


def read_partial(path: str | Path) -> Partial:
    """The frames of a partial video to keep: every packet up to the first damaged one (a
    process killed mid-write leaves its last fragment cut off) that still decodes. Our files
    have no B-frames, so any such run of packets from the start is whole. UsageError when
    nothing is kept."""
    import av

    path = Path(path)
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise UsageError(f"cannot read {path} to resume it ({exc.strerror or exc}); remove it or pass "
                         f"--overwrite to start over") from None
    with container:
        if not container.streams.video:
            raise UsageError(f"{path} holds no video to resume; remove it or pass --overwrite to start over")
        stream = container.streams.video[0]
        packets = []
        try:
            for packet in container.demux(stream):
                if packet.is_corrupt or packet.pts is None:
                    break
                if packet.size:
                    packets.append(packet)
        except av.error.FFmpegError:
            pass
        keys = [i for i, p in enumerate(packets) if p.is_keyframe]
        # decode from the last keyframe on: the last frame kept is the state a resume starts from
        keep, last_image = 0, None
        if keys:
            keep = keys[-1]
            try:
                for packet in [*packets[keys[-1]:], None]:
                    for frame in stream.codec_context.decode(packet):
                        last_image = frame.to_ndarray(format="rgb24")
                        keep += 1
            except av.error.FFmpegError:
                pass
        if keep < 2 or last_image is None:
            raise UsageError(f"{path} holds no whole frames to resume from; pass --overwrite to start over")
        last_pts = packets[keep - 1].pts
        time_base = packets[0].time_base
    return Partial(path, keep, float(last_pts * time_base), last_image)


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
        if sys.platform.startswith("linux") and os.environ.get("DISPLAY") and _x_display_answers() is False:
            # checked here because OpenCV's Qt aborts the whole process (SIGABRT) on an X server it cannot reach
            raise UsageError(f"cannot reach the screen DISPLAY={os.environ['DISPLAY']} (no X server answers there); "
                             "set DISPLAY to a running one, or give -o FILE (zoom) or --no-window (webcam)")
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


def _x_display_answers() -> bool | None:
    """Whether the X server named by $DISPLAY accepts a connection; None where libX11 is not there to ask."""
    x11 = _libx11()
    if x11 is None:
        return None
    connection = x11.XOpenDisplay(None)
    if not connection:
        return False
    x11.XCloseDisplay(connection)
    return True


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


def unused_path(path: Path) -> Path:
    """`path`, or path-2, path-3 ... beside it, whichever does not exist yet (nor its partial file)."""
    candidate, n = path, 1
    while candidate.exists() or partial_path(candidate).exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


class Recorder:
    """Records what is shown into a video file (H.264, variable frame rate), started and stopped
    at will (the r key). Each recording is its own file: `path`, then path-2 ...; without a path,
    streamdream-DATE-TIME.mp4 in `folder`. A recording is finalised on close, so an interrupted
    or failed live run still leaves a playable file."""

    def __init__(self, path: str | Path | None = None, folder: str | Path = ".", fps: float = 30.0, crf: int = 20,
                 overwrite: bool = False):
        self.path = Path(path) if path else None
        self.overwrite = overwrite  # the first recording may replace --record (it was checked)
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

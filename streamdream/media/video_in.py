"""Frames of a video file, decoded with PyAV, with what a sink needs to keep the timing."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import UsageError
from ..frames import Frame
from . import hdr
from .deinterlace import deinterlaced, is_interlaced
from .images import check_size, fit_size, input_file
from .opening import open_media
from .sequences import DEFAULT_RATE, Sequence, find_sequence, is_sequence, open_sequence, sequence_rate


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int  # of the frames this source yields (upright, square pixels, after --width)
    height: int
    rate: Fraction  # nominal frame rate, exact (30000/1001 stays 30000/1001)
    time_base: Fraction  # the input stream's, so variable-rate timestamps survive
    frames: int | None  # expected frame count, when the container says
    start: float  # seconds skipped at the start (--start)
    has_audio: bool
    rotation: int  # degrees the input's display matrix turned the picture (undone in the frames)
    origin: float = 0.0  # the input's time of its first frame, which frame times count from

    @property
    def zero(self) -> float:
        """The input's time (its sound's too) that the frames' time 0 is: its first frame's, or `start` after it."""
        return self.origin + self.start


def _open_container(path: Path, role: str = "input", sequence: Sequence | None = None,
                    rate: Fraction = DEFAULT_RATE):
    import av

    if sequence is not None:
        try:
            return open_sequence(sequence, rate)
        except av.error.FFmpegError as exc:
            raise UsageError(f"{role} {path}'s pictures are not ones FFmpeg can read ({exc.strerror or exc})") from None
    input_file(path, role)
    if path.stat().st_size == 0:
        raise UsageError(f"{role} {path} is empty")
    return open_media(path, role, "video file")


def main_video_stream(container):
    """The video stream a player would show: the default one, else the largest picture (a file
    may carry a thumbnail or a cover as a second video stream); attached pictures last."""
    import av

    def rank(stream) -> tuple:
        disposition = int(stream.disposition or 0)
        picture = bool(disposition & int(av.stream.Disposition.attached_pic))
        default = bool(disposition & int(av.stream.Disposition.default))
        ctx = stream.codec_context
        return (not picture, default, (ctx.width or 0) * (ctx.height or 0), -stream.index)

    return max(container.streams.video, key=rank)


# FFmpeg's field orders (AVFieldOrder) of a stream whose frames hold two fields each: tt, bb, tb, bt
INTERLACED_FIELD_ORDERS = (2, 3, 4, 5)


# a pixel aspect outside this is a damaged header, not a picture (anamorphic video keeps within 2)
PIXEL_ASPECT_RANGE = (Fraction(1, 4), Fraction(4))


def pixel_aspect(stream) -> Fraction:
    """The width over the height of a stream's stored pixel as a player shows it (its sample
    aspect ratio): 1 for square pixels, 32/27 for a DVD's 720x480 shown at 16:9, 4/3 for HDV's
    1440x1080 shown at 1920x1080. 1 when the file does not say, or says nonsense."""
    sar = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
    if not sar:
        return Fraction(1)
    sar = Fraction(sar)
    return sar if PIXEL_ASPECT_RANGE[0] <= sar <= PIXEL_ASPECT_RANGE[1] else Fraction(1)


def shown_size(width: int, height: int, aspect: Fraction, rotation: int) -> tuple[int, int]:
    """(width, height) of a stored `width` x `height` picture as a player shows it: its pixels
    made square (the stored width scaled by their `aspect`; a DVD's 720x480 at 32/27 is 853x480),
    then turned by the display `rotation`."""
    w = max(1, round(width * aspect))
    return (height, w) if rotation % 180 else (w, height)


# FFmpeg's colour matrix codes (AVColorSpace)
UNSPECIFIED_MATRIX = 2
# an untagged picture taller than this is read with BT.709's colours, as players read it; up to it
# (standard definition) with BT.601's. Read with the wrong one, reds and skin tones shift.
SD_LINES = 576


def rgb_of(frame) -> np.ndarray:
    """RGB uint8 (H, W, 3) of a decoded PyAV frame, its YUV read with the colour matrix and range
    it is tagged with; an untagged one's matrix as players guess it (see SD_LINES). Floating-point
    RGB (an OpenEXR render's) is linear light, and is brought to sRGB (`srgb_of_linear`)."""
    from av.video.reformatter import Colorspace

    if frame.format.name.startswith(("gbrpf", "gbrapf")):
        return srgb_of_linear(frame.reformat(format="gbrpf32le").to_ndarray())
    return _rgb(frame, "rgb24", Colorspace.ITU709 if frame.height > SD_LINES else Colorspace.ITU601)


def srgb_of_linear(light: np.ndarray) -> np.ndarray:
    """RGB uint8 of linear-light RGB float (H, W, 3), 1.0 the display's white: sRGB's curve, and
    what lies above white clipped, as a compositor's sRGB view shows it. Read as if it were
    coded, a render came out dark (its mean level 56 where the picture's is 107)."""
    if light.ndim != 3 or light.shape[2] != 3:
        raise ValueError(f"light must be (H, W, 3), got {light.shape}")
    light = np.nan_to_num(light.astype(np.float32, copy=False), nan=0.0, posinf=1.0).clip(0.0, 1.0)
    coded = np.where(light <= 0.0031308, light * 12.92, 1.055 * np.power(light, 1 / 2.4) - 0.055)
    return (coded * 255 + 0.5).astype(np.uint8)


def hdr_signal_of(frame) -> np.ndarray:
    """RGB uint16 (H, W, 3) of a decoded HDR frame: its BT.2020 signal, not yet light (see hdr.to_sdr)."""
    from av.video.reformatter import Colorspace

    return _rgb(frame, "rgb48le", Colorspace.BT2020)


def _rgb(frame, format: str, untagged) -> np.ndarray:
    # the frame in `format`, its YUV read with the matrix and range it is tagged with, or with
    # the matrix `untagged` where it names none
    matrix = untagged if int(frame.colorspace or UNSPECIFIED_MATRIX) == UNSPECIFIED_MATRIX else None
    return frame.reformat(format=format, src_colorspace=matrix, src_color_range=frame.color_range or None).to_ndarray()


def upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """Undo a display-matrix rotation (degrees counterclockwise, a multiple of 90)."""
    turns = round(rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(image, turns)) if turns else image


class VideoFileSource:
    """Frames of a video file, decoded with PyAV on FFmpeg's own threads.

    Corrupt packets are skipped and counted in `corrupt` (once the file has been read to its
    end); a file cut short ends early and sets `truncated`. The file is opened read-only.

    `path` may also name an image sequence (a folder of numbered pictures, or a printf pattern,
    see sequences.py), read at `rate` frames a second (default 25); a video file keeps its own.
    """

    live = False

    def __init__(self, path: str | Path, width: int | None = None, start: float = 0.0,
                 max_frames: int | None = None, role: str = "input", rate: Fraction | None = None):
        self.path = Path(path)
        self.skip_to: tuple[float, int] | None = None  # see `continue_at`
        if not 0 <= start < float("inf"):
            raise UsageError(f"start must be 0 or more seconds, got {start}", setting="start")
        if max_frames is not None and max_frames < 1:
            raise UsageError(f"frames must be at least 1, got {max_frames}", setting="frames")
        # an image sequence's pictures, and the rate they are read at (a video file keeps its own)
        self.sequence = find_sequence(self.path, role) if is_sequence(self.path) else None
        self.sequence_rate = sequence_rate(rate or DEFAULT_RATE) if self.sequence is not None else None
        self.container = _open_container(self.path, role, self.sequence, self.sequence_rate)
        if not self.container.streams.video:
            kind = "audio only" if self.container.streams.audio else "no streams FFmpeg can decode"
            self.container.close()
            raise UsageError(f"{role} {self.path} has no video stream ({kind}); give a video file")
        self.stream = main_video_stream(self.container)
        self.notes: list[str] = []  # what a report should say about how the file was read
        if self.sequence is not None:
            pictures = self.sequence
            span = f"{pictures.count} pictures, {pictures.file(0).name} to {pictures.file(pictures.count - 1).name}" \
                if pictures.count > 1 else f"one picture, {pictures.file(0).name}"
            self.notes.append(f"{self.path} is {span}, read at {float(self.sequence_rate):g} frames a second"
                              + ("" if rate else " (`fps` sets another rate)"))
        if len(self.container.streams.video) > 1:
            ctx = self.stream.codec_context
            self.notes.append(f"{self.path} has {len(self.container.streams.video)} video streams; dreaming stream "
                              f"#{self.stream.index} ({ctx.width}x{ctx.height})")
        self.stream.thread_type = "AUTO"
        self.max_frames = max_frames
        self.start = start
        self.corrupt = 0
        # an image sequence's pictures handed to the decoder and those that came out, by number
        # from 0 (see `damaged`)
        self._sent: set[int] = set()
        self._decoded_pictures: set[int] = set()
        self.truncated = False
        self.finished = False  # read to the end of the file (not stopped by --frames)
        self.yielded = 0
        ctx = self.stream.codec_context
        rotation, interlaced, self.origin = self._peek()
        # (or the stream says its fields are ordered: its first frame may be a progressive one)
        self.interlaced = interlaced or int(getattr(ctx, "field_order", 0) or 0) in INTERLACED_FIELD_ORDERS
        if self.interlaced:
            self.notes.append(f"{self.path} is interlaced; deinterlaced (bwdif) as a player shows it")
        if not ctx.width or not ctx.height:
            self.container.close()
            raise UsageError(f"{role} {self.path} has a video stream with no picture size; is the file damaged?")
        aspect = pixel_aspect(self.stream)
        w, h = shown_size(ctx.width, ctx.height, aspect, rotation)
        if aspect != 1:
            # dreamt with square pixels, as it is shown: the network sees faces as they are, and the
            # output plays the same in a player that ignores the aspect (many do)
            self.notes.append(f"{self.path} has non-square pixels ({aspect.numerator}:{aspect.denominator}); "
                              f"dreamt as shown, {w}x{h}" + (f", then rescaled to `width` {width}" if width else ""))
        transfer = int(getattr(ctx, "color_trc", 0) or 0)
        self.hdr = transfer if transfer in hdr.TRANSFERS else None
        if self.hdr:
            self.notes.append(f"{self.path} is HDR ({hdr.TRANSFERS[transfer]}); tone-mapped to standard dynamic "
                              f"range (BT.709) before it is dreamt")
        if width:
            w, h = width, max(2, round(h * width / w))
        check_size(h, w, f"{role} {self.path}")
        rate = self.stream.average_rate or self.stream.guessed_rate or self.stream.base_rate or Fraction(25)
        duration = self._duration()
        frames = self.stream.frames or (math.floor(duration * rate) if duration else None)
        if self.sequence is not None:
            frames, rate = self.sequence.count, self.sequence_rate
            duration = frames / rate
        if frames is not None and start:
            frames = max(0, frames - math.floor(start * rate))
        if frames is not None and max_frames:
            frames = min(frames, max_frames)
        if duration is not None and start >= duration:
            self.container.close()
            raise UsageError(f"`start` {start} is past the end of {self.path} ({duration:.2f} s)", setting="start")
        self.info = VideoInfo(self.path, w, h, Fraction(rate), Fraction(self.stream.time_base or Fraction(1, 90000)),
                              frames, start, bool(self.container.streams.audio), rotation, self.origin)

    def _peek(self) -> tuple[int, bool, float]:
        """(the display rotation, whether interlaced, its time in seconds) of the first frame.
        PyAV shows the first two on decoded frames only: the first is decoded in a second
        handle, so this one still starts at the beginning. Frame times count from that time: a
        camcorder's or a broadcast's MPEG-TS starts seconds in (a Matroska output then began
        that late, and an MP4 stretched its first frame over the gap to the sound)."""
        import av

        try:
            with _open_container(self.path, "input", self.sequence, self.sequence_rate) as peek:
                for frame in peek.decode(peek.streams[self.stream.index]):
                    time = float(frame.pts * frame.time_base) if frame.pts is not None and frame.time_base else 0.0
                    return int(round(frame.rotation or 0)), is_interlaced(frame), time
        except av.error.FFmpegError:
            pass
        return 0, False, 0.0

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
        """The decoded PyAV frames from the seek point, progressive."""
        return deinterlaced(self._decoder()) if self.interlaced else self._decoder()

    def _decoder(self) -> Iterator:
        import av

        seek = self.start + (self.skip_to[0] if self.skip_to else 0.0)
        if seek > 0:
            self.container.seek(int((self.origin + seek) / self.stream.time_base), stream=self.stream)
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
            if self.sequence is not None and packet.size:
                self._sent.add(self._picture(packet))
            try:
                for frame in packet.decode():
                    decoded += 1
                    if self.sequence is not None:
                        self._decoded_pictures.add(self._picture(frame))
                    yield frame
            except av.error.FFmpegError:
                self.corrupt += 1
        # A damaged packet often decodes to nothing rather than an error (the decoder waits for
        # the next keyframe): count the pictures that never came out as skipped too.
        self.corrupt = max(self.corrupt, sent - decoded)
        self.finished = True

    def timed(self) -> Iterator[tuple]:
        """(decoded PyAV frame, seconds from --start, index) from --start on, at most --frames of
        them: the frames `frames` gives, before they become pictures (a scan takes them small)."""
        first_time = None
        index = self.skip_to[1] if self.skip_to else 0
        # a frame counts as the one asked for when within half a frame of its time
        earliest = self.start + (self.skip_to[0] - 0.5 / float(self.info.rate) if self.skip_to else -1e-6)
        for frame in self._decoded():
            time = float(frame.pts * frame.time_base) - self.origin if frame.pts is not None and frame.time_base else None
            if time is None:
                time = (first_time or 0.0) + index / float(self.info.rate)
            if time < earliest:
                continue  # decoded from the keyframe before --start (or before the resume point)
            if first_time is None:
                first_time = time
            yield frame, time - self.start, index
            index += 1
            self.yielded = index
            if self.max_frames and index >= self.max_frames:
                return

    def frames(self) -> Iterator[Frame]:
        """Upright RGB frames with square pixels from --start on, at most --frames of them, with
        their times, at the size `info` gives."""
        size = (self.info.width, self.info.height)
        for frame, time, index in self.timed():
            if self.hdr:
                # sized as a signal, then taken to light: the tone map's cost is the output's size
                signal = fit_size(upright(hdr_signal_of(frame), self.info.rotation), *size)
                yield Frame(hdr.to_sdr(signal, self.hdr), time, index)
                continue
            image = upright(rgb_of(frame), self.info.rotation)
            yield Frame(fit_size(image, *size), time, index)

    def _picture(self, item) -> int:
        # the number (from 0) of an image sequence's picture a packet or frame holds, from its time
        if item.pts is None or item.time_base is None:
            return -1
        return round((float(item.pts * item.time_base) - self.origin) * self.sequence_rate)

    @property
    def damaged(self) -> list[Path]:
        """An image sequence read to its end: the pictures that would not decode (damaged, cut
        off), in order; [] for a video file. The frames around them keep their times: the
        output has a gap where each was."""
        if self.sequence is None or not self.finished:
            return []
        lost = sorted(self._sent - self._decoded_pictures)
        return [self.sequence.file(i) for i in lost if 0 <= i < self.sequence.count]

    @property
    def missing(self) -> int:
        """Frames the container promised that never decoded (damage the decoder kept quiet about)."""
        if not self.finished or not self.info.frames:
            return 0
        missing = self.info.frames - self.yielded
        return missing if missing > max(1, self.info.frames // 100) else 0

    def close(self) -> None:
        self.container.close()

"""H.264 video out, with the input's audio, written crash-safe to the partial file.

Nothing a run writes can be lost or left half-made under the output's name: a video is written
to `NAME.partial.EXT` beside the output (fragmented MP4, or Matroska in half-second clusters),
which plays up to its last half second whatever kills the process, and which `video --resume`
continues; it is renamed onto the output when finished.
"""

from __future__ import annotations

import functools
import json
import os
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from .. import signals
from ..errors import RunError, UsageError
from .outputs import DISK_FULL, VIDEO_FORMATS, Claim, free_mb, partial_path, publish
from .resume import Partial

# how often the partial file becomes playable up to the frame written: what a kill can cost
FRAGMENT_SECONDS = 0.5


def even_size(height: int, width: int) -> tuple[int, int]:
    """(height, width) rounded up to even sides: yuv420p needs them."""
    return height + height % 2, width + width % 2


def even_pad(image: np.ndarray) -> np.ndarray:
    """Pad (H, W, 3) by one replicated row/column where a side is odd (see `even_size`)."""
    h, w = image.shape[:2]
    eh, ew = even_size(h, w)
    if (eh, ew) == (h, w):
        return image
    return np.pad(image, ((0, eh - h), (0, ew - w), (0, 0)), mode="edge")


# FFmpeg's codes for BT.709 (its matrix, primaries and transfer alike) and for limited range
BT709 = 1
LIMITED_RANGE = 1


def yuv_of(image: np.ndarray):
    """An RGB uint8 picture (H, W, 3), H and W even, as a yuv420p PyAV frame in BT.709's colours,
    limited range, and tagged so: what a player assumes of HD video, and what `VideoFileSink`
    tags its stream with."""
    import av
    from av.video.reformatter import Colorspace

    rgb = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
    return rgb.reformat(format="yuv420p", dst_colorspace=Colorspace.ITU709, dst_color_range=LIMITED_RANGE,
                        dst_color_trc=BT709, dst_color_primaries=BT709)


def nvenc_options(crf: int) -> dict[str, str]:
    """h264_nvenc's options: constant quality as x264's crf gives it, and no lookahead, so frames
    are not held back."""
    return {"rc": "vbr", "cq": str(crf), "b": "0", "preset": "p4", "rc-lookahead": "0"}


@functools.cache
def nvenc_works(width: int, height: int, crf: int) -> bool:
    """Whether NVIDIA's hardware H.264 encoder takes frames of this size with the options a video
    opens it with: PyAV's FFmpeg may carry h264_nvenc and still have no driver or card to run it
    on, or refuse a size or an option, so it is opened as the video would open it and given one
    frame. Tried once a size."""
    import av

    if "h264_nvenc" not in av.codecs_available:
        return False
    try:
        context = av.CodecContext.create("h264_nvenc", "w")
        context.width, context.height, context.pix_fmt = width, height, "yuv420p"
        context.time_base = Fraction(1, 25)
        context.gop_size, context.max_b_frames = 25, 0
        context.options = nvenc_options(crf)
        context.open()
        context.encode(av.VideoFrame(width, height, "yuv420p"))
        context.encode(None)
        context.close()
        return True
    except Exception:  # no driver, no card, too old a driver, a size it refuses: all mean software encoding
        return False


def _video_codec(hardware: bool, width: int, height: int, crf: int) -> str:
    import av

    if hardware and nvenc_works(width, height, crf):
        return "h264_nvenc"
    for name in ("libx264", "libopenh264", "h264", "mpeg4"):
        if name in av.codecs_available:
            return name
    raise RunError("this FFmpeg (inside PyAV) has no H.264 or MPEG-4 encoder; reinstall av from PyPI")


# the first audio packets a trial copy writes (a muxer that needs one to write its header, as MP4's
# does for AC-3, has it then)
TRIAL_PACKETS = 8


def copy_muxes(source: Path, kind: str, options: dict) -> bool:
    """Whether the first audio stream of `source` can be copied into a `kind` container opened
    with `options`, tried in memory on its first packets. A muxer's list of the codecs it takes
    is not the whole answer: a fragmented MP4 refuses AC-3 (its header needs a packet it does not
    have yet) and MOV refuses Opus and FLAC, each only when the header is written, once the
    video has begun."""
    import io

    import av

    try:
        with av.open(str(source)) as given, av.open(io.BytesIO(), mode="w", format=kind, options=options) as trial:
            stream = given.streams.audio[0]
            copy = trial.add_stream_from_template(stream)
            for n, packet in enumerate(p for p in given.demux(stream) if p.size and p.pts is not None):
                if n == TRIAL_PACKETS:
                    break
                packet.stream = copy
                trial.mux(packet)
        return True
    except (av.error.FFmpegError, ValueError, OSError):
        return False


def aac_rate(rate: int | None) -> int:
    """The sample rate a track at `rate` Hz is transcoded to AAC at: its own where AAC takes it, else
    the lowest AAC rate above it (a CD-ROM's 37.8 kHz: 44.1), or AAC's highest (a studio's 192 kHz:
    96). The encoder refuses any other, and it was found only once the video had begun. 48 kHz
    when the input does not say."""
    import av

    rates = sorted(av.Codec("aac", "w").audio_rates or (48000,))
    if not rate:
        return 48000
    return next((r for r in rates if r >= rate), rates[-1])


def aac_layout(given, rate: int, kind: str, options: dict) -> str:
    """The channel layout a track of `given` (an audio codec context) is transcoded to AAC in, at
    `rate`, for a `kind` container opened with `options`: its own where AAC and the container
    take it, tried in memory on a frame of silence (a film's 5.1 sound stays 5.1: players fold it
    down to their speakers, a downmix here could never be undone), else stereo, or mono for one
    channel."""
    import io

    import av

    own = given.layout.name if given.layout is not None else ""
    fallback = "mono" if given.channels == 1 else "stereo"
    if own in ("", fallback):
        return fallback
    try:
        with av.open(io.BytesIO(), mode="w", format=kind, options=options) as trial:
            stream = trial.add_stream("aac", rate=rate)
            stream.layout = own
            # made packed, one plane, and brought to the encoder's planes by the resampler: PyAV
            # crashes the process on a frame of more than 8 planes touched from Python
            silence = av.AudioFrame.from_ndarray(np.zeros((1, 1024 * len(av.AudioLayout(own).channels)), np.float32),
                                                 format="flt", layout=own)
            silence.sample_rate, silence.pts = rate, 0
            for chunk in av.AudioResampler(format="fltp", layout=own, rate=rate).resample(silence):
                trial.mux(stream.encode(chunk))
            trial.mux(stream.encode(None))
        return own
    except (av.error.FFmpegError, ValueError):
        return fallback


class AudioTrack:
    """The input's first audio stream written into an output container alongside the video:
    copied packet for packet when the container takes the codec, otherwise transcoded to AAC.

    `pump(until)` writes the audio up to a time (seconds from --start), so the file interleaves."""

    def __init__(self, source: Path, output, start: float = 0.0, options: dict | None = None):
        import av

        self.input = av.open(str(source))
        self.in_stream = self.input.streams.audio[0]
        self.tb = self.in_stream.time_base
        self.start = start
        codec = self.in_stream.codec_context.name
        self.copy = codec in output.supported_codecs and copy_muxes(source, output.format.name, options or {})
        if self.copy:
            self.out = output.add_stream_from_template(self.in_stream)
        else:
            rate = aac_rate(self.in_stream.codec_context.sample_rate)
            self.out = output.add_stream("aac", rate=rate)
            self.out.layout = aac_layout(self.in_stream.codec_context, rate, output.format.name, options or {})
            self.resampler = av.AudioResampler(format="fltp", layout=self.out.layout, rate=rate,
                                               frame_size=self.out.codec_context.frame_size or 1024)
            self.samples = 0
        self.description = f"{codec} copied" if self.copy else \
            f"{codec} transcoded to AAC ({self.out.layout.name}, {self.out.rate / 1000:g} kHz)"
        if start > 0:
            self.input.seek(int(start / self.tb), stream=self.in_stream)
        self.packets = self.input.demux(self.in_stream)
        self.pending = None
        self.offset = None  # `start` in the input's time base, once the first packet is written
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
                # the video's frames are at their input times less `start`: the sound keeps its
                # own times less the same, so where it began later than the picture it still
                # does (counted from its own first packet, a clip whose sound began half a
                # second in was heard half a second early)
                self.offset = round(self.start / self.tb)
                if not self.copy:
                    self.samples = round(time * self.resampler.rate)
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
            # counted in samples: the decoded frame kept the input stream's time base, which in
            # a Matroska or WebM file is milliseconds, and the track ran 48 times too long
            frame.pts, frame.time_base = self.samples, Fraction(1, frame.sample_rate)
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
                 hardware: bool = False, claim: Claim | None = None, made: dict | None = None):
        self.output = Path(output)
        self.hardware = hardware  # encode on the GPU (h264_nvenc) where it works, so the CPU feeds the dream
        self.rate = rate
        self.time_base = time_base
        self.crf = crf
        self.audio_from = audio_from
        self.audio_start = audio_start
        # x264 preset. "faster", not x264's "medium": on a CPU the encoder shares the cores with the
        # dream, and medium costs over twice the time for about a dB more PSNR at the same size.
        # A live recording takes "veryfast" to keep up with the camera
        self.speed = speed
        self.overwrite = overwrite
        self.existed = os.path.lexists(self.output)
        self.partial = partial_path(self.output)
        self.resume = resume
        self.expected_frames = expected_frames
        self.lean = lean  # one encoder thread and a short lookahead: less memory for big frames
        self.made = made  # what the video is made from and with, kept in the file for a resume to check
        # held for the run's life, so a second run aiming at the same output fails at once; a
        # resumed run writes beside the old partial until the old frames are on disk again
        self.claim = claim or Claim(self.output, resume is not None, overwrite)
        self.path = self.claim.path
        self.container = None
        self.stream = None
        self.audio: AudioTrack | None = None
        self.last_pts = -1
        self.last_time = 0.0
        self.frames = 0  # frames in the file, copied ones included
        self.warnings: list[str] = []

    def encoder(self, height: int, width: int) -> dict:
        """The encoder's settings for frames of this size: a resume must meet the same, or the
        joined stream would mix two encoder configurations."""
        h, w = even_size(height, width)
        codec = _video_codec(self.hardware, w, h, self.crf)
        if codec == "libx264":
            # a short lookahead: frames the encoder holds are frames a kill loses
            options = {"crf": str(self.crf), "preset": self.speed, "rc-lookahead": "10"}
            if self.lean:
                options.update({"threads": "1", "rc-lookahead": "2"})
        elif codec == "h264_nvenc":
            options = nvenc_options(self.crf)
        else:
            options = {}
        return {"codec": codec, "options": options, "width": w, "height": h, "pix_fmt": "yuv420p", "colors": "bt709",
                "rate": str(self.rate), "time_base": str(self.time_base), "gop": max(1, round(float(self.rate))),
                "b_frames": 0}

    def _open(self, height: int, width: int) -> None:
        import av

        kind = VIDEO_FORMATS[self.output.suffix.lower()]
        if kind == "matroska":
            options = {"cluster_time_limit": str(round(FRAGMENT_SECONDS * 1000))}
        else:
            options = {"movflags": "frag_keyframe+empty_moov+default_base_moof",
                       "frag_duration": str(round(FRAGMENT_SECONDS * 1e6))}
        options["flush_packets"] = "1"  # each fragment to the OS at once, not when a 32 KB buffer fills
        self.container = av.open(str(self.claim.open_path()), mode="w", format=kind, options=options)
        settings = self.encoder(height, width)
        if self.made is not None:
            self.container.metadata["comment"] = json.dumps({**self.made, "encoder": settings}, sort_keys=True)
        stream = self.container.add_stream(settings["codec"], rate=self.rate)
        stream.width, stream.height = settings["width"], settings["height"]
        stream.pix_fmt = settings["pix_fmt"]
        # the colours tagged as they are coded (see `yuv_of`): untagged, a player guesses the matrix
        # from the picture's size, and one that guesses BT.601 shows the reds and skin tones shifted
        context = stream.codec_context
        context.colorspace = context.color_primaries = context.color_trc = BT709
        context.color_range = LIMITED_RANGE
        stream.codec_context.time_base = self.time_base
        stream.time_base = self.time_base
        # a keyframe about every second: a resume restarts at one, so it bounds what is dreamt twice
        stream.codec_context.gop_size = settings["gop"]
        # no B-frames: decode order is display order, so a resumed run's packets follow the kept
        # ones with rising timestamps, and the encoder holds fewer frames a kill would lose
        stream.codec_context.max_b_frames = settings["b_frames"]
        if settings["options"]:
            stream.codec_context.options = settings["options"]
        self.stream = stream
        if self.audio_from is not None:
            try:
                self.audio = AudioTrack(self.audio_from, self.container, self.audio_start, options)
            except Exception as exc:  # an unreadable audio stream must not cost the video
                self.warnings.append(f"audio not kept: {exc}")
        if self.resume is not None:
            self._copy_kept(self.resume)

    def _copy_kept(self, partial: "Partial") -> None:
        """The old partial's kept video packets, as they were (no second encode), with the
        input's audio interleaved up to each one."""
        self._copy_packets(partial.path, partial.frames)
        self.frames = partial.frames
        self.last_pts = round(partial.last_time / self.time_base)
        self.last_time = partial.last_time

    def append(self, path: str | Path, times: list[float], height: int, width: int) -> int:
        """Copy every video packet of `path`, a video this sink's encoder settings made (a chunk
        of a cluster render), as it is, after those written so far, shown at `times` (seconds,
        one a packet); the audio follows. Returns the frames copied. UsageError when `path`
        holds another number of frames, or its times do not follow on."""
        if self.container is None:
            try:
                self._open(height, width)
            except Exception as exc:
                raise self._write_error(exc) from None
        copied = self._copy_packets(Path(path), None, times)
        if copied != len(times):
            raise UsageError(f"{path} holds {copied} frames where {len(times)} were expected; it was not made for "
                             f"this video")
        self.frames += copied
        return copied

    def _copy_packets(self, path: Path, limit: int | None, times: list[float] | None = None) -> int:
        # the first `limit` (None: all) video packets of `path`, at their own timestamps or at
        # `times`; each must follow the last one written
        import av

        kept = 0
        with av.open(str(path)) as old:
            source = old.streams.video[0]
            # stored length-prefixed; the encoder's stream (and the muxer) take Annex B, as the
            # encoder itself gives them
            annexb = av.BitStreamFilterContext("h264_mp4toannexb", source) if source.codec_context.name == "h264" \
                else None
            for packet in old.demux(source):
                if limit is not None and kept >= limit:
                    break
                if not packet.size:
                    continue
                if times is not None:
                    if kept >= len(times):
                        raise UsageError(f"{path} holds more than the {len(times)} frames expected; it was not "
                                         f"made for this video")
                    # no B-frames: each packet is shown as it is decoded
                    packet.pts = packet.dts = round(round(times[kept] / self.time_base) * self.time_base /
                                                    packet.time_base)
                # the muxer may have kept the timestamps in a finer time base than ours (MP4 does)
                pts = None if packet.pts is None else round(packet.pts * packet.time_base / self.time_base)
                if pts is None or pts <= self.last_pts:
                    raise UsageError(f"{path}'s frames do not follow on from the {self.frames + kept} before them "
                                     f"(a frame at {pts} x {self.time_base} s after one at {self.last_pts}); it was "
                                     f"not made for this video")
                kept += 1
                self.last_pts = pts
                self.last_time = float(pts * self.time_base)
                for out in annexb.filter(packet) if annexb is not None else [packet]:
                    out.stream = self.stream
                    self._mux(out)
                if self.audio is not None:
                    self.audio.pump(self.container, self.last_time)
        return kept

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
                        f"{need}; free some space and run the same again with `resume` to continue "
                        f"{self.path.name}")

    def write(self, image: np.ndarray, time: float) -> None:
        """Encode one RGB uint8 frame (H, W, 3) shown at `time` seconds."""
        if self.container is None:
            try:
                self._open(*image.shape[:2])
            except Exception as exc:
                raise self._write_error(exc) from None
        pts = max(round(time / self.time_base), self.last_pts + 1)  # strictly increasing, whatever the input
        frame = yuv_of(even_pad(image))
        frame.pts = pts
        frame.time_base = self.time_base
        with signals.held():  # a Ctrl-C or SIGTERM stops the run after this frame, not inside it
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
            if os.path.lexists(self.output) and not self.existed and not self.overwrite:
                self.claim.release()
                raise RunError(f"{self.output} appeared while this run was writing (another run?); "
                               f"it was left alone and this run's video is {self.path}")
            publish(self.path, self.output)
            if self.resume is not None and self.resume.path.exists() and self.resume.path != self.output:
                self.resume.path.unlink()  # finished before the swap: the old partial is done with
            self.claim.release()
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
            kept = self.partial
            if self.path != self.partial:  # resuming, before the swap: the old partial is intact
                self.path.unlink(missing_ok=True)
            elif self.frames == 0:
                self.path.unlink(missing_ok=True)
                kept = None
            self.claim.release()
            return kept


def match_size(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """The input frame at the output's size: padded as the encoder padded it where the output only
    took even sides (see `even_size`), else rescaled."""
    h, w = frame.shape[:2]
    if (h, w) == (height, width):
        return frame
    if even_size(h, w) == (height, width):
        return even_pad(frame)
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)

"""`streamdream video` as a library call: a file source, the flow and the dream stage, and a
file sink with the input's audio; crash-safe through the partial file, and resumable."""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .config import Config
from .engine.dreamer import Dreamer
from .engine.motion import make_tracker
from .engine.temporal import StreamDreamer
from .errors import UsageError
from .frames import Frame
from .media.images import load_guide
from .media.outputs import partial_path
from .media.resume import read_partial
from .media.video_in import VideoFileSource, VideoInfo
from .media.video_out import VideoFileSink
from .pipeline import QUEUE_SIZE, EveryFrame, RunStats, run
from .signals import Terminated

BIG_FRAME = 2_100_000  # pixels: above 1080p


@dataclass
class VideoResult:
    stats: RunStats
    info: VideoInfo
    description: str  # the model, objective and seed, for the report
    device: str
    audio: str  # what became of the audio
    warnings: list[str] = field(default_factory=list)
    resumed: int = 0  # frames taken over from a partial output (resume)
    compile_seconds: float = 0.0  # spent compiling the network ([dream] compile), part of the wall time


class _Continued:
    """The rest of a file source's frames, after the one a resumed run took to pick up from."""

    live = False

    def __init__(self, frames: Iterator[Frame]):
        self._frames = frames

    def frames(self) -> Iterator[Frame]:
        return self._frames

    def close(self) -> None:
        pass


def dream_video_file(config: Config, source: VideoFileSource, output: str | Path,
                     progress: Callable[[int, int | None], None] | None = None, overwrite: bool = False,
                     resume: bool = False, network=None) -> VideoResult:
    """`streamdream video` as a library call: decode, track, dream and encode an opened `source`
    into `output` (audio kept), then close the source. `progress(done, expected)` gets each frame;
    `network`, if given, is the config's model already loaded (e.g. with random weights, to time it).

    The video is written to its partial file (see media.video_out.VideoFileSink) and renamed onto
    `output` when whole or, after Ctrl-C, SIGTERM or SIGHUP, up to what was dreamt. On an error
    the partial is kept when it holds frames; `resume` continues such a partial: its whole
    frames are kept, the input is read on from the last of them, and the dream state is rebuilt
    from that frame, so the seam carries on like any other frame.
    """

    info, max_frames = source.info, source.max_frames
    partial = read_partial(partial_path(output)) if resume else None
    try:
        if partial is not None:
            if max_frames is not None and partial.frames >= max_frames:
                raise UsageError(f"{partial.path} already holds {partial.frames} frames, as many as `frames` asks; "
                                 f"nothing to resume")
            source.continue_at(partial.last_time, partial.frames - 1)
        dreamer = Dreamer.from_config(config.dream, network, guide=load_guide(config.dream))
        stream = StreamDreamer(dreamer, config.video)
        tracker = make_tracker(config.video, dreamer.device)
        frames = source.frames()
        if partial is not None:
            _pick_up(partial, next(frames, None), stream, tracker, info)
        # a big frame dreamt on a CPU is a minute's work: hold as few of them as possible, and
        # let the encoder keep less in flight (it took 700 MB at 4K with its defaults)
        lean = info.width * info.height > BIG_FRAME and dreamer.device.type == "cpu"
        sink = VideoFileSink(output, info.rate, info.time_base, config.video.crf,
                             info.path if info.has_audio else None, info.start, overwrite=overwrite,
                             resume=partial, expected_frames=info.frames, lean=lean,
                             hardware=dreamer.device.type == "cuda")
        done = partial.frames if partial else 0
        try:
            stats = run(_Continued(frames), stream, [sink], policy=EveryFrame(1 if lean else QUEUE_SIZE), tracker=tracker,
                        progress=progress and (lambda s: progress(done + s.frames, info.frames)))
        except BaseException as exc:
            kept = sink.abort()
            if kept is not None and sink.frames and not isinstance(exc, KeyboardInterrupt):
                exc.add_note(f"kept {sink.frames} frames in {kept}; run the same again with `resume` to continue")
            raise
        if sink.frames == 0 and stats.interrupted:
            sink.abort()
            raise KeyboardInterrupt() if stats.signal == signal.SIGINT else Terminated(stats.signal)
        if sink.frames == 0 and info.start > 0:
            sink.abort()
            raise UsageError(f"no frames of {info.path} start at or after `start` {info.start:g} s; "
                             f"give an earlier `start`", setting="start")
        cut_short = stats.interrupted or (max_frames is not None and done + stats.frames >= max_frames)
        sink.close(sink.last_time + 1 / float(info.rate) if cut_short else None)
    finally:
        source.close()
    warnings = list(sink.warnings)
    if source.corrupt:
        warnings.append(f"skipped {source.corrupt} corrupt packets in {source.path}")
    if source.missing > source.corrupt:
        warnings.append(f"skipped {source.missing} of the {info.frames} frames of {source.path} that could not be "
                        f"decoded{' (the file is cut short)' if source.truncated else ' (damaged or cut short?)'}")
    elif source.truncated:
        warnings.append(f"{source.path} ended early (cut short?); dreamt what could be read")
    return VideoResult(stats, info, f"{config.dream.model} {dreamer.objective.description}, seed {dreamer.seed}",
                       dreamer.device.type, sink.audio.description if sink.audio else "no audio", warnings,
                       partial.frames if partial else 0, dreamer.net.compile_seconds)


def _pick_up(partial, first: Frame | None, stream: StreamDreamer, tracker, info: VideoInfo) -> None:
    """Rebuild the dream state from a partial's last kept frame and the input frame it was dreamt from."""
    if first is None or abs(first.time - partial.last_time) > 1.0 / float(info.rate):
        raise UsageError(f"{info.path} has no frame at {partial.last_time:.2f} s, where {partial.path} ends; "
                         f"resume with the same input, `start` and `width` (or `overwrite` to start over)", setting="resume")
    dreamt = partial.last_image
    h, w = first.image.shape[:2]
    if dreamt is None or dreamt.shape[0] < h or dreamt.shape[1] < w or dreamt.shape[0] > h + 1 or dreamt.shape[1] > w + 1:
        size = "unreadable" if dreamt is None else f"{dreamt.shape[1]}x{dreamt.shape[0]}"
        raise UsageError(f"{partial.path} is {size} but the input gives {w}x{h} frames; resume with the same "
                         f"`width` (or `overwrite` to start over)", setting="resume")
    stream.resume(first.image, np.ascontiguousarray(dreamt[:h, :w]))
    if tracker is not None:
        tracker.next(first.image)

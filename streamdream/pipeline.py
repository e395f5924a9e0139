"""Threads and bounded queues between the stages of a video job:

    decode (source) -> flow (MotionTracker) -> dream (StreamDreamer, this thread) -> encode (sink)

Each queue holds a few frames, so memory stays flat for any clip length and the dream stage, the
slow one, is the only one anybody waits for. An error in any stage stops them all and is raised
here; Ctrl-C stops the dreaming, and what was dreamt is still encoded, so the file is playable.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .config import Config
from .sources import Frame, VideoFileSource, VideoInfo
from .temporal import MotionTracker, StreamDreamer

QUEUE_SIZE = 4
_END = object()


@dataclass
class RunStats:
    frames: int = 0
    wall_seconds: float = 0.0
    dream_seconds: float = 0.0  # time inside the dream stage alone
    keyframes: int = 0
    interrupted: bool = False


def run_video(frames: Iterable[Frame], dreamer: StreamDreamer, write: Callable[[Frame], None],
              tracker: MotionTracker | None, progress: Callable[[int], None] | None = None) -> RunStats:
    """Dream every frame of `frames` and hand each result to `write`, each stage on its own thread.

    `tracker` None skips the flow (every frame is dreamt from scratch). KeyboardInterrupt ends the
    run early with `interrupted` set; an error from any stage is raised once all have stopped.
    """
    stop = threading.Event()
    errors: list[BaseException] = []
    decoded, moved, dreamt = (queue.Queue(QUEUE_SIZE) for _ in range(3))

    def put(q: queue.Queue, item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def items(q: queue.Queue) -> Iterator:
        while True:
            try:
                item = q.get(timeout=0.1)
            except queue.Empty:
                if stop.is_set():
                    return
                continue
            if item is _END:
                return
            yield item

    def decode() -> None:
        for frame in frames:
            if not put(decoded, frame):
                return
        put(decoded, _END)

    def track() -> None:
        for frame in items(decoded):
            if not put(moved, (frame, tracker.next(frame.image) if tracker else None)):
                return
        put(moved, _END)

    def encode() -> None:
        for frame in items(dreamt):
            write(frame)

    def start(name: str, body: Callable[[], None]) -> threading.Thread:
        def run() -> None:
            try:
                body()
            except BaseException as exc:  # raised in the calling thread below
                errors.append(exc)
                stop.set()

        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        return thread

    stats = RunStats()
    begin = time.perf_counter()
    upstream = [start("decode", decode), start("flow", track)]
    encoder = start("encode", encode)
    try:
        for frame, motion in items(moved):
            t = time.perf_counter()
            image = dreamer.next(frame.image, motion)
            stats.dream_seconds += time.perf_counter() - t
            if not put(dreamt, Frame(image, frame.time, frame.index)):
                break
            stats.frames += 1
            if progress:
                progress(stats.frames)
        put(dreamt, _END)
    except KeyboardInterrupt:
        stats.interrupted = True
        put(dreamt, _END)
    except BaseException as exc:
        errors.append(exc)
        stop.set()
    encoder.join()
    stop.set()
    for thread in upstream:
        thread.join(timeout=5)
    stats.wall_seconds = time.perf_counter() - begin
    stats.keyframes = dreamer.keyframes
    if errors:
        raise errors[0]
    return stats


@dataclass
class VideoResult:
    stats: RunStats
    info: VideoInfo
    description: str  # the model, objective and seed, for the report
    device: str
    audio: str  # what became of the audio
    warnings: list[str] = field(default_factory=list)


def dream_video_file(config: Config, source: VideoFileSource, output: str | Path,
                     progress: Callable[[int, int | None], None] | None = None) -> VideoResult:
    """`streamdream video` as a library call: decode, track, dream and encode an opened `source`
    into `output` (audio kept), then close the source. `progress(done, expected)` gets each frame.
    The output is written whole or, after Ctrl-C, up to what was dreamt; on an error it is removed.
    """
    from .dreamer import Dreamer
    from .sinks import VideoFileSink
    from .temporal import make_tracker

    info, max_frames = source.info, source.max_frames
    try:
        dreamer = Dreamer.from_config(config.dream)
        stream = StreamDreamer(dreamer, config.video)
        tracker = make_tracker(config.video, dreamer.device)
        sink = VideoFileSink(output, info.rate, info.time_base, config.video.crf,
                             info.path if info.has_audio else None, info.start)
        try:
            stats = run_video(source.frames(), stream, lambda f: sink.write(f.image, f.time), tracker,
                              progress and (lambda done: progress(done, info.frames)))
        except BaseException:
            sink.abort()
            raise
        cut_short = stats.interrupted or (max_frames is not None and stats.frames >= max_frames)
        sink.close(sink.last_time + 1 / float(info.rate) if cut_short else None)
    finally:
        source.close()
    warnings = list(sink.warnings)
    if source.corrupt:
        warnings.append(f"skipped {source.corrupt} corrupt packets in {source.path}")
    elif source.missing:
        warnings.append(f"skipped {source.missing} of {info.frames} frames in {source.path} "
                        f"that could not be decoded (damaged file?)")
    if source.truncated:
        warnings.append(f"{source.path} ended early (cut short?); dreamt what could be read")
    return VideoResult(stats, info, f"{config.dream.model} {dreamer.objective.description}, seed {dreamer.seed}",
                       dreamer.device.type, sink.audio.description if sink.audio else "no audio", warnings)

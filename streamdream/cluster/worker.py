"""One worker of a cluster render: it loads the network once, then dreams chunk after chunk of
the film, each as `video` would dream those frames, and hands back the chunk's own frames
encoded and the frames it shares with its neighbours as pictures, for the seams.

Plain Python: the driver makes it a Ray actor (render.py), so this room imports without Ray."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..config import Config
from ..errors import RunError
from ..media.video_in import VideoFileSource
from ..media.video_out import VideoFileSink
from ..pipeline import QUEUE_SIZE, EveryFrame, run
from .manifest import chunk_file
from .plan import Chunk

# a worker writes each chunk's video into a folder of its own under the system's temporary
# folder, named after its process, when the workers share no folder (see ChunkJob.folder)
CHUNK_PREFIX = "streamdream-chunk-"


@dataclass(frozen=True)
class ChunkJob:
    """What a worker needs to dream one chunk: the film (a path every worker can read), how it
    is read (`width`, `start`), the chunk, and its frames' times as the scan found them."""

    path: str
    width: int | None
    start: float
    chunk: Chunk
    times: tuple[float, ...]  # of frames [chunk.dream_from, chunk.end)
    rate: object  # Fraction: the film's nominal rate
    time_base: object  # Fraction: the film's
    folder: str | None = None  # write the chunk's video here (a folder every worker and the driver share)


@dataclass
class ChunkResult:
    number: int
    video: bytes | None  # the chunk's own frames, encoded, unless they went to `path`
    path: str | None
    frames: int  # in the video
    head: np.ndarray | None  # (N, H, W, 3) dreams of the frames shared with the chunk before
    head_inputs: np.ndarray | None  # the input frames they are of
    tail: np.ndarray | None  # (N, H, W, 3) dreams of the frames shared with the chunk after
    seconds: dict = field(default_factory=dict)  # open (seek to the warm-up), dream, encode: where the time went
    host: str = ""
    warnings: list = field(default_factory=list)


class ChunkWorker:
    """Dreams chunks of one film with one network, loaded when the worker starts. `render` runs
    on one thread while `progress` answers on another (the actor takes two calls at once)."""

    def __init__(self, config: Config, timeline=None, threads: int | None = None,
                 setup: Callable[[], None] | None = None):
        import socket

        import torch

        from .. import models

        if setup is not None:
            setup()
        sweep_chunk_folders()
        if threads:
            torch.set_num_threads(threads)
        t = time.perf_counter()
        self.config, self.timeline = config, timeline
        spec = models.get_spec(config.dream.model)
        self.network = models.load_network(spec, config.dream.weights, config.dream.num_classes)
        self.load_seconds = time.perf_counter() - t
        self.host = socket.gethostname()
        self.frames_done = 0  # dreamt in all chunks, for the driver's progress
        self.current: int | None = None
        self.chunk_done = 0  # of the chunk in hand

    def progress(self) -> tuple[int, int | None, int]:
        """(frames dreamt so far over all chunks, the chunk in hand or None, its frames dreamt)."""
        return self.frames_done, self.current, self.chunk_done

    def pid(self) -> int:
        import os

        return os.getpid()

    def render(self, job: ChunkJob) -> ChunkResult:
        """Dream `job`'s chunk. RunError naming the chunk's time range when its frames are not
        the ones the scan found (a damaged stretch of the film)."""
        import copy

        from ..engine.motion import make_tracker
        from ..video import BIG_FRAME, FramesInHand, dream_stage

        chunk, config = job.chunk, self.config
        self.current, self.chunk_done = chunk.number, 0
        t0 = time.perf_counter()
        source = VideoFileSource(job.path, job.width, job.start, chunk.end, rate=job.rate)  # (an image sequence's)
        if chunk.dream_from:
            source.continue_at(job.times[0], chunk.dream_from)
        inputs: list[np.ndarray] = []
        shared = range(chunk.first - chunk.head, chunk.first)
        timeline = copy.deepcopy(self.timeline)
        stream = dream_stage(config, self.network, timeline)
        tracker = make_tracker(config.video, stream_device(stream))
        folder = Path(job.folder) if job.folder else chunk_folder()
        # in software on every worker, so that all chunks join into one H.264 stream
        body = VideoFileSink(chunk_file(folder, chunk.number), job.rate, job.time_base, config.video.crf,
                             overwrite=True)
        sink = _ChunkSink(job, body)
        # as `video` does: a big frame on a CPU is held as few times as possible
        lean = stream_device(stream).type == "cpu" and source.info.width * source.info.height > BIG_FRAME
        opened = time.perf_counter() - t0

        def frames():
            for frame in source.frames():
                if frame.index in shared:
                    inputs.append(frame.image)
                yield frame

        def counted(stats) -> None:
            self.frames_done += 1
            self.chunk_done += 1

        try:
            stats = run(FramesInHand(frames()), stream, [sink], policy=EveryFrame(1 if lean else QUEUE_SIZE),
                        tracker=tracker, progress=counted, schedule=timeline)
            if stats.interrupted:
                raise RunError(f"chunk {chunk.number} was interrupted")
            sink.check_complete()
            t1 = time.perf_counter()
            body.close()
            encode_close = time.perf_counter() - t1
        except BaseException:
            body.abort()
            if not job.folder:
                shutil.rmtree(folder, ignore_errors=True)
            raise
        finally:
            source.close()
            self.current = None
        video, path = None, chunk_file(folder, chunk.number)
        if not job.folder:  # back through Ray's object store
            video, path = path.read_bytes(), None
            shutil.rmtree(folder, ignore_errors=True)
        warnings = list(source.notes)
        return ChunkResult(chunk.number, video, None if path is None else str(path), sink.body_frames,
                           np.stack(sink.head) if sink.head else None,
                           np.stack(inputs) if sink.head else None,
                           np.stack(sink.tail) if sink.tail else None,
                           {"load": self._unreported_load(), "open": opened, "dream": stats.wall_seconds,
                            "close": encode_close, "warmup_frames": chunk.first - chunk.dream_from},
                           self.host, warnings)

    def _unreported_load(self) -> float:
        # the network's load, told with the worker's first chunk only
        seconds, self.load_seconds = self.load_seconds, 0.0
        return seconds


def chunk_folder() -> Path:
    """A new folder for a chunk's video, named after this process (see `sweep_chunk_folders`)."""
    return Path(tempfile.mkdtemp(prefix=f"{CHUNK_PREFIX}{os.getpid()}-"))


def sweep_chunk_folders(root: str | Path | None = None) -> list[Path]:
    """Remove the chunk folders (`chunk_folder`) under `root` (the temporary folder) that workers
    now gone left: a worker killed mid-chunk (out of memory, a node lost, the render stopped)
    never reaches its clean-up, and its partial chunk, hundreds of MB for a long 4K film, would
    stay. Only this user's folders of processes that no longer run are touched; returns them.
    POSIX only: elsewhere there is no safe way to ask whether a process runs."""
    if os.name != "posix":
        return []
    removed = []
    for path in Path(root or tempfile.gettempdir()).glob(f"{CHUNK_PREFIX}*-*"):
        pid = path.name[len(CHUNK_PREFIX):].split("-", 1)[0]
        try:
            found = path.lstat()  # a link is not followed: only real folders of this user go
        except OSError:
            continue
        mine = stat.S_ISDIR(found.st_mode) and found.st_uid == os.getuid()
        if pid.isdigit() and mine and not _running(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _running(pid: int) -> bool:
    """Whether process `pid` runs on this machine (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (macOS): it answered the signal
    return state != "Z"


def stream_device(stream):
    """The dream device of a file run's stage (see video.dream_stage)."""
    return stream.stream.dreamer.device


class _ChunkSink:
    """Sorts a chunk's dreamt frames, in order: the warm-up is dropped, the frames shared with the
    chunk before (head) and after (tail) are kept as pictures, the rest goes to the encoder."""

    def __init__(self, job: ChunkJob, body: VideoFileSink):
        self.job, self.body = job, body
        self.index = job.chunk.dream_from
        self.head: list[np.ndarray] = []
        self.tail: list[np.ndarray] = []
        self.body_frames = 0
        rate = float(job.rate)
        gaps = [b - a for a, b in zip(job.times, job.times[1:])]
        self.tolerance = 0.5 * min([1.0 / rate, *[g for g in gaps if g > 0]])

    def _where(self) -> str:
        c, times = self.job.chunk, self.job.times
        return f"{times[0]:.2f}-{times[-1]:.2f} s (frames {c.dream_from}-{c.end - 1}) of {self.job.path}"

    def write(self, image: np.ndarray, at: float) -> None:
        c, i = self.job.chunk, self.index
        if i >= c.end:
            raise RunError(f"{self._where()}: more frames decoded than the scan found; is the file damaged there?")
        wanted = self.job.times[i - c.dream_from]
        if abs(at - wanted) > self.tolerance:
            raise RunError(f"{self._where()}: frame {i} decoded at {at:.3f} s, where the scan found it at "
                           f"{wanted:.3f} s; is the file damaged there?")
        self.index += 1
        if i < c.first - c.head:
            return  # the warm-up: dreamt to settle the dream, not shown
        if i < c.first:
            self.head.append(image)
        elif i < c.end - c.tail:
            self.body.write(image, wanted)
            self.body_frames += 1
        else:
            self.tail.append(image)

    def check_complete(self) -> None:
        c = self.job.chunk
        if self.index != c.end:
            raise RunError(f"{self._where()}: {self.index - c.dream_from} of its {c.end - c.dream_from} frames "
                           f"decoded; is the file damaged or cut short there?")

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass

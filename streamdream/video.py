"""`streamdream video` as a library call: a file source, the flow and the dream stage, and a
file sink with the input's audio; crash-safe through the partial file, and resumable."""

from __future__ import annotations

import hashlib
import json
import random
import signal
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from . import __version__, models
from .config import Config
from .engine.dreamer import Dreamer
from .engine.motion import make_tracker
from .engine.steering import SteeredStream, scheduled_dreamer
from .engine.temporal import StreamDreamer
from .errors import UsageError
from .frames import Frame
from .media.audio_in import check_audio
from .media.images import load_guide
from .media.outputs import Claim
from .media.resume import read_partial
from .media.sequences import find_sequence, is_sequence
from .media.video_in import VideoFileSource, VideoInfo
from .media.video_out import VideoFileSink
from .pipeline import QUEUE_SIZE, EveryFrame, RunStats, run
from .presets import builtin_presets, preset_dream
from .schedule.plan import build_timeline, check_timeline, frame_times
from .schedule.timeline import Timeline
from .signals import Terminated

BIG_FRAME = 2_100_000  # pixels: above 1080p
MAX_NAMED = 5  # damaged pictures of a sequence a warning names, the rest counted


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


class FramesInHand:
    """A source over frames already being read from a file source (the rest of them after a
    resumed run took the first to pick up from; a cluster chunk's, noting some on the way)."""

    live = False

    def __init__(self, frames: Iterator[Frame]):
        self._frames = frames

    def frames(self) -> Iterator[Frame]:
        return self._frames

    def close(self) -> None:
        pass


def dream_video_file(config: Config, source: VideoFileSource, output: str | Path,
                     progress: Callable[[int, int | None], None] | None = None, overwrite: bool = False,
                     resume: bool = False, network=None, audio: str | Path | None = None,
                     schedule_out: str | Path | None = None, say: Callable[[str], None] | None = None) -> VideoResult:
    """`streamdream video` as a library call: decode, track, dream and encode an opened `source`
    into `output` (audio kept), then close the source. `progress(done, expected)` gets each frame;
    `network`, if given, is the config's model already loaded (e.g. with random weights, to time it).

    The video is written to its partial file (see media.video_out.VideoFileSink) and renamed onto
    `output` when whole or, after Ctrl-C, SIGTERM or SIGHUP, up to what was dreamt. On an error
    the partial is kept when it holds frames; `resume` continues such a partial: its whole
    frames are kept, the input is read on from the last of them, and the dream state is rebuilt
    from that frame, so the seam carries on like any other frame.

    `config.schedule` changes settings over the video (schedule/): it is worked out over every
    frame before any work, `say` gets what it does, and `schedule_out` the curves as JSON.
    `audio`, a sound file, is what the schedule hears and the output's soundtrack, from its
    start, cut to the video's length; without it, the input's own track is both.
    """

    info, max_frames = source.info, source.max_frames
    try:
        if audio is not None:
            check_audio(audio)
        timeline = video_timeline(config, info, max_frames, audio, schedule_out, say)
    except BaseException:
        source.close()
        raise
    # held from now to the end: a second run aiming at this output is refused before any work
    claim = Claim(output, resume, overwrite)
    sink = None
    try:
        partial = read_partial(claim.partial) if resume else None
        device = models.pick_device(config.dream.device)
        # a big frame dreamt on a CPU is a minute's work: hold as few of them as possible, and
        # let the encoder keep less in flight
        lean = info.width * info.height > BIG_FRAME and device.type == "cpu"
        soundtrack = Path(audio) if audio is not None else info.path if info.has_audio else None
        sink = VideoFileSink(output, info.rate, info.time_base, config.video.crf,
                             soundtrack, 0.0 if audio is not None else info.zero, overwrite=overwrite,
                             resume=partial, expected_frames=info.frames, lean=lean,
                             hardware=device.type == "cuda", claim=claim)
        # an unseeded resume takes the partial's seed, so the rest is dreamt as the start was
        seed = config.dream.seed
        if seed is None:
            seed = partial.made.get("dream", {}).get("seed") if partial else None
        if seed is None:
            seed = random.randrange(2**31)
        config = replace(config, dream=replace(config.dream, seed=seed))
        sink.made = made_from(config, info)
        if partial is not None:
            check_same_video(partial, {**sink.made, "encoder": sink.encoder(info.height, info.width)})
            if max_frames is not None and partial.frames >= max_frames:
                raise UsageError(f"{partial.path} already holds {partial.frames} frames, as many as `frames` asks; "
                                 f"nothing to resume")
            source.continue_at(partial.last_time, partial.frames - 1)
        stream = dream_stage(config, network, timeline)
        core = stream.stream
        dreamer = core.dreamer
        tracker = make_tracker(config.video, dreamer.device)
        frames = source.frames()
        if partial is not None:
            if timeline is not None:  # the settings the last kept frame was dreamt with
                for command in timeline.commands(partial.frames - 1, partial.last_time - info.start):
                    stream.control(command)
            _pick_up(partial, next(frames, None), core, tracker, info)
            core.held_strength = core.strength
    except BaseException:
        source.close()
        sink.abort() if sink is not None else claim.abandon()
        raise
    try:
        done = partial.frames if partial else 0
        try:
            stats = run(FramesInHand(frames), stream, [sink], policy=EveryFrame(1 if lean else QUEUE_SIZE), tracker=tracker,
                        progress=progress and (lambda s: progress(done + s.frames, info.frames)), schedule=timeline)
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
        # a soundtrack of its own is cut to the video's length; the input's own runs to its end
        sink.close(sink.last_time + 1 / float(info.rate) if cut_short or audio is not None else None)
    finally:
        source.close()
    warnings = [*source.notes, *sink.warnings]
    damaged = source.damaged
    if damaged:
        named = ", ".join(picture.name for picture in damaged[:MAX_NAMED])
        more = f" and {len(damaged) - MAX_NAMED} more" if len(damaged) > MAX_NAMED else ""
        warnings.append(f"skipped {len(damaged)} picture{'s' if len(damaged) > 1 else ''} of {source.path} that "
                        f"would not decode (damaged or cut off): {named}{more}; the frame before "
                        f"{'it' if len(damaged) == 1 else 'each'} is held in its place")
    elif source.corrupt:
        warnings.append(f"skipped {source.corrupt} corrupt packets in {source.path}")
    if source.missing > source.corrupt:
        warnings.append(f"skipped {source.missing} of the {info.frames} frames of {source.path} that could not be "
                        f"decoded{' (the file is cut short)' if source.truncated else ' (damaged or cut short?)'}")
    elif source.truncated:
        warnings.append(f"{source.path} ended early (cut short?); dreamt what could be read")
    dreamer = core.dreamer
    return VideoResult(stats, info, f"{config.dream.model} {dreamer.objective.description}, seed {dreamer.seed}",
                       dreamer.device.type, sink.audio.description if sink.audio else "no audio", warnings,
                       partial.frames if partial else 0, dreamer.net.compile_seconds)


def video_timeline(config: Config, info: VideoInfo, max_frames: int | None, audio, schedule_out, say) -> Timeline | None:
    """The video's schedule, worked out over its frames (nominal times) before any work."""
    timeline = build_timeline(config, "video", float(info.rate), info.path, audio, info.start, builtin_presets())
    if timeline is None:
        if schedule_out is not None:
            raise UsageError("`schedule_out` writes a schedule's curves, and nothing is scheduled", setting="schedule_out")
        return None
    count = min(c for c in (info.frames, max_frames, MAX_CHECKED) if c)
    check_timeline(timeline, frame_times(count, float(info.rate)), say, schedule_out)
    return timeline


# frames of a schedule worked out before a run; beyond, the run itself still checks each frame
MAX_CHECKED = 500_000


def dream_stage(config: Config, network, timeline: Timeline | None):
    """The dream stage: a StreamDreamer whose dreams leave out the colour finer than the file holds
    and the speckle finer than the flow carries (engine.colors.FILE_COLOR_SIGMA), steered by the
    schedule when there is one."""
    dream = config.dream
    specs = [k.text for k in timeline.keys.get("layers", [])] if timeline is not None else []
    dreamer = scheduled_dreamer(dream, specs, network, load_guide(dream))
    stream = StreamDreamer(dreamer, config.video)
    if timeline is None:
        return SteeredStream(stream)
    looks: dict[str, Dreamer] = {}

    def look(name: str) -> Dreamer:
        if name not in looks:
            looks[name] = Dreamer.from_config(preset_dream(name, dream))
        return looks[name]

    return SteeredStream(stream, look)


# settings that change how fast a video is made, not what it shows: a resume may change them
SPEED_ONLY = {"device", "precision", "compile"}


def file_identity(path: str | Path | None) -> dict | None:
    """A file by its content (size and a digest of its first and last MiB), not its name: a copy
    still matches and another file of the same name does not."""
    if path is None:
        return None
    path = Path(path)
    if is_sequence(path):  # a folder of frames: how many, and the first and last by their content
        frames = find_sequence(path)
        return {"pictures": frames.count, "first": file_identity(frames.file(0)),
                "last": file_identity(frames.file(frames.count - 1))}
    size = path.stat().st_size
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        digest.update(fh.read(2**20))
        if size > 2**21:
            fh.seek(size - 2**20)
        digest.update(fh.read(2**20))
    return {"bytes": size, "sha256": digest.hexdigest()}


def made_from(config: Config, info: VideoInfo) -> dict:
    """What a video is made from and with: the input (by content), where it starts, the size of
    its frames and every setting that shapes its picture; kept in the partial file so that a
    resume continues the same video or is refused."""
    dream = {k: v for k, v in asdict(config.dream).items() if k not in SPEED_ONLY}
    dream["weights"], dream["guide"] = file_identity(dream["weights"]), file_identity(dream["guide"])
    made = {"streamdream": __version__, "input": file_identity(info.path), "start": info.start,
            "size": [info.width, info.height], "dream": dream, "video": asdict(config.video)}
    if any(v is not None for v in asdict(config.schedule).values()):
        made["schedule"] = asdict(config.schedule)
    return made


def _flat(record: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in record.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def check_same_video(partial, now: dict) -> None:
    """UsageError naming what differs when a resume would continue a partial made from another
    input, start or size, with another look, or by another encoder configuration."""
    before, after = _flat(json.loads(json.dumps(partial.made))), _flat(json.loads(json.dumps(now)))
    differ = [k for k in sorted(before.keys() | after.keys()) if k != "streamdream" and before.get(k) != after.get(k)]
    if not differ:
        return
    names = {"input.sha256": "the input", "input.bytes": "the input", "start": "start", "size": "the frame size"}
    shown = list(dict.fromkeys(names.get(k, k.split(".")[-1]) for k in differ))
    first = differ[0]
    example = "" if first.startswith("input.") else f" ({before.get(first)!r} in it, {after.get(first)!r} now)"
    raise UsageError(f"{partial.path} was made with another {', '.join(shown[:4])}{example}, so a resume would not "
                     f"continue the same video; give the same input and settings, or set `overwrite` to start over",
                     setting="resume")


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

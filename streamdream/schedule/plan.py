"""A run's timeline from its config: the audio read only when a schedule needs it, the whole
schedule worked out over the run's frames before any work (so a bad value stops the run at
once), and what it does said in words and written as curves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from ..config import Config
from .expression import Expression
from .keyframes import Track
from .timeline import AUDIO_NAMES, NAMES, TEXT_KEYS, Timeline, tracks_of


def reads(tracks: Iterable[Track]) -> set[str]:
    """The names the tracks' expressions read, with `b` where a keyframe is timed in beats."""
    out: set[str] = set()
    for track in tracks:
        if any(k.unit == "b" for k in track.keyframes):
            out.add("b")
        if track.key not in TEXT_KEYS:
            for k in track.keyframes:
                out |= Expression(k.value, NAMES).reads
    return out


def build_timeline(config: Config, job: str, fps: float, input: str | Path | None = None,
                   audio: str | Path | None = None, start: float = 0.0,
                   presets: Iterable[str] | None = None, heard=None) -> Timeline | None:
    """The run's timeline, or None when nothing is scheduled. The audio features come from
    `audio` (a file) or else the input's own track, `start` seconds in; they are read only when
    an expression reads them or beats must be found. `heard` (live.listen.LiveAudio) is a live
    show's sound instead."""
    tracks = tracks_of(config.schedule)
    if not tracks:
        return None
    names = reads(tracks)
    wanted = bool(names & set(AUDIO_NAMES)) or ("b" in names and config.schedule.bpm is None)
    features, note = heard, "there is no audio (a live show hears with `audio_input`)"
    if heard is None and wanted and (audio is not None or input is not None):
        from .audio import read_features

        path = audio if audio is not None else input
        features = read_features(path, role="audio" if audio is not None else "input")
        if features is None:
            note = f"{path} has no audio track"
        elif audio is None and start:
            features = features.shifted(start)
    return Timeline(config.schedule, fps, job, features, presets, note)


def check_timeline(timeline: Timeline, times: list[float], say=None, curves: str | Path | None = None) -> None:
    """Before a run: work the whole schedule out at these frame times (a bad value stops the
    run now, not midway), write the curves to `curves` if asked, and say what it does."""
    if curves is not None:
        write_curves(timeline, times, curves)
    else:
        timeline.curves(times)
    if say is not None:
        for line in describe(timeline):
            say(line)


def frame_times(count: int, fps: float) -> list[float]:
    return [k / fps for k in range(count)]


def describe(timeline: Timeline) -> list[str]:
    """One line per schedule: its keyframes in seconds, and how it moves between them."""
    lines = []
    for track in timeline.tracks:
        keys = timeline.keys[track.key]
        points = ", ".join(f"{k.seconds:.2f} s ({(k.text or k.expression.text)})" for k in keys[:6])
        more = f" and {len(keys) - 6} more" if len(keys) > 6 else ""
        lines.append(f"schedule {track.key}: {points}{more}, {track.interpolation}")
    if timeline.audio is not None and timeline.audio.duration:
        a = timeline.audio
        lines.append(f"audio: {a.duration:.1f} s, {len(a.beats)} beats, {a.bpm:.1f} bpm")
    return lines


def write_curves(timeline: Timeline, times: list[float], path: str | Path) -> dict:
    """The evaluated schedule at every frame time as JSON: {key: [values]}, `times`, `beats`
    (seconds)."""
    record = curves_record(timeline, times)
    Path(path).write_text(json.dumps(record, indent=1))
    return record


def curves_record(timeline: Timeline, times: list[float]) -> dict:
    record = {"times": [round(t, 6) for t in times], **timeline.curves(times)}
    beats = timeline.audio.beats if timeline.audio is not None else []
    if timeline.tempo is not None and not len(beats) and times:
        # a fixed tempo: its beats over the run
        count = int(timeline.tempo.beats_at(times[-1])) + 1
        beats = [timeline.tempo.seconds_at(k) for k in range(count)]
    record["beats"] = [round(float(b), 6) for b in beats if not times or b <= times[-1]]
    return record

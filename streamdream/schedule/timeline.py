"""A run's schedules: every scheduled setting's value at each frame, from its keyframes, its
expressions and the music, handed to the stage as commands (commands.py) before the frame
is dreamt, so a schedule steers the dream exactly as keys, OSC or a web page do.

Frames are timed by their own timestamps (`s`), counted (`t`) and, with a tempo, measured in
beats (`b`): from the beats found in the audio, or from a fixed bpm.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, fields
from typing import Iterable

from ..commands import STRENGTH_RANGE, Command
from ..config import ScheduleConfig
from ..engine.objectives import blend_layers, parse_terms
from .expression import Expression, ExpressionError
from .keyframes import Track, parse_track

# number-valued settings and the range each must stay in
RANGES = {
    "strength": STRENGTH_RANGE,
    "step": (0.0, 1.0),
    "jitter": (0.0, 256.0),
    "colors": (0.0, 1.0),
    "zoom": (0.5, 2.0),
    "rotate": (-180.0, 180.0),
    "pan_x": (-0.5, 0.5),
    "pan_y": (-0.5, 0.5),
}
TEXT_KEYS = ("layers", "preset")  # whose keyframes hold a layer spec or a preset name
ZOOM_KEYS = ("zoom", "rotate", "pan_x", "pan_y")  # only the zoom job has them
TIME_NAMES = ("t", "s", "b")
AUDIO_NAMES = ("rms", "onset", "beat", "low", "mid", "high", "bpm")
# a live show's free knobs (MIDI, OSC /streamdream/knob/N, the page), each 0 to 1, 0 until moved
KNOB_NAMES = tuple(f"knob{k}" for k in range(1, 9))
NAMES = TIME_NAMES + AUDIO_NAMES + KNOB_NAMES

# how each scheduled value reaches the stage
COMMANDS = {"strength": "set_strength", "step": "step", "jitter": "jitter", "colors": "colors",
            "layers": "layer", "preset": "preset_index", "zoom": "zoom", "rotate": "rotate",
            "pan_x": "pan_x", "pan_y": "pan_y"}


def schedule_keys() -> list[str]:
    return [f.name for f in fields(ScheduleConfig) if f.name != "bpm"]


def tracks_of(schedule: ScheduleConfig) -> list[Track]:
    """The schedules set in `schedule`, parsed (syntax, units, order, and each value's own
    syntax), without any clip or audio. Each job checks its schedule so (plan.build_timeline)
    before any work; config.py, below this room, checks only the types."""
    tracks = []
    for key in schedule_keys():
        text = getattr(schedule, key)
        if text is None:
            continue
        track = parse_track(key, text)
        for k in track.keyframes:
            if key == "layers":
                try:
                    parse_terms(k.value)
                except Exception as exc:  # objectives says what is wrong with the spec
                    raise track.error(k.offset, f"not a layer spec ({exc})") from None
            elif key == "preset":
                if not k.value.strip():
                    raise track.error(k.offset, "an empty preset name")
            else:
                try:
                    Expression(k.value, NAMES)
                except ExpressionError as exc:
                    raise track.error(k.offset + exc.offset, str(exc)) from None
        tracks.append(track)
    return tracks


class Tempo:
    """Seconds <-> beats: along the beats found in the audio (a count that steps one per beat,
    in between linearly), or at a fixed `bpm`."""

    def __init__(self, bpm: float | None = None, beats: Iterable[float] = ()):
        self.beats = sorted(beats)
        if bpm is None and len(self.beats) >= 2:
            bpm = 60 * (len(self.beats) - 1) / (self.beats[-1] - self.beats[0])
        if bpm is not None and not (bpm > 0 and math.isfinite(bpm)):
            raise ValueError(f"bpm must be a positive number, got {bpm}")
        self.bpm = bpm
        if len(self.beats) < 2:
            self.beats = []  # a fixed tempo from second 0

    def beats_at(self, seconds: float) -> float:
        if not self.beats:
            return seconds * self.bpm / 60
        period = 60 / self.bpm
        if seconds <= self.beats[0]:
            return (seconds - self.beats[0]) / period
        k = bisect.bisect_right(self.beats, seconds) - 1
        if k >= len(self.beats) - 1:
            return k + (seconds - self.beats[-1]) / period
        return k + (seconds - self.beats[k]) / (self.beats[k + 1] - self.beats[k])

    def seconds_at(self, beats: float) -> float:
        if not self.beats:
            return beats * 60 / self.bpm
        period = 60 / self.bpm
        if beats <= 0:
            return self.beats[0] + beats * period
        k = int(beats)
        if k >= len(self.beats) - 1:
            return self.beats[-1] + (beats - (len(self.beats) - 1)) * period
        return self.beats[k] + (beats - k) * (self.beats[k + 1] - self.beats[k])


@dataclass(frozen=True)
class _Key:
    seconds: float
    offset: int
    expression: Expression | None  # number-valued keys
    text: str  # text-valued keys


class Timeline:
    """The scheduled values of one run. `job` is image, video, zoom or webcam (the zoom keys
    belong to the zoom job alone); `fps` turns frame keyframes into seconds; `audio`
    (audio.AudioFeatures) gives the audio names and, with no `bpm`, the beats. Raises
    ScheduleError for what cannot work with this run: an audio name without audio, beats
    without a tempo, a preset that is not in `presets`."""

    def __init__(self, schedule: ScheduleConfig, fps: float, job: str, audio=None,
                 presets: Iterable[str] | None = None, audio_note: str = "the input has no audio track"):
        self.fps, self.audio = float(fps), audio
        self.live = job == "webcam"
        self.knobs = {name: 0.0 for name in KNOB_NAMES}  # set from the control channel (`set_knob`)
        tempo_bpm = schedule.bpm
        self.tempo = None
        if tempo_bpm is not None or (audio is not None and len(audio.beats) >= 2):
            self.tempo = Tempo(tempo_bpm, () if tempo_bpm is not None else audio.beats)
        self.tracks = tracks_of(schedule)
        self.keys: dict[str, list[_Key]] = {}
        for track in self.tracks:
            if track.key in ZOOM_KEYS and job != "zoom":
                raise track.error(None, f"{track.key} is a zoom setting; only `streamdream zoom` takes it")
            self.keys[track.key] = [self._key(track, k, presets, audio_note) for k in track.keyframes]
            for before, after, k in zip(self.keys[track.key], self.keys[track.key][1:], track.keyframes[1:]):
                if after.seconds <= before.seconds:
                    raise track.error(k.time_offset, f"keyframes out of order: {k.at:g}{k.unit} is at "
                                                     f"{after.seconds:.3f} s, not after the one before ({before.seconds:.3f} s)")
        self.track_of = {t.key: t for t in self.tracks}
        self.marks = {key: [k.seconds for k in keys] for key, keys in self.keys.items()}  # each key's keyframe times
        self._sent: dict[str, object] = {}

    def _key(self, track: Track, k, presets, audio_note: str) -> _Key:
        if k.unit == "b" and self.tempo is None:
            raise track.error(k.time_offset, f"{k.at:g}b is in beats, and there is no tempo: give `bpm` "
                                             f"or audio to find the beats in")
        seconds = k.at / self.fps if k.unit == "f" else k.at if k.unit == "s" else self.tempo.seconds_at(k.at)
        if track.key in TEXT_KEYS:
            if track.key == "preset" and presets is not None and k.value.strip() not in presets:
                raise track.error(k.offset, f"no preset '{k.value.strip()}'; have {', '.join(sorted(presets))}")
            return _Key(seconds, k.offset, None, k.value.strip())
        expression = Expression(k.value, NAMES)
        # with a tempo and no sound, beats come from the tempo's grid
        from_tempo = {"beat", "bpm"} if self.tempo is not None else set()
        audio_read = sorted(expression.reads & set(AUDIO_NAMES) - (from_tempo if self.audio is None else set()))
        if audio_read and self.audio is None:
            raise track.error(k.offset, f"reads {', '.join(audio_read)}, from audio, but {audio_note}; "
                                        f"give an audio file (`audio`)")
        if "b" in expression.reads and self.tempo is None:
            raise track.error(k.offset, "reads b (beats), and there is no tempo: give `bpm` or audio")
        knobs = sorted(expression.reads & set(KNOB_NAMES))
        if knobs and not self.live:
            raise track.error(k.offset, f"reads {', '.join(knobs)}, a live show's knob; only `streamdream webcam` "
                                        f"has knobs (a MIDI controller, OSC, the web page)")
        return _Key(seconds, k.offset, expression, "")

    def names(self, index: int, seconds: float) -> dict[str, float]:
        """What an expression may read at frame `index`, `seconds` into the run."""
        values = {"t": float(index), "s": float(seconds), **self.knobs}
        if self.tempo is not None:
            values["b"] = self.tempo.beats_at(seconds)
        if self.audio is not None:
            values.update(self.audio.at(seconds))
        elif self.tempo is not None:
            phase = values["b"] - math.floor(values["b"])
            values["beat"], values["bpm"] = max(0.0, 1.0 - 2.0 * phase), float(self.tempo.bpm)
        return values

    def set_knob(self, name: str, level: float) -> None:
        """A live knob's new level (0 to 1), read by the expressions from the next frame on."""
        if name not in self.knobs or not 0.0 <= level <= 1.0:
            raise ValueError(f"a knob is knob1 to knob8 at 0 to 1, got {name} at {level}")
        self.knobs[name] = float(level)

    def set_tempo(self, bpm: float, beats: Iterable[float] = ()) -> None:
        """Count beats at `bpm` from now on, along the `beats` given (a performer's taps) and
        on past the last of them."""
        self.tempo = Tempo(bpm, beats)

    def values(self, index: int, seconds: float) -> dict[str, object]:
        """Every scheduled setting's value at this frame: numbers, a layer spec, a preset name.
        ScheduleError (naming the key, the keyframe and the frame) where a value cannot be
        worked out or leaves its range."""
        names = self.names(index, seconds)
        return {key: self._value(key, keys, names, index, seconds) for key, keys in self.keys.items()}

    def _value(self, key: str, keys: list[_Key], names: dict, index: int, seconds: float):
        track = self.track_of[key]
        k = bisect.bisect_right(self.marks[key], seconds) - 1
        if k < 0 or k == len(keys) - 1 or track.interpolation == "step":
            near = keys[max(k, 0)]
            return near.text if near.expression is None else self._number(track, near, names, index, seconds)
        a, b = keys[k], keys[k + 1]
        u = (seconds - a.seconds) / (b.seconds - a.seconds)
        if key == "preset":
            return a.text  # a change of look is a cross-fade the stage makes, not a mixture
        if key == "layers":
            if track.interpolation == "smooth":
                u = u * u * (3 - 2 * u)
            return blend_layers(a.text, b.text, round(u, 3))
        va, vb = self._number(track, a, names, index, seconds), self._number(track, b, names, index, seconds)
        if track.interpolation == "linear":
            return va + (vb - va) * u
        # smooth: a cubic through the keyframes (Catmull-Rom tangents), kept between its two
        # neighbours' values so it never overshoots a setting past what its keyframes ask
        times = self.marks[key]
        before = self._number(track, keys[k - 1], names, index, seconds) if k > 0 else va
        after = self._number(track, keys[k + 2], names, index, seconds) if k + 2 < len(keys) else vb
        span = b.seconds - a.seconds
        ma = (vb - before) / (b.seconds - times[k - 1]) * span if k > 0 else vb - va
        mb = (after - va) / (times[k + 2] - a.seconds) * span if k + 2 < len(keys) else vb - va
        h00, h10, h01, h11 = 2 * u**3 - 3 * u**2 + 1, u**3 - 2 * u**2 + u, -2 * u**3 + 3 * u**2, u**3 - u**2
        value = h00 * va + h10 * ma + h01 * vb + h11 * mb
        return min(max(value, min(va, vb)), max(va, vb))

    def _number(self, track: Track, key: _Key, names: dict, index: int, seconds: float) -> float:
        try:
            value = key.expression(names)
        except ExpressionError as exc:
            raise track.error(key.offset + exc.offset, f"{exc} at frame {index} ({seconds:.2f} s)") from None
        low, high = RANGES[track.key]
        if not low <= value <= high:
            raise track.error(key.offset, f"{value:.4g} at frame {index} ({seconds:.2f} s) is outside "
                                          f"{track.key}'s range {low:g} to {high:g}")
        return value

    def curves(self, times: Iterable[float]) -> dict[str, list]:
        """Each scheduled value at each of these frame times (frames counted from 0): the whole
        schedule checked at once, before any work, and what `schedule --json` prints."""
        out: dict[str, list] = {key: [] for key in self.keys}
        for index, seconds in enumerate(times):
            for key, value in self.values(index, seconds).items():
                out[key].append(value)
        return out

    def commands(self, index: int, seconds: float) -> list[Command]:
        """The commands that bring the stage to this frame's values: one per value that changed
        since the last frame's."""
        out = []
        for key, value in self.values(index, seconds).items():
            if key == "jitter":
                value = int(round(value))
            if self._sent.get(key) != value:
                self._sent[key] = value
                out.append(Command(COMMANDS[key], value))
        return out

"""Audio features a schedule reads, from a whole track (a file's) or a live one: loudness
(`rms`), onset strength (`onset`), beats (`beat`: 1 on a beat, falling to 0 halfway to the next),
band energies (`low`, `mid`, `high`) and the tempo (`bpm`). Onsets and beats are librosa's, in
the `audio` extra. Every feature but bpm is normalised to 0-1 over the track."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UsageError

RATE = 22050
HOP = 256  # 11.6 ms a feature frame: beats land within a video frame of the truth
BANDS = ((20.0, 250.0), (250.0, 2000.0), (2000.0, 11025.0))  # Hz: low, mid, high
# a beat where the sound is this quiet, against the track's loudest, is the tracker carrying
# on its tempo through silence, not a beat anyone hears
SILENT = 0.05
SILENCE_GAP = 1.0  # seconds of silence that end a stretch of music: its beats are tracked apart
SNAP = 0.07  # seconds back a beat may move to the attack of its onset


def librosa_module():
    try:
        import librosa
    except ImportError:
        raise UsageError("audio features need the audio extra: pip install 'streamdream[audio]'") from None
    return librosa


@dataclass(frozen=True)
class AudioFeatures:
    """Features over time: `times` (seconds) of each feature frame, the 0-1 curves there, the
    beat times in seconds, the tempo, and the track's length."""

    times: np.ndarray
    curves: dict[str, np.ndarray]  # rms, onset, low, mid, high
    beats: np.ndarray
    bpm: float
    duration: float

    def shifted(self, seconds: float) -> "AudioFeatures":
        """The same features with `seconds` taken off every time: a run that starts `seconds`
        into its input reads the audio from there."""
        if seconds == 0:
            return self
        beats = self.beats - seconds
        return AudioFeatures(self.times - seconds, self.curves, beats[beats >= 0], self.bpm, self.duration - seconds)

    def at(self, seconds: float) -> dict[str, float]:
        """Every feature at `seconds` from the track's start (a frame's own timestamp)."""
        out = {name: float(np.interp(seconds, self.times, curve)) for name, curve in self.curves.items()}
        out["beat"] = beat_pulse(self.beats, seconds)
        out["bpm"] = self.bpm
        return out


def beat_pulse(beats: np.ndarray, seconds: float) -> float:
    """1 on a beat, falling linearly to 0 halfway to the next; 0 before the first beat and
    after the last one's interval."""
    k = int(np.searchsorted(beats, seconds, side="right")) - 1
    if k < 0:
        return 0.0
    if k + 1 < len(beats):
        interval = beats[k + 1] - beats[k]
    elif k > 0:
        interval = beats[k] - beats[k - 1]
    else:
        interval = 0.5
    return float(max(0.0, 1.0 - 2.0 * (seconds - beats[k]) / interval))


def _normalised(curve: np.ndarray) -> np.ndarray:
    top = float(curve.max()) if curve.size else 0.0
    return (curve / top).astype(np.float32) if top > 0 else np.zeros_like(curve, dtype=np.float32)


def analyse(samples: np.ndarray, rate: int = RATE) -> AudioFeatures:
    """The features of mono float samples at `rate`."""
    librosa = librosa_module()
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    duration = samples.size / rate
    if samples.size < 2048 or not np.any(samples):
        frames = max(1, samples.size // HOP + 1)
        zero = np.zeros(frames, np.float32)
        times = np.arange(frames) * HOP / rate
        return AudioFeatures(times, {k: zero for k in ("rms", "onset", "low", "mid", "high")}, np.zeros(0), 0.0, duration)
    spectrum = np.abs(librosa.stft(samples, n_fft=2048, hop_length=HOP))
    freqs = librosa.fft_frequencies(sr=rate, n_fft=2048)
    rms = librosa.feature.rms(S=spectrum, frame_length=2048)[0]
    # onsets on a mel scale, as librosa does by default: kicks and snares weigh more than hats
    mel = librosa.feature.melspectrogram(S=spectrum**2, sr=rate)
    onset = librosa.onset.onset_strength(S=librosa.power_to_db(mel, ref=np.max), sr=rate, hop_length=HOP)
    bands = [np.sqrt((spectrum[(freqs >= lo) & (freqs < hi)] ** 2).mean(axis=0)) for lo, hi in BANDS]
    times = librosa.frames_to_time(np.arange(len(rms)), sr=rate, hop_length=HOP)
    loud = _normalised(rms)
    beats = times[_beat_frames(librosa, onset, loud, rate, _flux(bands[0]))]
    # the tempo from the beats themselves (their mean interval), not from the tempogram's lag
    # grid, which at this hop is 2-3% coarse at 120 bpm
    intervals = np.diff(beats)
    steady = intervals[(intervals > 0) & (np.abs(intervals - np.median(intervals)) < 0.25 * np.median(intervals))] \
        if intervals.size else intervals
    bpm = float(60.0 / steady.mean()) if steady.size else 0.0
    curves = {"rms": loud, "onset": _normalised(onset[:len(rms)]), "low": _normalised(bands[0]),
              "mid": _normalised(bands[1]), "high": _normalised(bands[2])}
    return AudioFeatures(times, curves, beats, bpm, duration)


def _beat_frames(librosa, onset: np.ndarray, loud: np.ndarray, rate: int, bass: np.ndarray) -> np.ndarray:
    """The feature frames of the beats: tracked afresh in each stretch of sound between
    silences (a tracker carried across a silence keeps the old phase, and came back half a beat
    off), each beat then moved to the start of the onset it sits on (the onset envelope peaks a
    frame or two after the attack a listener hears)."""
    n = min(len(onset), len(loud))
    sounding = loud[:n] >= SILENT
    gap = int(round(SILENCE_GAP * rate / HOP))
    stretches, start, quiet = [], None, 0
    for k in range(n):
        if sounding[k]:
            start = k if start is None else start
            quiet = 0
        elif start is not None:
            quiet += 1
            if quiet >= gap:
                stretches.append((start, k - quiet + 1))
                start, quiet = None, 0
    if start is not None:
        stretches.append((start, n))
    found = []
    attacks = librosa.onset.onset_detect(onset_envelope=onset[:n], sr=rate, hop_length=HOP, backtrack=True,
                                         energy=onset[:n])
    window = int(round(SNAP * rate / HOP))
    for a, b in stretches:
        if b - a < gap:
            continue
        _, frames = librosa.beat.beat_track(onset_envelope=onset[a:b], sr=rate, hop_length=HOP, units="frames")
        for f in _on_the_bass(np.asarray(frames, dtype=int) + a, bass, a, b):
            near = attacks[(attacks <= f) & (attacks >= f - window)]
            found.append(int(near[-1]) if near.size else int(f))
    beats = np.array(sorted(set(found)), dtype=int)
    # a beat moved back to its attack may sit on the quiet frame just before the sound
    return beats[sounding[beats] | (loud[np.minimum(beats + 2, n - 1)] >= SILENT)]


def _flux(band: np.ndarray) -> np.ndarray:
    """How much a band's energy rises from one feature frame to the next (0 where it falls)."""
    return np.maximum(np.diff(band, prepend=band[:1]), 0.0)


def _on_the_bass(frames: np.ndarray, bass: np.ndarray, a: int, b: int) -> np.ndarray:
    """`frames`, or the same half a beat later, whichever the low band rises on more: a short
    stretch (after a silence) let the tracker lock onto the hats between the beats, where the
    kicks and snares, on the beats, carry the low notes."""
    if frames.size < 2:
        return frames
    half = int(round(float(np.median(np.diff(frames))) / 2))
    moved = frames + half
    rise = lambda at: float(bass[np.clip(at, a, b - 1)].mean())
    if rise(moved) > 1.5 * rise(frames) + 1e-9:
        return moved[moved < b]
    return frames


def read_features(path, role: str = "audio") -> AudioFeatures | None:
    """The features of `path`'s first audio stream; None when it has none."""
    from ..media.audio_in import read_audio

    librosa_module()  # before decoding anything: a missing extra is said at once
    samples = read_audio(path, RATE, role)
    return None if samples is None else analyse(samples, RATE)

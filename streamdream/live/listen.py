"""Sound heard live: a microphone through sounddevice (the audio extra), or any source of sample
blocks, turned as it is heard into the features a file's sound gives a schedule (rms, onset,
beat, low, mid, high, bpm), so `webcam --audio-input` steers the dream with the room's music."""

from __future__ import annotations

import queue
import threading
import time
from typing import Iterable

import numpy as np

from ..errors import UsageError
from ..schedule.audio import BANDS, beat_pulse

RATE = 22050
BLOCK = 512  # samples: 23 ms, the longest a sound waits to be heard
# live features are normalised by their loudest lately, which falls back by this a block (about
# half in 20 s), so a quiet song after a loud one still fills 0-1
PEAK_DECAY = 0.9985
BEAT_ONSET = 0.5  # an onset this strong (0-1) starts a beat
MIN_BEAT_GAP = 0.25  # seconds: no two beats closer (240 bpm)


def sounddevice_module():
    try:
        import sounddevice
    except ImportError:
        raise UsageError("live audio needs the audio extra: pip install 'streamdream[audio]'") from None
    except OSError as exc:  # the package is there, PortAudio is not
        raise UsageError(f"live audio needs PortAudio ({exc}); install it, e.g. apt install libportaudio2") from None
    return sounddevice


class LiveAudio:
    """Features of the sound heard so far. `blocks` gives mono float blocks as they are heard (a
    test's injected sound); without it the microphone `device` (None: the default one) is opened.
    `at(seconds)` gives the newest features, whatever `seconds`: live, now is what counts."""

    duration = 0.0

    def __init__(self, blocks: Iterable[np.ndarray] | None = None, device: str | int | None = None,
                 rate: int = RATE, clock=time.perf_counter):
        self.rate, self.clock = rate, clock
        self.start = clock()
        self._lock = threading.Lock()
        self._values = {"rms": 0.0, "onset": 0.0, "low": 0.0, "mid": 0.0, "high": 0.0}
        self._peaks = {name: 1e-6 for name in self._values}
        self._previous: np.ndarray | None = None
        self._beats: list[float] = []
        self._stop = threading.Event()
        self._queue: queue.Queue = queue.Queue(maxsize=256)
        self._stream = None
        if blocks is None:
            sd = sounddevice_module()
            try:
                self._stream = sd.InputStream(samplerate=rate, blocksize=BLOCK, channels=1, device=device,
                                              dtype="float32", callback=self._heard)
                self._stream.start()
            except Exception as exc:  # PortAudio's errors: no such device, busy, refused
                raise UsageError(f"cannot open the audio input {device if device is not None else '(default)'}: "
                                 f"{exc}; list them with python -m sounddevice") from None
            blocks = self._from_queue()
        self._thread = threading.Thread(target=self._listen, args=(iter(blocks),), name="listen", daemon=True)
        self._thread.start()

    def _heard(self, data, frames, when, status) -> None:  # sounddevice's thread
        try:
            self._queue.put_nowait(data[:, 0].copy())
        except queue.Full:
            pass  # the features thread is behind: the newest sound matters, not every block

    def _from_queue(self):
        while not self._stop.is_set():
            try:
                yield self._queue.get(timeout=0.1)
            except queue.Empty:
                continue

    def _listen(self, blocks) -> None:
        for block in blocks:
            if self._stop.is_set():
                return
            self.feed(np.asarray(block, dtype=np.float32).reshape(-1))

    def feed(self, block: np.ndarray) -> None:
        """Hear one block of mono samples now."""
        at = self.clock() - self.start
        spectrum = np.abs(np.fft.rfft(block * np.hanning(block.size))) if block.size > 1 else np.zeros(1)
        freqs = np.fft.rfftfreq(max(block.size, 1), 1 / self.rate)
        logs = np.log1p(1000 * spectrum)
        flux = 0.0 if self._previous is None or self._previous.shape != logs.shape else \
            float(np.maximum(logs - self._previous, 0).mean())
        self._previous = logs
        raw = {"rms": float(np.sqrt(np.mean(block**2))) if block.size else 0.0, "onset": flux}
        for name, (low, high) in zip(("low", "mid", "high"), BANDS):
            band = spectrum[(freqs >= low) & (freqs < high)]
            raw[name] = float(np.sqrt(np.mean(band**2))) if band.size else 0.0
        with self._lock:
            for name, value in raw.items():
                self._peaks[name] = max(value, self._peaks[name] * PEAK_DECAY)
                self._values[name] = min(1.0, value / self._peaks[name]) if self._peaks[name] > 1e-6 else 0.0
            if self._values["onset"] >= BEAT_ONSET and raw["rms"] > 1e-4 and \
                    (not self._beats or at - self._beats[-1] >= MIN_BEAT_GAP):
                self._beats.append(at)
                del self._beats[:-64]

    @property
    def beats(self) -> np.ndarray:
        with self._lock:
            return np.array(self._beats)

    @property
    def bpm(self) -> float:
        """The tempo of the latest beats heard (their median interval); 0 until there are four."""
        beats = self.beats[-9:]
        if beats.size < 4:
            return 0.0
        return float(60.0 / np.median(np.diff(beats)))

    def at(self, seconds: float) -> dict[str, float]:
        now = self.clock() - self.start
        with self._lock:
            out = dict(self._values)
            beats = np.array(self._beats)
        out["beat"] = beat_pulse(beats, now)
        out["bpm"] = self.bpm
        return out

    def close(self) -> None:
        self._stop.set()
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
        self._thread.join(timeout=1)


class TapTempo:
    """The tempo a performer taps (the t key): each tap a beat; the tempo is the median of the
    last few intervals, and the beats count from the taps."""

    def __init__(self, reset_after: float = 2.0):
        self.reset_after = reset_after
        self.taps: list[float] = []

    def tap(self, seconds: float) -> float | None:
        """A tap at `seconds`; the tempo once there are two taps close enough, else None."""
        if self.taps and seconds - self.taps[-1] > self.reset_after:
            self.taps = []
        self.taps = [*self.taps[-7:], seconds]
        if len(self.taps) < 2:
            return None
        return float(60.0 / np.median(np.diff(self.taps)))

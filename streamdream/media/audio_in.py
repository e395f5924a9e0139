"""The sound of a file (a video's own track or an audio file), decoded with PyAV to mono float
samples, for the audio features a schedule reads (schedule/audio.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import UsageError
from .images import input_file
from .opening import open_media

# hours of sound is a long film; more is a mistake that would fill the memory
MAX_SECONDS = 4 * 3600


def read_audio(path: str | Path, rate: int = 22050, role: str = "audio") -> np.ndarray | None:
    """Mono float32 samples at `rate` of the first audio stream of `path`, from its start;
    None when the file has no audio stream. UsageError when it is not a file FFmpeg can read."""
    import av

    path = Path(path)
    input_file(path, role)
    with open_media(path, role) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks, total, limit = [], 0, MAX_SECONDS * rate
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
                    total += chunks[-1].size
                if total > limit:
                    raise UsageError(f"{role} {path} holds over {MAX_SECONDS // 3600} hours of sound; cut it first")
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as exc:
            if not chunks:
                raise UsageError(f"the audio of {path} cannot be decoded ({exc.strerror or exc})") from None
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    return np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0)


def check_audio(path: str | Path, role: str = "audio") -> Path:
    """`path` if it is a file FFmpeg reads with an audio stream; UsageError saying what is wrong."""
    path = Path(path)
    input_file(path, role)
    with open_media(path, role) as container:
        if not container.streams.audio:
            raise UsageError(f"{role} {path} has no audio stream; give a sound file (WAV, MP3, AAC, ...)")
    return path

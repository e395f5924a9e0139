"""The film made of a cluster render's pieces: each chunk's own frames as its worker encoded
them and each seam, encoded here as a worker encodes, put one after another without encoding
again, with the input's audio copied once."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..media.video_out import VideoFileSink


def encode_frames(frames: list[np.ndarray], times: list[float], path: Path, rate, time_base, crf: int) -> int:
    """Encode RGB uint8 frames shown at `times` into `path`, as a worker encodes its chunk (so
    the two join into one stream); returns the frames written."""
    sink = VideoFileSink(path, rate, time_base, crf, overwrite=True)
    try:
        for image, at in zip(frames, times):
            sink.write(image, at)
        sink.close()
    except BaseException:
        sink.abort()
        raise
    return len(frames)


def join_into(sink: VideoFileSink, pieces: list[tuple[Path, list[float]]], height: int, width: int) -> int:
    """Copy `pieces` (videos made by `encode_frames` or a worker, in the film's order, each with
    its frames' times in the film) into `sink` packet for packet; returns the frames copied."""
    return sum(sink.append(piece, times, height, width) for piece, times in pieces)

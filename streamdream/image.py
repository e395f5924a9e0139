"""`streamdream image` as a library call: one picture (a file or soft noise) dreamt with the full
octave dream and written through an atomic rename."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import Config
from .engine.dream import Progress
from .engine.dreamer import Dreamer
from .media.images import load_guide, start_picture, write_image
from .media.outputs import IMAGE_SUFFIXES, check_output


@dataclass
class ImageResult:
    output: Path
    image: np.ndarray  # the dream, RGB uint8 (H, W, 3)
    description: str  # the model, objective and seed, for the report
    device: str
    seconds: float  # dreaming alone
    compile_seconds: float  # of it, compiling the network ([dream] compile)


def dream_image(config: Config, source: str, output: str | Path, overwrite: bool = False,
                progress: Progress | None = None) -> ImageResult:
    """Dream `source` (an image file, or `noise` / `noise:WxH`) into `output` (.png, .jpg, .webp).
    The output is checked before any work and written only when the dream is whole."""
    output = check_output(output, [source, config.dream.guide], overwrite, IMAGE_SUFFIXES)
    frame = start_picture(source, config.dream.width, config.dream.seed or 0, f"input {source}")
    dreamer = Dreamer.from_config(config.dream, guide=load_guide(config.dream))
    start = time.perf_counter()
    dreamt = dreamer.dream_frame(frame, progress)
    seconds = time.perf_counter() - start
    write_image(dreamt, output)
    return ImageResult(output, dreamt, f"{config.dream.model} {dreamer.objective.description}, seed {dreamer.seed}",
                       dreamer.device.type, seconds, dreamer.net.compile_seconds)

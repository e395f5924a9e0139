"""`streamdream image` as a library call: one picture (a file or soft noise) dreamt with the full
octave dream and written through an atomic rename."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .config import Config
from .engine.colors import keep_colors
from .engine.dream import Progress
from .engine.dreamer import Dreamer
from .media.images import load_guide, read_alpha, start_picture, write_image
from .media.outputs import IMAGE_SUFFIXES, check_output
from .presets import builtin_presets, preset_dream
from .schedule.plan import build_timeline


def at_frame(config: Config, values: dict) -> Config:
    """`config` with one frame's scheduled values (timeline.Timeline.values) laid over it."""
    if "preset" in values:
        config = replace(config, dream=preset_dream(values["preset"], config.dream))
    dream = config.dream
    changes = {k: values[k] for k in ("step", "layers") if k in values}
    if "jitter" in values:
        changes["jitter"] = int(round(values["jitter"]))
    changes["step"] = changes.get("step", dream.step) * float(values.get("strength", 1.0))
    return replace(config, dream=replace(dream, **changes))


@dataclass
class ImageResult:
    output: Path
    image: np.ndarray  # the dream, RGB uint8 (H, W, 3)
    description: str  # the model, objective and seed, for the report
    device: str
    seconds: float  # dreaming alone
    compile_seconds: float  # of it, compiling the network ([dream] compile)
    notes: list[str]  # what the report should say about how the picture was read or written


def dream_image(config: Config, source: str, output: str | Path, overwrite: bool = False,
                progress: Progress | None = None) -> ImageResult:
    """Dream `source` (an image file, or `noise` / `noise:WxH`) into `output` (.png, .jpg, .webp).
    The output is checked before any work and written only when the dream is whole."""
    output = check_output(output, [source, config.dream.guide], overwrite, IMAGE_SUFFIXES)
    # a picture is frame 0 of its schedule
    timeline = build_timeline(config, "image", 25.0, None, None, 0.0, builtin_presets())
    values = timeline.values(0, 0.0) if timeline is not None else {}
    config = at_frame(config, values)
    frame = start_picture(source, config.dream.width, config.dream.seed or 0, f"input {source}")
    dreamer = Dreamer.from_config(config.dream, guide=load_guide(config.dream))
    start = time.perf_counter()
    dreamt = keep_colors(dreamer.dream_frame(frame, progress), frame, float(values.get("colors", 1.0)))
    seconds = time.perf_counter() - start
    alpha = read_alpha(source, config.dream.width) if Path(source).exists() else None
    notes = []
    if alpha is not None and output.suffix.lower() in (".png", ".webp"):
        dreamt = np.dstack([dreamt, alpha])
        notes.append(f"{source} is transparent in places; {output.name} keeps its transparency")
    elif alpha is not None:
        notes.append(f"{source} is transparent in places, which {output.suffix} cannot hold; "
                     f"write a .png or .webp to keep it")
    write_image(dreamt, output)
    return ImageResult(output, dreamt, f"{config.dream.model} {dreamer.objective.description}, seed {dreamer.seed}",
                       dreamer.device.type, seconds, dreamer.net.compile_seconds, notes)

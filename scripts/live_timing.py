"""For the live benchmarks: when each frame was dreamt (and at what strength), and when the
display first showed it, recorded by wrapping the live stage and the compositor; and their
printed lines kept for a Markdown page in docs/."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from streamdream.live import compositor as compositor_module, stage as stage_module


def time_frames(strengths: list | None = None) -> tuple[list[tuple[float, float]], dict[int, float]]:
    """Start recording; returns `dreamt`, (finished at, strength used) per dreamt frame in order,
    and `shown`, dreamt count -> the first time the display showed it. Both fill as the show runs;
    so does `strengths`, if given, with (when, the strength shown) for every picture shown."""
    dreamt: list[tuple[float, float]] = []
    shown: dict[int, float] = {}
    next_dream, present = stage_module.LiveStage.next, compositor_module.Compositor.present

    def timed_next(self, image, motion):
        strength = self.stream.strength
        out = next_dream(self, image, motion)
        dreamt.append((time.perf_counter(), strength))
        return out

    def timed_present(self, frame, latest):
        out = present(self, frame, latest)
        if latest is not None and latest.count not in shown:
            shown[latest.count] = time.perf_counter()
        if strengths is not None and latest is not None:
            strengths.append((time.perf_counter(), self.strength))
        return out

    stage_module.LiveStage.next, compositor_module.Compositor.present = timed_next, timed_present
    return dreamt, shown


def report(lines: list[str]):
    """A print that also keeps each line in `lines`."""
    import builtins

    def say(*parts, **kw):
        text = " ".join(str(x) for x in parts)
        lines.append(text)
        builtins.print(text, **kw, flush=True)

    return say


def write_page(path: Path, title: str, lines: list[str], width: int) -> None:
    """`lines` as a Markdown page, headed with the machine they were measured on."""
    import __main__

    from bench import machine

    facts = machine(torch.device("cpu"))
    body = "\n".join(f"- {line}" for line in lines)
    path.write_text(f"# {title}\n\nWritten by `scripts/{Path(__main__.__file__).name}` on {facts['cpu']}, "
                    f"{facts['cores']} cores, {width} wide, the default look.\n\n{body}\n")

"""For the live benchmarks: when each frame was dreamt (and at what strength), and when the
display first showed it, recorded by wrapping the live stage and the compositor; and their
printed lines kept for a Markdown page in docs/."""

from __future__ import annotations

import os
import threading
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


def thread_seconds() -> dict[str, float]:
    """The CPU seconds each of this process's Python threads has used so far, by thread name
    (threads of one name added up); empty where the system keeps no per-thread counts (Linux's
    /proc does)."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    seconds: dict[str, float] = {}
    for thread in threading.enumerate():
        try:
            fields = Path(f"/proc/self/task/{thread.native_id}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # utime and stime, the 14th and 15th fields of the line, the 12th and 13th after the name
        seconds[thread.name] = seconds.get(thread.name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return seconds


class ThreadLoad:
    """How much of a core each thread of a live show used, over a window from `start` to `end`
    seconds after this is made, measured by a watcher thread. A show on a CPU leaves the dream one
    core and shares the other out (display, flow, decoding): where the dream thread gets less than
    its core, its rate falls below what its own work allows."""

    def __init__(self, start: float, end: float):
        if not 0 <= start < end:
            raise ValueError(f"need 0 <= start < end, got {start} and {end}")
        self.start, self.end = start, end
        self.shares: dict[str, float] = {}
        self.window = (start, end)  # seconds in, as measured once the window has passed
        self._thread = threading.Thread(target=self._watch, name="load", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        begin = time.perf_counter()
        time.sleep(self.start)
        first, at = thread_seconds(), time.perf_counter()
        time.sleep(self.end - self.start)
        last, span = thread_seconds(), time.perf_counter() - at
        self.shares = {name: (used - first.get(name, 0.0)) / span for name, used in last.items()
                       if name != "load" and name in first}
        self.window = (at - begin, at - begin + span)

    def line(self) -> str | None:
        """The shares measured, as one line; None when the window has not passed or nothing was measured."""
        if not self.shares:
            return None
        busy = sorted(self.shares.items(), key=lambda item: -item[1])
        # (the forward flow runs on the flow stage's pool: engine.motion.MotionTracker)
        named = {"MainThread": "display (main)", "flow_0": "flow, forward"}
        listed = ", ".join(f"{named.get(name, name)} {share:.0%}" for name, share in busy if share >= 0.005)
        return f"a core's share each thread used, {self.window[0]:.0f}-{self.window[1]:.0f} s in: {listed}"


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

"""Every change of the dream over time is a `Command` on a `ControlChannel`: keys, OSC, a
schedule or a web page all send the same ones, and the run loop reads them between frames and
hands the dream's share on to the dream stage. Nothing reaches into a stage from another thread.
"""

from __future__ import annotations

import queue
from dataclasses import dataclass

STRENGTH_RANGE = (0.1, 10.0)  # the strength multiplier's bounds, whoever sets it


def clamp_strength(value: float) -> float:
    """`value` brought into STRENGTH_RANGE."""
    low, high = STRENGTH_RANGE
    return float(min(max(float(value), low), high))


@dataclass(frozen=True)
class Command:
    """One instruction: quit, preset (+1/-1), preset_index (an index or a name), strength (a factor),
    set_strength, layer (+1 deeper/-1 shallower or a spec), step, jitter, colors (0-1, see
    engine.colors), zoom, rotate, pan_x, pan_y (the zoom's), freeze, fullscreen, record, snapshot,
    hud, knob ((name, level): a live schedule's variable); `value` its argument (see KEYS and
    OSC_ADDRESSES)."""

    name: str
    value: object = None


# the commands the dream stage carries out; the rest are the display's
DREAM_COMMANDS = {"preset", "preset_index", "strength", "set_strength", "layer", "step", "jitter", "colors"}


class ControlChannel:
    """A thread-safe queue of commands: any thread puts, the run loop drains."""

    def __init__(self):
        self._queue: queue.SimpleQueue[Command] = queue.SimpleQueue()

    def put(self, command: Command) -> None:
        self._queue.put(command)

    def drain(self) -> list[Command]:
        out = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out

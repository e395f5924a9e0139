"""The vocabulary every room shares: a `Frame`, and the small interfaces a run is built from.

    Source --frames--> Stage --dreamt frames--> Sink(s)

A `Source` yields frames, a `Stage` dreams them (on its own thread), a `Sink` takes the result;
a `Display` lays the latest dream onto newer frames for live runs. Frames are upright RGB uint8
arrays (H, W, 3) with their time in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Protocol

import numpy as np

# below this the deeper layers have no spatial extent left to dream in, and optical flow fails
MIN_SIDE = 32
ASPECT = 9 / 16  # height over width of the frames asked of cameras and made by the test scene


def height_for(width: int) -> int:
    """The even 16:9 height for `width` pixels."""
    return max(2, round(width * ASPECT / 2) * 2)


@dataclass(frozen=True)
class Frame:
    """One upright RGB uint8 frame (H, W, 3), its time in seconds from the source's start, its index,
    and for live sources the `time.perf_counter()` it was captured at (for latency)."""

    image: np.ndarray
    time: float
    index: int
    captured: float | None = None


class Source(Protocol):
    """Where a run's frames come from. `live` sources deliver in real time (the run keeps only the
    newest frame); the others are read as fast as the run takes them, every frame."""

    live: bool

    def frames(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...


class Stage(Protocol):
    """The dream stage: `next(image, motion)` gives what the stage made of the frame (a dreamt
    image; the live stage gives its dream detail, which the display lays on), called on the dream
    thread only. `control` takes the commands meant for the dream between frames; `keyframes`
    counts the full dreams it made. A stage may also have `strength`, how strong the dream it
    last gave is, so a display can follow a strength command before the next dream comes."""

    keyframes: int

    def next(self, image: np.ndarray, motion) -> np.ndarray: ...

    def control(self, command) -> None: ...

    def cancel(self) -> None:
        """The run is stopping: long work in hand stops at its next step (errors.Cancelled)."""


class Sink(Protocol):
    def write(self, image: np.ndarray, time: float) -> None: ...
    def close(self) -> object: ...
    def abort(self) -> None: ...


@dataclass
class Dreamt:
    """The latest dream, for the display: the input frame it was dreamt on, what the stage made
    of it (for the live stage, its dream detail as float32), and how many were dreamt so far."""

    frame: Frame
    output: np.ndarray
    count: int
    strength: float = 1.0  # the stage's strength when it dreamt it (`strength` of a stage that has one)


class Display(Protocol):
    """Lays the latest dream onto a newer camera frame (see live.Compositor)."""

    def present(self, frame: Frame, dreamt: Dreamt | None) -> np.ndarray: ...

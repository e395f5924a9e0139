"""A schedule drawn before a render: every scheduled value over time, one panel each, with the
waveform's loudness, the beats and the keyframes marked (matplotlib, in the audio extra)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import UsageError
from .timeline import Timeline


def plot_curves(timeline: Timeline, record: dict, output: str | Path) -> Path:
    """Draw `record` (plan.curves_record of `timeline`) into `output` (.png, .svg, .pdf)."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no screen needed
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("the plot needs the audio extra: pip install 'streamdream[audio]'") from None
    times = record["times"]
    keys = list(timeline.keys)
    panels = len(keys) + (1 if timeline.audio is not None else 0)
    fig, axes = plt.subplots(panels, 1, figsize=(10, 1.8 * panels + 0.6), sharex=True, squeeze=False)
    axes = axes[:, 0]
    row = 0
    if timeline.audio is not None:
        a = timeline.audio
        ax = axes[0]
        ax.fill_between(a.times, 0, a.curves["rms"], color="0.6", linewidth=0, label="rms")
        ax.plot(a.times, a.curves["onset"], color="tab:orange", linewidth=0.6, label="onset")
        ax.set_ylabel("audio")
        ax.set_ylim(0, 1.05)
        ax.legend(loc="upper right", fontsize=7)
        row = 1
    for key, ax in zip(keys, axes[row:]):
        values = record[key]
        if isinstance(values[0], str):
            # layer specs or preset names: how far along the keyframes' values it is, each
            # keyframe's value a labelled level (a blend lies between two levels)
            marks = [k.seconds for k in timeline.keys[key]]
            along = np.interp(times, marks, np.arange(len(marks)))
            if key == "preset" or timeline.track_of[key].interpolation == "step":
                along = np.floor(along + 1e-9)
            ax.plot(times, along, color="tab:blue", linewidth=1.2)
            ax.set_yticks(range(len(marks)))
            ax.set_yticklabels([_short(k.text) for k in timeline.keys[key]], fontsize=7)
        else:
            ax.plot(times, values, color="tab:blue", linewidth=1.2)
        for k in timeline.keys[key]:
            ax.axvline(k.seconds, color="tab:green", linewidth=0.8, linestyle="--")
        ax.set_ylabel(key)
    for beat in record.get("beats", []):
        for ax in axes:
            ax.axvline(beat, color="tab:red", linewidth=0.4, alpha=0.5)
    axes[-1].set_xlabel("seconds  (green: keyframes, red: beats)")
    fig.tight_layout()
    output = Path(output)
    fig.savefig(output, dpi=110)
    plt.close(fig)
    return output


def _short(text: str) -> str:
    return text if len(text) <= 24 else text[:21] + "..."

"""Where two chunks of a cluster render meet inside a shot: the frames both dreamt, the end of
the one before and the warm-up's end of the one after, cross-faded detail by detail."""

from __future__ import annotations

import numpy as np
import torch

from ..engine.blur import local_strength
from ..engine.tensors import to_frame, to_tensor

# the most a seam frame's detail is lifted back to the strength either dream has alone
MAX_LIFT = 2.0


def crossfade(before: torch.Tensor, after: torch.Tensor, base: torch.Tensor, share: float) -> torch.Tensor:
    """One seam frame: the dreams `before` and `after` of the same input `base`, all
    (1, 3, H, W) in [0, 1], mixed `share` (0: all `before`, 1: all `after`) of the way.

    The mix is of their details (dream minus input), and is lifted where two unlike details
    cancel, back to the local strength each would have alone in that mix (at most MAX_LIFT
    times), so the seam morphs from one dream to the other without going plain on the way."""
    if not before.shape == after.shape == base.shape:
        raise ValueError(f"the two dreams and their input differ in shape: {tuple(before.shape)}, "
                         f"{tuple(after.shape)}, {tuple(base.shape)}")
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be in [0, 1], got {share}")
    one, two = before - base, after - base
    mixed = one * (1.0 - share) + two * share
    wanted = local_strength(one) * (1.0 - share) + local_strength(two) * share
    lift = (wanted / local_strength(mixed).clamp_min(1e-6)).clamp(1.0, MAX_LIFT)
    return (base + mixed * lift).clamp(0.0, 1.0)


def seam_frames(before: np.ndarray, after: np.ndarray, inputs: np.ndarray) -> list[np.ndarray]:
    """The seam: RGB uint8 stacks (N, H, W, 3) of the chunk before's last N dreams, the chunk
    after's warm-up's last N and the input frames they are of -> N frames, each a step further
    from the first dream to the second (never all of either: the frames around the seam are)."""
    if not before.shape == after.shape == inputs.shape or before.ndim != 4:
        raise ValueError(f"need three (N, H, W, 3) stacks of one shape, got {before.shape}, {after.shape}, "
                         f"{inputs.shape}")
    n = len(inputs)
    return [to_frame(crossfade(to_tensor(b), to_tensor(a), to_tensor(i), (j + 1) / (n + 1)))
            for j, (b, a, i) in enumerate(zip(before, after, inputs))]

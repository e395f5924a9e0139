"""What a live dream has not reached yet along the frame's edges, filled for the display.

A CPU's live dream steps one band of the frame a dreamt frame (see stage.LIVE_CPU_REGIONS). What
the camera brings in at an edge carries no dream (the flow leads beyond the frame there) until a
step reaches it, a few dreamt frames later: its detail is exactly nothing. Shown so, the display
laid a plain strip a few pixels wide along the edge, and carried it inwards as the camera moved:
a seam between the dream and the display's own mirrored fill beyond it. `fill_bare` gives such
pixels the dream mirrored about the nearest pixel that has one, as the display fills what came in
between two dreams (engine.warp.mirror_inside); the dream stage's own state is left as it is, so
its steps still find them newly shown.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..engine.warp import MIRROR_SKIP

# bare pixels this near an edge are filled: wider than a fast pan brings in between two dreamt
# frames, and than the 16 px band metrics.edges judges
BARE_REACH = 24


def bare_pixels(detail: np.ndarray) -> np.ndarray:
    """Where dream detail (H, W, 3) float32 is exactly nothing in every channel: (H, W) bool."""
    if detail.ndim != 3 or detail.shape[2] != 3 or detail.dtype != np.float32:
        raise ValueError(f"expected float32 detail (H, W, 3), got {detail.dtype} {detail.shape}")
    return cv2.inRange(detail, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)) > 0


def mirror_sources(bare: np.ndarray, skip: int = round(MIRROR_SKIP)) -> np.ndarray:
    """For each pixel of `bare` (R, N) bool, the index along its row its fill is read from: the row
    mirrored about the nearest pixel that is not bare, `skip` pixels further in (a pixel `k` past
    it reads `k + skip` before it: mirrored about the pixel itself, the lines either side of it
    were the same lines in reverse, and the display's warp, a fraction of a pixel, made two of them
    one line repeated); -1 where the mirror falls beyond the row or on a bare pixel, or the row is
    all bare (read from the nearest pixel itself instead, a run of bare pixels was one line
    repeated: the stripes this fill is for). (R, N) int."""
    if bare.ndim != 2 or bare.dtype != np.bool_:
        raise ValueError(f"expected a bool (R, N) mask, got {bare.dtype} {bare.shape}")
    if skip < 0:
        raise ValueError(f"skip must be >= 0, got {skip}")
    rows, n = bare.shape
    index = np.broadcast_to(np.arange(n), (rows, n))
    before = np.maximum.accumulate(np.where(bare, -1, index), axis=1)  # the nearest not bare at or before
    after = np.minimum.accumulate(np.where(bare, n, index)[:, ::-1], axis=1)[:, ::-1]  # ... at or after
    use_before = (before >= 0) & ((after >= n) | (index - before <= after - index))
    near = np.where(use_before, before, np.where(after < n, after, -1))
    mirror = 2 * near - index + np.sign(near - index) * skip
    ok = (near >= 0) & (mirror >= 0) & (mirror < n)
    r, c = np.nonzero(ok)
    ok[r, c] = ~bare[r, mirror[r, c]]
    return np.where(ok, mirror, -1)


def fill_bare(detail: np.ndarray, reach: int = BARE_REACH) -> np.ndarray:
    """Dream detail (H, W, 3) float32 with its bare pixels (`bare_pixels`) within `reach` of an
    edge (half the shorter side at most) filled with the detail mirrored about the nearest pixel
    that has some (a little further in, see `mirror_sources`), along the row (near the left and right edges) or the column (near the top and
    bottom); `detail` itself when there are none. Bare pixels further in are left bare."""
    if reach < 1:
        raise ValueError(f"reach must be at least 1, got {reach}")
    bare = bare_pixels(detail)
    h, w = bare.shape
    reach = min(reach, min(h, w) // 2)
    if reach < 1:
        return detail
    edges = bare.copy()
    edges[reach:h - reach, reach:w - reach] = False
    if not edges.any():
        return detail
    out = detail.copy()
    # each edge as the start of its rows: views, so the fills land in `out` and in `bare`
    across = out.transpose(1, 0, 2)
    for side, seen in ((out, bare), (out[:, ::-1], bare[:, ::-1]), (across, bare.T), (across[:, ::-1], bare.T[:, ::-1])):
        _fill_side(side[:, :2 * reach], seen[:, :2 * reach], reach)
    return out


def _fill_side(strip: np.ndarray, bare: np.ndarray, reach: int) -> None:
    """Fill the bare pixels of `strip` (R, N, 3) in its first `reach` columns, in place, from the
    strip mirrored along its rows; they are no longer bare in `bare` (R, N) after."""
    targets = bare.copy()
    targets[:, reach:] = False
    if not targets.any():
        return
    source = mirror_sources(bare)
    targets &= source >= 0
    r, c = np.nonzero(targets)
    strip[r, c] = strip[r, source[r, c]]
    bare[r, c] = False

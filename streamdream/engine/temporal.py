"""Temporal coherence for video: the dream state carried from one frame to the next.

`StreamDreamer` (the dream stage) moves the previous frame's dream detail (dream minus input)
along the flow (see motion.py) onto the current frame, holds its local strength near the
keyframe's, and refines it with a few ascent steps instead of dreaming from scratch.
"""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import torch
from torch.profiler import record_function

from ..config import VideoConfig
from ..frames import MIN_SIDE
from .blur import LOCAL_SHARE, box_blur, local_strength
from .dream import EDGE_MIRROR, ascend, ascend_band, ascend_box, dream, octave_sizes, refine_at, resize
from .dreamer import Dreamer
from .motion import Motion, flow_to, motion_on, plane_to
from .shots import ShotMemory
from .still import StillMemory, standing_still
from .tensors import check_image, to_detail, to_frame, to_tensor
from .warp import Along, inside, zoom_view

# regions of carried detail weaker than this quantile of the keyframe's local strength are lifted
HOLD_LOW = 0.35


# ... and in a live show no pixel is lifted past this quantile of the keyframe's per-pixel
# strength: where a region's dream had faded but for a few pixels, lifting the region until its
# average came back piled its strength into those few, frame after frame, into saturated specks
# (a show whose every frame is dreamt, as on a GPU, grew 8-9 a 10,000 pixels in 5 s, a full dream
# has under 1; scripts/live_sim.py --stride 1 --regions 1: 0.99 left 0.6, 0.995 0.8, 0.999 1.5).
# A file keeps the lift whole: it showed no specks, and its moving subjects lost a quarter of
# their depth without it (scripts/bench_depth.sh --video)
HOLD_PEAK = 0.995


# the flow check's mask is blurred over this share of the width (see `soften`)
TRUST_BLUR = 1 / 40


# live, the carried detail is laid down again from its anchor, a frame this many frames back,
# along the flow chained since (see warp.compose_flow), so its fine structure is resampled once in
# this many frames rather than once a frame; longer chains gather the flow's errors. A live show's
# dreamt frame takes one step (on a CPU, on one band of several) and its flow spans the camera
# frames between two dreamt ones: resampled each frame, its dream kept less depth and covered
# less of what moves, with bands and with whole-frame steps alike (scripts/live_sim.py --clock,
# with --regions 1 for the latter, compares)
ANCHOR_FRAMES = 16
# a video's frames all take their full-size steps, and the detail is carried from the frame before:
# laid down from an anchor, it differed from the frame before moved along the same flow more the
# more frames had passed since the anchor (its sharpness came and went with the chained flow's
# fraction of a pixel), a flicker on a slow pan that a frame-by-frame carry does not have, for
# about the same depth (scripts/bench_video.py's E_warp ratio and depth compare)
VIDEO_ANCHOR_FRAMES = 1


# a cut in a live show is seeded with a quick octave dream of the new shot at this share of its
# size, with this share of the iterations, over this many octaves: strength at once, for a fraction
# of a keyframe's cost; the fresh steps that follow bring it to the held strength. Depth it has
# little at any quick size (the frames after it build that, see CUT_BUILD_FRAMES). It must come
# while the display holds the cut (live.compositor.CUT_HOLD): on a 2-core CPU at 640 wide this one
# takes about 80 ms, where one at 0.4 of the size with 0.3 of the iterations over 4 octaves took
# 160 ms and left most cuts of a cut-heavy clip shown plain for a few frames past the hold, for a
# tenth more depth over the shot (scripts/live_sim.py --clock on a clip of a new shot every 1.6 s;
# larger steps to make up for fewer overshot the strength, and took depth away)
CUT_SEED_SCALE = 0.35
CUT_SEED_ITERATIONS = 0.2
CUT_SEED_OCTAVES = 3
# ... and its strength is evened out over the frame by a gain of up to this either way
# (`even_strength`): a quick dream's is concentrated where the network answered first (after three
# cuts of the clip above, the strongest tenth of the pixels held 16-22% of a seed's, 14-15% of a
# full dream's), and a new shot's first frames were the show's most concentrated. Evened, 11-12%.
# The build's steps after it are even too (see CUT_BUILD_FRAMES): with them normalised over the
# whole frame, the first one piled back onto the regions the seed had been strong in. (Lifting
# only its weak regions, or bringing only its strong ones down, had left those frames as
# concentrated, the build's steps being what they were. A seed dreamt with even steps was as even,
# but that clip's shots kept less depth: 23-24% of a full dream's, against 25% evened afterwards.)
CUT_SEED_EVEN = 2.0


# a new shot given a seed at a live cut builds its structure over its first dreamt frames: each
# takes one step over the whole frame seen at the octave below full size, this many times the
# usual one, in place of the frame's other steps. A network builds eyes and faces at the smaller
# octaves; full-size steps, a band a frame, grew only texture on the seed, and each shot of a
# cut-heavy clip stayed a texture to its end (scripts/live_sim.py measures it). The octave below
# full size built the most for its cost; one double step a frame built nearly as much as two
# steps, for half the time, and a live show's dream slows down for these frames (its window keeps
# the camera's rate). Its pixels count as newly shown until the build is done: each build step is
# then whole where the shot was seeded, and the full-size steps after it start as fresh as on any
# newly shown pixel. Counted down during the build, they had settled to the carried step by its
# end: a clip that cuts often kept less depth, the more so when it was looped and shots came back
# (scripts/live_sim.py --clock, with and without --warm-shots). On a clip of a new shot every
# 1.6 s, twelve build frames kept more of a full dream's depth (24% to 29%), but its edges faded
# (the weakest band 0.74 to 0.68 of the interior) and its concentration rose past 0.2; a step a
# frame over the whole frame at full size in place of these (and of a rebuild's) kept less (21%),
# the dream at 8.8 a second instead of 12.4. Each build step is even (dream.even_out): every
# region takes the same typical change, whatever the network answers most to. Normalised over the
# whole frame only, the first step was as concentrated as the seed before it was evened
# (CUT_SEED_EVEN). Even, with the seed evened and a recall's first step taken at once
# (RECALL_TRUSTED), that clip's most concentrated frame went from 0.21 to 0.16 and its weakest
# edge band from 0.74-0.75 of the interior's to 0.79-0.80, for as much depth (two seeds); a clip
# that cuts every few seconds 0.76 to 0.91. What a new shot keeps is what its network time buys
# (docs/depth_cost.md). A rebuild (REBUILD_FRAMES) 8 dreamt frames after the build, not
# `rebuild_every`, left that clip shallower (24% to 23%) with three frames shown plain, and a
# looped close-up steadier (E_warp ratio 2.22 to 2.15) but shallower (27% to 25%). Build and
# rebuild steps capped as a band's are (BAND_LIMIT), the cut-heavy clip's concentration rose to
# 0.213, the close-up's E_warp ratio to 2.27. Twelve build frames again, with the steps even, kept
# the new shots' concentration down (0.16) but still traded: the clip of a new shot every 1.6 s
# kept 28-29% against 23-24% (seeds 3 and 4), but dreamt 11.1 times a second against 12.5, and its
# weakest edge band fell from 0.83 to 0.79-0.80; the looped close-up 41% against 34% (seed 3),
# 11.0 dreams a second against 11.2, its E_warp ratio 1.78 against 1.69 (live_sim.py --clock).
# On the sheets, shots a second or more in showed a few more eyes in the grass, and the
# same texture on a moving subject
CUT_BUILD_FRAMES = 6
CUT_BUILD_STEP = 2.0


# a live show keeps at least this share of the dream the flow check doubts: its flow spans the
# several camera frames between two dreamt ones, across which the check fails on much of any moving
# subject, and fading the dream there left the subject undreamt; beyond the frame's edge nothing is
# kept all the same (scripts/bench_live.py --depth: 0.5 and 0.8 measured, 0.8 covered more, with a
# little streaking on fast limbs). On a fast disc over a still scene, what was shown kept 37% of a
# full dream's depth where it moved at 0.8, 31% at 0.6 and at 0.7, 18% at 0.9 (scripts/live_sim.py
# --clock, seed 3); at 0.6 as at 0.8 what it shows is weakest in a ring about the disc's edge (the
# display's flow, smooth across that edge, draws the dream's own faint ring there out wide behind
# it). Kept whole inside the frame instead (the floor then only scaling how settled a doubted pixel
# counts), the stage's own ring went, the dream came 8-21% more often where the camera moves (a
# close-up 11.7 to 13.1 a second, a hand-held clip 11.6 to 14.0, one that cuts every 1.6 s 12.2 to
# 13.2, an upright one 13.1 to 14.4, the shared clip 12.7 to 14.4) and the weakest edge band was
# stronger (0.89 to 0.93 of the interior's, 0.82 to 0.95, 0.80 to 0.86), but less of a full dream's
# depth stayed where the input moves (23% to 20%, 65% to 61%, the shared clip's 18% to 6%; real
# shows, bench_live.py --depth, lower still), and what was shown kept a fainter ring about the disc
# (the display's own). The time saved spent again on steps at the octave below (on the weakest band
# every frame, on the band the check doubts most, or on the one that moved furthest since its last
# step) made the dream slower and kept less (the close-up 25-27%, the hand-held clip 70-76%;
# scripts/live_sim.py --clock, seed 3). Below 1: `_carried` divides by what it leaves
LIVE_TRUST_FLOOR = 0.8


# a shot recalled at a cut (see shots.py) whose flow check trusts less of it than this builds its
# structure where the flow lost it (CUT_BUILD_FRAMES), those pixels taking the fresh step: the shot
# has changed since it was left. It is not given a seed there: a seed is a dream of the whole
# frame, and waiting for it kept the new shot plain on screen for a quarter of a second (on a
# 2-core CPU), where the recalled dream covers most of it at once (a recall trusts at least half
# of the frame, see shots.MATCHED). The build's first step is taken on the cut's own frame: shown
# before it, the dream was where the recall was trusted and nowhere else, and those were a clip
# of a new shot every 1.6 s's most concentrated frames (0.21 of the dream in the strongest tenth
# of the pixels; with the step 0.16, none shown plain, the dream about as fast, 12.2-12.5 a second
# against 12.3-12.5: scripts/live_sim.py --clock)
RECALL_TRUSTED = 0.95


# a live show keeps a frame of a long shot and its dream (see shots.py) every this many dreamt
# frames, so a shot cut back to finds a dream of it kept wherever the show is in it
KEEP_EVERY = 25
# ... and the frame this many dreamt frames into every shot, as soon as the shot has built its
# structure (CUT_BUILD_FRAMES): a looped clip cuts back to its start, which a frame kept seconds
# into a moving shot no longer looks like, so each time round began again from a seed (a close-up
# looped every 5 s fell from a depth of about 1.45 to the plain picture's 1.0 at each start, and
# was still near 1.1 a second on); kept this early, the start is found, and its dream goes on
# deepening from one time round to the next (1.7-1.8 at each start; bench_live.py, back to back)
KEEP_FIRST = CUT_BUILD_FRAMES + 1


# a live show that steps a band a frame (a CPU's) also takes one step a frame at the octave below
# full size on the band whose dream has fallen furthest below the level weak regions are lifted to
# (HOLD_LOW), a step this many times the usual one: mostly a moving subject's band, whose dream the
# flow carries imperfectly and the full-size steps regrow only as a texture; a network builds eyes
# and faces at the smaller octaves. It kept more of a full dream's depth on the shared clip (about
# twice as much where the input moves) and on a hand-held one, and as much on a fast disc over a
# still scene, for a dream slower by a tenth to a quarter; a larger step kept less, and so did the
# step two octaves down or in place of the frame's own band, the dream faster then (scripts/
# live_sim.py --clock, with --seed for the spread). The band runs across either side of the frame,
# whichever way the weakest lies: a strip the camera brings in along the top or the bottom is one
# (with bands across the longer side only, a hand-held clip's weakest edge band stayed weaker; a clip
# that cuts every 1.6 s kept as much depth either way, and no cut was shown plain)
WEAK_BAND_STEP = 2.0
# ... taken when that band falls short by this share of the level on average: at twice the share,
# a hand-held clip's dream kept half of what the step added there
WEAK_BAND_SHORTFALL = 0.05
# Before a still camera, where no band falls that short, the step goes where the picture moves: a
# moving subject keeps its strength (the carry holds it) while its eyes and faces wear into a
# texture, which a step at the octave below rebuilds. It is taken on the box where the band across
# one side and the band across the other that hold the most of what moves cross, when this share
# of that band moves, and those frames bring no rebuild (see `_refine`). In real shows a fast
# disc over a still scene kept more of a full dream's depth where it moved (28-31% against
# 20-25%), and so did the shared clip's movers (21-40% against 13-26%), for a dream a twentieth
# slower on the disc and as fast on the shared clip (bench_live.py --depth, back to back). A
# band's step in place of the box's kept a little more on the disc, for a dream a fifth slower
MOVER_SHARE = 0.05


# a live show can rebuild a shot's structure every so many dreamt frames the camera moves on (`StreamDreamer.rebuild_every`,
# see stage.LIVE_CPU_REBUILD_EVERY): for this many frames the whole frame takes one step at the
# octave below full size, as a new shot's build does (CUT_BUILD_STEP times the usual one), every
# pixel at least a whole step, in place of the frame's band steps. A dream carried on a subject
# that moves wears its eyes and faces into a texture, frame by frame, whatever its strength; the
# band steps at full size regrow texture, and the weakest band's step goes where the strength is
# short, not the structure. Each rebuild step is even, as a build's is (dream.even_out): normalised
# over the whole frame only, it grew most where the network already answered, and least in the
# strip a moving camera brings in. Even, a hand-held clip's weakest edge band went from 0.75-0.78
# of the interior's to 0.81-0.83 over three seeds, its depth retained 75% to 73% on average (one
# seed's spread is 4 points), and its most concentrated frame from 0.16 to 0.15; a close-up's
# edges were 0.88-0.92 against 0.89-0.91, its depth as it was, one dreamt frame fewer on two seeds
# (11.9 to 11.7 a second; scripts/bench_live_sim.sh, live_sim.py --clock)
# A refresh in the background does worse with the same network time. It was tried as a light
# octave dream of a recent frame (3 steps an octave) made a quarter of a step a frame, laid on
# along the flow chained since, where the flow was trusted. Steps on the frame in hand build what
# the show will show; a dream of a frame a second or two old, moved on along the flow, has lost
# its register on whatever bent, turned or came in. Against the close-up's 34% at 11.2 dreams a
# second (live_sim.py --clock, seed 3):
# - blended 0.6 in place of the rebuilds and the weakest band's step, 19% at 10.2; a hand-held
#   clip's 73% fell to 47%;
# - deepening the carried dream instead, its change added, 14% at 10.8, or 20% at 9.3 with the
#   weakest band's step kept;
# - on top of every step it now takes, 34% at 8.9.
REBUILD_FRAMES = 6
# ... and each rebuild step sees the frame mirrored this many pixels beyond its edges (at full
# size, fewer at the octave below; see dream.EDGE_MIRROR), a share of a full dream's 32: a rebuild
# unmirrored faded its own edges, as every step does, and a hand-held camera brings in new content
# there. On a CPU at 640 wide the hand-held clip's weakest edge band went from 0.758 to 0.784 of the
# interior's, its depth retained as it was, for a dream 4% slower; a close-up's 0.893 to 0.904, its
# depth retained 24% to 27%, 2% slower; the shared clip and an upright one kept more where the
# input moves (15% to 18%, 12% to 22%); 32 pixels lifted the hand-held clip's edge no further
# (0.785; scripts/bench_live_sim.sh, live_sim.py --clock). A cut's build is not mirrored: with it
# mirrored too (and the rebuilds by 32 px), the close-up's concentration rose from 0.178 to 0.202,
# and a clip of a new shot every 1.6 s, which never rebuilds, went from 0.198 to 0.213, its edges
# as weak (0.741 to 0.748); its seed mirrored as well came late, one cut shown plain. With the
# rebuild steps even (see REBUILD_FRAMES) the mirror still counts: unmirrored, the hand-held
# clip's weakest edge band was 0.80 against 0.81-0.83 over three seeds, its depth the same, the
# dream 11.8-12.4 a second against 11.6-11.7; mirrored 8 pixels, as slow as 16 (11.7)
REBUILD_MIRROR = 16
# ... and each dreamt frame counts towards the next rebuild by how much of the frame the flow check
# doubts (engine.flow.consistency_mask, what lies beyond the edge included), over this share, which
# a frame typically doubts: a dream's eyes and faces wear away where it is faded and drawn anew, and
# a subject close to the camera, bending and turning, is doubted 2.5 times as much as a hand-held
# pan or a crowd seen from afar (12% of the frame against 5%, at a live CPU's dream rate, on the
# clips of scripts/make_clips.py). Counted so, a close-up is rebuilt about every 10 dreamt frames
# and the others about as before: the close-up kept 33% and 35% of a full dream's depth against 29%
# and 30% (two seeds), its E_warp ratio 1.69 against 1.76-1.79, for a dream 3-5% slower (11.2 a
# second against 11.5-11.7); the hand-held clip, an upright one and one with a new shot every 1.6 s
# kept what they did to within 1.3 points, as fast (scripts/live_sim.py --clock, seed 3). Each frame
# counted at least half of one (a floor for a shot the flow follows wholly) left the hand-held and
# upright clips slower by 2-6% for no more depth: a moving camera's frame is always doubted along
# the edge it brings in. Each counted at most twice (so that band steps come between two rebuilds)
# kept less on the close-up (32% on both seeds)
TYPICAL_DOUBT = 0.05


# rows or columns of context either side of a band a step falls on (see VideoConfig.step_regions)
BAND_MARGIN = 16
# a band's step is the bands' count times the usual one: its normalised gradient is capped at
# this many times the typical change, or the largest few pixels of each step pile up into
# saturated specks that a full dream does not have (scripts/live_sim.py counts them); capped,
# the depth is the same and the detail steadier. At 1.5 four clips were steadier still (E_warp
# ratio: a looped close-up 2.22 to 2.06, a hand-held clip 1.73 to 1.68, a disc over a still scene
# 1.97 to 1.91) for about the same depth, but the hand-held clip's weakest edge band fell from
# 0.78 to 0.76 of the interior, and a clip of a new shot every 1.6 s reached a concentration of
# 0.207 (was 0.198; scripts/live_sim.py --clock, one seed each). At 2.0 the close-up's ratio
# was 2.16, the hand-held edge band 0.77
BAND_LIMIT = 2.5
# The band steps do not see the frame mirrored beyond its edges, as a full dream's do (see
# dream.EDGE_MIRROR): on a CPU at 640 wide, bands and their octave-below steps seen mirrored 5% of
# the width left a hand-held clip's weakest edge band a little stronger (0.76 to 0.80 of the
# interior) for a dream at 10 a second instead of 12, and a close-up kept less depth
# (scripts/live_sim.py --clock). Nor are they weighted up along a side whose dream falls short of
# the interior's (a weight of 1 + twice the shortfall at the edge, falling to 1 32 px in): the
# hand-held clip's weakest band went from 0.76 to 0.80, but a close-up's concentration from 0.18
# to 0.20, its steps piled onto what came in along its edges; with no pixel past a newly shown
# one's step, the hand-held clip's went to 0.77-0.78, the close-up's 0.88-0.89 to 0.90-0.92, a
# clip that cuts every 1.6 s 0.74 to 0.76: too little to reach 0.8 (the close-up's E_warp ratio
# rose from 2.215 to 2.43 with one seed, 2.204 to 2.214 with another). Weighting only the pixels
# carried a while changed nothing: what is weak along the edges is mostly what the camera brought in


def even_strength(detail: torch.Tensor, most: float) -> torch.Tensor:
    """A dream detail (1, 3, H, W) scaled, region by region, towards its mean local strength
    (see `local_strength`), by a gain of 1 / `most` to `most` (>= 1). Once, on a dream made on
    its own: frame after frame, a gain map like this one printed a lattice into a carried dream
    (see `hold_strength`)."""
    if most < 1:
        raise ValueError(f"need most >= 1, got {most}")
    local = local_strength(detail).clamp_min_(1e-6)
    return detail * (local.mean() / local).clamp_(1.0 / most, most)


def strength_gain(detail: torch.Tensor, low: float, mean: float, max_gain: float,
                  peak: float | None = None) -> torch.Tensor:
    """The gain (1, 1, H, W) that keeps a carried dream detail (1, 3, H, W) from fading in places
    or building up overall (see `hold_strength`, which applies it); no pixel is lifted past a
    strength of `peak`, if given."""
    if low < 0 or mean <= 0 or (peak is not None and peak <= 0):
        raise ValueError(f"need low >= 0, mean > 0 and peak > 0, got {low}, {mean} and {peak}")
    check_image(detail)
    strength = detail.abs().mean(1, keepdim=True)  # per pixel; `local_strength` blurred
    local = box_blur(strength, round(detail.shape[3] * LOCAL_SHARE)).clamp_min_(1e-6)
    gain = torch.where(local < low, (low / local).clamp_(max=1.0 + max_gain), torch.ones_like(local))
    if peak is not None:
        # a lift stops at the peak: a pixel already there is held as it is
        torch.minimum(gain, (peak / strength.clamp_min(1e-6)).clamp_(min=1.0), out=gain)
    # the mean strength the gain leaves, |detail * gain| over pixels and colours (the gain is one
    # value a pixel, so it is the per-pixel strength times the gain, averaged); where it is above
    # the keyframe's mean, all is scaled back, by at most 1 + max_gain. Kept a tensor on the
    # device, so a carried frame never waits for it
    now = strength.mul_(gain).mean().clamp_min_(1e-12)
    return gain * (mean / now).clamp_(1.0 / (1.0 + max_gain), 1.0)


def strength_targets(detail: torch.Tensor) -> tuple[float, float, float]:
    """What a carried detail is held to (see `hold_strength`): the HOLD_LOW quantile of a
    dream detail's (1, 3, H, W) local strength, its mean strength, and the HOLD_PEAK quantile of
    its per-pixel strength. All are taken on the device and read back in one copy of three
    numbers, not a full-size map. The quantiles are the nearest rank (`kthvalue`): torch.quantile
    refuses over 16M values (a 4K frame's). The peak is at least 1e-6 (`strength_gain` takes no
    lower)."""
    check_image(detail)
    nearest = lambda values, q: values.kthvalue(1 + round(q * (values.numel() - 1))).values.float()
    pixels = detail.abs().mean(1)
    low, mean, peak = torch.stack([nearest(local_strength(detail).flatten(), HOLD_LOW), pixels.mean().float(),
                                   nearest(pixels.flatten(), HOLD_PEAK)]).tolist()
    return low, mean, max(peak, 1e-6)


def hold_strength(detail: torch.Tensor, low: float, mean: float, max_gain: float,
                  peak: float | None = None) -> torch.Tensor:
    """Keep a carried dream detail (1, 3, H, W) from fading in places or building up overall.

    Regions whose local strength (see `local_strength`) is below `low` are scaled up, by at most
    a factor 1 + `max_gain` a frame, through a smooth gain map. A global gain would scale up
    whatever little is left where the dream has gone and pile it into blobs. The whole frame is
    scaled down, by the same bound, when its mean strength is above `mean`. That is deliberately
    one factor, not a map: a gain that pulls strong regions down and weak ones up from a local
    average is a reaction-diffusion system, and frame after frame it printed a lattice of spots
    and stripes about the averaging width into the dream. No pixel is lifted past `peak`.
    """
    return detail * strength_gain(detail, low, mean, max_gain, peak)


def weakest_band(shortfall: torch.Tensor, dim: int, bands: int) -> tuple[int, float]:
    """Which of `bands` equal bands across a shortfall map (1, 1, H, W), rows when `dim` is 2,
    columns when it is 3, holds the most of it (the first such), and its mean over that band.
    The bands are `band_spans`' with no offset."""
    if shortfall.ndim != 4 or shortfall.shape[:2] != (1, 1):
        raise ValueError(f"shortfall must be (1, 1, H, W), got {tuple(shortfall.shape)}")
    if dim not in (2, 3):
        raise ValueError(f"dim must be 2 (rows) or 3 (columns), got {dim}")
    length = shortfall.shape[dim]
    profile = shortfall.sum(dim=5 - dim)[0, 0]  # (length,): the map summed along each row or column
    spans = [band_spans(length, bands, k, 0)[0] for k in range(bands)]
    means = torch.stack([profile[a:b].sum() / ((b - a) * shortfall.shape[5 - dim]) for a, b in spans]).tolist()
    k = means.index(max(means))
    return k, means[k]


def weakest_band_either_way(shortfall: torch.Tensor, dim: int, bands: int) -> tuple[int, int, float]:
    """`weakest_band` over the bands across `dim` and those across the other side: the side
    (2: rows, 3: columns), the band and its mean, of whichever band holds the most of a map
    (1, 1, H, W); `dim`'s on a tie."""
    k, mean = weakest_band(shortfall, dim, bands)
    k_other, mean_other = weakest_band(shortfall, 5 - dim, bands)
    return (5 - dim, k_other, mean_other) if mean_other > mean else (dim, k, mean)


def band_spans(length: int, bands: int, k: int, offset: int) -> list[tuple[int, int]]:
    """Band `k` of `bands` equal bands across `length` rows or columns, shifted by `offset`: its
    [start, end) spans, two where it wraps round the frame's end. Every band is as long as every
    other (a frame's steps then cost the same, and the next frame's flow can be asked for on time,
    see pipeline.OnRequest), and the wrapped one's two parts need a margin on one side each, so
    it costs what the others do."""
    if not 0 <= k < bands <= length or offset < 0:
        raise ValueError(f"need 0 <= k < bands <= length and offset >= 0, got k={k}, bands={bands}, "
                         f"length={length}, offset={offset}")
    start = (offset + round(k * length / bands)) % length
    end = start + round((k + 1) * length / bands) - round(k * length / bands)
    if end <= length:
        return [(start, end)]
    return [(start, length), (0, end - length)]


def flow_and_trust(motion: Motion, height: int, width: int, device,
                   floor: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """`motion` on the dream device at a frame's size: the flow (height, width, 2), and how far the
    dream carried along it is trusted, (1, 1, height, width) in [0, 1]: the flow check's mask
    softened (see `soften`) and 0 where the flow leads out of the frame, since beyond the edge the
    previous frame showed nothing (unknown, not the edge stretched), which softening does not
    carry in onto the pixels beside it. The trust is worked out at the flow's own size, a quarter
    of a live show's frame, and only then brought up: it is smooth. Inside the frame the trust is
    at least `floor`."""
    flow, mask = motion_on(motion, *motion.flow.shape[:2], device)
    within = inside(flow)
    # beyond the edge is unknown, not doubted: blurred in as zeros, it faded a band a blur wide
    # along the edge the camera turns towards, frame after frame, and a pan's edge band ran weak (a
    # live hand-held clip's weakest band from 0.82 of the interior's to 0.91 kept whole, one that
    # cuts every 1.6 s from 0.80 to 0.84, as much depth kept: scripts/live_sim.py --clock)
    trust = soften(torch.maximum(mask, 1.0 - within), round(flow.shape[1] * TRUST_BLUR))
    trust = trust.clamp_(min=floor).mul_(within)
    return flow_to(flow, height, width), plane_to(trust, height, width)


def soften(mask: torch.Tensor, side: int) -> torch.Tensor:
    """Box-blur a trust mask (1, 1, H, W) over `side` pixels: a lone pixel the flow check flagged
    inside a trusted region (DIS is noisy on bending, turning subjects) keeps most of its dream,
    while a real disocclusion, a region the previous frame did not show, stays near 0."""
    if mask.ndim != 4 or mask.shape[:2] != (1, 1):
        raise ValueError(f"mask must be (1, 1, H, W), got {tuple(mask.shape)}")
    return box_blur(mask, side)


class StreamDreamer:
    """The dream stage's state between frames: `next(frame, motion) -> dream`.

    The first frame and every scene cut get the full octave dream; its local strength sets the
    level weak regions are lifted to, its mean the strength the frame is held at. Every later
    frame, on the dream device:
    1. carries the previous detail along the flow (bicubic, so it does not blur over a moving
       subject), fading it where the flow check says the previous frame did not show the pixel;
    2. lifts regions that have grown weak, and holds the whole frame's strength at the
       keyframe's (`hold_strength`);
    3. takes `refine_iterations` ascent steps at full size and, with `refine_octaves` > 1, one
       at one smaller octave, a different one each frame (amortised octaves), so that coarse
       shapes keep growing on moving subjects too. Pixels carried for a while take
       `carried_step` of the step, so their dream stays put; newly shown ones take `fresh_step`
       of it, falling back to `carried_step` over `fresh_frames` frames, so they are dreamt
       afresh within a few frames instead of staying plain.
    """

    def __init__(self, dreamer: Dreamer, video: VideoConfig, live: bool = False):
        self.dreamer = dreamer
        self.video = video
        # live: only the first frame is a keyframe; a cut lets the new scene dream itself in over
        # a few frames (fresh_step), so the dream stage never stalls for a full octave dream in
        # front of an audience
        self.live = live
        # live: the shots a cut left, so one cut back to is dreamt on from where it was left
        self.memory = ShotMemory(video.scene_cut) if live else None
        # live: what a still camera's scene was dreamt as, for what a moving subject uncovers, and
        # which pixels of the frame being dreamt stood still and had been dreamt a while (1, 1, H, W)
        self.still = StillMemory() if live else None
        self.still_now: torch.Tensor | None = None
        self.moving: torch.Tensor | None = None  # live, before a still camera: 1 where the frame in hand moves (1, 1, H, W)
        self.previous: torch.Tensor | None = None  # (1, 3, H, W): the last frame, as it came
        self.in_shot = 0  # frames since the shot began (the first frame, a keyframe or a cut)
        self.detail: torch.Tensor | None = None  # (1, 3, H, W): dream - input
        # the anchor (see ANCHOR_FRAMES): its detail, (1, 3, H, W); where each pixel of this frame
        # was in it, (H, W, 2); the gain carried since, (1, 1, H, W); and its part of `detail`
        self.anchor = self.reach = self.gain = self.anchored = None
        self.since_anchor = 0
        self.anchor_frames = ANCHOR_FRAMES if live else VIDEO_ANCHOR_FRAMES
        self.settled: torch.Tensor | None = None  # (1, 1, H, W) in [0, 1]: 0 newly shown, 1 carried for a while
        # the keyframe's HOLD_LOW quantile of local strength, mean strength and HOLD_PEAK quantile of per-pixel strength
        self.low = self.mean = self.peak = 0.0
        self.keyframes = 0
        self.band_offset = 0  # where this round's bands begin (see VideoConfig.step_regions)
        self.building = 0  # live: dreamt frames left in which a new shot builds its structure (CUT_BUILD_FRAMES)
        self.rebuild_every = 0  # live: rebuild a shot's structure every this many dreamt frames the camera moves on (0: never)
        self.rebuilding = 0  # dreamt frames left in such a rebuild (REBUILD_FRAMES)
        self.unbuilt = 0.0  # dreamt frames since the shot's structure was last built (a cut's build, a rebuild), by their wear
        self.doubt = 0.0  # the share of the frame in hand that the flow check doubts (see TYPICAL_DOUBT)
        self.carried = 0  # frames since the last keyframe
        self.strength = 1.0  # scales the step and the strength held (the +/- keys)
        self.held_strength = 1.0  # the strength the carried detail was made at
        # live: set while the frame in hand is of a shot the show has cut away from (see
        # pipeline.NewestFrame.stale): its dream will never be shown, and its steps are spared, so
        # the new shot's first frame is dreamt sooner; taken stale, it is carried only if the next
        # frame is of its shot after all (`deferred`), so the flow's chain holds
        self.stale: threading.Event | None = None
        self.deferred: tuple[np.ndarray, Motion] | None = None  # a stale frame not carried yet, and its motion
        self.sparing = False  # carrying a deferred frame: no steps
        self.zoom = 1.0  # >1: the carried detail grows by this a frame (an installation deepening a still scene)
        self.extra_iterations = 0  # more full-size steps a frame (also for deepening)

    def cancel(self) -> None:
        """Stop at the next ascent step: the run is stopping."""
        self.dreamer.cancel()

    def swap(self, dreamer: Dreamer) -> None:
        """Dream on with another network, objective or preset, keeping the detail dreamt so far:
        it is reshaped over the next frames rather than dropped, so a switch does not flash."""
        if self.mean:
            ratio = dreamer.config.step / max(self.dreamer.config.step, 1e-9)
            self.low, self.mean, self.peak = self.low * ratio, self.mean * ratio, self.peak * ratio
        self.dreamer = dreamer
        if self.settled is not None:
            self.settled = torch.zeros_like(self.settled)  # let the new look take the fresh step

    def resume(self, frame: np.ndarray, dreamt: np.ndarray) -> None:
        """Pick up a run that stopped after dreaming `frame` into `dreamt` (both RGB uint8
        (H, W, 3); `dreamt` as read back from the output), so the next frame is carried on from
        it like any other instead of starting over with a full dream and a visible jump.

        The strength targets come from the carried detail itself: frame after frame it is held
        at the keyframe's, so it is what the keyframe would have set, give or take the codec."""
        if frame.shape != dreamt.shape:
            raise ValueError(f"frame {frame.shape} and its dream {dreamt.shape} differ in shape")
        base = to_tensor(frame, self.dreamer.device)
        self._anchor(to_tensor(dreamt, self.dreamer.device) - base)
        self.settled = torch.ones_like(base[:, :1])
        self.low, self.mean, self.peak = strength_targets(self.detail)
        self.mean = max(self.mean, 1e-6)
        self.carried = 1

    def next(self, frame: np.ndarray, motion: Motion | None) -> np.ndarray:
        """RGB uint8 (H, W, 3) -> its dream. `motion` relates it to the previous frame (None: start over).

        The parts are labelled for torch.profiler (scripts/bench.py --profile): upload, keyframe,
        carry, ascent, download. The frame and its motion cross to the device once, the dream
        comes back once, as uint8; the carried state stays on the device."""
        dreamt = self._next(frame, motion)
        with record_function("streamdream.download"):
            return to_frame(dreamt)

    def next_detail(self, frame: np.ndarray, motion: Motion | None) -> np.ndarray:
        """As `next`, but returns the dream detail (the dream minus the frame) as float32 (H, W, 3)
        in the frame's 0-255 units: what a live display lays onto this frame and newer ones. It
        comes back as it is, not rounded to a uint8 dream and subtracted again on the CPU."""
        self._next(frame, motion)
        with record_function("streamdream.download"):
            return to_detail(self.detail)

    def _next(self, frame: np.ndarray, motion: Motion | None) -> torch.Tensor:
        # `next`'s work: the dream (1, 3, H, W) in [0, 1], on the device; `detail` holds it less the frame
        with record_function("streamdream.upload"):
            base = to_tensor(frame, self.dreamer.device)
        new_size = self.detail is None or tuple(self.detail.shape[2:]) != frame.shape[:2]
        keyframe = new_size or not self.video.flow or motion is None or motion.cut
        if self.deferred is not None:
            # the frame before was of a shot the show had cut away from (see below): carried now,
            # with no steps, when this one does not begin a new shot after all
            skipped, self.deferred = self.deferred, None
            if not keyframe:
                self.sparing = True
                try:
                    self._next(*skipped)
                finally:
                    self.sparing = False
        if self.live and not keyframe and not self.sparing and self.stale is not None and self.stale.is_set():
            # a frame of a shot the show has cut away from, taken before the cut was shown: its
            # dream would never be shown, and the next frame, of the new shot, mostly comes as a
            # cut from it, so its carry waits for that frame (it kept the new shot's first dream
            # waiting while the display held the cut); should the next not come as a cut, it is
            # carried then, so the detail stays where the picture is
            self.deferred = (frame, motion)
            return (base + self.detail).clamp_(0, 1)
        seeded = None
        if self.live and keyframe and not new_size and motion is not None:
            # a cut in live mode: the new shot starts from its own dream where the show has been in
            # it lately (see shots.py), else from a quick seed; it is shown as soon as that is made
            # (the display shows the shot plain until then), and dreams itself in over the next
            # frames, what is newly shown taking the fresh step
            with record_function("streamdream.keyframe"):
                recalled = self._cut(base)
            seeded = (base + self.detail).clamp_(0, 1)
            self.held_strength = self.strength
            if recalled and self.building:
                # a shot recalled in part takes its first build step now (see RECALL_TRUSTED)
                with record_function("streamdream.ascent"):
                    seeded = self._refine(seeded, self._step_weight(self.settled), base, None)
            keyframe = False
        if seeded is not None:
            dreamt = seeded
        elif keyframe:
            with record_function("streamdream.keyframe"):
                # a keyframe the flow carries on is not mirrored beyond the frame's edges (see
                # dream.EDGE_MIRROR), a frame dreamt on its own is (`flow` off): carried frames are held
                # at the keyframe's strength, a mirrored keyframe's a tenth higher, and a fast disc
                # over a still scene kept less of its depth where it moved on two seeds of three
                # (scripts/bench_video.py; at one, the disc's carried dream faded into texture)
                dreamt = self._dreamer().dream_tensor(base, mirror=0 if self.video.flow else EDGE_MIRROR)
                if self.live and new_size and self.dreamer.device.type != "cpu":
                    # a GPU picks (and may compile) its convolution kernels the first time it meets
                    # a size: on an H200 that stalled the first cut of a 1280-wide show for
                    # seconds, where the seed's sizes came up. Met here, before the show's first
                    # dream, the cost falls where the picture is plain anyway
                    self._seed(base)
            self.held_strength = self.strength
            self.keyframes += 1
            self.carried = self.building = self.rebuilding = self.unbuilt = 0
            self.settled = torch.ones_like(base[:, :1])
        else:
            dreamt = self._carry(base, motion)
            self.carried += 1
        self.detail = dreamt - base
        self.previous = base
        if self.still is not None:
            if self.still_now is not None and self.zoom == 1.0:
                self.still.update(base, self.detail, self.still_now)
            elif keyframe or seeded is not None or self.zoom != 1.0:
                self.still.forget()  # another shot, another view; or a dream zooming away from it
            self.still_now = None
        self.in_shot = 0 if keyframe or seeded is not None else self.in_shot + 1
        if self.memory is not None and self.in_shot and (self.in_shot == KEEP_FIRST or self.in_shot % KEEP_EVERY == 0):
            self.memory.keep(base, self.detail, self.strength)
        if keyframe or self.zoom != 1.0 or self.since_anchor >= self.anchor_frames:
            self._anchor(self.detail)
        if keyframe:
            # the targets are the strength-1 dream's, which `strength` scales as it changes
            low, mean, peak = strength_targets(self.detail)
            self.low, self.mean, self.peak = low / self.strength, mean / self.strength, peak / self.strength
        return dreamt

    def _anchor(self, detail: torch.Tensor) -> None:
        """Make `detail` (1, 3, H, W) the one later frames are laid down from (see ANCHOR_FRAMES)."""
        h, w = detail.shape[2:]
        self.detail = self.anchor = self.anchored = detail
        self.reach = torch.zeros(h, w, 2, device=detail.device, dtype=detail.dtype)
        self.gain = torch.ones_like(detail[:, :1])
        self.since_anchor = 0

    def _cut(self, base: torch.Tensor) -> bool:
        """A live cut to `base` (1, 3, H, W): the shot left is kept, and the new one anchored on
        its own dream, laid onto it along the flow from where it was left, or on a seed; a shot
        seeded, or recalled in part, builds its structure over the next frames (CUT_BUILD_FRAMES).
        True when the shot was recalled."""
        if self.previous is not None and self.previous.shape == base.shape:
            self.memory.keep(self.previous, self.detail, self.held_strength)
        recalled = self.memory.recall(base)
        if recalled is None:
            self._anchor(self._seed(base))
            self.settled = torch.zeros_like(base[:, :1])
            self.building = CUT_BUILD_FRAMES
            return False
        shot, motion = recalled
        h, w = base.shape[2:]
        flow, trust = flow_and_trust(motion, h, w, self.dreamer.device)
        detail = Along(flow).warp(shot.detail).mul_(trust).mul_(self.strength / max(shot.strength, 1e-6))
        # (whole, it has its structure: a build the shot left had not finished is not the recalled
        # shot's, whose pixels would take the fresh step a whole build long)
        self.building = CUT_BUILD_FRAMES if float(trust.mean()) < RECALL_TRUSTED else 0
        self._anchor(detail)
        self.settled = trust
        return True

    def _dreamer(self) -> Dreamer:
        """The dreamer whose full dreams (keyframes, cut seeds) take `strength`'s step, as the steps do."""
        d = self.dreamer
        return d if self.strength == 1.0 else d.with_settings(step=d.config.step * self.strength)

    def _seed(self, base: torch.Tensor) -> torch.Tensor:
        """The detail (1, 3, H, W) a live cut starts from: a quick small dream of the new shot."""
        d = self._dreamer()
        h, w = base.shape[2:]
        size = (max(MIN_SIDE, round(h * CUT_SEED_SCALE)), max(MIN_SIDE, round(w * CUT_SEED_SCALE)))
        small = resize(base, size)
        quick = replace(d.config, iterations=max(1, round(d.config.iterations * CUT_SEED_ITERATIONS)),
                        octaves=min(d.config.octaves, CUT_SEED_OCTAVES))
        # (not mirrored beyond the edges: the seed must come while the display holds the cut, and
        # mirrored it came a frame late at a looped close-up's cut; the build's steps that follow
        # rework its edges)
        detail = dream(small, d.net, d.objective, quick, d.generator, mirror=0) - small
        # enlarged corner to corner: enlarged the usual way, nearly three times over, each edge
        # began with lines that repeated their neighbour (four a seed), which the build's steps
        # at the octave below did not always rework
        return resize(even_strength(detail, CUT_SEED_EVEN), (h, w), corners=True)

    def _carry(self, base: torch.Tensor, motion: Motion) -> torch.Tensor:
        # each full-size tensor of a 4K frame is 100 MB: references are dropped as soon as they
        # are used up, so the peak stays near the keyframe's
        image, weight, taper = self._carried(base, motion)
        with record_function("streamdream.ascent"):
            return self._refine(image, weight, base, taper)

    def _carried(self, base: torch.Tensor, motion: Motion) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        # the previous detail moved onto this frame and held at the keyframe's strength, (1, 3, H, W),
        # the per-pixel step weight, (1, 1, H, W), and the share of a step still pixels take (see
        # StillMemory.taper; None when none is held back). The detail is two parts: the anchor's, laid
        # down along the chained flow in one resampling, times a gain carried along with it (the
        # fades and lifts since), and what the steps since the anchor added, carried frame to frame.
        v = self.video
        h, w = base.shape[2:]
        with record_function("streamdream.upload"):
            flow, trust = flow_and_trust(motion, h, w, self.dreamer.device, LIVE_TRUST_FLOOR if self.live else 0.0)
        self.doubt = 1.0 - float(motion.mask.mean())  # at the flow's own size: one number, cheap there
        with record_function("streamdream.carry"):
            along = Along(flow)  # where each pixel samples, worked out once for the warps along it
            # where the flow stays inside the frame, at the frame's own size: the trust's edge is the
            # flow's, a live show's at half the frame's size or less, and what it let through of
            # the replicated edge each frame, carried on, grew into stripes a few pixels wide. What
            # came in takes the fresh step (`settled` 0) instead. (Filled live with the dream
            # mirrored about the edge, as the display fills it between dreams, a hand-held clip's
            # own weakest edge band rose from 0.75 to 0.84 of the interior, but what was shown fell,
            # 0.78 to 0.76, and fewer steps were taken (the dream came at 12.3 a second, not 11.5);
            # a clip of a new shot every 1.6 s kept less depth, 24% to 21%, its concentration 0.215)
            within = along.inside()
            still, camera_still = standing_still(motion.flow, h, w, self.dreamer.device) if self.still is not None else (None, False)
            if self.still is not None and not camera_still:
                self.still.forget()  # the camera moves: its pixels are no longer where they were
            self.moving = 1.0 - still if camera_still else None
            if self.since_anchor == 0 and self.detail is self.anchored:
                # anchored on the frame before as it was dreamt (every frame of a video, see
                # VIDEO_ANCHOR_FRAMES): nothing added since, no gain, no chain yet, so the anchor is
                # laid down along this flow alone: warping the zeros, the ones and the chain was near
                # half of a video frame's carry. (A live cut's seed is anchored before it is clipped,
                # and what the clip took off is carried as added.)
                added, reach = None, along
                self.reach = flow
                self.gain = trust * within
            else:
                added = along.warp(self.detail - self.anchored).mul_(trust).mul_(within)
                self.reach = along.compose(self.reach)
                reach = Along(self.reach)
                self.gain = along.warp(self.gain, "bilinear").mul_(trust).mul_(reach.inside())
            self.detail = self.anchored = None
            settled = along.warp(self.settled, "bilinear").mul_(trust).mul_(within)
            self.settled = None
            if camera_still:
                self.still.watch(still)
                # kept after this frame's steps (see `next`): still, trusted, dreamt a while
                self.still_now = still.mul_(settled >= 1.0).mul_(trust > 0.99)
                # what the frame before did not show: where the flow check fails (a live show's
                # trust never falls below its floor inside the frame, so the doubt is measured
                # from there down)
                uncovered = (1.0 - trust).div_(1.0 - LIVE_TRUST_FLOOR).clamp_(0.0, 1.0)
            del flow, trust, along, within
            anchored = reach.warp(self.anchor).mul_(self.gain)
            del reach
            detail = anchored + added if added is not None else anchored.clone()
            del added
            recalled = self.still.recall(base, uncovered) if camera_still else None
            if recalled is not None:
                # uncovered pixels that look as they did take back the dream they had, as dreamt a while
                kept, back = recalled
                detail.lerp_(kept, back)
                settled = torch.maximum(settled, back)
            if self.zoom != 1.0:  # >= 1 (an enlargement), so the view never reaches past the edges
                # the anchor's part no longer matches the view: `next` anchors afresh after this frame
                detail, settled = zoom_view(detail, self.zoom)[0], zoom_view(settled, self.zoom)[0]
            if self.strength != self.held_strength:
                # a change of strength (a key, a schedule) scales the dream carried so far at once,
                # so what is shown follows it to the frame, up on a beat and down after it
                ratio = self.strength / self.held_strength
                detail.mul_(ratio), anchored.mul_(ratio), self.gain.mul_(ratio)
                self.held_strength = self.strength
            gain = strength_gain(detail, self.low * self.strength, self.mean * self.strength, v.max_gain,
                                 self.peak * self.strength if self.live else None)
            taper = self.still.taper() if camera_still and self.zoom == 1.0 else None
            if taper is not None:
                # a dream grown on a still pixel is left as it is: no more steps, no more lifts
                # (with neither, it stays as it was; lifted on with no steps, its weakest colours
                # grew into single saturated pixels)
                gain = gain.sub_(1.0).mul_(taper).add_(1.0)
            self.gain.mul_(gain)
            self.anchored = anchored * gain
            del anchored
            image = detail.mul_(gain).add_(base).clamp_(0, 1)
            del detail, gain
            weight = self._step_weight(settled)
            if taper is not None:  # (an installation deepening a still scene steps on)
                weight = weight * taper
            if not self.building:  # a new shot's pixels stay newly shown while it builds (CUT_BUILD_FRAMES)
                settled.add_(1.0 / v.fresh_frames).clamp_(max=1.0)
            self.settled = settled
            self.since_anchor += 1
        return image, weight, taper

    def _step_weight(self, settled: torch.Tensor) -> torch.Tensor:
        """The per-pixel step weight (1, 1, H, W) of how settled each pixel's dream is (1, 1, H, W):
        the fresh step where it is newly shown (0), the carried one where it has settled (1)."""
        v = self.video
        return v.carried_step + (v.fresh_step - v.carried_step) * (1.0 - settled)

    def _deepen_weakest(self, image: torch.Tensor, base: torch.Tensor, weight: torch.Tensor,
                        taper: torch.Tensor | None, dim: int, step: float) -> torch.Tensor:
        """A live show's step at the octave below full size on the band its dream is weakest in,
        of the bands across `dim` and those across the other side (see WEAK_BAND_STEP); where no
        band falls short enough, on what moves before a still camera (`_deepen_mover`). A pixel
        takes the frame's step weight, or more where its dream falls short, up to a whole step
        where none is left (a carried pixel's weight is a fraction of one); a still pixel's dream
        is left as it is all the same (`taper`)."""
        low = self.low * self.strength
        if low <= 0:
            return image
        shortfall = local_strength(image - base).neg_().add_(low).clamp_min_(0.0)
        n = self.video.step_regions
        dim, k, mean = weakest_band_either_way(shortfall, dim, n)
        if mean < WEAK_BAND_SHORTFALL * low:
            return self._deepen_mover(image, weight, taper, dim, step)
        short = shortfall.div_(low).clamp_(max=1.0)
        weight = torch.maximum(weight, short if taper is None else short.mul_(taper))
        d, dreamer = self.dreamer.config, self.dreamer
        span = band_spans(image.shape[dim], n, k, 0)[0]
        return ascend_band(image, dim, span, BAND_MARGIN, dreamer.net, dreamer.objective, 1, step * WEAK_BAND_STEP,
                           d.jitter, dreamer.generator, weight, scale=d.octave_scale)

    def _deepen_mover(self, image: torch.Tensor, weight: torch.Tensor, taper: torch.Tensor | None, dim: int,
                      step: float) -> torch.Tensor:
        """Before a still camera, a live show's step at the octave below full size on the box where
        the picture moves most (see MOVER_SHARE); `image` unchanged where the camera moves or too
        little does. A moving pixel takes a whole step at least; a still one that has had its steps
        keeps its dream (`taper`)."""
        if self.moving is None:
            return image
        n = self.video.step_regions
        dim, k, share = weakest_band_either_way(self.moving, dim, n)  # the band holding the most of what moves
        if share < MOVER_SHARE:
            return image
        start, end = band_spans(image.shape[dim], n, k, 0)[0]
        k_across = weakest_band(self.moving.narrow(dim, start, end - start), 5 - dim, n)[0]
        across = band_spans(image.shape[5 - dim], n, k_across, 0)[0]
        rows, columns = ((start, end), across) if dim == 2 else (across, (start, end))
        weight = torch.maximum(weight, self.moving if taper is None else self.moving * taper)
        d, dreamer = self.dreamer.config, self.dreamer
        return ascend_box(image, rows, columns, BAND_MARGIN, dreamer.net, dreamer.objective, 1, step * WEAK_BAND_STEP,
                          d.jitter, dreamer.generator, weight, scale=d.octave_scale)

    def _spared(self) -> bool:
        """Whether the frame in hand takes no more steps: carried for a frame after it (`sparing`),
        or of a shot the display has cut away from (`stale`)."""
        return self.sparing or (self.stale is not None and self.stale.is_set())

    def _refine(self, image: torch.Tensor, weight: torch.Tensor, base: torch.Tensor,
                taper: torch.Tensor | None) -> torch.Tensor:
        if self._spared():
            return image
        d, v, dreamer = self.dreamer.config, self.video, self.dreamer
        h, w = image.shape[2:]
        net, objective, generator = dreamer.net, dreamer.objective, dreamer.generator
        step = d.step * self.strength
        iterations = v.refine_iterations + self.extra_iterations
        builds = cut_build = self.building > 0
        if builds:
            # a new shot after a live cut (see CUT_BUILD_FRAMES); the weight steps fully where it
            # was seeded, lightly on what it recalled, not on a still pixel that has had its steps
            self.building -= 1
            self.rebuilding = self.unbuilt = 0
        else:
            if self.moving is None:
                # (before a still camera the moving subject's box takes its own steps instead, see MOVER_SHARE)
                self.unbuilt += self.doubt / TYPICAL_DOUBT
            if self.rebuild_every and not self.rebuilding and self.unbuilt >= self.rebuild_every:
                # (a shot shorter than this after its cut's build, as a cut-heavy source's, takes none)
                self.rebuilding, self.unbuilt = REBUILD_FRAMES, 0
            if self.rebuilding:
                # (see REBUILD_FRAMES) a whole step at least where the dream has been carried a while,
                # more where it is newly shown; a still pixel that has had its steps keeps them (`taper`)
                self.rebuilding -= 1
                builds = True
                weight = weight.clamp(min=1.0)
                if taper is not None:
                    weight.mul_(taper)
        if builds:
            size = octave_sizes(h, w, 2, d.octave_scale)[0]
            mirror = 0 if cut_build else round(REBUILD_MIRROR * size[1] / w)
            return refine_at(image, size, net, objective, 1, step * CUT_BUILD_STEP, d.jitter, generator, weight,
                             mirror=mirror, even=True)
        if iterations and v.step_regions > 1:
            # one band a frame, in turn, with the band's share of the frames' steps: the same
            # ascent a pixel on average, for a share of the cost; where the bands meet moves each
            # round, so no seam stays put (choosing the band most newly shown instead of taking
            # turns changed nothing measurable). The bands cut across the longer side: each
            # band's margins are then the shorter side long, the least context computed twice
            dim = 3 if w > h else 2
            n, length = v.step_regions, image.shape[dim]
            k = self.carried % n
            if k == 0:
                self.band_offset = int(torch.randint(0, max(1, length // n), (1,), generator=generator))
            for span in band_spans(length, n, k, self.band_offset):
                image = ascend_band(image, dim, span, BAND_MARGIN, net, objective, iterations,
                                    step * n, d.jitter, generator, weight, BAND_LIMIT)
            if self.live and not self._spared():
                # (the display may have cut away while the band stepped: the new shot's frame waits)
                image = self._deepen_weakest(image, base, weight, taper, dim, step)
        elif iterations:
            image = ascend(image, net, objective, iterations, step, d.jitter, generator, weight=weight)
        smaller = octave_sizes(h, w, max(1, v.refine_octaves), d.octave_scale)[:-1]
        if smaller:
            size = smaller[self.carried % len(smaller)]
            image = refine_at(image, size, net, objective, v.octave_steps, step, d.jitter, generator, weight)
        return image

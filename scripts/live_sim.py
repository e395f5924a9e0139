#!/usr/bin/env python
"""The live show replayed offline, frame-exact: the live stage dreams every `--stride`-th frame of
a clip (looped), as a show whose dream runs at the camera's rate / stride would, and the
compositor shows every frame with the latest dream, which comes `--stride` frames after the
frame it was dreamt on. What was shown is judged as `bench_live.py --depth` judges a real show
(depth against full dreams of 36 frames, `--picks`, the motion measures), and so is the stage's
own dream of each of those frames on the frame it was dreamt on (`dreamt_retained`): what the
display loses, laying a dream on newer frames, shows apart from what the stage keeps. The numbers
do not depend on how busy the machine is, but a dream is chaotic: a change's effect, above all
where the input moves, is only told from a seed's own spread by running it with a few `--seed`s.
Judged on 12 frames, as a real show's benchmark is, the depth where a fast disc moves came out
0.09 with bands stepped with 16 pixels of margin, 0.29 with 12 and 0.09 with 8; judged on 36,
0.08 with 16 and with 8, for about a minute more a run. The first time through the clip is not judged;
the judged one starts with no shots kept, as a real show's first time through does
(`--warm-shots` keeps them, as a show looping its clip would).

With `--clock`, the dream is not every `--stride`-th frame: as in a show, the frame dreamt next is
the newest camera frame when the dream before it is done, and each dreamt frame takes a time
worked out from what the network did on it: FRAME_SECONDS, plus STEP_SECONDS for each frame's
worth of pixels it ran forward and back over (a band's step is a share of one, a smaller
octave's less, a full dream many), plus PASS_SECONDS for each time it ran. A setting that spends
more on some frames (a cut's build) is charged for it in how late and how seldom its dreams come,
and the numbers still do not depend on the machine. As in a show, a cut the display shows while a
frame of the shot before is being dreamt makes that frame stale (pipeline.NewestFrame.stale), and
the steps the stage then spares are not charged.

    python scripts/live_sim.py --clip ../shared/media/bigbuckbunny.mp4 --stride 3
    python scripts/live_sim.py --stride 3 --scale 0.75 --regions 3 --json out/sim.json
    python scripts/live_sim.py --clip object.mp4 --sheet out/sim.png   # input, full dream, shown
    python scripts/live_sim.py --clip shots.mp4 --clock                # dreams as late as their cost
    python scripts/live_sim.py --clip shots.mp4 --clock --costs out/costs.json   # fits those costs

The stage's time per dreamt frame on one thread is printed too, for orientation only. `--json`
also holds, for each judged frame, the camera frame it shows, how concentrated its dream is (as
`bench_live.py --json` does) and its E_warp against the frame before (the summary says which frame
was the most concentrated); for each pick, the camera frame it shows and its depth and its full
dream's at block 16 (how a shot's depth grows from its cut); which camera frames were dreamt; and
each edge band on every third judged frame, beside the camera frame it shows.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch

from streamdream.depth import DepthJudge, measure_depths
from streamdream.engine.dreamer import Dreamer
from streamdream.engine.motion import MotionTracker
from streamdream.engine.shots import ShotMemory
from streamdream.frames import Dreamt, Frame
from streamdream.live.compositor import Compositor, FlowChain
from streamdream.live.show import LIVE_FLOW_WIDTH
from streamdream.live.stage import LiveStage
from streamdream.media.video_in import VideoFileSource
from streamdream.metrics import edge_bands, mean_edges, specks, temporal_metrics
from streamdream.presets import build_config

DEFAULT_CLIP = Path(__file__).resolve().parent.parent.parent / "shared" / "media" / "bigbuckbunny.mp4"

# --clock's costs at 640x360 on a 2-core AMD EPYC VM: a full-size ascent step of the default look
# (scaled with the pixels the network ran over), each time the network runs, however small the
# picture (its layers' fixed cost), and the rest of a dreamt frame (the carry, the download;
# scaled with the frame's pixels). They are --costs' fit of one thread's seconds on the shots and
# object clips (0.0155 s + 0.121 a frame's pixels + 0.0037 a run; 5 ms off a frame, rms), times
# 1.2: a real show, whose other core decodes, works out the flow and shows, dreamt that much slower.
# The dreams a second they give, against a real show's (bench_depth.sh --live, docs/depth.md):
# 13.1 and 14.1 on the cut clip, 13.1 and 12.6 hand-held, 16.4 and 15.2 on a disc crossing a still
# scene, 13.8 and 13.5 on the shared clip, 13.1 and 13.9 on the shots clip. An earlier model with
# no cost a run (0.035 s a frame, 0.12 a frame's pixels) charged a step at the octave below on a
# band a third less than it cost, and the rest of the frame more: a change that added such steps
# looked 15% slower there and was 30% slower in a real show
STEP_SECONDS = 0.145
FRAME_SECONDS = 0.019
PASS_SECONDS = 0.0045


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clip", default=str(DEFAULT_CLIP))
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--stride", type=int, default=3, help="camera frames per dreamt frame")
    p.add_argument("--loops", type=int, default=2, help="times through the clip; the first is not judged")
    p.add_argument("--clock", action="store_true", help="each dream takes the time its work costs (see above), "
                                                        "not --stride frames")
    p.add_argument("--scale", type=float, help="[live] dream_scale")
    p.add_argument("--regions", type=int, help="[live] step_regions")
    p.add_argument("--rebuild-every", type=int, help="[live] rebuild_every (0: no rebuilds)")
    p.add_argument("--warm-shots", action="store_true", help="keep the shots the first time through left for the "
                                                               "judged one (a show looping its clip)")
    p.add_argument("--picks", type=int, default=36, help="judged frames, each also dreamt in full (more: "
                                                          "steadier numbers, a full dream's time each)")
    p.add_argument("--seed", type=int, default=3, help="the live dream's seed (its jitter, from the first frame on)")
    p.add_argument("--preset")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"], help="[dream] precision (a GPU's auto: bf16)")
    p.add_argument("--json", metavar="FILE")
    p.add_argument("--sheet", metavar="FILE", help="a contact sheet: input, full dream and what was shown, "
                                                   "with where each dream is, at four of the judged frames")
    p.add_argument("--costs", metavar="FILE", help="each dreamt frame's seconds on this thread and the sizes the "
                                                   "network ran on, as JSON, for fitting --clock's costs")
    args = p.parse_args()
    if args.stride < 1 or args.loops < 2 or args.picks < 1:
        p.error("--stride, --picks must be at least 1 and --loops at least 2")

    torch.set_num_threads(1)  # as a live show on a CPU leaves the dream
    cv2.setNumThreads(1)
    live = {k: v for k, v in (("dream_scale", args.scale), ("step_regions", args.regions),
                              ("rebuild_every", args.rebuild_every)) if v is not None}
    dream = {"width": args.width, "device": "cpu", "seed": args.seed, **({"precision": args.precision} if args.precision else {})}
    config = build_config(args.preset, {"dream": dream, "live": live})
    source = VideoFileSource(args.clip, args.width)
    clip = [f.image for f in source.frames()]
    source.close()
    frames = [clip[i % len(clip)] for i in range(len(clip) * args.loops)]
    judged = range(len(clip), len(frames))  # from the second time through: the first full dream is long past
    picks = list(judged)[4::max(1, (len(clip) - 8) // args.picks)][:args.picks]

    stage = LiveStage(config, [], {"device": "cpu", "seed": args.seed, "width": args.width})
    side = min(args.width, LIVE_FLOW_WIDTH)  # as a show bounds its flow's copy, both sides
    tracker = MotionTracker(config.video.scene_cut, width=side, height=side)
    compositor = Compositor(0.0, 0.0, config.video.scene_cut)
    shown, seconds, latest, pending = [], [], None, None
    dreamt_at = []  # the index of each camera frame dreamt
    seen = []  # the index of the camera frame each picture shown is of (a cut is held, see compositor.CUT_HOLD)
    plain = []  # whether each picture shown is its camera frame with no dream laid on
    free_at, coming = 0.0, []  # --clock: when the dream thread is free; dreams made, (shown from, dream)
    pixels = args.width * frames[0].shape[0]
    passes: list[tuple[int, int]] = []  # the (h, w) of each picture the network ran on
    runs = []  # the passes of each dreamt frame, beside its `seconds` (for --costs)
    hook = stage.stream.dreamer.net.register_forward_pre_hook(lambda module, a: passes.append(tuple(a[0].shape[2:])))

    def spent() -> float:
        # --clock: the seconds the frame in hand has cost so far (its own work counted from its
        # start, a little early), the costs above being at 640x360
        return ((FRAME_SECONDS + STEP_SECONDS * sum(h * w for h, w in passes) / pixels) * pixels / (640 * 360)
                + PASS_SECONDS * len(passes))

    cuts = shot_starts(frames, config.video.scene_cut) if args.clock else []
    began = 0.0  # --clock: when the frame in hand began
    stage.stream.stale = stale = Stale(lambda: began + spent())  # never set with no cuts to come
    spared = 0  # dreamt frames found stale before their steps were done
    recent: list[tuple[int, np.ndarray]] = []  # the last few (camera frame, detail) dreamt
    own = {}  # each pick: the newest dream of a frame at or before the one it shows, as (that frame, its detail)
    try:
        for i, image in enumerate(frames):
            frame = Frame(image, i / 25, i)
            if i == len(clip) and not args.warm_shots:
                # the judged time through starts with no shots kept, as a real show's first time
                # through a clip does (bench_live.py plays it once): kept from the time before,
                # shots that look like later ones were recalled, and a clip of shots never seen
                # kept far more depth here than in a real show
                stage.stream.memory = ShotMemory(config.video.scene_cut)
            if args.clock:
                while coming and coming[0][0] <= frame.time:
                    latest = coming.pop(0)[1]
                # the dream thread takes the newest camera frame when it comes free: this one, if the
                # next has not come by then (it waits for this one if it is free before it came)
                dream_now = free_at < frame.time + 1 / 25
            else:
                dream_now = i % args.stride == 0
                if dream_now:
                    latest = pending  # the dream of `stride` frames ago comes now
            if dream_now:
                motion = tracker.next(image)
                begin = time.perf_counter()
                passes.clear()
                began = max(free_at, frame.time)
                stale.at = next((k / 25 for k in cuts if k > i), float("inf"))  # the display's next cut
                detail = stage.next(image, motion)
                spared += stale.is_set()
                seconds.append(time.perf_counter() - begin)
                dreamt_at.append(i)
                runs.append(list(passes))
                pending = Dreamt(frame, detail, i + 1, stage.strength)
                recent = [*recent[-7:], (i, detail)]
                if args.clock:
                    free_at = began + spent()
                    coming.append((free_at, pending))
            shown.append(compositor.present(frame, latest))
            seen.append(compositor.showing.index)
            if i in picks:
                own[i] = max((d for d in recent if d[0] <= seen[i]), key=lambda d: d[0], default=recent[0])
            plain.append(compositor.showing is frame and not compositor.dreamt_shown)
    finally:
        hook.remove()
        stage.looks.close()

    if args.costs:
        record = list(zip(seconds, runs))
        Path(args.costs).write_text(json.dumps({"width": args.width, "height": frames[0].shape[0], "frames": record}))
        fit_costs(record, pixels)
    judge = DepthJudge()
    dreamer = Dreamer.from_config(replace(config.dream, seed=1))
    of = lambda i: frames[seen[i]]  # the input a picture shown is of
    references = [dreamer.dream_frame(of(i)) for i in picks]
    full, sampled = measure_depths([of(i) for i in picks], [references, [shown[i] for i in picks]], judge,
                                   before=[frames[seen[i] - 1] for i in picks])
    # the stage's own dreams, each on the frame it was dreamt on: what a pick's shown picture lost
    # on the way to the screen (laid on a newer frame along the display's flow, eased in) is the
    # difference between the two
    made = {seen[i]: reference for i, reference in zip(picks, references)}  # full dreams, by camera frame
    at = [own[i][0] for i in picks]
    own_full, own_sampled = measure_depths(
        [frames[j] for j in at],
        [[made[j] if j in made else dreamer.dream_frame(frames[j]) for j in at],
         [np.clip(frames[j] + own[i][1], 0, 255).round().astype(np.uint8) for j, i in zip(at, picks)]],
        judge, before=[frames[j - 1] for j in at])
    every = measure_depths([of(i) for i in judged[::3]], [[shown[i] for i in judged[::3]]], judge)[0]
    m = temporal_metrics([of(i) for i in judged], [shown[i] for i in judged])
    # each band, top, bottom, left and right, on every third judged frame: averaged below, and
    # kept a frame at a time in the JSON
    sides = [edge_bands(shown[i], of(i)) for i in judged[::3]]
    edge, full_edge = (mean_edges([shown[i] for i in judged[::3]], [of(i) for i in judged[::3]]),
                       mean_edges(references, [of(i) for i in picks]))
    numbers = {
        "clip": args.clip, "width": args.width, "stride": "clock" if args.clock else args.stride,
        "look": stage.description, "dreamt_per_second": round(sum(i in judged for i in dreamt_at) * 25 / len(judged), 2),
        "dream_scale": stage.scale, "step_regions": stage.stream.video.step_regions,
        "rebuild_every": stage.stream.rebuild_every,
        "stage_ms_one_thread": round(float(np.median(seconds[3:])) * 1000, 1),
        "depth_block16": round(every.ratio["block16"], 3), "depth_full_block16": round(full.ratio["block16"], 3),
        "depth_retained_block16": round(sampled.retained(full, "block16"), 3),
        "depth_retained_moving_block16": round(sampled.retained(full, "block16", moving=True), 3),
        # the same, of the stage's dreams on their own frames (before the display)
        "dreamt_retained_block16": round(own_sampled.retained(own_full, "block16"), 3),
        "dreamt_retained_moving_block16": round(own_sampled.retained(own_full, "block16", moving=True), 3),
        "moving_covered": round(m.moving_covered, 3), "concentration_max": round(m.concentration_max, 3),
        "coherence": round(m.coherence, 3), "coherence_moving": round(m.coherence_moving, 3),
        "ewarp_ratio": round(m.ratio, 3),
        "shown_plain": sum(plain[i] for i in judged), "stale_dreams": spared,
        # the weakest edge band against the interior, and lines repeated near the edges, a frame
        "edge_strength": round(edge[0], 3), "edge_repeats": round(edge[1], 2),
        "edge_strength_full": round(full_edge[0], 3), "edge_repeats_full": round(full_edge[1], 2),
        # each band, top, bottom, left and right, over the same frames: one the dream keeps weak
        # shows here, a dream uneven across the frame only in the weakest band a frame above
        "edge_sides": np.round(np.nanmean(sides, axis=0), 3).tolist(),
        "specks_per_10k": round(float(np.mean([specks(shown[i]) for i in picks])), 1),
        "specks_full_per_10k": round(float(np.mean([specks(r) for r in references])), 1),
    }
    # a frame at a time, the judged frames (as bench_live.py --json gives them): which camera frame
    # each shows, and how concentrated its dream is, to find where the most concentrated falls
    per_frame = {"source_frame_per_frame": [seen[i] for i in judged],
                 "concentration_per_frame": [round(c, 3) for c in m.concentrations]}
    # each judged frame's E_warp against the one before (a squared error in [0, 1]), to find where
    # the flicker falls; each pick's own depth at block 16, shown and full, beside the camera frame
    # it shows: how a shot's depth grows from its cut; and the camera frames dreamt
    per_frame.update(ewarp_per_frame=[round(e, 7) for e in m.pair_errors],
                     pick_source_frame=[seen[i] for i in picks],
                     pick_depth=[round(r, 3) for r in sampled.per_frame["block16"]],
                     pick_depth_full=[round(r, 3) for r in full.per_frame["block16"]],
                     dreamt_frames=[i for i in dreamt_at if i in judged],
                     # each edge band (top, bottom, left, right) on every third judged frame, beside
                     # the camera frame it shows: where and when in a shot the edges are weak
                     edge_source_frame=[seen[i] for i in judged[::3]],
                     edge_sides_per_frame=np.round(sides, 3).tolist())
    top = int(np.argmax(per_frame["concentration_per_frame"]))
    numbers["concentration_max_at"] = per_frame["source_frame_per_frame"][top]  # the camera frame
    for name, value in numbers.items():
        print(f"  {name:24s} {value}")
    if args.json:
        Path(args.json).write_text(json.dumps({**numbers, **per_frame}, indent=2))
    if args.sheet:
        write_sheet(args.sheet, [(i, of(i), references[k], shown[i]) for k, i in enumerate(picks)]
                    [::max(1, len(picks) // 4)][:4])


class Stale:
    """pipeline.NewestFrame.stale under --clock: set once the dream thread's clock (`clock()`,
    camera seconds) has passed `at`, the time the display cuts away from the frame in hand's shot.
    The stage looks at it where a show's does, between its steps."""

    def __init__(self, clock):
        self.clock, self.at = clock, float("inf")

    def is_set(self) -> bool:
        return self.clock() >= self.at


def fit_costs(record: list, pixels: int) -> None:
    """Print the least-squares fit of the dreamt frames' seconds on this thread (`record`: (seconds,
    the (h, w) of each network run) a frame) as a frame's cost, a cost a frame's `pixels` run over
    and a cost a run: --clock's three costs, before a real show's slowing. The first frame (a
    full dream, forty runs) is left out, or it would weigh as much as all the others."""
    rows = [(s, sum(h * w for h, w in runs) / pixels, len(runs)) for s, runs in record[1:]]
    if len(rows) < 3:
        print("  (too few dreamt frames to fit costs)")
        return
    seconds = np.array([r[0] for r in rows])
    a = np.array([(1.0, r[1], r[2]) for r in rows])
    fit, *_ = np.linalg.lstsq(a, seconds, rcond=None)
    off = float(np.sqrt(np.mean((a @ fit - seconds) ** 2)))
    print(f"  one thread's seconds: {fit[0]:.4f} a frame + {fit[1]:.3f} a frame's pixels run over + "
          f"{fit[2]:.4f} a run (rms {off * 1000:.1f} ms off, {len(rows)} frames)")


def shot_starts(frames: list[np.ndarray], scene_cut: float) -> list[int]:
    """The indices of the frames the display sees a cut at: its own flow chain's judgement
    (live.compositor.FlowChain), with no flows worked out."""
    chain, starts = FlowChain(scene_cut), []
    for k, frame in enumerate(frames):
        chain.add(k, frame, link=False)
        if chain.shot == k and k:
            starts.append(k)
    return starts


def write_sheet(path: str, moments: list) -> None:
    """Rows of input, full dream and shown, and where the two dreams are, for (frame index, input,
    full dream, shown) at each moment."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from contact_sheet import label, strength_view

    from streamdream.media.images import write_image
    from streamdream.metrics import local_strength

    scale = float(np.percentile(local_strength(moments[0][2], moments[0][1]), 90)) or 1.0
    rows = [np.hstack([label(m[k], f"{name}  frame {m[0]}") for m in moments])
            for k, name in ((1, "input"), (2, "full dream"), (3, "shown (live, simulated)"))]
    for k, name in ((2, "full: where"), (3, "shown: where")):
        rows.append(np.hstack([label(strength_view(m[k], m[1], scale), f"{name}  frame {m[0]}") for m in moments]))
    write_image(np.vstack(rows), path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

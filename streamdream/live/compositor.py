"""The display between dreamt frames: every camera frame gets the latest dream detail warped
onto it with a cheap flow, so the display runs at the camera's rate while the dream runs at its
own; it also cross-fades switches, freezes, and fades out a lost camera."""

from __future__ import annotations

import time

import cv2
import numpy as np

from ..config import VideoConfig
from ..engine.flow import DISFlow, frame_difference, resize_flow, small_gray
from ..engine.warp import beyond, chain_flow, warp
from ..frames import Dreamt, Frame
from .backdrop import Backdrop, uncovered

# the display's flow runs on a copy this wide (this tall, a portrait frame's), on every camera
# frame. At a quarter of a 640-wide show it misplaced the detail enough to double the flicker
# (E_warp) of what was shown, and at half of it a fast mover still shimmered; the whole width took
# little more of that for twice the time, over half a core at a 25 fps camera on a 2-core CPU
# (scripts/live_sim.py --clock compares the flicker; the display's time a frame is
# bench_live.py's to watch)
DISPLAY_FLOW_WIDTH = 480


# the display chains the flows of this many consecutive camera frames at most (see FlowChain)
CHAIN_FRAMES = 16


# after this long without a camera frame the display starts fading the last picture out
LOST_AFTER = 1.0


# at a cut the display holds the last dreamt picture for up to this long, while the new shot's first
# dream is made (a seed or a shot recalled, see engine.temporal.StreamDreamer._cut): the cut shows
# that much late and dreamt, where on time it showed as a flash of the plain camera between two
# dreams. Four frames of a 25 fps camera: a 2-core CPU's seed, begun when the dream thread comes
# free from the frame before the cut, came a frame after a hold of three at one cut in ten
# (scripts/live_sim.py --clock on a clip of a new shot every 1.6 s; a real show saw the same)
CUT_HOLD = 0.16
# ... or for this many of the dream's own periods lately (the time from one dream's camera frame to
# the next's, an average), when that is longer: a slower CPU's dream takes longer over the frame in
# hand and over the seed alike, and a hold of four frames showed most cuts plain for a frame or more
# past it. On a 2-core Intel Xeon whose dream came 7-9 times a second, 10 of 11 cuts of a clip
# with a cut every 1.6 s for 1-3 frames (bench_live.py --depth); on a 2-core AMD EPYC with a busy
# loop beside the show, the dream 5.5-6.4 a second, 10 of 11 of that clip's cuts and 6 of 11 of a
# clip of a new shot every 1.6 s, for 1-5 frames. Held this long, none were, each held 4-7 frames:
# such a machine shows its cuts a tenth of a second later, dreamt (which counts as latency: the
# p95 went from 146-147 ms to 227-229). Idle, the EPYC's dream 11.5-12.8 a second, no cut was
# shown plain either way. CUT_HOLD is two and a half periods of a dream 16 times a second
CUT_HOLD_PERIODS = 2.5
# ... but never longer than this: a dream stalled for seconds (a look being built) is not waited
# for, the shot is shown plain
CUT_HOLD_MOST = 0.5


# a dream that comes camera frames after the one before it (a CPU's, every second or third) is
# eased in: on every camera frame shown, the detail moves this share of the way from what was shown
# on the frame before, moved along the flow between the two, to the latest dream's, so a change its
# steps made shows over several frames. A CPU's dream steps one band of the frame at a time, each
# band a few times the usual step: laid on whole, that change showed at once, a flicker (E_warp) on
# every stretch of the picture it touched. Eased in on the dream's first frame only (half, then the
# rest on the next), the E_warp ratio of a looped close-up was 2.22, of a disc over a still scene
# 1.97, of a hand-held clip 1.73; eased on every frame, 1.75, 1.60 and 1.42, for the same depth but
# on an upright clip (58% to 55%, its movers 22% to 18%: averaged over frames, what moves lags;
# scripts/live_sim.py --clock). The rest of the cost is at the edges: what the camera brings in is
# mirrored from the dream beside it until a dream reaches it, a fill that differs from frame to
# frame, and averaged over frames it is weaker. The hand-held clip's weakest edge band went from
# 0.78 of the interior's to 0.755; with what came in since the frame before laid on whole (the
# picture before did not show it), 0.76 when a pixel counted as come in by the share of its sample
# that fell beyond the edge, 0.77 when it counted however little fell beyond (see warp.beyond; a
# clip with cuts, 0.736 to 0.745). Laid on whole also where the picture before showed such a fill,
# 0.775, but the close-up's ratio was 1.93. A dream of every camera frame (a GPU's) changes by a
# step a frame: eased in too, it was steadier, but the ease, an average over the frames then, took
# depth from its moving subjects, and a 1280-wide frame's warp more (scripts/live_sim.py --clock,
# and with --stride 1 --regions 1, compares). Laid on whole also where the two disagree (their
# details' correlation over a few pixels below 0.5, whole below 0.1: two textures out of register
# cancel in an average, as around a fast disc over a still scene, where what was shown is weakest
# in a ring about its edge), that clip's E_warp ratio went from 1.54 to 1.71 for the same depth
# and the ring stayed; not eased at all, 2.50, the ring as it was
EASE_IN = 0.5
# ... when the dreams have come this many camera frames apart, lately, on average (an average
# over about 1 / SPACING_WEIGHT dreams): a CPU's dream is quick enough for the very next camera
# frame at times, and those laid on whole kept much of the flicker the ease takes
EASE_SPACING = 1.5
SPACING_WEIGHT = 0.2


# a strength the display follows ahead of the dream is let go of after this long, should no dream
# at it come (a schedule may have set another meanwhile)
FOLLOW_SECONDS = 1.0


class FlowChain:
    """Where each pixel of the newest camera frame shown was in an earlier one, (h, w, 2) at
    DISPLAY_FLOW_WIDTH: the flows between consecutive frames shown, chained.

    A dream arrives frames after the camera frame it was dreamt on. One flow across that gap,
    taken afresh for each frame shown, erred a little differently each time, and the dream laid
    along it shimmered on everything that moved; a frame-to-frame flow is small, which DIS gets
    right cheaply, and the chain grown by one link a frame moves the dream smoothly."""

    def __init__(self, scene_cut: float = VideoConfig.scene_cut, width: int = DISPLAY_FLOW_WIDTH,
                 keep: int = CHAIN_FRAMES):
        self.scene_cut, self.width, self.keep = scene_cut, width, keep
        # MEDIUM, though at this width it takes 12-15 ms a frame on a 2-core AMD EPYC, ULTRAFAST 2:
        # a chain gathers its links' errors, and ULTRAFAST links kept half of the shimmer on moving
        # subjects. Most of MEDIUM's time is its variational refinement: two passes of it instead
        # of five (with patches every 4 pixels, or FAST's patches down to the same scale) took
        # 7-8 ms and lined consecutive frames up as well, but a looped close-up's E_warp ratio went
        # from 1.75 to 1.83-1.84 (scripts/live_sim.py --clock): a rougher flow shows where the grey
        # picture is flat and the dream laid along it is not. Nor did the dream come measurably
        # faster with ULTRAFAST links in a real show there (8.7-9.8 dreams a second against
        # 7.4-9.9, four runs each): its own work sets most of its pace, and it waited for a core
        # about 15 ms of its 120-135 a frame (/proc's schedstat), of which the display is a part.
        # Nor does a sharper link pay (each pixel taking a neighbour's vector where it lines the
        # two frames up better, which halves the error beside a moving subject's outline, for 9 ms
        # more a link at this width): as much depth, the E_warp ratio of a disc over a still scene
        # 1.53 to 1.49, of a close-up 1.65 to 1.67 (live_sim.py --clock, seed 3; see show.py's
        # tracker for the same on the dream's own flow)
        self.flow = DISFlow(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        self.links: dict[int, tuple[int, np.ndarray]] = {}  # frame index -> (the frame before it, flow to it)
        self.newest: tuple[int, np.ndarray] | None = None  # (index, small grey) of the newest frame
        self.chain: tuple[int, int, np.ndarray] | None = None  # (from, to, flow) last given
        self.shot = 0  # the index of the frame the newest shot began with

    def add(self, index: int, image: np.ndarray, link: bool = True) -> np.ndarray:
        """Take the newest frame shown, RGB uint8 (H, W, 3); returns its small grey. With `link`
        False (no dream to lay on it yet) only a cut is looked for: the flow would go unused."""
        small = small_gray(image, self.width, min_height=8, height=self.width)
        if self.newest is not None and self.newest[1].shape == small.shape and index > self.newest[0]:
            if frame_difference(self.newest[1], small) > self.scene_cut:  # as the dream's flow stage judges it
                self.links.clear()
                self.shot = index
            elif link:
                self.links[index] = (self.newest[0], self.flow(small, self.newest[1]))
            for old in [k for k in self.links if k <= index - self.keep]:
                del self.links[old]
        else:
            self.links.clear()  # the first frame, or another size: nothing to link to (but no cut)
        self.newest = (index, small)
        return small

    def back_to(self, target: int) -> np.ndarray | None:
        """The flow from the newest frame to frame `target`; None when the chain does not reach it
        (not shown, too old, or another size)."""
        if self.newest is None:
            return None
        newest = self.newest[0]
        if self.chain is not None and self.chain[1] == target and self.links.get(newest, (None,))[0] == self.chain[0]:
            chain = chain_flow(self.chain[2], self.links[newest][1])  # one more link
        else:
            steps, at = [], newest
            while at > target and at in self.links:
                at, flow = self.links[at][0], self.links[at][1]
                steps.append(flow)
            if at != target or not steps:
                return None
            chain = steps[-1]
            for flow in reversed(steps[:-1]):
                chain = chain_flow(chain, flow)
        self.chain = (newest, target, chain)
        return chain


class Compositor:
    """The display between dreamt frames: lays the latest dream's detail onto each newer camera
    frame along the flows between the frames since (see FlowChain), so motion shows at the
    camera's rate, and eases in a dream that comes frames after the one before (EASE_IN); what a
    subject uncovers between two dreams takes a still scene's own detail back (see backdrop.py). Also:
    holds the last dreamt picture over a cut for up to `hold` seconds, longer for a slow dream (see
    CUT_HOLD), cross-fades over `blend` seconds when the look changes, freezes, and fades the last
    picture out when the camera is lost."""

    def __init__(self, blend: float = 0.5, fade: float = 20.0, scene_cut: float = VideoConfig.scene_cut,
                 hold: float = CUT_HOLD):
        self.blend, self.fade, self.hold = blend, fade, hold
        self.flow = DISFlow(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)  # where the chain does not reach
        self.chain = FlowChain(scene_cut)
        self.count = -1
        self.dreamt_index = -1  # the camera frame the latest dream is of
        self.spacing = 1.0  # camera frames from one dream's to the next's, lately (an average)
        self.period = 0.0  # seconds from one dream's camera frame to the next's, lately (an average)
        self.dreamt_time = 0.0  # the time of the camera frame the latest dream is of
        self.reference: np.ndarray | None = None  # small grey of the last dreamt input
        self.detail: np.ndarray | None = None  # float32 (H, W, 3): last dream - its input
        self.last: np.ndarray | None = None  # the last picture shown
        self.blend_from: np.ndarray | None = None
        self.blend_start = 0.0
        self.frozen: np.ndarray | None = None
        self.last_frame_at = time.perf_counter()
        self.dream_strength = 1.0  # the strength of the latest dream
        self.ahead: tuple[float, float] | None = None  # (strength, since): see `follow`
        self.showing: Frame | None = None  # the camera frame whose picture was shown last (a hold's is older)
        self.dreamt_shown = False  # whether the last picture shown had a dream of its own shot laid on
        self.held_since: float | None = None  # the time of the cut frame a hold began on
        # (camera frame, the detail laid on it, the strength it was shown at) last shown
        self.laid: tuple[int, np.ndarray, float] | None = None
        self.backdrop = Backdrop()  # a still camera's scene as shown, for what a subject uncovers

    def shows(self, index: int) -> bool:
        """Whether a dream of camera frame `index` is of the shot shown now: only such a dream is
        laid onto the frames shown (see `present`)."""
        return index >= self.chain.shot

    @property
    def strength(self) -> float:
        """The strength shown now."""
        return self.ahead[0] if self.ahead is not None else self.dream_strength

    def follow(self, strength: float) -> None:
        """Show the dream at `strength` from the next camera frame on, by scaling its detail, until
        a dream made at it comes: a knob or a slider answers at the camera's rate, not a dream later."""
        self.ahead = (strength, time.perf_counter())

    def start_blend(self) -> None:
        if self.last is not None and self.blend > 0:
            self.blend_from, self.blend_start = self.last, time.perf_counter()

    def freeze(self, on: bool | None = None) -> bool:
        on = self.frozen is None if on is None else on
        self.frozen = self.last if on else None
        return self.frozen is not None

    def present(self, frame: Frame, dreamt: Dreamt | None) -> np.ndarray:
        """The picture to show for camera `frame` (RGB uint8, same shape) given the latest dream,
        whose output is the live stage's float32 detail (see stage.LiveStage.next)."""
        self.last_frame_at = time.perf_counter()
        if self.frozen is not None:
            return self.frozen
        # before the first dream (a full one, seconds long) the links would only take CPU from it;
        # the first dream is laid along a direct flow, until the next one comes
        small = self.chain.add(frame.index, frame.image, link=dreamt is not None)
        if self.chain.shot == frame.index:
            self.backdrop.forget()  # another shot, another scene
        # a dream of the shot before a cut is not laid onto the new one (along a flow between two
        # unrelated pictures it was noise, less than no dream): the last dreamt picture is held
        # until the new shot's own dream comes, for `hold` s at most, then the shot shows plain
        laid = dreamt is not None and dreamt.output.shape == frame.image.shape and self.shows(dreamt.frame.index)
        if laid:
            self.held_since = None
        else:
            self.laid = None  # nothing to ease the next dream in from (see EASE_IN)
            if self._holds(frame):
                self.dreamt_shown = False  # a hold is not begun again from a held picture
                return self.last
        self.showing, self.dreamt_shown = frame, laid
        out = self._lay(frame, dreamt, small) if laid else frame.image
        if self.blend_from is not None and self.blend_from.shape == out.shape:
            t = (time.perf_counter() - self.blend_start) / self.blend
            if t >= 1:
                self.blend_from = None
            else:
                out = cv2.addWeighted(self.blend_from, 1 - t, out, t, 0)
        self.last = out
        return out

    def _holds(self, frame: Frame) -> bool:
        """Whether camera `frame`, with no dream of its shot yet, is shown as the last picture:
        from a cut frame on, when the picture before it had a dream, for `hold` s of camera time.
        It begins a hold at such a cut frame, and ends one that has run out."""
        if self.chain.shot == frame.index and self.dreamt_shown and self.last is not None \
                and self.last.shape == frame.image.shape and self.hold > 0:
            self.held_since = frame.time
        if self.held_since is not None and 0 <= frame.time - self.held_since < self.hold_limit():
            return True
        self.held_since = None
        return False

    def hold_limit(self) -> float:
        """How long a cut is held at most, in seconds: `hold`, or longer when the dream comes
        slowly (CUT_HOLD_PERIODS); 0 when holds are off."""
        if self.hold <= 0:
            return 0.0
        return max(self.hold, min(CUT_HOLD_PERIODS * self.period, CUT_HOLD_MOST))

    def _lay(self, frame: Frame, dreamt: Dreamt, small: np.ndarray) -> np.ndarray:
        """Camera `frame` with `dreamt`'s detail, of its shot, laid on along the flow between them."""
        fresh = dreamt.count != self.count
        if fresh:
            # a dream that keeps up with the camera is laid on whole (see EASE_IN); one of a CPU, at
            # times quick enough for the very next frame, is eased in all the same. (A long gap, a
            # stalled dream, counts as 10 frames: the pace is the usual one's, not the stall's)
            if self.dreamt_index >= 0:
                frames = dreamt.frame.index - self.dreamt_index
                self.spacing += SPACING_WEIGHT * (min(frames, 10) - self.spacing)
                if frames > 0:
                    seconds = (dreamt.frame.time - self.dreamt_time) * min(1.0, 10 / frames)
                    self.period += SPACING_WEIGHT * (min(max(seconds, 0.0), CUT_HOLD_MOST) - self.period)
            self.count, self.dreamt_index, self.dreamt_time = dreamt.count, dreamt.frame.index, dreamt.frame.time
            self.reference = small_gray(dreamt.frame.image, DISPLAY_FLOW_WIDTH, min_height=8,
                                        height=DISPLAY_FLOW_WIDTH)
            self.detail = dreamt.output  # float32 dream - input, from the live stage
            self.dream_strength = dreamt.strength
        ease = self.spacing >= EASE_SPACING
        detail, strength = self.detail, self.dream_strength
        if self.ahead is not None:
            wanted, since = self.ahead
            if abs(wanted - self.dream_strength) < 1e-6 or time.perf_counter() - since > FOLLOW_SECONDS:
                self.ahead = None  # the dream has caught up (or gone elsewhere)
            elif self.dream_strength > 1e-3:
                detail, strength = detail * (wanted / self.dream_strength), wanted
        h, w = frame.image.shape[:2]
        if frame.index != dreamt.frame.index:
            back = self.chain.back_to(dreamt.frame.index)  # this frame -> the dreamt one
            if back is None:
                back = self.flow(small, self.reference)
            # what the camera has brought in since the dreamt frame has no dream yet: until the next
            # dream reaches it, it takes the dream mirrored about the edge (a few pixels in, so the
            # lines either side of the axis differ, see warp.MIRROR_SKIP). The edge replicated drew
            # stripes down it, and left plain it was a bare strip that came and went with each dream
            # (metrics.edges, in bench_live, measures both)
            detail = warp(detail, resize_flow(back, h, w), outside="reflect")
            # what a subject has uncovered since the dreamt frame takes the scene's own detail back,
            # not the subject's drawn out behind it (see backdrop.py)
            doubted = uncovered(small, self.reference, back)
            given = self.backdrop.given(small, doubted)
            if given is not None:
                given = cv2.resize(given, (w, h), interpolation=cv2.INTER_LINEAR)
            detail = self.backdrop.lay(detail, given)
        else:
            doubted = given = None
        own = self.chain.links.get(frame.index)  # (the frame shown before, the flow back to it)
        link = own if ease and self.laid is not None else None
        # (two sizes of frame can have one size of link: the shapes are compared too)
        if link is not None and link[0] == self.laid[0] and self.laid[1].shape == detail.shape:
            to_before = resize_flow(link[1], h, w)
            before = warp(self.laid[1], to_before, outside="reflect")
            if abs(strength - self.laid[2]) > 1e-6 and self.laid[2] > 1e-3:
                # a change of strength (a key, a knob, a beat) shows at once: only what the
                # dream's steps changed is eased in
                before *= strength / self.laid[2]
            # what came in since the picture before is laid on whole: that picture did not show it;
            # so is the scene's own detail given back where a subject has uncovered it (see
            # backdrop.py): there the picture before showed the subject's dream, which eased in
            # would trail behind it. (Laid on whole wherever the picture changed since the dreamt
            # frame, a looped close-up's E_warp ratio was 1.93 instead of 1.75)
            share = np.maximum(beyond(to_before), EASE_IN)
            if given is not None:
                np.maximum(share, given, out=share)
            detail = cv2.blendLinear(detail, before, share, 1.0 - share)
        self.laid = (frame.index, detail, strength)
        self.backdrop.keep(small, detail, None if own is None else own[1], doubted)
        # the one place the live dream is clipped to what a screen shows: added, rounded and
        # saturated in one pass (this runs on every camera frame, beside the dream)
        return cv2.add(frame.image, detail, dtype=cv2.CV_8U)

    def idle(self) -> np.ndarray | None:
        """With no camera frame for LOST_AFTER s: the last picture, fading to black over `fade` s."""
        quiet = time.perf_counter() - self.last_frame_at
        if self.last is None or quiet < LOST_AFTER:
            return None
        time.sleep(1 / 30)  # a lost camera shows at about 30 fps, not as fast as the loop spins
        level = max(0.0, 1 - (quiet - LOST_AFTER) / self.fade) if self.fade > 0 else 0.0
        return (self.last.astype(np.float32) * level).astype(np.uint8)

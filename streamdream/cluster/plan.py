"""How a film is cut into chunks for many workers: at scene cuts first, then evenly inside long
shots, each chunk inside a shot starting its dream early (the warm-up) so that its seam with the
chunk before is a cross-fade of two settled dreams, not a fresh one against an old one."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..config import ClusterConfig


@dataclass(frozen=True)
class Chunk:
    """Frames [first, end) of the film are this chunk's; it dreams from `dream_from` (earlier
    when it starts inside a shot) and hands back as pictures its `head` (the frames before
    `first` it shares with the chunk before, cross-faded there) and its `tail` (its last frames,
    shared with the chunk after). Indices count the film's frames from `start`."""

    number: int
    first: int
    end: int
    dream_from: int
    head: int  # frames [first - head, first): the end of the warm-up, the seam with the chunk before
    tail: int  # frames [end - tail, end): the seam with the chunk after
    at_cut: bool  # starts at a scene cut (or the film's start): no warm-up, no seam before

    @property
    def body(self) -> tuple[int, int]:
        """The frames [a, b) that are this chunk's alone and go into the film as it encoded them."""
        return self.first, self.end - self.tail

    @property
    def dreamt(self) -> int:
        return self.end - self.dream_from


@dataclass(frozen=True)
class Plan:
    chunks: tuple[Chunk, ...]
    frames: int  # in the film (from start, up to `frames`)
    cuts: tuple[int, ...]  # every scene cut the scan found (frame indices)
    cuts_used: tuple[int, ...]  # those a chunk starts at
    workers: int = 1  # the chunks are cut to share out evenly among this many

    @property
    def dreamt(self) -> int:
        return sum(c.dreamt for c in self.chunks)

    @property
    def warmup_share(self) -> float:
        """The share of all dreaming spent on frames no chunk keeps alone: the warm-ups."""
        return 1.0 - self.frames / max(self.dreamt, 1)


def make_plan(times: list[float], cuts: list[int], settings: ClusterConfig, workers: int = 1) -> Plan:
    """Chunks for a film whose frames are shown at `times` (seconds, rising) with scene cuts at
    frame indices `cuts` (a cut at i: frame i starts a new shot).

    Shots are grouped into chunks up to `chunk_seconds` long; a longer shot is split into equal
    chunks no longer than that. A chunk that starts inside a shot dreams from `warmup_seconds`
    before it (not before the shot's start) and shares the warm-up's last `overlap_seconds` with
    the chunk before, for the cross-fade. A short film is cut into a multiple of `workers`
    chunks where its long shots allow, so that no worker is left dreaming the last one alone."""
    n = len(times)
    if n == 0:
        raise ValueError("a film with no frames has no plan")
    if any(b < a for a, b in zip(times, times[1:])):
        raise ValueError("frame times must not fall")
    cuts = sorted({c for c in cuts if 0 < c < n})
    shots = list(zip([0, *cuts], [*cuts, n]))
    step = _frame_seconds(times)

    def seconds(a: int, b: int) -> float:  # frames [a, b) last from times[a] to the next frame's
        return (times[b] if b < n else times[-1] + step) - times[a]

    splits = {i: max(1, math.ceil(seconds(a, b) / settings.chunk_seconds)) for i, (a, b) in enumerate(shots)}
    pieces = _pieces(shots, splits, seconds, times, settings)
    # a few more, shorter chunks where that evens out the workers' share (each costs a warm-up)
    for _ in range(workers):
        if len(pieces) % workers == 0 or len(pieces) >= 4 * workers:
            break
        longest = max(splits, key=lambda i: seconds(*shots[i]) / splits[i])
        if seconds(*shots[longest]) / (splits[longest] + 1) < 2 * max(settings.warmup_seconds, 1.0):
            break
        splits[longest] += 1
        pieces = _pieces(shots, splits, seconds, times, settings)
    chunks = []
    for k, (first, end, at_cut) in enumerate(pieces):
        at_cut = at_cut or first == 0
        if at_cut:
            dream_from, head = first, 0
        else:
            begin = max(a for a, _ in shots if a <= first)  # the shot's first frame
            dream_from = _frame_at(times, times[first] - settings.warmup_seconds, begin, first)
            head = first - _frame_at(times, times[first] - settings.overlap_seconds, dream_from, first)
        chunks.append([k, first, end, dream_from, head, 0, at_cut])
    for before, after in zip(chunks, chunks[1:]):
        before[5] = after[4]  # the chunk after's head is this one's tail
        if before[5] >= before[2] - before[1]:
            raise ValueError(f"chunk {before[0]} is shorter than its seam")
    used = tuple(c[1] for c in chunks[1:] if c[6])
    return Plan(tuple(Chunk(*c) for c in chunks), n, tuple(cuts), used, workers)


def _pieces(shots, splits: dict[int, int], seconds, times, settings: ClusterConfig) -> list[tuple[int, int, bool]]:
    """(first, end, at_cut) of each chunk: shots grouped while they fit, shot i split into splits[i]."""
    pieces: list[tuple[int, int, bool]] = []
    for i, (a, b) in enumerate(shots):
        if splits[i] > 1:
            count, length = splits[i], seconds(a, b)
            edges = [a] + [_frame_at(times, times[a] + length * k / count, a, b) for k in range(1, count)] + [b]
            edges = sorted(set(edges))
            pieces += [(x, y, k == 0) for k, (x, y) in enumerate(zip(edges, edges[1:]))]
        elif pieces and pieces[-1][2] and seconds(pieces[-1][0], b) <= settings.chunk_seconds \
                and _whole_shots(pieces[-1], shots):
            pieces[-1] = (pieces[-1][0], b, True)
        else:
            pieces.append((a, b, True))
    return pieces


def _whole_shots(piece: tuple[int, int, bool], shots: list[tuple[int, int]]) -> bool:
    """Whether `piece` is made of whole shots (not the last part of a split long shot)."""
    ends = {b for _, b in shots}
    starts = {a for a, _ in shots}
    return piece[0] in starts and piece[1] in ends


def _frame_seconds(times: list[float]) -> float:
    """A frame's usual length: the median gap (the last frame is shown this long)."""
    if len(times) < 2:
        return 1.0 / 25
    gaps = sorted(b - a for a, b in zip(times, times[1:]))
    return gaps[len(gaps) // 2]


def _frame_at(times: list[float], seconds: float, low: int, high: int) -> int:
    """The first frame in [low, high] shown at or after `seconds` (high when none is)."""
    import bisect

    return min(max(bisect.bisect_left(times, seconds - 1e-9, low, high), low), high)


def describe(plan: Plan, times: list[float]) -> list[str]:
    """What a plan does, for the user, before any work."""
    inside = sum(1 for c in plan.chunks[1:] if not c.at_cut)
    lines = [f"{len(plan.chunks)} chunks over {plan.frames} frames: {len(plan.cuts_used)} start at scene cuts "
             f"(of {len(plan.cuts)} found), {inside} inside a shot with a warm-up and a cross-fade",
             f"warm-up: {plan.dreamt - plan.frames} frames dreamt and not kept alone, "
             f"{100 * plan.warmup_share:.1f}% of the work"]
    for c in plan.chunks:
        how = "from the start" if c.first == 0 else "at a cut" if c.at_cut else \
            f"warm-up from {times[c.dream_from]:.1f} s, cross-fade over {c.head} frames"
        end = times[c.end] if c.end < len(times) else times[-1] + _frame_seconds(times)
        lines.append(f"  chunk {c.number}: {times[c.first]:.1f}-{end:.1f} s ({c.end - c.first} frames, {how})")
    return lines

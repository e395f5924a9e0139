"""The dream: gradient ascent with octaves, pure tensor functions, no I/O.

Images are float tensors in [0, 1], shape (1, 3, H, W), on the dream device. Gradient ascent
on the image raises an `Objective` of a `DreamNet`'s activations; octaves run it on an image
pyramid from small to large, carrying the detail dreamt so far up to the next size.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from ..frames import MIN_SIDE
from .blur import local_strength
from .gradient import objective_gradient
from .objectives import Objective
from .tensors import check_image

Progress = Callable[[int, int], None]  # (steps done, steps in all)


# a dream made on its own (`dream`'s default; a keyframe the flow carries on is not, see
# temporal.StreamDreamer) sees each octave mirrored this many pixels beyond its edges: the network pads
# every layer with zeros, so near the frame's edge it sees a dark border, its gradient fades there,
# and so did the dream (the 16 px nearest an edge had 61-72% of the interior's strength, so the
# frame looked framed). The fade spans the network's own pixels, whatever the picture's size: a
# mirror of 5% of each octave's width, 32 px at 640 wide but narrower below, lifted hand-held
# footage's weakest edge band from 0.68 of the interior's strength to 0.83 at 640 wide, but at
# 320 wide only from 0.65 to 0.67, where 32 px at every octave lifted it to 0.80 (0.86 at 640 wide),
# and the depth a little; 48 px added a few hundredths more (scripts/bench_edges.py, docs/edges.md).
# It costs about a third more time a dream at 640 wide, half again at 320. The jitter's roll at
# full size is as wide, so its seam falls beyond the frame too. Padding every layer by reflection
# instead of zeros costs no pixels but left the fade as it was (hand-held, 640 wide: 0.68 to 0.65):
# a pixel near the edge is still seen by fewer of a deep layer's units than one in the middle
EDGE_MIRROR = 32


# an even step (`even_out`) lifts no region whose gradient is under this share of the frame's
# typical one further: where the network sees nothing at all (a flat colour) the step stays
# small, not noise blown up
EVEN_FLOOR = 1e-3


def octave_sizes(height: int, width: int, octaves: int, scale: float) -> list[tuple[int, int]]:
    """Sizes of the image pyramid, smallest first, ending at (height, width).

    Octaves whose short side would fall below MIN_SIDE are dropped.
    """
    if octaves < 1 or scale < 1.0:
        raise ValueError(f"need octaves >= 1 and scale >= 1, got {octaves} and {scale}")
    sizes = []
    for i in range(octaves):
        h, w = round(height / scale**i), round(width / scale**i)
        if i and min(h, w) < MIN_SIDE:
            break
        sizes.append((h, w))
    return sizes[::-1]


def resize(image: torch.Tensor, size: tuple[int, int], corners: bool = False) -> torch.Tensor:
    """Bilinear resize of (N, C, H, W) to size (h, w), antialiased when shrinking. With `corners`
    the corner pixels land on each other (align_corners): enlarged the usual way, every output
    pixel within half an input pixel of an edge samples that edge, so a picture enlarged three
    times over begins and ends with a line or two that repeat their neighbour."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    shrink = size[0] < image.shape[-2] or size[1] < image.shape[-1]
    return F.interpolate(image, size=size, mode="bilinear", align_corners=corners, antialias=shrink)


def octave_jitter(jitter: int, width: int, full_width: int) -> int:
    """`jitter` is given at full size; shrink it with the octave so small octaves are not scrambled."""
    return max(1, round(jitter * width / full_width)) if jitter else 0


def mirrored(image: torch.Tensor, pad: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, H + 2 pad, W + 2 pad): the image reflected `pad` pixels beyond each
    edge, the edge pixel not repeated; `pad` is capped below the shorter side."""
    if image.ndim != 4 or pad < 0:
        raise ValueError(f"need an (N, C, H, W) image and pad >= 0, got {tuple(image.shape)} and {pad}")
    pad = min(pad, image.shape[2] - 1, image.shape[3] - 1)
    return F.pad(image, (pad, pad, pad, pad), mode="reflect") if pad > 0 else image


def even_out(grad: torch.Tensor) -> torch.Tensor:
    """A normalised gradient (1, 3, H, W) divided, in place, by its own local strength (as
    `blur.local_strength` reads a dream's), at least EVEN_FLOOR: every region of the picture
    takes the same typical change, however strongly the network answers there. Returns `grad`."""
    return grad.div_(local_strength(grad).clamp_min_(EVEN_FLOOR))


def ascent_step(image: torch.Tensor, net, objective: Objective, step: float, jitter: int,
                generator: torch.Generator | None = None, weight: torch.Tensor | None = None,
                limit: float | None = None, mirror: int = 0, even: bool = False) -> torch.Tensor:
    """One normalised gradient-ascent step under a random roll of up to `jitter` pixels.

    The roll hides the network's stride grid; dividing by the mean absolute gradient makes
    `step` the typical per-pixel change whatever the layer's scale. `weight` (1, 1, H, W), if
    given, scales the step per pixel; `limit`, if given, caps the normalised gradient at that many
    times the typical change (a step several times the usual one otherwise pushes a few pixels far
    past their neighbours, into saturated specks). With `mirror` > 0 the step sees the image
    mirrored that many pixels beyond its edges (see `EDGE_MIRROR`) and returns the image's own
    part, a view. With `even`, `step` is the typical change of every region, not only of the
    whole (`even_out`). In-place where it can be: a 4K frame's copies are 100 MB each.
    """
    check_image(image)
    if weight is not None and (weight.ndim != 4 or weight.shape[:2] != (1, 1) or weight.shape[2:] != image.shape[2:]):
        raise ValueError(f"weight must be (1, 1, H, W) matching the image, got {tuple(weight.shape)}")
    if mirror > 0:
        h, w = image.shape[2:]
        seen = mirrored(image, mirror)
        pad = (seen.shape[3] - w) // 2  # as `mirrored` capped it
        if weight is not None:
            weight = F.pad(weight, (pad,) * 4, mode="replicate")
        seen = ascent_step(seen, net, objective, step, jitter, generator, weight, limit, even=even)
        return seen[:, :, pad:pad + h, pad:pad + w]
    dy = dx = 0
    if jitter > 0:
        dy, dx = torch.randint(-jitter, jitter + 1, (2,), generator=generator).tolist()
    rolled = torch.roll(image, shifts=(dy, dx), dims=(2, 3))
    grad, _ = objective_gradient(rolled, net, objective, generator)
    # the mean absolute gradient stays a tensor on the device: a step never waits for its work
    grad.div_(grad.norm(p=1).div_(grad.numel()).add_(1e-8))
    if even:
        even_out(grad)
    if limit is not None:
        grad.clamp_(-limit, limit)
    if weight is not None:
        grad.mul_(torch.roll(weight, shifts=(dy, dx), dims=(2, 3)))
    rolled = rolled.detach().add_(grad, alpha=step)
    del grad
    return torch.roll(rolled, shifts=(-dy, -dx), dims=(2, 3)).clamp_(0.0, 1.0)


def ascend(image: torch.Tensor, net, objective: Objective, iterations: int, step: float, jitter: int,
           generator: torch.Generator | None = None, progress: Progress | None = None,
           done: int = 0, total: int | None = None, weight: torch.Tensor | None = None,
           limit: float | None = None, mirror: int = 0, even: bool = False) -> torch.Tensor:
    """`iterations` ascent steps at the image's own size (`limit`, `mirror`, `even`: see `ascent_step`)."""
    for i in range(iterations):
        image = ascent_step(image, net, objective, step, jitter, generator, weight, limit, mirror, even)
        if progress:
            progress(done + i + 1, total or iterations)
    return image.contiguous()


def dream(image: torch.Tensor, net, objective: Objective, settings,
          generator: torch.Generator | None = None, progress: Progress | None = None,
          mirror: int = EDGE_MIRROR) -> torch.Tensor:
    """DeepDream with octaves: (1, 3, H, W) in [0, 1] -> the dreamt image, same shape.

    `settings` gives octaves, octave_scale, iterations, step (the per-step change in [0, 1]
    units after normalising the gradient) and jitter (pixels of random roll per step at full
    size): a `DreamConfig`. Each octave dreams on the input at its size plus the detail (dream minus input) carried up
    from the octave below, so large structures from small octaves survive at full size. Every
    step sees the octave mirrored `mirror` pixels beyond its edges (see `EDGE_MIRROR`; 0: none).
    """
    check_image(image)
    sizes = octave_sizes(image.shape[2], image.shape[3], settings.octaves, settings.octave_scale)
    total = len(sizes) * settings.iterations
    detail = torch.zeros_like(resize(image, sizes[0]))
    dreamt = image
    for k, size in enumerate(sizes):
        base = resize(image, size)
        start = resize(detail, size).add_(base).clamp_(0, 1)
        dreamt = detail = None  # a big frame's copies are 100 MB each: hold no more than needed
        dreamt = ascend(start, net, objective, settings.iterations, settings.step,
                        octave_jitter(settings.jitter, size[1], image.shape[3]), generator, progress,
                        done=k * settings.iterations, total=total, mirror=mirror)
        del start
        if k + 1 < len(sizes):
            detail = dreamt - base
        del base
    return dreamt


def refine_at(image: torch.Tensor, size: tuple[int, int], net, objective: Objective, iterations: int, step: float,
              jitter: int, generator: torch.Generator | None = None,
              weight: torch.Tensor | None = None, mirror: int = 0, even: bool = False) -> torch.Tensor:
    """A few more ascent steps on an image that already carries a dream, (1, 3, H, W) in [0, 1],
    taken with the image seen at `size` (h, w); only the *change* they make is scaled back up and
    added, so a smaller size grows large shapes without blurring the fine detail already there.
    `weight` (1, 1, H, W) scales the step per pixel (e.g. more where the dream is new); with
    `mirror` > 0 the steps see the picture at `size` mirrored that many pixels beyond its edges
    (see `EDGE_MIRROR`); with `even` every step is even over the picture (see `ascent_step`).
    """
    check_image(image)
    full = tuple(image.shape[2:])
    small = resize(image, size)
    changed = ascend(small, net, objective, iterations, step, octave_jitter(jitter, size[1], full[1]), generator,
                     weight=None if weight is None else resize(weight, size), mirror=mirror, even=even)
    return (image + resize(changed - small, full)).clamp(0, 1)


def ascend_band(image: torch.Tensor, dim: int, span: tuple[int, int], margin: int, net, objective: Objective,
                iterations: int, step: float, jitter: int, generator: torch.Generator | None = None,
                weight: torch.Tensor | None = None, limit: float | None = None, scale: float = 1.0) -> torch.Tensor:
    """`iterations` ascent steps on one band of an image (1, 3, H, W): rows [start, end) when `dim`
    is 2, columns when it is 3, seen with `margin` rows or columns of context either side; the
    rest is returned unchanged (`limit`: see `ascent_step`). A step on a band costs its share of a
    whole step (its pixels and its margins'): a live show on a CPU steps a band a frame, each in
    turn. With `scale` > 1 the band is seen that many times smaller, an octave below, where the
    network grows larger shapes (see `refine_at`; `limit` is then not applied)."""
    check_image(image)
    if dim not in (2, 3):
        raise ValueError(f"dim must be 2 (rows) or 3 (columns), got {dim}")
    start, end = span
    n = image.shape[dim]
    if not 0 <= start < end <= n or margin < 0 or scale < 1.0:
        raise ValueError(f"need 0 <= start < end <= {n}, margin >= 0 and scale >= 1, got {span}, margin {margin} "
                         f"and scale {scale}")

    def steps(crop: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
        if scale > 1.0:
            size = tuple(max(MIN_SIDE, round(side / scale)) for side in crop.shape[2:])
            return refine_at(crop, size, net, objective, iterations, step, jitter, generator, weight)
        return ascend(crop, net, objective, iterations, step, jitter, generator, weight=weight, limit=limit)

    return _on_band(image, dim, span, margin, weight, steps)


def ascend_box(image: torch.Tensor, rows: tuple[int, int], columns: tuple[int, int], margin: int, net,
               objective: Objective, iterations: int, step: float, jitter: int,
               generator: torch.Generator | None = None, weight: torch.Tensor | None = None,
               scale: float = 1.0) -> torch.Tensor:
    """`ascend_band` on a box of an image (1, 3, H, W): rows [start, end) by columns [start, end),
    seen with `margin` pixels of context on each side; the rest is returned unchanged. It costs the
    box's share of a whole step."""
    check_image(image)
    start, end = columns
    n = image.shape[3]
    if not 0 <= start < end <= n or margin < 0:
        raise ValueError(f"need 0 <= start < end <= {n} and margin >= 0, got columns {columns}, margin {margin}")
    return _on_band(image, 3, columns, margin, weight, lambda crop, weight: ascend_band(
        crop, 2, rows, margin, net, objective, iterations, step, jitter, generator, weight, scale=scale))


def _on_band(image: torch.Tensor, dim: int, span: tuple[int, int], margin: int, weight: torch.Tensor | None,
            steps: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]) -> torch.Tensor:
    """`steps` (a crop (1, 3, h, w) and its weight, or None -> the crop stepped) on the band
    [start, end) of an image (1, 3, H, W) along `dim` (2: rows, 3: columns), with up to `margin`
    rows or columns of context either side; the rest of the image is returned unchanged. The
    span and margin are the caller's to check."""
    start, end = span
    a, b = max(0, start - margin), min(image.shape[dim], end + margin)
    crop = image.narrow(dim, a, b - a).contiguous()
    weight = None if weight is None else weight.narrow(dim, a, b - a).contiguous()
    changed = steps(crop, weight)
    out = image.clone()
    out.narrow(dim, start, end - start).copy_(changed.narrow(dim, start - a, end - start))
    return out

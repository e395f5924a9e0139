"""The dream engine: pure tensor functions, no I/O.

Images are float tensors in [0, 1], shape (1, 3, H, W), on the dream device. Gradient ascent
on the image raises an `Objective` of a `DreamNet`'s activations; octaves run it on an image
pyramid from small to large, carrying the detail dreamt so far up to the next size.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from .objectives import Objective

Progress = Callable[[int, int], None]  # (steps done, steps in all)

MIN_OCTAVE_SIDE = 32  # below this the deeper layers have no spatial extent left to dream in
# frames above this many pixels (past 720p: 1080p and 4K video, phone photos) take their gradient in tiles,
# so memory stays bounded whatever the frame's size (a whole 1080p pass took 1.9 GB); smaller ones run whole
TILE_ABOVE = 1_000_000
TILE_SIDE = 448  # a tile with its margins: its activations and gradients take about 180 MB (Lite0, CPU)
TILE_MARGIN = 32  # context on each side of a tile, so its edges see their neighbourhood
TILE_ALIGN = 32  # the networks' total stride: windows start on its grid


@dataclass(frozen=True)
class AscentSettings:
    octaves: int = 4
    octave_scale: float = 1.4
    iterations: int = 10
    step: float = 0.006  # per-step change in [0, 1] units after normalising the gradient
    jitter: int = 32  # pixels of random roll per step (at each octave's own size)


def check_image(image: torch.Tensor) -> None:
    if image.ndim != 4 or image.shape[0] != 1 or image.shape[1] != 3:
        raise ValueError(f"expected an image tensor of shape (1, 3, H, W), got {tuple(image.shape)}")


def octave_sizes(height: int, width: int, octaves: int, scale: float) -> list[tuple[int, int]]:
    """Sizes of the image pyramid, smallest first, ending at (height, width).

    Octaves whose short side would fall below MIN_OCTAVE_SIDE are dropped.
    """
    if octaves < 1 or scale < 1.0:
        raise ValueError(f"need octaves >= 1 and scale >= 1, got {octaves} and {scale}")
    sizes = []
    for i in range(octaves):
        h, w = round(height / scale**i), round(width / scale**i)
        if i and min(h, w) < MIN_OCTAVE_SIDE:
            break
        sizes.append((h, w))
    return sizes[::-1]


def resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of (N, C, H, W) to size (h, w), antialiased when shrinking."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    shrink = size[0] < image.shape[-2] or size[1] < image.shape[-1]
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=shrink)


def octave_jitter(jitter: int, width: int, full_width: int) -> int:
    """`jitter` is given at full size; shrink it with the octave so small octaves are not scrambled."""
    return max(1, round(jitter * width / full_width)) if jitter else 0


def autocast_for(net, image: torch.Tensor):
    # the network's precision for this image (models.DreamNet.autocast); a plain module runs as it is
    return net.autocast(image) if hasattr(net, "autocast") else nullcontext()


def objective_gradient(image: torch.Tensor, net, objective: Objective,
                       generator: torch.Generator | None = None) -> tuple[torch.Tensor, float]:
    """Gradient of the objective with respect to the image (same shape), and the objective's value.
    Images above TILE_ABOVE pixels are taken in tiles (see `tiled_gradient`)."""
    if image.shape[2] * image.shape[3] > TILE_ABOVE:
        return tiled_gradient(image, net, objective, TILE_SIDE, TILE_MARGIN, generator)
    x = image.detach().requires_grad_(True)
    with autocast_for(net, x):
        value = objective(net(x))
    (grad,) = torch.autograd.grad(value, x)
    return grad, float(value.detach())


def tile_spans(length: int, inner: int, offset: int) -> list[tuple[int, int]]:
    """[start, end) spans of at most `inner` covering range(length), cut at offset + k * inner."""
    if inner < 1 or length < 1:
        raise ValueError(f"need positive length and tile, got {length} and {inner}")
    bounds = [0, *range(offset % inner or inner, length, inner), length]
    return list(zip(bounds[:-1], bounds[1:]))


def _window(start: int, length: int, side: int, margin: int) -> int:
    # where a `side`-long window holding a span from `start` with its margin begins. Windows
    # start on the network's stride grid (TILE_ALIGN), so a tile computes the same features as
    # the whole frame would, and all have one size (running past the end is padded), so each
    # tile reuses the memory of the last
    if length <= side:
        return 0
    return min(max(0, start - margin), -(-length // TILE_ALIGN) * TILE_ALIGN - side)


def tiled_gradient(image: torch.Tensor, net, objective: Objective, side: int, margin: int,
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, float]:
    """The objective's gradient for (1, 3, H, W), taken one tile at a time: each part of at
    most side - 2 * margin pixels a side gets its gradient from a `side` x `side` window around
    it, so its edges see their neighbourhood. Each window's objective is weighted by its share
    of the frame, as a whole-frame mean would weigh it. The grid is shifted at
    random (on the stride grid) on each call, so tile edges fall somewhere else each step and
    leave no seams. Memory: the frame, its gradient and one window's activations.
    """
    check_image(image)
    if side % TILE_ALIGN or margin % TILE_ALIGN:
        raise ValueError(f"tile side and margin must be multiples of {TILE_ALIGN}, got {side} and {margin}")
    inner = side - 2 * margin
    if inner < MIN_OCTAVE_SIDE:
        raise ValueError(f"tiles of {side} px with {margin} px margins leave no room to dream")
    h, w = image.shape[2:]
    oy, ox = (TILE_ALIGN * torch.randint(0, inner // TILE_ALIGN, (2,), generator=generator)).tolist()
    grad = torch.zeros_like(image)
    total = 0.0
    for y0, y1 in tile_spans(h, inner, oy):
        ty = _window(y0, h, side, margin)
        for x0, x1 in tile_spans(w, inner, ox):
            tx = _window(x0, w, side, margin)
            window = image[:, :, ty:ty + side, tx:tx + side]
            short = (min(side, h) - window.shape[2], min(side, w) - window.shape[3])
            if any(short):
                window = F.pad(window, (0, short[1], 0, short[0]), mode="replicate")
            x = window.detach().requires_grad_(True)
            with autocast_for(net, x):
                # weighted by the window's share of the frame: each pixel's gradient comes out at
                # the scale a whole-frame pass gives it
                value = objective(net(x)) * (x.shape[2] * x.shape[3] / (h * w))
            (g,) = torch.autograd.grad(value, x)
            grad[:, :, y0:y1, x0:x1] = g[:, :, y0 - ty:y1 - ty, x0 - tx:x1 - tx]
            total += float(value.detach())
            del x, g, value, window
    return grad, total


def ascent_step(image: torch.Tensor, net, objective: Objective, step: float, jitter: int,
                generator: torch.Generator | None = None, weight: torch.Tensor | None = None) -> torch.Tensor:
    """One normalised gradient-ascent step under a random roll of up to `jitter` pixels.

    The roll hides the network's stride grid; dividing by the mean absolute gradient makes
    `step` the typical per-pixel change whatever the layer's scale. `weight` (1, 1, H, W), if
    given, scales the step per pixel. In-place where it can be: a 4K frame's copies are 100 MB each.
    """
    check_image(image)
    if weight is not None and (weight.ndim != 4 or weight.shape[:2] != (1, 1) or weight.shape[2:] != image.shape[2:]):
        raise ValueError(f"weight must be (1, 1, H, W) matching the image, got {tuple(weight.shape)}")
    dy = dx = 0
    if jitter > 0:
        dy, dx = torch.randint(-jitter, jitter + 1, (2,), generator=generator).tolist()
    rolled = torch.roll(image, shifts=(dy, dx), dims=(2, 3))
    grad, _ = objective_gradient(rolled, net, objective, generator)
    grad.div_(float(grad.norm(p=1)) / grad.numel() + 1e-8)
    if weight is not None:
        grad.mul_(torch.roll(weight, shifts=(dy, dx), dims=(2, 3)))
    rolled = rolled.detach().add_(grad, alpha=step)
    del grad
    return torch.roll(rolled, shifts=(-dy, -dx), dims=(2, 3)).clamp_(0.0, 1.0)


def ascend(image: torch.Tensor, net, objective: Objective, iterations: int, step: float, jitter: int,
           generator: torch.Generator | None = None, progress: Progress | None = None,
           done: int = 0, total: int | None = None, weight: torch.Tensor | None = None) -> torch.Tensor:
    """`iterations` ascent steps at the image's own size."""
    for i in range(iterations):
        image = ascent_step(image, net, objective, step, jitter, generator, weight)
        if progress:
            progress(done + i + 1, total or iterations)
    return image


def dream(image: torch.Tensor, net, objective: Objective, settings: AscentSettings,
          generator: torch.Generator | None = None, progress: Progress | None = None) -> torch.Tensor:
    """DeepDream with octaves: (1, 3, H, W) in [0, 1] -> the dreamt image, same shape.

    Each octave dreams on the input at its size plus the detail (dream minus input) carried up
    from the octave below, so large structures from small octaves survive at full size.
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
                        done=k * settings.iterations, total=total)
        del start
        if k + 1 < len(sizes):
            detail = dreamt - base
        del base
    return dreamt


def refine_at(image: torch.Tensor, size: tuple[int, int], net, objective: Objective, iterations: int, step: float,
              jitter: int, generator: torch.Generator | None = None,
              weight: torch.Tensor | None = None) -> torch.Tensor:
    """A few more ascent steps on an image that already carries a dream, (1, 3, H, W) in [0, 1],
    taken with the image seen at `size` (h, w); only the *change* they make is scaled back up and
    added, so a smaller size grows large shapes without blurring the fine detail already there.
    `weight` (1, 1, H, W) scales the step per pixel (e.g. more where the dream is new).
    """
    check_image(image)
    full = tuple(image.shape[2:])
    small = resize(image, size)
    changed = ascend(small, net, objective, iterations, step, octave_jitter(jitter, size[1], full[1]), generator,
                     weight=None if weight is None else resize(weight, size))
    return (image + resize(changed - small, full)).clamp(0, 1)

"""The objective's gradient with respect to an image, whole or in tiles (bounded memory for
frames past 720p)."""

from __future__ import annotations

from contextlib import nullcontext

import torch
import torch.nn.functional as F

from ..frames import MIN_SIDE
from .objectives import Objective
from .tensors import check_image

# on a CPU, frames above this many pixels (past 720p: 1080p and 4K video, phone photos) take their
# gradient in tiles, so memory stays bounded whatever the frame's size (a whole 1080p pass takes
# gigabytes of RAM); smaller ones run whole
TILE_ABOVE = 1_000_000


TILE_SIDE = 448  # a tile with its margins: its activations and gradients take a couple of hundred MB


# on a GPU a frame runs whole unless its pass would not fit in the memory free on the card: tiles
# cost a GPU far more than they save (a 1080p step in 448 px tiles does 2.3x the arithmetic and
# 25x the kernel launches). What a pass needs is estimated from the pixels at this many bytes
# each: a Lite0 step at 1080p took 1.9 GB beyond its tiles' (about 1 kB a pixel); twice that
# leaves room for deeper layers and bigger networks
GPU_BYTES_PER_PIXEL = 2048


GPU_TILE_SIDE = 1024  # where a card must tile, bigger windows: fewer launches, less margin recomputed


TILE_MARGIN = 32  # context on each side of a tile, so its edges see their neighbourhood


TILE_ALIGN = 32  # the networks' total stride: windows start on its grid


def autocast_for(net, image: torch.Tensor):
    # the network's precision for this image (models.DreamNet.autocast); a plain module runs as it is
    return net.autocast(image) if hasattr(net, "autocast") else nullcontext()


def tile_side(pixels: int, device_type: str, free_bytes: int | None = None) -> int | None:
    """The tile side a gradient of a frame of `pixels` is taken in on a device of `device_type`
    with `free_bytes` of memory free (a GPU's), or None for the whole frame at once: on a CPU past
    TILE_ABOVE pixels; on a GPU only where the pass would not fit in the free memory."""
    if device_type == "cuda":
        return GPU_TILE_SIDE if free_bytes is not None and pixels * GPU_BYTES_PER_PIXEL > free_bytes else None
    if device_type == "cpu":
        return TILE_SIDE if pixels > TILE_ABOVE else None
    return None  # another device (meta, mps): whole, as the network runs there


def tile_side_for(image: torch.Tensor) -> int | None:
    """`tile_side` for `image` (1, 3, H, W) on its device; a GPU's free memory is asked for
    (`torch.cuda.mem_get_info`: a query, no wait for the work in flight)."""
    free = torch.cuda.mem_get_info(image.device)[0] if image.device.type == "cuda" else None
    return tile_side(image.shape[2] * image.shape[3], image.device.type, free)


def objective_gradient(image: torch.Tensor, net, objective: Objective,
                       generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient of the objective with respect to the image (same shape), and the objective's value
    as a 0-dim tensor on the image's device: reading it (`float`) waits for the device, so no
    step does. Taken in tiles where `tile_side_for` says so (see `tiled_gradient`)."""
    side = tile_side_for(image)
    if side is not None:
        return tiled_gradient(image, net, objective, side, TILE_MARGIN, generator)
    x = image.detach().requires_grad_(True)
    with autocast_for(net, x):
        value = objective(net(x))
    (grad,) = torch.autograd.grad(value, x)
    return grad, value.detach()


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
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The objective's gradient for (1, 3, H, W) and its value (0-dim, on the device), taken one
    tile at a time: each part of at most side - 2 * margin pixels a side gets its gradient from a
    `side` x `side` window around it, so its edges see their neighbourhood. Each window's
    objective is weighted by its share of the frame, as a whole-frame mean would weigh it. The
    grid is shifted at random (on the stride grid) on each call, so tile edges fall somewhere else each step and
    leave no seams. Memory: the frame, its gradient and one window's activations.
    """
    check_image(image)
    if side % TILE_ALIGN or margin % TILE_ALIGN:
        raise ValueError(f"tile side and margin must be multiples of {TILE_ALIGN}, got {side} and {margin}")
    inner = side - 2 * margin
    if inner < MIN_SIDE:
        raise ValueError(f"tiles of {side} px with {margin} px margins leave no room to dream")
    h, w = image.shape[2:]
    oy, ox = (TILE_ALIGN * torch.randint(0, inner // TILE_ALIGN, (2,), generator=generator)).tolist()
    grad = torch.zeros_like(image)
    total = torch.zeros((), device=image.device)
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
            total += value.detach().float()
            del x, g, value, window
    return grad, total

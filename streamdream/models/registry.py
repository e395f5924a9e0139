"""The model registry: a name gives a network cut into named stages, its input normalisation,
its dreamable layers with a hint of what each depth draws, and where its weights come from.

A new network is one `ModelSpec` in `REGISTRY`.
"""

from __future__ import annotations

from typing import Callable

from torch import nn

from ..errors import UsageError, did_you_mean
from .efficientnet_lite import (
    LITE0_STAGES,
    LITE1_STAGES,
    LITE2_STAGES,
    EfficientNetLite,
)
from .spec import ModelSpec, Stages
from .weights import packaged


def _lite_build(stages: list[tuple[int, ...]]) -> Callable[[int], nn.Module]:
    return lambda num_classes: EfficientNetLite(stages, num_classes)


def _lite_stages(m) -> Stages:
    stages = [("stem", m.stem())]
    stages += [(f"block{i}", b) for i, b in enumerate(m._blocks)]
    stages += [("head", m.head()), ("logits", m.classifier())]
    return stages


_LITE0_HINTS = {
    "stem": "edges and colour gradients",
    "block0": "fine strokes and edges",
    "block1": "strokes and hatching",
    "block2": "strokes, dots and fine grain",
    "block3": "soft textures and ripples",
    "block4": "textures: scales, weaves, ripples",
    "block5": "patterns and swirls",
    "block6": "swirls, feathers and fur patterns",
    "block7": "fur, feathers and eye-like spots",
    "block8": "eyes and object parts",
    "block9": "eyes, snouts and fur",
    "block10": "eyes and animal faces",
    "block11": "animal faces and bodies",
    "block12": "dogs, birds and insects",
    "block13": "whole animals and objects",
    "block14": "whole animals and objects, busy",
    "block15": "objects and scenes, abstract",
    "head": "object and scene gist, abstract",
}


def _deeper_hints(blocks: int) -> dict[str, str]:
    # Lite1 and Lite2 have the same stages with more blocks: each block takes the hint of
    # Lite0's block at the same relative depth
    hints = {"stem": _LITE0_HINTS["stem"]}
    for i in range(blocks):
        hints[f"block{i}"] = _LITE0_HINTS[f"block{round(i * 15 / (blocks - 1))}"]
    return {**hints, "head": _LITE0_HINTS["head"]}


def _tv_build(name: str, **kwargs) -> Callable[[int], nn.Module]:
    def build(num_classes: int) -> nn.Module:
        import torchvision

        return torchvision.models.get_model(name, weights=None, num_classes=num_classes, **kwargs)

    return build


def _googlenet_stages(m) -> Stages:
    # Built from the children, so GoogLeNet's transform_input never runs: normalising once to
    # [-1, 1] (the spec's mean/std) is what the ported weights expect.
    names = ["conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b", "maxpool3",
             "inception4a", "inception4b", "inception4c", "inception4d", "inception4e", "maxpool4",
             "inception5a", "inception5b"]
    stages = [(n, getattr(m, n)) for n in names]
    return stages + [("logits", nn.Sequential(m.avgpool, nn.Flatten(), m.fc))]


_GOOGLENET_HINTS = {
    "conv1": "edges and colour blobs",
    "conv2": "strokes and edges",
    "conv3": "strokes and fine textures",
    "inception3a": "textures and ripples",
    "inception3b": "swirls and patterns",
    "inception4a": "patterns, eye-like spots",
    "inception4b": "eyes and fur",
    "inception4c": "the classic look: eyes, dogs, pagodas",
    "inception4d": "animal faces and bodies",
    "inception4e": "whole animals and objects",
    "inception5a": "objects, busy",
    "inception5b": "objects and scenes, abstract",
}


def _inception_stages(m) -> Stages:
    names = ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
             "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
             "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"]
    stages = [(n, getattr(m, n)) for n in names]
    return stages + [("logits", nn.Sequential(m.avgpool, nn.Flatten(), m.fc))]


_INCEPTION_HINTS = {
    "Conv2d_1a_3x3": "edges", "Conv2d_2a_3x3": "edges and strokes", "Conv2d_2b_3x3": "strokes",
    "Conv2d_3b_1x1": "colour strokes", "Conv2d_4a_3x3": "fine textures",
    "Mixed_5b": "textures", "Mixed_5c": "textures and ripples", "Mixed_5d": "patterns",
    "Mixed_6a": "patterns and swirls", "Mixed_6b": "eye-like spots", "Mixed_6c": "eyes and fur",
    "Mixed_6d": "animal parts", "Mixed_6e": "animal faces", "Mixed_7a": "whole animals",
    "Mixed_7b": "objects, busy", "Mixed_7c": "objects and scenes, abstract",
}


_VGG_BLOCKS = [2, 2, 3, 3, 3]


def _vgg16_stages(m) -> Stages:
    feats = list(m.features)
    stages, i = [], 0
    for b, convs in enumerate(_VGG_BLOCKS, start=1):
        for c in range(1, convs + 1):
            stages.append((f"conv{b}_{c}", nn.Sequential(feats[i], feats[i + 1])))
            i += 2
        stages.append((f"pool{b}", feats[i]))
        i += 1
    return stages + [("logits", nn.Sequential(m.avgpool, nn.Flatten(), m.classifier))]


_VGG_HINTS = {}


for _b, _convs in enumerate(_VGG_BLOCKS, start=1):
    _hint = ["edges and colour", "strokes and grain", "textures and patterns", "eyes and object parts",
             "animal faces and objects"][_b - 1]
    for _c in range(1, _convs + 1):
        _VGG_HINTS[f"conv{_b}_{_c}"] = _hint
    _VGG_HINTS[f"pool{_b}"] = _hint


_RESNET_BLOCKS = [3, 4, 6, 3]


def _resnet50_stages(m) -> Stages:
    stages = [("conv1", nn.Sequential(m.conv1, m.bn1, m.relu, m.maxpool))]
    for g, count in enumerate(_RESNET_BLOCKS, start=1):
        group = getattr(m, f"layer{g}")
        for i in range(count):
            # the last block of a group carries the group's name: `layer3` is layer3's output
            stages.append((f"layer{g}" if i == count - 1 else f"layer{g}_{i}", group[i]))
    return stages + [("logits", nn.Sequential(m.avgpool, nn.Flatten(), m.fc))]


_RESNET_HINTS = {"conv1": "edges and colour"}


for _g, _count in enumerate(_RESNET_BLOCKS, start=1):
    _hint = ["strokes and textures", "patterns and eye-like spots", "eyes, animal parts, buildings",
             "objects and scenes, abstract"][_g - 1]
    for _i in range(_count):
        _RESNET_HINTS[f"layer{_g}" if _i == _count - 1 else f"layer{_g}_{_i}"] = _hint


IMAGENET_MEAN = (0.485, 0.456, 0.406)


IMAGENET_STD = (0.229, 0.224, 0.225)


HALF = (0.5, 0.5, 0.5)


REGISTRY: dict[str, ModelSpec] = {
    "lite0": ModelSpec("lite0", "EfficientNet-Lite0, ImageNet; weights ship with the package (offline)",
                       _lite_build(LITE0_STAGES), _lite_stages, _LITE0_HINTS, HALF, HALF, depthwise=True,
                       packaged=packaged(0)),
    "lite1": ModelSpec("lite1", "EfficientNet-Lite1, ImageNet: deeper than Lite0 (21 blocks), offline",
                       _lite_build(LITE1_STAGES), _lite_stages, _deeper_hints(21), HALF, HALF, depthwise=True,
                       packaged=packaged(1)),
    "lite2": ModelSpec("lite2", "EfficientNet-Lite2, ImageNet: deeper and wider than Lite0, offline",
                       _lite_build(LITE2_STAGES), _lite_stages, _deeper_hints(21), HALF, HALF, depthwise=True,
                       packaged=packaged(2)),
    "googlenet": ModelSpec("googlenet", "GoogLeNet (Inception v1), ImageNet: the classic 2015 look (download)",
                           _tv_build("googlenet", aux_logits=True, init_weights=False), _googlenet_stages,
                           _GOOGLENET_HINTS, HALF, HALF, "googlenet", ("aux1.", "aux2.")),
    "inception_v3": ModelSpec("inception_v3", "Inception v3, ImageNet (download)",
                              _tv_build("inception_v3", aux_logits=True, init_weights=False), _inception_stages,
                              _INCEPTION_HINTS, HALF, HALF, "inception_v3", ("AuxLogits.",)),
    "vgg16": ModelSpec("vgg16", "VGG-16, ImageNet: painterly, heavy (download)", _tv_build("vgg16"),
                       _vgg16_stages, _VGG_HINTS, IMAGENET_MEAN, IMAGENET_STD, "vgg16"),
    "resnet50": ModelSpec("resnet50", "ResNet-50, ImageNet; with Places365 weights the Places look",
                          _tv_build("resnet50"), _resnet50_stages, _RESNET_HINTS, IMAGENET_MEAN, IMAGENET_STD,
                          "resnet50"),
}


def get_spec(name: str) -> ModelSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UsageError(f"unknown model '{name}'{did_you_mean(name, REGISTRY)}; "
                         f"choose one of {', '.join(REGISTRY)}") from None


def resolve_layer(spec: ModelSpec, name: str) -> str:
    """The registry's spelling of a layer name typed in any case; UsageError with close names."""
    if name == "logits" or name in spec.layers:
        return name
    by_lower = {n.lower(): n for n in spec.layers}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    raise UsageError(f"model {spec.name} has no layer '{name}'{did_you_mean(name, spec.layers)}; "
                     f"its layers are {', '.join(spec.layers)}", setting="layers")

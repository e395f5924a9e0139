"""Networks to dream with: the registry, `DreamNet`, weights, and where and in what precision
they run. The names a caller needs are here; each lives in its own module."""

from .classes import class_index, class_names, imagenet_classes
from .dreamnet import DreamNet, fold_batchnorm, layer_shapes
from .registry import REGISTRY, get_spec, resolve_layer
from .runtime import cuda_determinism, describe_precision, pick_device, uses_bf16
from .spec import ModelSpec
from .weights import download_weights, load_network, load_weights_file

__all__ = ["REGISTRY", "DreamNet", "ModelSpec", "class_index", "class_names", "cuda_determinism", "describe_precision",
           "download_weights", "fold_batchnorm", "get_spec", "imagenet_classes", "layer_shapes", "load_network", "load_weights_file",
           "pick_device", "resolve_layer", "uses_bf16"]

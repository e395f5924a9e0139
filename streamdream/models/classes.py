"""ImageNet's class names, read without importing torchvision."""

from __future__ import annotations

import functools
from pathlib import Path

from ..errors import UsageError, did_you_mean


@functools.lru_cache(maxsize=1)
def _imagenet_categories() -> tuple[str, ...]:
    # Importing torchvision pulls in torch._dynamo (seconds of start-up) for a list of names: read the
    # list from torchvision's source instead, and import only if that file is not as expected.
    import ast
    import importlib.util

    spec = importlib.util.find_spec("torchvision")
    try:
        source = Path(spec.origin).with_name("models").joinpath("_meta.py").read_text(encoding="utf-8")
        for node in ast.parse(source).body:
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "_IMAGENET_CATEGORIES":
                names = ast.literal_eval(node.value)
                if len(names) == 1000:
                    return tuple(names)
    except (AttributeError, OSError, SyntaxError, ValueError, TypeError):
        pass
    from torchvision.models._meta import _IMAGENET_CATEGORIES

    return tuple(_IMAGENET_CATEGORIES)


def imagenet_classes() -> list[str]:
    return list(_imagenet_categories())


def class_names(num_classes: int = 1000) -> list[str]:
    """The names of a classifier's classes: ImageNet's for 1000, else their numbers."""
    return imagenet_classes() if num_classes == 1000 else [str(i) for i in range(num_classes)]


def class_index(name: str, classes: list[str]) -> int:
    """Index of an ImageNet class by name (any case, '_' for spaces) or by number."""
    if name.strip().isdigit():
        index = int(name)
        if index >= len(classes):
            raise UsageError(f"class index {index} is out of range: the model has {len(classes)} classes",
                             setting="class_name")
        return index
    wanted = name.strip().lower().replace("_", " ")
    for i, c in enumerate(classes):
        if c.lower() == wanted:
            return i
    raise UsageError(f"unknown class '{name}'{did_you_mean(wanted, classes)}; "
                     f"use an ImageNet class name such as banana, or a class number", setting="class_name")

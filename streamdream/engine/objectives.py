"""What the dream maximises: composable objectives in the style of lucent.

An `Objective` is a function of the activations `{layer: tensor}` that returns a scalar, plus the
set of layers it reads (so the network can be cut above them). They add and scale:
`layer("block5") * 0.5 + channel("block9", 12)`. `parse()` reads the same from text:
`block9`, `block9:12`, `block5*0.5+block9`, `0.5*block5 + block9:3`.
"""

from __future__ import annotations

import math
import re
from typing import Callable, Iterable

import torch

from ..errors import UsageError

Acts = dict[str, torch.Tensor]


class Objective:
    def __init__(self, fn: Callable[[Acts], torch.Tensor], layers, description: str):
        self.fn = fn
        self.layers = frozenset(layers)
        self.description = description

    def __call__(self, acts: Acts) -> torch.Tensor:
        return self.fn(acts)

    def __add__(self, other: "Objective") -> "Objective":
        return Objective(lambda a: self(a) + other(a), self.layers | other.layers,
                         f"{self.description} + {other.description}")

    def __mul__(self, weight: float) -> "Objective":
        weight = float(weight)
        return Objective(lambda a: weight * self(a), self.layers, f"{weight:g}*{self.description}")

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"Objective({self.description})"


def layer(name: str) -> Objective:
    """DeepDream's objective: the mean squared activation of a layer (its L2 norm, per element)."""
    return Objective(lambda a: a[name].float().pow(2).mean(), {name}, name)


def channel(name: str, index: int) -> Objective:
    """Mean activation of one channel (N, C, H, W) or one logit (N, C)."""
    return Objective(lambda a: a[name][:, index].float().mean(), {name}, f"{name}:{index}")


def class_logit(index: int, label: str = "") -> Objective:
    """The pre-softmax score of one class: the logits layer's channel."""
    obj = channel("logits", index)
    obj.description = f"class {label or index}"
    return obj


def class_log_prob(index: int, label: str = "") -> Objective:
    """The log-probability of one class (log-softmax of the logits). Unlike the raw logit it
    stops rewarding once the class is certain, so the image is not driven to saturated colour."""
    return Objective(lambda a: a["logits"].float().log_softmax(1)[:, index].mean(), {"logits"},
                     f"class {label or index}")


def guided(name: str, guide: torch.Tensor) -> Objective:
    """The original notebook's guide: each position's features are pushed towards the guide
    feature vector they already match best (largest dot product).

    guide: the layer's features of the guide image, shape (1, C, Hg, Wg).
    """
    if guide.ndim != 4 or guide.shape[0] != 1:
        raise ValueError(f"guide features must be (1, C, H, W), got {tuple(guide.shape)}")
    g = guide[0].flatten(1).float()  # (C, Hg*Wg)

    def fn(acts: Acts) -> torch.Tensor:
        x = acts[name].float()
        if x.shape[1] != g.shape[0]:
            raise ValueError(f"guide has {g.shape[0]} channels, layer {name} has {x.shape[1]}")
        flat = x.flatten(2)  # (N, C, HW)
        guide_here = g.to(flat.device)  # a no-op: the guide's features are made on the network's device
        best = torch.einsum("nci,cj->nij", flat, guide_here).argmax(-1)  # (N, HW)
        target = guide_here[:, best].permute(1, 0, 2)  # (N, C, HW)
        return (flat * target).sum(1).mean()

    return Objective(fn, {name}, f"{name} guided")


MAX_TERMS = 64  # layers a spec may sum: more is a mistake or an attack, never a look
MAX_SPEC = 2000  # characters

_TERM = re.compile(r"^(?:(?P<w1>[-+]?[\d.]+(?:e[-+]?\d+)?)\s*\*\s*)?(?P<layer>[A-Za-z_][\w.]*)"
                   r"(?::(?P<channel>\d+))?(?:\s*\*\s*(?P<w2>[-+]?[\d.]+(?:e[-+]?\d+)?))?$")


def parse_terms(spec: str) -> list[tuple[str, int | None, float]]:
    """'block5*0.5+block9:12' -> [('block5', None, 0.5), ('block9', 12, 1.0)]; UsageError on bad text."""
    if len(spec) > MAX_SPEC or spec.count("+") >= MAX_TERMS:
        raise UsageError(f"layer spec of {len(spec)} characters and {spec.count('+') + 1} terms is too long; "
                         f"give at most {MAX_TERMS} terms", setting="layers")
    terms = []
    for part in spec.split("+"):
        part = part.strip()
        m = _TERM.match(part)
        if not part or not m or (m["w1"] and m["w2"]):
            raise UsageError(f"cannot read layer spec '{spec}' at '{part}'; write LAYER, LAYER:CHANNEL "
                             f"or LAYER*WEIGHT joined by '+', e.g. block5*0.5+block9:12")
        try:
            weight = float(m["w1"] or m["w2"] or 1.0)
        except ValueError:
            raise UsageError(f"bad weight in layer spec '{spec}' at '{part}'") from None
        if not math.isfinite(weight) or abs(weight) > 1e6:
            raise UsageError(f"weight in layer spec '{spec}' at '{part}' must be a finite number up to 1e6")
        terms.append((m["layer"], int(m["channel"]) if m["channel"] else None, weight))
    return terms


def shift_layers(spec: str, order: list[str], delta: int) -> str:
    """The layer spec with every layer moved `delta` places along `order` (deeper when positive),
    clamped to its ends; channels are dropped (a channel number means nothing in another layer).
    'block3+block5*0.5', +1 -> 'block4+block6*0.5'."""
    parts = []
    for name, _, weight in parse_terms(spec):
        if name not in order:
            raise UsageError(f"layer {name} is not one of {', '.join(order)}")
        moved = order[min(max(order.index(name) + delta, 0), len(order) - 1)]
        parts.append(moved if weight == 1.0 else f"{moved}*{weight:g}")
    return "+".join(parts)


def blend_layers(a: str, b: str, weight: float) -> str:
    """The layer spec `weight` of the way from spec `a` to spec `b`: each term's weight scaled by
    1 - weight or weight, the same layer's terms added up. 'block4', 'block12', 0.25 ->
    'block4*0.75+block12*0.25'; at 0 and 1 the specs themselves, so a schedule's keyframes
    dream exactly what they name."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1], got {weight}")
    if weight == 0.0 or a == b:
        return a
    if weight == 1.0:
        return b
    total: dict[tuple[str, int | None], float] = {}
    for terms, share in ((parse_terms(a), 1.0 - weight), (parse_terms(b), weight)):
        for name, index, w in terms:
            total[(name, index)] = total.get((name, index), 0.0) + w * share
    parts = []
    for (name, index), w in total.items():
        term = name if index is None else f"{name}:{index}"
        parts.append(term if w == 1.0 else f"{term}*{w:.6g}")
    return "+".join(parts)


def weighted_sum(terms: Iterable[tuple[Objective, float]]) -> Objective | None:
    """The sum of (objective, weight) terms, in order, as one flat objective (a spec of many terms
    must not nest one call per term); None when there are none."""
    parts = [term if weight == 1.0 else term * weight for term, weight in terms]
    if len(parts) < 2:
        return parts[0] if parts else None

    def fn(acts: Acts) -> torch.Tensor:
        total = parts[0](acts)
        for part in parts[1:]:
            total = total + part(acts)
        return total

    return Objective(fn, frozenset().union(*(p.layers for p in parts)), " + ".join(p.description for p in parts))


def from_layers(spec: str, resolve: Callable[[str], str], channels: Callable[[str], int]) -> Objective:
    """The objective a layer spec describes. `resolve` maps a typed layer name to the model's
    spelling (raising UsageError with close names); `channels(layer)` gives its channel count,
    asked only for layers named with a channel."""
    terms = []
    for name, index, weight in parse_terms(spec):
        name = resolve(name)
        if name == "logits" and index is not None:
            raise UsageError(f"'logits:{index}' is a class: give it as `class_name` {index} (or the class name)",
                             setting="class_name")
        if index is None:
            term = layer(name)
        else:
            count = channels(name)
            if not 0 <= index < count:
                raise UsageError(f"layer {name} has channels 0 to {count - 1}, not {index}", setting="layers")
            term = channel(name, index)
        terms.append((term, weight))
    return weighted_sum(terms)

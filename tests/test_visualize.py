import pytest
import torch

from streamdream import models, objectives
from streamdream.cli import main
from streamdream.visualize import ImageParam, VisualizeSettings, high_frequency_share, random_view, visualize


@pytest.fixture(scope="module")
def logits_net():
    spec = models.get_spec("lite0")
    return models.DreamNet(spec, models.load_network(spec), ["logits"])


BANANA = models.imagenet_classes().index("banana")


def _top5_hits(net, image, index, tries=10):
    hits = 0
    for k in range(tries):
        view = random_view(image, 8, (0.8, 1.2), 10, torch.Generator().manual_seed(100 + k))
        view = torch.nn.functional.interpolate(view, size=(160, 160), mode="bilinear", align_corners=False)
        with torch.no_grad():
            hits += index in net(view)["logits"][0].topk(5).indices.tolist()
    return hits


@pytest.fixture(scope="module")
def banana(logits_net):
    settings = VisualizeSettings(steps=96)
    return visualize(logits_net, [objectives.class_logit(BANANA)], 128, 128, settings,
                     generator=torch.Generator().manual_seed(0))


def test_banana_from_noise_reads_as_banana_under_augmentation(logits_net, banana):
    assert banana.shape == (1, 3, 128, 128)
    with torch.no_grad():
        start = ImageParam(1, 128, 128, generator=torch.Generator().manual_seed(0))()
        before = logits_net(start)["logits"].softmax(1)[0, BANANA]
        after = logits_net(banana)["logits"].softmax(1)[0, BANANA]
    assert after > 0.5 > before * 10
    assert _top5_hits(logits_net, banana, BANANA) >= 8


def test_the_prior_lowers_high_frequency_energy(logits_net, banana):
    plain = visualize(logits_net, [objectives.class_logit(BANANA)], 128, 128,
                      VisualizeSettings(steps=96, fourier=False), generator=torch.Generator().manual_seed(0))
    assert high_frequency_share(plain) >= 2 * high_frequency_share(banana)


def test_fourier_parameterisation_starts_smooth_and_in_range():
    image = ImageParam(2, 64, 48, generator=torch.Generator().manual_seed(0))().detach()
    assert image.shape == (2, 3, 64, 48)
    assert 0 <= float(image.min()) and float(image.max()) <= 1


@pytest.mark.parametrize("shape", [(3, 8, 8), (1, 4, 8, 8)])
def test_random_view_rejects_bad_shapes(shape):
    with pytest.raises(ValueError):
        random_view(torch.zeros(shape), 2, (1.0, 1.0), 0)


def test_high_frequency_share_of_noise_and_of_a_smooth_image():
    noise = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0))
    y, x = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    smooth = (torch.sin(x / 10) * torch.cos(y / 8) * 0.5 + 0.5).expand(3, 64, 64)
    assert high_frequency_share(noise) > 0.5 > 0.01 > high_frequency_share(smooth)


def test_visualize_command_grid(tmp_path, capsys):
    import cv2

    out = tmp_path / "grid.png"
    assert main(["visualize", "banana", "goldfish", "--grid", "--size", "64x64", "--steps", "4", "--seed", "1",
                 "-o", str(out)]) == 0
    assert cv2.imread(str(out)).shape == (64, 128, 3)
    assert "class banana" in capsys.readouterr().out


@pytest.mark.parametrize("args,message", [
    (["bananna"], "did you mean banana"),
    (["banana", "--size", "16x16"], "smaller than 32"),
    (["banana", "goldfish"], "--grid"),
    ([], "at least one class"),
    (["banana", "--steps", "0"], "--steps"),
])
def test_visualize_bad_input(tmp_path, capsys, args, message):
    assert main(["visualize", *args, "--steps", "2", "-o", str(tmp_path / "v.png")] if "--steps" not in args
                else ["visualize", *args, "-o", str(tmp_path / "v.png")]) == 2
    assert message in capsys.readouterr().out
    assert not (tmp_path / "v.png").exists()

import numpy as np
import pytest
import torch

from streamdream.cli import main
from streamdream.config import DreamConfig
from streamdream.engine.dreamer import Dreamer
from streamdream.engine.tensors import to_frame, to_tensor
from streamdream.media.images import noise_image
from streamdream.engine.warp import zoom_view
from streamdream.zoom import ZoomDreamer

from .conftest import probe

SMALL = DreamConfig(layers="block4", octaves=1, iterations=2, step=0.01, jitter=2, seed=1, device="cpu")


@pytest.fixture(scope="module")
def dreamer():
    return Dreamer.from_config(SMALL)


def _corr(a, b):
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    return float(np.corrcoef(a, b)[0, 1])


def test_zoom_frames_follow_the_zoom(dreamer):
    zoomer = ZoomDreamer(dreamer, zoom=1.1, keyframe_every=4)
    frames = list(zoomer.frames(noise_image(96, 64, seed=2), 13))
    assert len(frames) == 13 and zoomer.keyframes == 4
    step = 1.1 ** (1 / 4)
    for t in range(len(frames) - 1):
        zoomed = to_frame(zoom_view(to_tensor(frames[t]), step)[0])
        inner = (slice(8, -8), slice(8, -8))
        assert _corr(frames[t + 1][inner], zoomed[inner]) > 0.8
        # and it is the zoom that lines them up, not mere sameness
        if t % 4 != 3:
            assert _corr(frames[t + 1][inner], zoomed[inner]) > _corr(frames[t + 1][inner], frames[t][inner])


def test_zoom_view_masks_what_a_zoom_out_cannot_show():
    image = torch.rand(1, 3, 40, 60)
    view, inside = zoom_view(image, 0.5)
    assert inside[0, 0, 20, 30] == 1 and inside[0, 0, 0, 0] == 0
    same, everywhere = zoom_view(image, 1.0)
    torch.testing.assert_close(same, image, atol=1e-5, rtol=0)
    assert bool(everywhere.all())


@pytest.mark.parametrize("kwargs,setting", [({"zoom": 1.0}, "zoom"), ({"zoom": 1.05, "keyframe_every": 0}, "keyframe_every")])
def test_bad_zoom_settings_are_refused_where_settings_are_checked(kwargs, setting):
    from streamdream.config import Config, ZoomConfig, check
    from streamdream.errors import UsageError

    with pytest.raises(UsageError) as info:
        check(Config(zoom=ZoomConfig(**kwargs)))
    assert info.value.setting == setting


FAST = ["--layers", "block3", "--octaves", "1", "--iterations", "1", "--seed", "1", "--device", "cpu"]


def test_zoom_command_writes_the_frames_asked(tmp_path):
    out = tmp_path / "zoom.mp4"
    assert main(["zoom", *FAST, "--size", "64x48", "--frames", "11", "--fps", "30", "-o", str(out)]) == 0
    frames, times, facts, audio = probe(out)
    assert len(frames) == 11 and facts["rate"] == 30 and audio is None


def test_zoom_from_an_image(tmp_path, picture):
    import cv2

    cv2.imwrite(str(tmp_path / "p.png"), picture[:, :, ::-1])
    out = tmp_path / "zoom.mkv"
    assert main(["zoom", *FAST, "--from", str(tmp_path / "p.png"), "--frames", "6", "-o", str(out)]) == 0
    frames = probe(out)[0]
    assert len(frames) == 6 and frames[0].shape == (72, 96, 3)


@pytest.mark.parametrize("args,message", [
    (["--zoom", "1.0"], "zoom must be above 1"),
    (["--zoom", "0.9"], "zoom must be above 1"),
    (["--frames", "0"], "--frames must be at least 1"),
    (["--size", "16x16"], "at least 32"),
    (["--from", "missing.png"], "does not exist"),
])
def test_zoom_bad_input(tmp_path, capsys, args, message):
    assert main(["zoom", *FAST, *args, "-o", str(tmp_path / "z.mp4")]) == 2
    assert message in capsys.readouterr().out
    assert not (tmp_path / "z.mp4").exists()


def test_zoom_window_without_a_screen_names_the_fix(monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["zoom", *FAST, "--frames", "3"]) == 2
    assert "-o FILE" in capsys.readouterr().out

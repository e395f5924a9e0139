"""The CUDA path: skipped where PyTorch sees no GPU."""

import numpy as np
import pytest
import torch

from streamdream.cli import main
from streamdream.config import DreamConfig
from streamdream.engine.dreamer import Dreamer
from streamdream.metrics import strength

from .conftest import probe, write_clip

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU visible to PyTorch")

SETTINGS = dict(layers="block6", octaves=2, iterations=4, step=0.01, jitter=4, seed=2)


def test_cuda_dream_matches_the_cpu_in_strength_and_repeats(picture):
    cuda = Dreamer.from_config(DreamConfig(**SETTINGS, device="cuda"))
    assert cuda.device.type == "cuda" and next(cuda.net.parameters()).is_cuda
    a = cuda.dream_frame(picture)
    b = Dreamer.from_config(DreamConfig(**SETTINGS, device="cuda")).dream_frame(picture)
    np.testing.assert_array_equal(a, b)  # the same seed on the same machine: the same dream
    cpu = Dreamer.from_config(DreamConfig(**SETTINGS, device="cpu")).dream_frame(picture)
    # bf16 autocast changes the numbers, not the dream's strength
    assert strength(a, picture) == pytest.approx(strength(cpu, picture), rel=0.3)


def test_video_on_cuda(tmp_path):
    clip = write_clip(tmp_path / "in.mp4", frames=10, audio=True)
    out = tmp_path / "out.mp4"
    assert main(["video", "--device", "cuda", "--layers", "block4", "--octaves", "2", "--iterations", "3",
                 str(clip), "-o", str(out)]) == 0
    frames, _, _, audio = probe(out)
    assert len(frames) == 10 and audio is not None


def test_visualize_on_cuda(tmp_path):
    # an ensemble, as a class is visualised by default, of networks whose weights a bare GPU
    # machine is given with the check (the default pair's Lite1 is not among them)
    out = tmp_path / "v.png"
    assert main(["visualize", "banana", "--device", "cuda", "--model", "lite0,lite2", "--size", "96x96",
                 "--steps", "16", "-o", str(out)]) == 0
    assert out.exists()

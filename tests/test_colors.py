from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from streamdream.engine.colors import FILE_COLOR_SIGMA, FILE_LUMA_SIGMA, LUMA, lay_detail, soften_detail
from streamdream.engine.steering import SteeredStream
from streamdream.media.video_out import VideoFileSink


def colour_detail(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A dream detail of pixel-fine colour and no luminance: each pixel one of two opposite hues."""
    hue = np.array([30.0, -15.3, 0.0], dtype=np.float32)
    hue[2] = -(hue[0] * LUMA[0] + hue[1] * LUMA[1]) / LUMA[2]  # luma 0
    sign = np.random.default_rng(seed).integers(0, 2, (height, width)) * 2 - 1
    return sign[..., None].astype(np.float32) * hue


def chroma(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float32)
    return x - (x @ LUMA)[..., None]


def test_soften_detail_leaves_a_grey_detail_and_a_flat_colour_as_they_are():
    grey = np.random.default_rng(1).normal(0, 20, (40, 60)).astype(np.float32)
    detail = np.repeat(grey[..., None], 3, axis=2)
    assert np.allclose(soften_detail(detail, 1.5), detail, atol=1e-4)
    flat = np.broadcast_to(np.array([12.0, -30.0, 5.0], np.float32), (40, 60, 3))
    assert np.allclose(soften_detail(flat, 1.5), flat, atol=1e-4)
    assert soften_detail(flat, 0.0) is not None and np.array_equal(soften_detail(detail, 0.0), detail)


def test_soften_detail_blurs_pixel_fine_colour_and_keeps_the_luminance():
    detail = colour_detail(48, 64) + np.random.default_rng(2).normal(0, 10, (48, 64, 1)).astype(np.float32)
    soft = soften_detail(detail, 1.5)
    inner = (slice(4, -4), slice(4, -4))
    # random hues pixel by pixel: the blur averages most of their colour away
    assert chroma(soft)[inner].std() < 0.5 * chroma(detail)[inner].std()
    assert np.abs(soft @ LUMA - detail @ LUMA).max() < 1e-3


def test_soften_detail_gives_the_luminance_of_one_blur_and_the_colour_of_the_other():
    detail = colour_detail(48, 64, seed=6) + np.random.default_rng(7).normal(0, 10, (48, 64, 1)).astype(np.float32)
    soft = soften_detail(detail, 1.5, 0.5)
    luma_blur = cv2.GaussianBlur(detail, (0, 0), 0.5, borderType=cv2.BORDER_REFLECT)
    colour_blur = cv2.GaussianBlur(detail, (0, 0), 1.5, borderType=cv2.BORDER_REFLECT)
    assert np.abs(soft @ LUMA - luma_blur @ LUMA).max() < 1e-3
    assert np.abs(chroma(soft) - chroma(colour_blur)).max() < 1e-3
    # the pixel-fine grey speckle loses some of its spread, and not all of it
    speckle = (soft @ LUMA)[4:-4, 4:-4].std() / (detail @ LUMA)[4:-4, 4:-4].std()
    assert 0.3 < speckle < 0.9
    assert np.allclose(soften_detail(detail, 0.5, 0.5), luma_blur, atol=1e-4)


def test_soften_detail_refuses_what_is_not_a_detail():
    with pytest.raises(ValueError):
        soften_detail(np.zeros((10, 10), np.float32), 1.0)
    with pytest.raises(ValueError):
        soften_detail(np.zeros((10, 10, 3), np.float32), -1.0)
    with pytest.raises(ValueError):
        soften_detail(np.zeros((10, 10, 3), np.float32), 1.0, -0.5)


def test_a_file_run_s_stage_softens_the_dream_s_colour_and_not_the_input_s():
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)  # pixel-fine colour of its own
    dreamt = np.clip(frame + colour_detail(40, 56) + 0.5, 0, 255).astype(np.uint8)

    class Stream:  # what the stage wraps: a StreamDreamer's `next_detail`
        def next_detail(self, image, motion):
            return (dreamt if image is frame else image).astype(np.float32) - image

    stage = SteeredStream(Stream())
    out = stage.next(frame, None)
    inner = (slice(4, -4), slice(4, -4))
    assert chroma(out - frame.astype(np.float32))[inner].std() < 0.5 * chroma(dreamt - frame.astype(np.float32))[inner].std()
    # and the dream's pixel-fine speckle, by FILE_LUMA_SIGMA: a grey speckle loses some of its spread
    speckle = np.repeat(rng.normal(0, 12, (40, 56, 1)), 3, axis=2)
    frame = np.full((40, 56, 3), 128, np.uint8)  # what Stream dreams from here on
    dreamt = np.clip(frame + speckle + 0.5, 0, 255).astype(np.uint8)
    spread = lambda x: (x.astype(np.float32) - frame)[inner].std()
    assert FILE_LUMA_SIGMA > 0 and spread(stage.next(frame, None)) < 0.8 * spread(dreamt)
    # no dream, no change: the input's colour is left to the encoder as it is
    other = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    assert np.array_equal(stage.next(other, None), other)


def test_a_file_of_moving_fine_dream_colour_flickers_less_with_it_softened(tmp_path):
    # a dream's fine colour sliding a pixel a frame over a grey picture sliding with it: yuv420p
    # keeps every second pixel's colour, and unsoftened, what it kept changed with the pixel's
    # parity, so frame k + 1 did not match frame k moved on by a pixel
    rng = np.random.default_rng(4)
    ground = np.repeat(rng.integers(60, 200, (64, 112, 1), dtype=np.uint8), 3, axis=2)
    detail = colour_detail(64, 112, seed=5)
    dreams = np.clip(ground + detail + 0.5, 0, 255).astype(np.uint8)

    def flicker(sigma: float) -> float:
        path = tmp_path / f"slide-{sigma}.mp4"
        sink = VideoFileSink(path, Fraction(25), Fraction(1, 25))
        for k in range(12):
            frame = np.ascontiguousarray(ground[:, k:k + 96])
            sink.write(lay_detail(frame, dreams[:, k:k + 96].astype(np.float32) - frame, 1.0, sigma), k / 25)
        sink.close()
        with av.open(str(path)) as container:
            out = [f.to_ndarray(format="rgb24").astype(np.float32) for f in container.decode(video=0)]
        assert len(out) == 12
        return float(np.mean([np.abs(out[k + 1][4:-4, 4:-8] - out[k][4:-4, 5:-7]).mean() for k in range(11)]))

    assert flicker(FILE_COLOR_SIGMA) < 0.5 * flicker(0.0)

"""The live display's backdrop: what a fast subject uncovers between two dreams takes the still
scene's own detail back, not the subject's drawn out behind it."""

import cv2
import numpy as np
import pytest

from streamdream.frames import Dreamt, Frame
from streamdream.live.backdrop import Backdrop, uncovered
from streamdream.live.compositor import Compositor


def _gray(h=90, w=160, seed=0):
    """A smooth random texture, grey uint8 (h, w), in 60..180: DIS finds its way on it."""
    noise = np.random.default_rng(seed).random((h // 6, w // 6)).astype(np.float32)
    return (60 + 120 * cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)).astype(np.uint8)


def test_uncovered_is_where_a_subject_has_left_and_nowhere_else():
    scene = _gray()
    then, now = scene.copy(), scene.copy()
    then[30:60, 40:70] = 250  # a bright square, 30 px further left before
    now[30:60, 70:100] = 250
    back = np.zeros(scene.shape + (2,), np.float32)
    back[30:60, 70:100, 0] = -30.0  # the square came from there; the scene stood still
    doubted = uncovered(now, then, back)
    assert doubted.shape == scene.shape and doubted.dtype == np.float32
    assert doubted[33:57, 43:67].min() == 1.0  # what the square left
    assert doubted[:, 105:].max() == 0.0 and doubted[:24].max() == 0.0  # the scene
    assert doubted[33:57, 73:97].max() == 0.0  # the square itself, followed by the flow
    assert uncovered(now, now, np.zeros_like(back)).max() == 0.0
    # the light changing over the whole picture uncovers nothing; the square's leaving still shows
    brighter = uncovered(np.clip(now.astype(int) + 12, 0, 255).astype(np.uint8), then, back)
    assert brighter[:, 105:].max() == 0.0 and brighter[33:57, 43:67].min() == 1.0
    with pytest.raises(ValueError):
        uncovered(now, then[:, :100], back)


def test_the_backdrop_gives_back_a_still_pixel_s_detail_only_where_it_is_uncovered_and_looks_the_same():
    gray = _gray(seed=1)
    h, w = gray.shape
    big = (2 * h, 2 * w, 3)  # the detail is at the frame's size, the grey at the flow's
    still = np.zeros((h, w, 2), np.float32)
    backdrop = Backdrop()
    doubted = np.zeros((h, w), np.float32)
    doubted[20:50, 40:80] = 1.0
    assert backdrop.given(gray, doubted) is None  # nothing kept
    backdrop.keep(gray, np.full(big, 7.0, np.float32), still)
    given = backdrop.given(gray, doubted)  # where it is given back, at the flow's size
    assert np.array_equal(given, doubted)
    # lay takes it at the frame's size, as the display brings it there once for both its uses
    at_frame = lambda weight: None if weight is None else cv2.resize(weight, big[1::-1], interpolation=cv2.INTER_LINEAR)
    with pytest.raises(ValueError):
        backdrop.lay(np.full(big, -5.0, np.float32), given)
    laid = backdrop.lay(np.full(big, -5.0, np.float32), at_frame(given))
    assert np.allclose(laid[44:96, 84:156], 7.0, atol=1e-3)  # uncovered: the kept detail
    assert np.allclose(laid[:36], -5.0, atol=1e-3) and np.allclose(laid[:, 164:], -5.0, atol=1e-3)  # elsewhere: as laid
    # a doubted pixel's detail is not the scene's: it is not kept
    backdrop.keep(gray, np.full(big, 3.0, np.float32), still, doubted)
    assert np.allclose(backdrop.lay(np.zeros(big, np.float32), at_frame(backdrop.given(gray, doubted)))[44:96, 84:156], 7.0, atol=1e-3)
    # a pixel that no longer looks as it did is not given the detail back
    changed = gray.copy()
    changed[20:50, 40:80] += 60
    assert backdrop.given(changed, doubted) is None
    assert np.allclose(backdrop.lay(np.full(big, -5.0, np.float32), at_frame(backdrop.given(changed, doubted))), -5.0, atol=1e-3)
    # a moving camera (more than half the frame moves a pixel): its pixels are not where they were
    backdrop.keep(gray, np.full(big, 7.0, np.float32), np.ones((h, w, 2), np.float32))
    assert backdrop.detail is None
    assert np.allclose(backdrop.lay(np.full(big, -5.0, np.float32), at_frame(backdrop.given(gray, doubted))), -5.0, atol=1e-3)


def _square_over_a_still_scene(k: int, scene: np.ndarray) -> tuple[np.ndarray, slice]:
    """Frame `k`: RGB `scene` with a flat square 40 px wide crossing it, 8 px a frame; and the
    square's columns."""
    columns = slice(20 + 8 * k, 60 + 8 * k)
    image = scene.copy()
    image[70:110, columns] = (250, 240, 250)
    return image, columns


def _trail_error(monkeypatch, backdrop: bool) -> float:
    """A CPU-like show of a fast subject over a still scene, its dream every third camera frame,
    made three frames before it comes: how far the detail shown on what the subject uncovered
    since its dream was made is from the scene's own, mean grey levels."""
    if not backdrop:
        monkeypatch.setattr(Backdrop, "given", lambda self, gray, doubted: None)  # gives nothing back
    scene = cv2.cvtColor(_gray(180, 320, seed=2), cv2.COLOR_GRAY2RGB)
    ys, xs = np.mgrid[:180, :320]
    own = (20 * np.sin(xs / 5.0) * np.cos(ys / 7.0)).astype(np.float32)[..., None].repeat(3, 2)  # the scene's dream
    compositor = Compositor(blend=0.0, hold=0.0)
    made, errors = [], []
    for k in range(26):
        image, columns = _square_over_a_still_scene(k, scene)
        detail = own.copy()
        detail[70:110, columns] = -30.0  # the subject's dream
        made.append(Dreamt(Frame(image, k * 0.04, k), detail, k + 1))
        dream = made[k - 3 - k % 3] if k >= 3 else None  # every third frame's dream, three frames late
        shown = compositor.present(Frame(image, k * 0.04, k), dream)
        if dream is not None and k >= 12:
            then = _square_over_a_still_scene(dream.frame.index, scene)[1]
            left = slice(then.start + 4, min(then.stop, columns.start) - 4)  # behind the square now, under it then
            truth = np.clip(image.astype(np.float32) + own, 0, 255)
            errors.append(float(np.abs(shown[74:106, left].astype(np.float32) - truth[74:106, left]).mean()))
    assert len(errors) >= 10
    return float(np.mean(errors))


def test_a_fast_subject_leaves_the_scene_s_own_dream_behind_it_not_its_dream_drawn_out(monkeypatch):
    with_backdrop = _trail_error(monkeypatch, True)
    assert with_backdrop < 4.0
    assert _trail_error(monkeypatch, False) > 3 * with_backdrop  # as the display laid it before

"""Live sources: the camera (through a fake one that stalls, freezes, fails and comes back), the
built-in test scene, a looped file, and reconnection."""

import time

import re

import numpy as np
import pytest

from streamdream.errors import UsageError
from tests.conftest import said
from streamdream.live.camera import CameraLost, CameraSource, list_cameras
from streamdream.live.scene import SyntheticSource
from streamdream.live.sources import LoopingFileSource, ReconnectingSource, open_live_source
from tests.conftest import write_clip


class FakeCamera:
    """Stands in for cv2.VideoCapture. `script(n)` says what read number n does: "ok" (a new
    frame), "same" (the last frame again, as some backends do after an unplug), "fail"
    (read returns False), "hang" (blocks a long time)."""

    def __init__(self, script=lambda n: "ok", opened=True, size=(640, 480), fps=30.0):
        self.script, self.opened, self.size, self.fps = script, opened, size, fps
        self.n, self.released, self.asked = 0, False, {}
        self.last = None

    def isOpened(self):
        return self.opened

    def set(self, prop, value):
        self.asked[prop] = value
        return True

    def get(self, prop):
        import cv2

        return {cv2.CAP_PROP_FRAME_WIDTH: self.size[0], cv2.CAP_PROP_FRAME_HEIGHT: self.size[1],
                cv2.CAP_PROP_FPS: self.fps}.get(prop, 0)

    def read(self):
        action = self.script(self.n)
        self.n += 1
        time.sleep(1 / self.fps)
        if action == "fail":
            return False, None
        if action == "hang":
            time.sleep(30)
            return False, None
        if action == "same" and self.last is not None:
            return True, self.last.copy()
        w, h = self.size
        self.last = np.random.default_rng(self.n).integers(0, 255, (h, w, 3), dtype=np.uint8)
        return True, self.last

    def release(self):
        self.released = True


def take(source, count, timeout=10):
    out, start = [], time.perf_counter()
    for frame in source.frames():
        out.append(frame)
        if len(out) >= count or time.perf_counter() - start > timeout:
            break
    return out


def test_camera_delivers_rescaled_rgb_frames_and_reports_what_was_granted():
    camera = FakeCamera(size=(640, 480), fps=60)
    source = CameraSource(0, width=320, fps=30, opener=lambda device: camera)
    try:
        frames = take(source, 5)
    finally:
        source.close()
    assert len(frames) == 5
    assert frames[0].image.shape == (240, 320, 3)
    assert [f.index for f in frames] == list(range(5))
    assert "640x480" in source.info and "asked 320x180" in source.info
    import cv2

    assert camera.asked[cv2.CAP_PROP_FRAME_WIDTH] == 320
    assert camera.released


@pytest.mark.parametrize("behaviour,words", [
    (lambda n: "ok" if n < 5 else "fail", "sent no frame"),
    (lambda n: "ok" if n < 5 else "hang", "sent no frame"),
    (lambda n: "ok" if n < 5 else "same", "same frame"),
])
def test_watchdog_declares_a_stalled_or_frozen_camera_lost(behaviour, words):
    source = CameraSource(0, opener=lambda device: FakeCamera(behaviour), stall=0.5, frozen=0.5)
    try:
        with pytest.raises(CameraLost, match=words):
            take(source, 10_000, timeout=60)
    finally:
        source.close()


def test_no_camera_at_that_index_says_how_to_list_and_pick():
    with pytest.raises(UsageError, match="no camera at index 3") as info:
        CameraSource(3, opener=lambda device: FakeCamera(opened=False))
    assert re.search("--source.*--list.*test", said(info))


def test_list_cameras_names_the_ones_that_open():
    cameras = list_cameras(4, opener=lambda index: FakeCamera(opened=index in (0, 2)))
    assert cameras == [(0, 640, 480), (2, 640, 480)]


def test_reconnecting_source_survives_an_unplug():
    opened = []

    def open_camera():
        # the first camera dies after 5 frames; the second try fails (still unplugged); the third works
        attempt = len(opened)
        opened.append(attempt)
        if attempt == 1:
            raise UsageError("no camera at index 0")
        script = (lambda n: "ok" if n < 5 else "fail") if attempt == 0 else (lambda n: "ok")
        return CameraSource(0, opener=lambda device: FakeCamera(script, fps=100), stall=0.3)

    warnings = []
    source = ReconnectingSource(open_camera, retry_max=0.2, warn=warnings.append)
    source_frames = take(source, 12, timeout=20)
    source.close()
    assert len(source_frames) == 12
    assert [f.index for f in source_frames] == list(range(12))
    assert len(opened) == 3
    assert any("camera lost" in w for w in warnings) and any("camera back" in w for w in warnings)


def test_test_scene_moves_and_runs_in_real_time():
    source = SyntheticSource(160, fps=50)
    start = time.perf_counter()
    frames = take(source, 25)
    # frame i is stamped i/50 s and never delivered before then (a slow machine delivers late)
    assert [f.time for f in frames] == [i / 50 for i in range(25)]
    assert all(f.captured - start >= f.time - 1e-3 for f in frames)
    assert frames[0].image.shape == (90, 160, 3)
    assert np.abs(frames[0].image.astype(int) - frames[-1].image.astype(int)).mean() > 5


def test_test_scene_stands_still_when_asked():
    source = SyntheticSource(160, still_after=1.0, still_for=2.0)
    assert np.array_equal(source.render(1.5), source.render(2.5))
    assert not np.array_equal(source.render(0.2), source.render(0.6))


def test_a_file_source_loops(tmp_path):
    clip = tmp_path / "clip.mp4"
    write_clip(clip, frames=5, rate=100)
    source = LoopingFileSource(clip)
    frames = take(source, 12)
    assert [f.index for f in frames] == list(range(12))
    assert np.array_equal(frames[0].image, frames[5].image)  # the second time round


@pytest.mark.parametrize("size,width,longest,shape", [
    ((96, 48), None, 128, (128, 64, 3)),  # a portrait clip: its longer side brought to `longest`
    ((48, 96), None, 128, (64, 128, 3)),  # a landscape one: `longest` wide
    ((96, 48), 80, 128, (160, 80, 3)),  # a width set is the width, portrait or not
])
def test_a_live_source_with_no_width_brings_its_longer_side_to_the_longest(tmp_path, size, width, longest, shape):
    # a portrait camera or file stretched to a landscape show's width was a frame 640x1138 on a
    # CPU, dreamt at 2 frames a second: with no width set, its longer side is the show's width
    h, w = size
    clip = tmp_path / "clip.mp4"
    write_clip(clip, frames=3, width=w, height=h, rate=100)
    source = open_live_source(str(clip), width, longest=longest)
    assert take(source, 1)[0].image.shape == shape
    assert f"{shape[1]}x{shape[0]}" in source.info
    camera = FakeCamera(size=(w, h), fps=60)
    source = CameraSource(0, width=width, opener=lambda device: camera, longest=longest)
    try:
        assert take(source, 1)[0].image.shape == shape
    finally:
        source.close()
    import cv2

    assert camera.asked[cv2.CAP_PROP_FRAME_WIDTH] == (width or longest)  # asked a landscape frame all the same
    assert open_live_source("test", width, longest=longest).width == (width or longest)


def test_width_within_brings_the_longer_side_to_the_longest():
    from streamdream.media.images import width_within

    assert width_within(1920, 1080, 640) == 640
    assert width_within(1080, 1920, 640) == 360
    assert width_within(480, 480, 640) == 640
    assert width_within(1, 4000, 10) == 1  # never below a pixel
    with pytest.raises(ValueError):
        width_within(0, 1080, 640)


@pytest.mark.parametrize("spec", ["nonsense", "missing.mp4"])
def test_an_unknown_source_is_a_usage_error(spec):
    with pytest.raises(UsageError) as info:
        open_live_source(spec)
    assert "--source" in said(info)


def test_a_stalled_v4l2_camera_blocks_for_a_second_not_ten():
    import os

    import streamdream  # noqa: F401  (sets it on import, before cv2 loads)

    assert os.environ["OPENCV_VIDEOIO_V4L_SELECT_TIMEOUT"] == "1"


def test_a_url_opens_through_ffmpeg(tmp_path):
    """An http:// stream (here a clip served on loopback) is a camera source like any other."""
    import functools
    import http.server
    import threading

    clip = tmp_path / "clip.mp4"
    write_clip(clip, frames=60, width=64, height=48)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        try:
            source = open_live_source(f"http://127.0.0.1:{server.server_address[1]}/clip.mp4", stall=2.0)
        except UsageError:
            pytest.skip("this OpenCV build's FFmpeg cannot open http:// URLs")
        try:
            frames = take(source, 10)
        finally:
            source.close()
    finally:
        server.shutdown()
    assert len(frames) == 10 and frames[0].image.shape == (48, 64, 3)


def test_a_camera_that_does_not_open_is_one_line_without_opencv_s_own(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OPENCV_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-m", "streamdream", "webcam", "--source", "7", "--no-window"],
                          env=env, capture_output=True, text=True, timeout=120)
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert done.returncode == 2
    assert len(lines) == 1 and "no camera at index 7" in lines[0] and "--source" in lines[0], lines

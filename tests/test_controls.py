"""Steering a live run: keys, OSC over real UDP, the dream stage's commands, the virtual camera."""

import socket
import time

import numpy as np
import pytest

from streamdream.commands import Command, ControlChannel
from streamdream.live.controls import KEYS
from streamdream.live.controls import OscControl, key_command, osc_command
from streamdream.engine.objectives import shift_layers
from streamdream.live.outputs import VirtualCameraSink


@pytest.mark.parametrize("key,name,value", [
    ("q", "quit", None), (27, "quit", None), ("n", "preset", 1), ("p", "preset", -1), ("3", "preset_index", 2),
    ("+", "strength", 1.25), ("-", "strength", 0.8), ("[", "layer", 1), ("]", "layer", -1),
    (32, "freeze", None), ("f", "fullscreen", None), ("r", "record", None), ("s", "snapshot", None),
    ("h", "hud", None),
])
def test_keys_map_to_commands(key, name, value):
    code = key if isinstance(key, int) else ord(key)
    assert key_command(code) == Command(name, value)


def test_no_key_and_unbound_keys_do_nothing():
    assert key_command(-1) is None
    assert key_command(ord("z")) is None


def test_every_key_in_the_readme_table_is_bound():
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for key in ("q", "n", "p", "+", "-", "[", "]", "f", "r", "s", "h"):
        assert key in KEYS
        assert f"`{key}`" in readme


@pytest.mark.parametrize("address,args,command", [
    ("/streamdream/preset", ("clouds",), Command("preset_index", "clouds")),
    ("/streamdream/preset", (2,), Command("preset_index", 2)),
    ("/streamdream/preset/next", (), Command("preset", 1)),
    ("/streamdream/strength", (1.5,), Command("set_strength", 1.5)),
    ("/streamdream/layer", ("block7",), Command("layer", "block7")),
    ("/streamdream/layer", (-1,), Command("layer", -1)),
    ("/streamdream/freeze", (1,), Command("freeze", True)),
])
def test_osc_messages_become_commands(address, args, command):
    assert osc_command(address, args) == command


@pytest.mark.parametrize("address,args", [
    ("/streamdream/strength", ("loud",)), ("/streamdream/strength", (50.0,)), ("/streamdream/preset", ()),
    ("/streamdream/layer", (3,)), ("/nothing/here", (1,)), ("/streamdream/freeze", ("x", 1)),
])
def test_bad_osc_messages_are_refused_with_a_reason(address, args):
    with pytest.raises(ValueError):
        osc_command(address, args)


def test_osc_over_real_udp_on_loopback():
    pytest.importorskip("pythonosc")
    from pythonosc.udp_client import SimpleUDPClient

    channel, warnings = ControlChannel(), []
    server = OscControl(channel, 0, warn=warnings.append)  # port 0: any free port
    try:
        client = SimpleUDPClient("127.0.0.1", server.port)
        client.send_message("/streamdream/strength", 2.0)
        client.send_message("/streamdream/strength", "very")  # bad: a warning, not a crash
        client.send_message("/streamdream/nowhere", 1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
            raw.sendto(b"\x00garbage that is not OSC", ("127.0.0.1", server.port))
        client.send_message("/streamdream/preset/next", [])
        got, start = [], time.perf_counter()
        while len(got) < 2 and time.perf_counter() - start < 5:
            got += channel.drain()
            time.sleep(0.02)
    finally:
        server.close()
    assert got == [Command("set_strength", 2.0), Command("preset", 1)]
    assert len(warnings) == 2 and all("ignored" in w for w in warnings)


def test_osc_listens_on_loopback_only_by_default():
    pytest.importorskip("pythonosc")
    server = OscControl(ControlChannel(), 0)
    try:
        assert server.server.server_address[0] == "127.0.0.1"
    finally:
        server.close()


def test_missing_extras_name_the_pip_command(monkeypatch):
    import sys

    from streamdream.errors import UsageError

    monkeypatch.setitem(sys.modules, "pythonosc", None)
    monkeypatch.setitem(sys.modules, "pythonosc.dispatcher", None)
    monkeypatch.setitem(sys.modules, "pyvirtualcam", None)
    with pytest.raises(UsageError, match=r'pip install "streamdream\[live\]"'):
        OscControl(ControlChannel(), 0)
    with pytest.raises(UsageError, match=r'pip install "streamdream\[live\]"'):
        VirtualCameraSink()


class FakeVirtualCamera:
    def __init__(self, width, height, fps):
        self.width, self.height, self.fps, self.sent, self.closed = width, height, fps, [], False

    def send(self, frame):
        assert frame.shape == (self.height, self.width, 3) and frame.dtype == np.uint8
        self.sent.append(frame)

    def close(self):
        self.closed = True


def test_virtual_camera_sink_sends_every_frame_at_one_size():
    cameras = []
    sink = VirtualCameraSink(30, backend=lambda **kw: cameras.append(FakeVirtualCamera(**kw)) or cameras[-1])
    sink.write(np.zeros((90, 160, 3), np.uint8), 0.0)
    sink.write(np.zeros((100, 170, 3), np.uint8), 0.1)  # a new size (a reconnected camera) is fitted
    sink.close()
    (camera,) = cameras
    assert (camera.width, camera.height, camera.fps) == (160, 90, 30)
    assert len(camera.sent) == 2 and camera.closed


def test_no_virtual_camera_device_is_a_clear_error():
    from streamdream.errors import UsageError

    def broken(**kw):
        raise RuntimeError("'/dev/video0' is not a v4l2loopback device")

    with pytest.raises(UsageError, match="v4l2loopback"):
        VirtualCameraSink(30, backend=broken).write(np.zeros((90, 160, 3), np.uint8), 0.0)


@pytest.mark.parametrize("spec,delta,want", [
    ("block3", 1, "block4"), ("block3+block5*0.5", 1, "block4+block6*0.5"), ("block0", -1, "stem"),
    ("block15", 1, "block15"), ("block9:12", -1, "block8"),
])
def test_layers_step_deeper_and_shallower(spec, delta, want):
    order = ["stem"] + [f"block{i}" for i in range(16)]
    assert shift_layers(spec, order, delta) == want


def test_live_stage_carries_out_dream_commands():
    from streamdream import models
    from streamdream.live.stage import LiveStage
    from streamdream.presets import build_config

    config = build_config("clouds", {"dream": {"width": 64, "device": "cpu", "octaves": 1, "iterations": 1}})
    warnings = []
    stage = LiveStage(config, ["clouds", "deep", "strokes"], {"device": "cpu", "width": 64}, warn=warnings.append)
    assert stage.looks.wait(120)
    stage.select("clouds")
    image = np.random.default_rng(0).integers(0, 255, (36, 64, 3), dtype=np.uint8)
    frame = lambda: stage.next(image, None)  # commands take effect before the next frame
    stage.control(Command("strength", 1.25))
    stage.control(Command("strength", 1.25))
    assert stage.stream.strength == pytest.approx(1.5625)
    stage.control(Command("set_strength", 50))
    assert stage.stream.strength == 10.0
    stage.control(Command("preset", 1))
    frame()
    assert stage.name == "deep" and stage.switches == 1
    stage.control(Command("preset", -2))
    frame()
    assert stage.name == "strokes"
    stage.control(Command("preset_index", 8))  # no ninth preset: nothing happens
    frame()
    assert stage.name == "strokes" and stage.switches == 2
    before = stage.config.dream.layers
    stage.control(Command("layer", 1))
    frame()
    assert stage.config.dream.layers == shift_layers(before, list(models.get_spec("lite0").layers), 1)
    stage.control(Command("preset_index", "nonesuch"))
    assert warnings and "nonesuch" in warnings[-1]
    detail = frame()
    assert detail.shape == image.shape and detail.dtype == np.float32


def test_a_burst_of_switches_is_one_switch_the_last_one_and_reads_no_file(monkeypatch):
    from streamdream import models, presets
    from streamdream.live.stage import LiveStage
    from streamdream.media import images
    from streamdream.presets import build_config

    config = build_config("clouds", {"dream": {"width": 64, "device": "cpu", "octaves": 1, "iterations": 1}})
    stage = LiveStage(config, ["clouds", "deep", "strokes"], {"device": "cpu", "width": 64})
    assert stage.looks.wait(120)
    stage.select("clouds")

    def read(*args, **kwargs):
        raise AssertionError("a file was read mid-show")

    for module, name in ((presets, "read_preset"), (models, "load_network"), (models.weights, "load_network"),
                         (images, "read_image")):
        monkeypatch.setattr(module, name, read)
    for _ in range(1000):
        stage.control(Command("preset", 1))
    stage.control(Command("layer", 1))
    stage.next(np.zeros((36, 64, 3), np.uint8), None)
    # 1000 steps round three presets from clouds end on deep, with deep's layers one deeper
    assert stage.name == "deep" and stage.switches == 2
    assert stage.config.dream.layers == shift_layers(stage.looks.get("deep")[0].dream.layers,
                                                     list(models.get_spec("lite0").layers), 1)


def test_next_preset_steps_past_one_that_cannot_load(tmp_path):
    from streamdream.live.stage import LiveStage
    from streamdream.presets import build_config

    broken = tmp_path / "broken.toml"
    broken.write_text('[dream]\nmodel = "googlenet"\nweights = "/nowhere/googlenet.pth"\n')
    config = build_config("clouds", {"dream": {"width": 64, "device": "cpu", "octaves": 1, "iterations": 1}})
    warnings = []
    stage = LiveStage(config, ["clouds", str(broken), "deep"], {"device": "cpu", "width": 64}, warn=warnings.append)
    assert stage.looks.wait(120)
    # named at the start, before anyone reaches for it
    assert any("broken.toml is not available" in w for w in warnings)
    stage.select("clouds")
    stage.control(Command("preset", 1))
    stage.next(np.zeros((36, 64, 3), np.uint8), None)
    assert stage.name == "deep"

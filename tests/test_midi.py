"""MIDI: a controller's messages (made with mido, injected: CI has no controller) become the
show's commands through the map, with soft takeover, encoders, 14-bit CC, pads and learn."""

import sys
import threading
import time
import types

import pytest

from streamdream.commands import Command, ControlChannel
from streamdream.errors import UsageError
from streamdream.live.midi import Control, MidiControl, MidiMapper, default_map, read_map, write_map

mido = pytest.importorskip("mido")
LAYERS = [f"block{k}" for k in range(16)]


def mapper(mapping=None, **kw):
    sent = []
    return MidiMapper(mapping or default_map(), LAYERS, sent.append, say=lambda m: None, **kw), sent


def cc(number, value, channel=0):
    return mido.Message("control_change", control=number, value=value, channel=channel)


def test_an_absolute_knob_takes_over_softly():
    m, sent = mapper()
    m.take(cc(1, 0))  # the knob is far from the strength it is to move: nothing yet
    m.take(cc(1, 30))
    assert sent == []
    m.take(cc(1, 63))  # it reaches the value (0.5, strength 1): from now on it steers
    m.take(cc(1, 127))
    assert sent[0] == Command("set_strength", pytest.approx(1.0, abs=0.05)) and sent[-1] == Command("set_strength", 10.0)
    m.take(cc(1, 5, channel=3))  # another channel: not this knob
    assert len(sent) == 2


def test_encoders_fine_knobs_and_pads():
    mapping = {**default_map(), "layer": Control("cc", 2, mode="relative"), "colors": Control("cc", 3, fine=True)}
    m, sent = mapper(mapping)
    m.take(cc(2, 1))
    m.take(cc(2, 1))
    m.take(cc(2, 127))  # +1, +1, -1 from the middle
    assert sent == [Command("layer", "block8")] * 3  # relative moves need no takeover
    assert m.values["layer"] == pytest.approx(0.5 + 1 / 127)
    sent.clear()
    m.values["colors"] = 0.0
    m.take(cc(3, 0))
    m.take(cc(35, 0))  # 14-bit 0: engages at 0
    m.take(cc(3, 64))
    m.take(cc(35, 1))
    assert sent[-1] == Command("colors", pytest.approx((64 * 128 + 1) / 16383, abs=1e-4))
    sent.clear()
    m.take(mido.Message("note_on", note=36, velocity=100))
    m.take(mido.Message("note_on", note=36, velocity=0))  # a note-off spelt as note-on
    m.take(mido.Message("note_on", note=41, velocity=90))
    assert sent == [Command("preset_index", 0), Command("freeze")]


def test_learn_binds_the_next_control_and_saves_the_map(tmp_path):
    path = tmp_path / "map.toml"
    m, sent = mapper(save=path)
    m.arm("strength")
    m.take(cc(20, 40, channel=2))  # this one move binds it
    assert m.mapping["strength"] == Control("cc", 20, 2) and sent == []
    m.arm("freeze")
    m.take(mido.Message("note_on", note=36, velocity=100))  # preset1's pad becomes freeze
    assert "preset1" not in m.mapping and m.mapping["freeze"] == Control("note", 36)
    again = read_map(path)
    assert again == m.mapping
    m.take(cc(20, 64, channel=2))
    assert sent[-1].name == "set_strength"


def test_bad_maps_are_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[knobs]\nstrenght = { cc = 1 }\n")
    with pytest.raises(UsageError, match="did you mean strength"):
        read_map(bad)
    bad.write_text("[knobs]\nstrength = { cc = 200 }\n")
    with pytest.raises(UsageError, match="0 to 127"):
        read_map(bad)
    bad.write_text("[pads]\nfreeze = { cc = 1, note = 2 }\n")
    with pytest.raises(UsageError, match="cc = N or note = N"):
        read_map(bad)
    write_map(default_map(), tmp_path / "default.toml")
    assert read_map(tmp_path / "default.toml") == default_map()


class FakePort:
    def __init__(self, queue):
        self.queue = queue

    def iter_pending(self):
        while self.queue:
            yield self.queue.pop(0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def fake_mido(names, queue):
    module = types.SimpleNamespace()
    module.get_input_names = lambda: list(names)
    module.open_input = lambda name: FakePort(queue) if name in names else (_ for _ in ()).throw(OSError("gone"))
    return module


def test_a_missing_port_lists_the_ports_and_an_unplugged_one_is_found_again(monkeypatch):
    names, queue = ["nanoKONTROL2 MIDI 1"], []
    monkeypatch.setitem(sys.modules, "mido", fake_mido(names, queue))
    monkeypatch.setattr("streamdream.live.midi.os.path.exists", lambda path: True)
    channel = ControlChannel()
    with pytest.raises(UsageError, match="have nanoKONTROL2 MIDI 1"):
        MidiControl(channel, mapper()[0], "Launch Control")
    said = []
    m = MidiMapper(default_map(), LAYERS, channel.put, say=said.append)
    control = MidiControl(channel, m, "nano", said.append, retry=0.05)  # a part of the name is enough
    queue.append(mido.Message("note_on", note=41, velocity=100))
    deadline = time.monotonic() + 10
    while not any(c.name == "freeze" for c in channel.drain()):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    names.clear()  # unplugged
    while not any("lost" in s for s in said):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    names.append("nanoKONTROL2 MIDI 1")  # and back
    while not any("back" in s for s in said):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    queue.append(mido.Message("note_on", note=43, velocity=100))
    while not any(c.name == "snapshot" for c in channel.drain()):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    control.close()


def test_a_knob_reaches_the_dream():
    from streamdream.live.show import WebcamOptions, run_webcam
    from streamdream.presets import build_config

    config = build_config(None, {"dream": {"width": 96, "octaves": 1, "iterations": 1, "layers": "block3", "seed": 1,
                                           "device": "cpu"}})
    channel = ControlChannel()
    m = MidiMapper(default_map(), LAYERS, channel.put, say=lambda s: None)
    result, looks = {}, []
    show = threading.Thread(target=lambda: result.update(r=run_webcam(
        WebcamOptions("test", window=False, duration=120), config, say=lambda s: None,
        status=lambda stats, look: looks.append(look), commands=channel)))
    show.start()
    for value in (64, 100, 127):
        m.take(cc(1, value))
    while not (looks and looks[-1].endswith("x10.00")):  # the next dreamt frame carries it
        assert show.is_alive(), looks[-1:]
        time.sleep(0.02)
    channel.put(Command("quit"))
    show.join(timeout=60)
    assert result["r"].look.endswith("x10.00")


def test_knobs_four_to_eight_are_a_schedules_variables():
    from streamdream.commands import Command
    from streamdream.presets import build_config
    from streamdream.schedule.plan import build_timeline

    m, sent = mapper()
    m.take(cc(5, 0))  # knob 5 at rest: soft takeover picks up at 0
    m.take(cc(5, 127))
    assert sent[-1] == Command("knob", ("knob5", 1.0))
    timeline = build_timeline(build_config(None, {"schedule": {"strength": "0:(0.5 + 2*knob5)"}}), "webcam", 25.0)
    assert timeline.values(0, 0.0)["strength"] == pytest.approx(0.5)
    timeline.set_knob(*sent[-1].value)  # what the show does with the command
    assert timeline.values(1, 0.04)["strength"] == pytest.approx(2.5)

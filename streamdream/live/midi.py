"""`webcam --midi`: a MIDI controller's knobs and pads become commands on the show's channel, as
keys and OSC do. mido with python-rtmidi (the `live` extra) reads the port on its own thread.

A map ties controls to what they steer. The default suits a generic 8-knob, 8-pad controller
(knobs on CC 1-8, pads on notes 36-43, channel 1): knobs 1-3 steer strength, layer and colours,
knobs 4-8 are a schedule's knob4 ... knob8 (`--schedule strength="0:(0.5 + 2*knob4)"`), each 0 to
1. `--midi-map FILE.toml` loads another:

    [knobs]                      # a control that sets a value
    strength = { cc = 1 }        # absolute, 0-127
    layer = { cc = 2, mode = "relative" }   # an encoder: 1-63 up, 65-127 down
    colors = { cc = 3, fine = true }         # 14-bit: CC 3 with its LSB on CC 35
    [pads]                       # a control that does something when pressed
    preset1 = { note = 36 }
    freeze = { cc = 64 }         # a CC button: pressed above 63

Absolute knobs take over softly: a knob moves its value only once it has passed it, so a
knob left elsewhere does not make the dream jump. Learn binds the next control moved to an
armed parameter and saves the map.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..commands import Command, ControlChannel
from ..errors import UsageError, did_you_mean

# knobs 1 to 3 steer the dream, the rest are a schedule's variables (knob4 ... knob8 in its expressions)
KNOBS = ("strength", "layer", "colors") + tuple(f"knob{k}" for k in range(1, 9))
PADS = tuple(f"preset{k}" for k in range(1, 10)) + ("freeze", "record", "snapshot", "next", "previous")
PICKUP = 0.03  # a soft-takeover knob takes over within this of its parameter's value


@dataclass(frozen=True)
class Control:
    kind: str  # "cc" or "note"
    number: int
    channel: int = 0  # 0-15 (MIDI channel 1-16)
    mode: str = "absolute"  # knobs: absolute or relative
    fine: bool = False  # knobs: 14-bit, the LSB on CC number + 32


def default_map() -> dict[str, Control]:
    """An 8-knob, 8-pad controller: knobs 1-3 on CC 1-3 strength, layer and colours, knobs 4-8
    on CC 4-8 a schedule's knob4 ... knob8; pads on notes 36-43 presets 1-5, freeze, record, snapshot."""
    out = {name: Control("cc", k + 1) for k, name in enumerate(KNOBS[:3])}
    out.update({f"knob{k}": Control("cc", k) for k in range(4, 9)})
    pads = ["preset1", "preset2", "preset3", "preset4", "preset5", "freeze", "record", "snapshot"]
    out.update({name: Control("note", 36 + k) for k, name in enumerate(pads)})
    return out


def read_map(path: str | Path) -> dict[str, Control]:
    """A map file (see the module's text); UsageError naming the line's trouble."""
    path = Path(path)
    try:
        table = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the MIDI map {path}: {exc}", setting="midi_map") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"the MIDI map {path} is not valid TOML: {exc}", setting="midi_map") from None
    out: dict[str, Control] = {}
    for section, names in (("knobs", KNOBS), ("pads", PADS)):
        for name, spec in table.pop(section, {}).items():
            if name not in names:
                raise UsageError(f"MIDI map {path}: no {section[:-1]} '{name}'{did_you_mean(name, names)}; "
                                 f"have {', '.join(names)}", setting="midi_map")
            out[name] = _control(spec, f"MIDI map {path}, {section}.{name}")
    if table:
        raise UsageError(f"MIDI map {path}: unknown table {next(iter(table))}; a map has [knobs] and [pads]",
                         setting="midi_map")
    return out


def _control(spec, where: str) -> Control:
    if not isinstance(spec, dict) or len({"cc", "note"} & set(spec)) != 1:
        raise UsageError(f"{where}: give cc = N or note = N", setting="midi_map")
    kind = "cc" if "cc" in spec else "note"
    number, channel = spec[kind], spec.get("channel", 1)
    mode, fine = spec.get("mode", "absolute"), spec.get("fine", False)
    if not isinstance(number, int) or not 0 <= number <= 127:
        raise UsageError(f"{where}: {kind} must be 0 to 127, got {number!r}", setting="midi_map")
    if not isinstance(channel, int) or not 1 <= channel <= 16:
        raise UsageError(f"{where}: channel must be 1 to 16, got {channel!r}", setting="midi_map")
    if mode not in ("absolute", "relative") or not isinstance(fine, bool) or (fine and number > 31):
        raise UsageError(f"{where}: mode is absolute or relative, and fine (14-bit) needs cc 0 to 31", setting="midi_map")
    return Control(kind, number, channel - 1, mode, fine)


def write_map(mapping: dict[str, Control], path: str | Path) -> None:
    lines = ["# streamdream MIDI map (see streamdream/live/midi.py)", "[knobs]"]
    for section, names in (("knobs", KNOBS), ("pads", PADS)):
        if section == "pads":
            lines.append("[pads]")
        for name in names:
            c = mapping.get(name)
            if c is None:
                continue
            extra = (f', mode = "{c.mode}"' if c.mode != "absolute" else "") + (", fine = true" if c.fine else "")
            lines.append(f"{name} = {{ {c.kind} = {c.number}, channel = {c.channel + 1}{extra} }}")
    path = Path(path)
    temporary = path.with_suffix(".tmp")
    temporary.write_text("\n".join(lines) + "\n")
    temporary.replace(path)


class MidiMapper:
    """MIDI messages (mido's) -> commands, by a map. `layers` are the model's layers the layer
    knob moves along; `values` start each knob's parameter (0-1) for soft takeover."""

    def __init__(self, mapping: dict[str, Control], layers: list[str], put: Callable[[Command], None],
                 values: dict[str, float] | None = None, save: Path | None = None, say=print):
        self.mapping, self.layers, self.put, self.save, self.say = dict(mapping), layers, put, save, say
        self.values = {"strength": 0.5, "layer": 0.5, "colors": 1.0, **{f"knob{k}": 0.0 for k in range(1, 9)},
                       **(values or {})}
        self.engaged: dict[str, bool] = {}
        self._msb: dict[tuple[int, int], int] = {}
        self.armed: str | None = None

    def arm(self, name: str | None = None) -> str:
        """Learn: the next control moved steers `name` (None: the next parameter in turn)."""
        order = [*KNOBS, *PADS]
        if name is None:
            name = order[(order.index(self.armed) + 1) % len(order)] if self.armed in order else order[0]
        if name not in order:
            raise UsageError(f"nothing called {name} to learn{did_you_mean(name, order)}", setting="midi_learn")
        self.armed = name
        self.say(f"MIDI learn: move a control for {name}")
        return name

    def take(self, message) -> None:
        """One message from the port."""
        kind = {"control_change": "cc", "note_on": "note"}.get(message.type)
        if kind is None:
            return
        number = message.control if kind == "cc" else message.note
        value = message.value if kind == "cc" else message.velocity
        if self.armed is not None and (kind == "note" and value > 0 or kind == "cc"):
            self._learn(kind, number, message.channel)
            return
        for name, c in self.mapping.items():
            if c.channel != message.channel or c.kind != kind:
                continue
            if c.number == number:
                self._act(name, c, value, None)
            elif c.fine and kind == "cc" and number == c.number + 32:
                self._act(name, c, value, "lsb")

    def _learn(self, kind: str, number: int, channel: int) -> None:
        name, self.armed = self.armed, None
        # a control steers one thing: taken from what it steered before
        for other, c in list(self.mapping.items()):
            if (c.kind, c.number, c.channel) == (kind, number, channel):
                del self.mapping[other]
        self.mapping[name] = Control(kind, number, channel)
        self.engaged.pop(name, None)
        self.say(f"MIDI learn: {name} is {kind} {number} on channel {channel + 1}")
        if self.save is not None:
            write_map(self.mapping, self.save)
            self.say(f"saved {self.save}")

    def _act(self, name: str, c: Control, value: int, part: str | None) -> None:
        if name in PADS:
            if value > 63 or (c.kind == "note" and value > 0):
                self.put(_pad(name))
            return
        if c.mode == "relative":
            step = value if value < 64 else value - 128  # two's complement: 1 up, 127 down
            level = min(1.0, max(0.0, self.values[name] + step / 127))
        elif c.fine:
            key = (c.channel, c.number)
            if part == "lsb":
                level = ((self._msb.get(key, 0) << 7) + value) / 16383
            else:
                self._msb[key] = value
                level = (value << 7) / 16383
        else:
            level = value / 127
        if c.mode == "absolute" and not self.engaged.get(name):
            # soft takeover: wait until the knob reaches the value it is to move
            if abs(level - self.values[name]) > PICKUP:
                return
            self.engaged[name] = True
        self.values[name] = level
        self.put(self._knob(name, level))

    def _knob(self, name: str, level: float) -> Command:
        if name == "strength":
            return Command("set_strength", round(10 ** (2 * level - 1), 4))  # 0.1 to 10, 1 in the middle
        if name == "layer":
            return Command("layer", self.layers[min(len(self.layers) - 1, int(level * len(self.layers)))])
        if name.startswith("knob"):
            return Command("knob", (name, round(level, 4)))
        return Command("colors", round(level, 4))


def _pad(name: str) -> Command:
    if name.startswith("preset"):
        return Command("preset_index", int(name[6:]) - 1)
    return {"next": Command("preset", 1), "previous": Command("preset", -1)}.get(name, Command(name))


class MidiControl:
    """The port `port` (None: the first one) read on its own thread into `channel`, found again
    when it is unplugged and plugged back in."""

    def __init__(self, channel: ControlChannel, mapper: MidiMapper, port: str | None = None,
                 say: Callable[[str], None] = print, retry: float = 2.0):
        try:
            import mido
        except ImportError:
            raise UsageError('MIDI needs mido and python-rtmidi: pip install "streamdream[live]"', setting="midi") from None
        self.mido, self.mapper, self.say, self.retry = mido, mapper, say, retry
        names = self._names()
        if port is None and not names:
            raise UsageError("no MIDI input port; plug a controller in", setting="midi")
        if port is not None and port not in names:
            close = [n for n in names if port.lower() in n.lower()]
            if len(close) != 1:
                raise UsageError(f"no MIDI input {port!r}; have {', '.join(names) or 'none'}", setting="midi")
            port = close[0]
        self.port = port or names[0]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="midi", daemon=True)
        self._thread.start()
        say(f"MIDI from {self.port}")

    def _names(self) -> list[str]:
        if sys.platform.startswith("linux") and not os.path.exists("/dev/snd/seq"):
            return []  # no ALSA sequencer: asking would only print ALSA's complaint
        try:
            return list(self.mido.get_input_names())
        except Exception:  # no MIDI system at all (no ALSA sequencer)
            return []

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                with self.mido.open_input(self.port) as inport:
                    checked = time.monotonic()
                    while not self._stop.is_set():
                        for message in inport.iter_pending():
                            self.mapper.take(message)
                        if time.monotonic() - checked > self.retry:
                            checked = time.monotonic()
                            if self.port not in self._names():
                                raise OSError("unplugged")
                        time.sleep(0.002)
            except (OSError, IOError, RuntimeError) as exc:
                self.say(f"MIDI {self.port} lost ({exc}); looking for it again")
                while not self._stop.is_set() and self.port not in self._names():
                    time.sleep(self.retry)
                if not self._stop.is_set():
                    self.say(f"MIDI {self.port} back")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


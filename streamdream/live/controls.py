"""How a performer steers a live run: keys in the window and OSC messages become `Command`s
on the run's `ControlChannel`."""

from __future__ import annotations

import threading
from typing import Callable

from ..commands import STRENGTH_RANGE, Command, ControlChannel

KEYS: dict[str, Command] = {
    "q": Command("quit"),
    "Esc": Command("quit"),
    "n": Command("preset", 1),
    "p": Command("preset", -1),
    **{str(i): Command("preset_index", i - 1) for i in range(1, 10)},
    "+": Command("strength", 1.25),
    "=": Command("strength", 1.25),  # + without shift on most keyboards
    "-": Command("strength", 0.8),
    "[": Command("layer", 1),
    "]": Command("layer", -1),
    "space": Command("freeze"),
    "f": Command("fullscreen"),
    "r": Command("record"),
    "s": Command("snapshot"),
    "h": Command("hud"),
    "t": Command("tap"),  # tap tempo: beats (b, beat) follow the taps
    "l": Command("learn"),  # MIDI learn: the next control moved steers the next parameter
}


def key_command(code: int) -> Command | None:
    """The command for an OpenCV waitKey code (-1: no key), or None."""
    if code < 0:
        return None
    code &= 0xFF
    name = {27: "Esc", 32: "space"}.get(code, chr(code))
    return KEYS.get(name)


OSC_ADDRESSES = {
    "/streamdream/preset": "a preset name or index (0-based); +1/-1 with /streamdream/preset/next, /prev",
    "/streamdream/preset/next": "next preset",
    "/streamdream/preset/prev": "previous preset",
    "/streamdream/strength": "strength factor, 0.1 to 10 (1 = the preset's)",
    "/streamdream/layer": "a layer spec (block7) or a step (+1 deeper, -1 shallower)",
    "/streamdream/freeze": "1 freeze, 0 run",
    "/streamdream/record": "start or stop recording",
    "/streamdream/snapshot": "save the picture shown",
    "/streamdream/knob/N": "knob N (1 to 8) of a schedule (knob1 ... knob8 in its expressions), 0 to 1",
}


def osc_command(address: str, args: tuple) -> Command:
    """The command an OSC message asks for; ValueError (with the reason) when it makes no sense."""
    one = args[0] if len(args) == 1 else None
    if address == "/streamdream/preset/next":
        return Command("preset", 1)
    if address == "/streamdream/preset/prev":
        return Command("preset", -1)
    if address in ("/streamdream/record", "/streamdream/snapshot") and not args:
        return Command(address.rsplit("/", 1)[1])
    if len(args) != 1:
        raise ValueError(f"{address} takes one argument, got {len(args)}")
    if address.startswith("/streamdream/knob/"):
        number = address.rsplit("/", 1)[1]
        if number not in [str(k) for k in range(1, 9)]:
            raise ValueError(f"{address}: the knobs are /streamdream/knob/1 to /streamdream/knob/8")
        if isinstance(one, (int, float)) and not isinstance(one, bool) and 0 <= one <= 1:
            return Command("knob", (f"knob{number}", float(one)))
        raise ValueError(f"{address} takes a number from 0 to 1, got {one!r}")
    if address == "/streamdream/preset":
        if isinstance(one, str):
            return Command("preset_index", one)
        if isinstance(one, int) and not isinstance(one, bool):
            return Command("preset_index", one)
        raise ValueError("/streamdream/preset takes a name or an index")
    if address == "/streamdream/strength":
        low, high = STRENGTH_RANGE
        if isinstance(one, (int, float)) and not isinstance(one, bool) and low <= one <= high:
            return Command("set_strength", float(one))
        raise ValueError(f"/streamdream/strength takes a number from {low:g} to {high:g}, got {one!r}")
    if address == "/streamdream/layer":
        if isinstance(one, str) and one:
            return Command("layer", one)
        if isinstance(one, int) and not isinstance(one, bool) and one in (-1, 1):
            return Command("layer", one)
        raise ValueError(f"/streamdream/layer takes a layer name or +1/-1, got {one!r}")
    if address == "/streamdream/freeze":
        if isinstance(one, (int, float, bool)):
            return Command("freeze", bool(one))
        raise ValueError(f"/streamdream/freeze takes 0 or 1, got {one!r}")
    raise ValueError(f"unknown address {address}; known: {', '.join(OSC_ADDRESSES)}")


class OscControl:
    """An OSC server (python-osc, UDP) on its own thread that turns messages into commands.
    A bad message is reported through `warn` and dropped, never raised."""

    def __init__(self, channel: ControlChannel, port: int, host: str = "127.0.0.1",
                 warn: Callable[[str], None] = lambda message: None):
        try:
            from pythonosc.dispatcher import Dispatcher
            from pythonosc.osc_server import BlockingOSCUDPServer
        except ImportError:
            from ..errors import UsageError

            raise UsageError('OSC needs python-osc; install it with: pip install "streamdream[live]"', setting="osc") from None
        self.channel, self.warn = channel, warn

        def on_message(address: str, *args) -> None:
            try:
                channel.put(osc_command(address, args))
            except ValueError as exc:
                warn(f"OSC message ignored: {exc}")

        dispatcher = Dispatcher()
        dispatcher.set_default_handler(on_message)

        class Server(BlockingOSCUDPServer):
            # one thread takes the datagrams in turn (a thread each, as python-osc's threading
            # server makes, lets a flood start thousands); a datagram up to UDP's largest, so none
            # is cut short unseen
            max_packet_size = 65535

            def handle_error(self, request, client_address) -> None:
                # a datagram that is not OSC: one line, not socketserver's traceback
                import sys

                warn(f"OSC datagram from {client_address[0]} ignored: {sys.exc_info()[1] or 'not OSC'}")

        try:
            self.server = Server((host, port), dispatcher)
        except OSError as exc:
            from ..errors import UsageError

            raise UsageError(f"cannot listen for OSC on {host}:{port} ({exc.strerror}); pick another `osc` port", setting="osc") from None
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self._serve, name="osc", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            self.server.serve_forever(poll_interval=0.1)
        except Exception as exc:  # a broken datagram must not take the show down
            self.warn(f"OSC server stopped: {exc}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

"""SIGTERM and SIGHUP stop a run the way Ctrl-C does, so `timeout`, `docker stop`, systemd and a
closed terminal all leave a finalised, playable output; and a second signal cannot cut the
finalising of a file short.

`Terminated` is a KeyboardInterrupt, so every path that already finishes cleanly on Ctrl-C
(the run loop, the sinks) does the same for these signals without knowing about them.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

HANDLED = (signal.SIGTERM, signal.SIGHUP)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived (`signum` says which)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def signal_number(exc: BaseException) -> int:
    """The signal behind an interruption: SIGINT for a plain KeyboardInterrupt."""
    return getattr(exc, "signum", signal.SIGINT)


def exit_code(signum: int) -> int:
    """The shell's convention: 128 + the signal (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP)."""
    return 128 + int(signum)


def _raise(signum, frame) -> None:
    raise Terminated(signum)


_handling = threading.Event()  # set inside `handled`


_stopping = threading.Event()  # set by `ignore_further`: the process is winding down


@contextmanager
def handled(exiting: bool = False):
    """Within the block, SIGTERM and SIGHUP raise `Terminated` in the main thread (and all
    three signals' handlers are put back as they were after it). `exiting`: the process ends
    after the block (the command line), so once a signal stopped the run, further ones stay
    ignored to the end: a second Ctrl-C must not cut the exit short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, *HANDLED)}
    for s in HANDLED:
        if previous[s] is not signal.SIG_IGN:  # `nohup` asked for SIGHUP to be ignored: it stays so
            signal.signal(s, _raise)
    _handling.set()
    _stopping.clear()
    try:
        yield
    finally:
        _handling.clear()
        for s, handler in previous.items():
            signal.signal(s, signal.SIG_IGN if exiting and _stopping.is_set() else handler)


def ignore_further() -> None:
    """After the first interruption there is nothing left to ask for but a finished file: a
    second Ctrl-C while the threads wind down must not cut the finalising short. Only within
    `handled`, which puts the handlers back."""
    if _handling.is_set() and threading.current_thread() is threading.main_thread():
        _stopping.set()
        for s in (signal.SIGINT, *HANDLED):
            signal.signal(s, signal.SIG_IGN)


@contextmanager
def _replaced(replacement):
    """Within the block, each of SIGINT, SIGTERM and SIGHUP whose handler `replacement(handler)`
    turns into another (not None) takes that one, and gets its own back after the block. In the
    main thread only, where Python takes signals; a handler set outside Python (`getsignal` says
    None) is left alone, since it could not be put back."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for s in (signal.SIGINT, *HANDLED):
        handler = signal.getsignal(s)
        new = None if handler is None else replacement(handler)
        if new is not None:
            previous[s] = signal.signal(s, new)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextmanager
def deferred():
    """Within the block, SIGINT, SIGTERM and SIGHUP are ignored: an impatient second Ctrl-C must
    not leave a file half finalised, and a finalised file is what the first one asked for."""
    with _replaced(lambda handler: signal.SIG_IGN):
        yield


@contextmanager
def held():
    """Within the block, SIGINT, SIGTERM and SIGHUP wait for its end, then act as they would have
    (raise, or end the process where nothing handles them): a frame goes into a file whole, since
    an exception between the encoder handing out a frame's packets and the file taking them loses
    that frame after its audio is written. Signals ignored before the block stay ignored."""
    arrived: list[int] = []

    def keep(signum, frame) -> None:
        arrived.append(signum)

    try:
        with _replaced(lambda handler: None if handler is signal.SIG_IGN else keep):
            yield
    finally:
        for s in dict.fromkeys(arrived):
            signal.raise_signal(s)

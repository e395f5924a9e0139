"""The text of one schedule: `"0:(1.0), 4.8s:(2.5), 32b:(1.0)"`, keyframes at frames, seconds
(`s`) or beats (`b`), each value in parentheses (commas inside them are the value's own), with
an optional `linear:`, `step:` or `smooth:` in front choosing how values between keyframes are
found. Parsed here into a `Track`; what the values mean is timeline.py's."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import UsageError

INTERPOLATIONS = ("linear", "step", "smooth")
UNITS = {"": "f", "f": "f", "s": "s", "b": "b"}  # frames, seconds, beats

MAX_TEXT = 100_000  # characters: a schedule is typed or generated, not a book

_TIME = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)")
_PREFIX = re.compile(r"\s*([a-zA-Z]+)\s*:")


class ScheduleError(UsageError):
    """A schedule that cannot be used: the key, where in its text, and what was expected."""

    def __init__(self, key: str, text: str, offset: int | None, problem: str):
        where = f", character {offset + 1} of {_quoted(text)}" if offset is not None else ""
        super().__init__(f"schedule {key}{where}: {problem}", setting="schedule")
        self.key, self.offset = key, offset


def _quoted(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")


@dataclass(frozen=True)
class Keyframe:
    at: float  # when, in `unit`
    unit: str  # "f" frames, "s" seconds, "b" beats
    value: str  # the text inside the parentheses
    offset: int  # where that text starts in the schedule's text (0-based)
    time_offset: int  # where the time starts


@dataclass(frozen=True)
class Track:
    key: str
    text: str
    keyframes: tuple[Keyframe, ...]
    interpolation: str = "linear"

    def error(self, offset: int | None, problem: str) -> ScheduleError:
        return ScheduleError(self.key, self.text, offset, problem)


def parse_track(key: str, text: str) -> Track:
    """The keyframes of one schedule's text; ScheduleError naming the place when it is malformed."""
    fail = lambda offset, problem: ScheduleError(key, text, offset, problem)
    if not isinstance(text, str):
        raise ScheduleError(key, str(text), None, f"must be text like \"0:(1.0), 4.8s:(2.5)\", got {type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise ScheduleError(key, text, None, f"{len(text)} characters; a schedule has at most {MAX_TEXT}")
    interpolation, pos = "linear", 0
    prefix = _PREFIX.match(text)
    if prefix and not prefix.group(1).isdigit():
        word = prefix.group(1)
        if word not in INTERPOLATIONS:
            raise fail(prefix.start(1), f"'{word}' is not an interpolation; write linear:, step: or smooth: "
                                        f"before the keyframes")
        interpolation, pos = word, prefix.end()
    keyframes: list[Keyframe] = []
    n = len(text)
    while True:
        pos = _skip(text, pos)
        if pos >= n:
            if not keyframes:
                raise fail(pos if text.strip() else None, "no keyframes; write e.g. \"0:(1.0), 10s:(2.0)\"")
            break
        match = _TIME.match(text, pos)
        if not match:
            raise fail(pos, "expected a keyframe's time: a frame number (12), seconds (4.8s) or beats (32b)")
        unit = match.group(2)
        if unit not in UNITS:
            raise fail(match.start(2), f"'{unit}' is not a unit; a time is frames (12), seconds (4.8s) or beats (32b)")
        at = float(match.group(1))
        pos = _skip(text, match.end())
        if pos >= n or text[pos] != ":":
            raise fail(pos, "expected a colon after the keyframe's time, as in 10:(1.5)")
        pos = _skip(text, pos + 1)
        if pos >= n or text[pos] != "(":
            raise fail(pos, "expected the value in parentheses after the colon, as in 10:(1.5)")
        end = _closing(text, pos)
        if end is None:
            raise fail(pos, "this ( is never closed")
        keyframes.append(Keyframe(at, UNITS[unit], text[pos + 1:end], pos + 1, match.start()))
        pos = _skip(text, end + 1)
        if pos < n and text[pos] != ",":
            raise fail(pos, "expected a comma between keyframes")
        pos += 1
    for before, after in zip(keyframes, keyframes[1:]):
        if after.unit == before.unit and after.at <= before.at:
            raise fail(after.time_offset, f"keyframes out of order: {after.at:g}{after.unit} comes after "
                                          f"{before.at:g}{before.unit}")
    return Track(key, text, tuple(keyframes), interpolation)


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _closing(text: str, start: int) -> int | None:
    depth = 0
    for k in range(start, len(text)):
        if text[k] == "(":
            depth += 1
        elif text[k] == ")":
            depth -= 1
            if depth == 0:
                return k
    return None

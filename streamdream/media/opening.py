"""Opening a media file to read it, with one line that says what is wrong where FFmpeg cannot."""

from __future__ import annotations

import struct
from pathlib import Path

from ..errors import UsageError


def open_media(path: Path, role: str, kind: str = "file"):
    """PyAV's container of `path`, to read; UsageError when FFmpeg cannot open it: a recording cut
    off before it was saved (`lacks_index`), or not a `kind` (a file, a video file) it reads."""
    import av

    try:
        return av.open(str(path), mode="r")
    except av.error.FFmpegError as exc:
        if lacks_index(path):
            raise UsageError(f"{role} {path} was cut off before it was finished: its pictures and sound are there "
                             "but not the index that finds them (an MP4/MOV 'moov' box, written last, as when a "
                             "camera or phone stops recording without saving); rebuild it with a repair tool such "
                             "as untrunc, given a good file from the same camera") from None
        raise UsageError(f"{role} {path} is not a {kind} FFmpeg can read ({exc.strerror or exc})") from None


def lacks_index(path: Path) -> bool:
    """Whether `path` is an MP4/MOV (ISO base media) file with its media data but no 'moov' box,
    the index a player finds the frames by: what a recording cut off before it was saved leaves,
    and nothing FFmpeg can open. Reads only the headers of the boxes at the top level."""
    seen = set()
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            at = 0
            while at + 8 <= size:
                f.seek(at)
                length, kind = struct.unpack(">I4s", f.read(8))
                if length == 1 and at + 16 <= size:  # a 64-bit length follows the type
                    length = struct.unpack(">Q", f.read(8))[0]
                elif length == 0:  # the box runs to the end of the file
                    length = size - at
                if length < 8 or not kind.isascii():
                    return False  # not ISO base media, or damaged past knowing
                seen.add(kind)
                at += length
    except OSError:  # unreadable: FFmpeg's own reason says more
        return False
    return b"moov" not in seen and b"mdat" in seen and bool(seen & {b"ftyp", b"wide", b"free"})

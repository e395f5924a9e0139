"""Image sequences as video input: a folder of numbered pictures (a 3D render's, a scan's, an
export's frames) or a printf pattern naming them (`shot/frame_%04d.png`), read through FFmpeg's
image2 demuxer at a frame rate the caller gives, since the pictures carry none."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ..errors import UsageError

# the pictures a folder of frames is read from (an OpenEXR render's linear light is brought to
# sRGB as the frames are read, see video_in.rgb_of)
SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".dpx", ".tga", ".webp", ".exr")

# the frame rate a sequence is read at when none is given: a video file's most common one here
DEFAULT_RATE = Fraction(25)

NUMBERED = re.compile(r"^(.*?)(\d+)(\.[A-Za-z0-9]+)$")
PATTERN = re.compile(r"%(0\d+)?d")


@dataclass(frozen=True)
class Sequence:
    """The frames of an image sequence: `pattern` % n names frame n, for n from `first` to
    `first + count - 1`, every one of them there."""
    pattern: str
    first: int
    count: int

    def file(self, index: int) -> Path:
        """The picture of the `index`th frame (from 0)."""
        return Path(self.pattern % (self.first + index))


def is_sequence(path: str | Path) -> bool:
    """Whether `path` names an image sequence (a folder, or a printf pattern) rather than a file."""
    path = Path(path)
    return path.is_dir() or (not path.exists() and PATTERN.search(path.name) is not None)


def find_sequence(path: str | Path, role: str = "input") -> Sequence:
    """The image sequence a folder or a printf pattern names. UsageError, naming what to do, when
    it names no numbered pictures, or when a frame between the first and the last is missing
    (FFmpeg would end the film there, without a word)."""
    path = Path(path)
    if path.is_dir():
        folder, numbered = path, _numbered_in(path)
        if not numbered:
            raise UsageError(f"{role} {path} is a folder with no numbered pictures in it "
                             f"(frame_0001.png, ...: {', '.join(s[1:] for s in SUFFIXES)})")
        # the largest run of one name and suffix (a folder may hold a proxy or a thumbnail too)
        groups: dict[tuple[str, str], list[str]] = {}
        for prefix, digits, suffix in numbered:
            groups.setdefault((prefix, suffix), []).append(digits)
        (prefix, suffix), numbers = max(groups.items(), key=lambda item: len(item[1]))
        padded = any(d.startswith("0") and len(d) > 1 for d in numbers)
        width = min(len(d) for d in numbers)
        pattern = str(folder / f"{prefix.replace('%', '%%')}%{f'0{width}' if padded else ''}d{suffix}")
        found = sorted(int(d) for d in numbers)
    else:
        folder, spec = path.parent, PATTERN.search(path.name)
        if spec is None or not folder.is_dir():
            raise UsageError(f"{role} {path} does not exist")
        head, tail = path.name[:spec.start()], path.name[spec.end():]
        wanted = re.compile(re.escape(head) + r"(\d+)" + re.escape(tail) + "$")
        found = sorted(int(m.group(1)) for f in folder.iterdir() if (m := wanted.match(f.name)) and f.is_file()
                       and (path.name % int(m.group(1))) == f.name)
        if not found:
            raise UsageError(f"{role} {path} names no pictures in {folder}")
        pattern = str(path)
    sequence = Sequence(pattern, found[0], found[-1] - found[0] + 1)
    missing, empty = [], []
    for n in range(found[0], found[-1] + 1):
        picture = sequence.file(n - found[0])
        if not picture.is_file():
            missing.append(n)
        elif picture.stat().st_size == 0:
            # (FFmpeg ends the film at an empty picture too, also without a word, and every frame
            # after it was lost: a render still being written, or one that failed, leaves such files)
            empty.append(n)
    if missing:
        raise UsageError(f"{role} {path}: {len(missing)} frame{'s' if len(missing) > 1 else ''} missing "
                         f"between {sequence.file(0).name} and {sequence.file(sequence.count - 1).name}, the "
                         f"first {Path(pattern % missing[0]).name}; render them again, or number the frames "
                         f"without a gap")
    if empty:
        raise UsageError(f"{role} {path}: {len(empty)} picture{'s' if len(empty) > 1 else ''} empty (0 bytes), "
                         f"the first {Path(pattern % empty[0]).name}; render or copy "
                         f"{'it' if len(empty) == 1 else 'them'} again")
    return sequence


def _numbered_in(folder: Path) -> list[tuple[str, str, str]]:
    # (name before the number, the number as written, suffix) of each picture in the folder
    found = []
    for entry in folder.iterdir():
        match = NUMBERED.match(entry.name)
        if match and match.group(3).lower() in SUFFIXES and entry.is_file():
            found.append(match.groups())
    return found


def sequence_rate(value) -> Fraction:
    """A frame rate given as a number or a fraction's text ("24", "23.976", "24000/1001") as the
    exact Fraction a video stream keeps: 23.976 and 29.97 are NTSC's 24000/1001 and 30000/1001,
    as an editor means them. UsageError outside (0, 1000]."""
    try:
        rate = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        raise UsageError(f"cannot read the frame rate '{value}'; give frames a second, e.g. 24 or 29.97",
                         setting="fps") from None
    if not 0 < rate <= 1000:
        raise UsageError(f"fps must be above 0 and at most 1000, got {value}", setting="fps")
    ntsc = Fraction(round(rate * Fraction(1001, 1000)) * 1000, 1001)
    if rate.denominator != 1 and abs(rate - ntsc) < Fraction(1, 1000):
        return ntsc
    return rate.limit_denominator(1001)


def open_sequence(sequence: Sequence, rate: Fraction):
    """The PyAV container of a sequence's frames at `rate` frames a second."""
    import av

    return av.open(sequence.pattern, format="image2",
                   options={"framerate": str(rate), "start_number": str(sequence.first)})

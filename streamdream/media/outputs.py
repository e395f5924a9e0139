"""Output paths that cannot lose work: checked before any work (never an input, never an
existing file without overwrite, a folder that takes the name), and published by rename."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .. import signals
from ..errors import UsageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


VIDEO_FORMATS = {".mp4": "mp4", ".mkv": "matroska", ".mov": "mov"}  # suffix -> FFmpeg muxer


VIDEO_SUFFIXES = tuple(VIDEO_FORMATS)


DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def partial_path(output: str | Path) -> Path:
    """Where a video is written until it is finished: NAME.partial.EXT beside NAME.EXT."""
    output = Path(output)
    return output.with_name(f"{output.stem}.partial{output.suffix}")


def resuming_path(output: Path) -> Path:
    # a resumed run writes here until the old partial's frames are safely copied over
    return output.with_name(f"{output.stem}.resuming{output.suffix}")


def _probe(path: Path, shown: Path) -> None:
    """Create and remove `path`, so an unwritable folder, a read-only or pseudo file system, or a
    name too long for the file system is refused before any work rather than after it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return
    except OSError as exc:
        reason = exc.strerror or "not writable"
        if exc.errno == errno.ENAMETOOLONG:
            reason += f" (the file system allows about {os.pathconf(path.parent, 'PC_NAME_MAX')} bytes a name"
            reason += "; streamdream adds up to 9 for its partial file)" if path != shown else ")"
        raise UsageError(f"cannot write {shown}: {reason}; choose another name or folder") from None
    os.close(fd)
    os.unlink(path)


def check_output(output: str | Path, inputs=(), overwrite: bool = False, suffixes=None,
                 resume: bool | None = None) -> Path:
    """Refuse, before any work, an output that would overwrite an input, clobber a file without
    `overwrite`, land in a missing or unwritable folder, or have a suffix we cannot write.

    resume: for outputs written through a partial file (videos). None: the command has no
    `resume`, False/True: it has, and it was not/was given. A partial left by an interrupted run
    is continued with `resume`, replaced with `overwrite`, and refused otherwise.
    """
    output = Path(output)
    if suffixes and output.suffix.lower() not in suffixes:
        raise UsageError(f"output {output} must end in one of {', '.join(suffixes)}")
    if not output.parent.is_dir():
        raise UsageError(f"output folder {output.parent} does not exist")
    limit = os.pathconf(output.parent, "PC_NAME_MAX")
    if len(output.name.encode()) > limit:
        raise UsageError(f"cannot write {output}: its name is {len(output.name.encode())} bytes and the file system "
                         f"allows {limit}; choose a shorter name")
    for source in inputs:
        if source is not None and Path(source).exists() and output.exists() and output.samefile(source):
            raise UsageError(f"output {output} is also an input ({source}); inputs are never written, "
                             f"choose another name")
    if output.is_dir():
        raise UsageError(f"output {output} is a folder; give a file name")
    partial = partial_path(output) if output.suffix.lower() in VIDEO_SUFFIXES else None
    if partial is not None:
        _probe(partial, output)  # first: asking whether a too-long name exists is an error too
    if resume:
        if partial is None or not partial.exists():
            done = " (it is already finished)" if output.exists() else ""
            raise UsageError(f"nothing to resume: {partial or output} does not exist{done}")
        _probe(resuming_path(output), output)
        return output
    if output.exists() and not overwrite:
        raise UsageError(f"output {output} exists; set `overwrite` to replace it", setting="overwrite")
    if partial is not None:
        if partial.exists() and not overwrite:
            how = "`resume` continues it, `overwrite` starts over" if resume is not None else \
                "`overwrite` replaces it"
            raise UsageError(f"{partial} is there from an interrupted run (or another run is writing it); {how}")
    else:
        _probe(output.with_name(f".sd{os.getpid()}{output.suffix}"), output)
    return output


@contextmanager
def atomic_path(output: str | Path):
    """A short hidden temporary path beside `output`, renamed onto it when the block succeeds
    (short, so any name the file system takes for the output it takes for this too)."""
    output = Path(output)
    fd, name = tempfile.mkstemp(prefix=".sd", suffix=output.suffix, dir=output.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with signals.deferred():
            publish(tmp, output)
    finally:
        if tmp.exists():
            tmp.unlink()


def publish(tmp: Path, output: Path) -> None:
    """Rename a finished file onto the output, with the permissions a new file gets (mkstemp
    makes it private to the user)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, output)


def free_mb(folder: Path) -> float:
    try:
        return shutil.disk_usage(folder).free / 1e6
    except OSError:
        return float("nan")


def unused_path(path: Path) -> Path:
    """`path`, or path-2, path-3 ... beside it, whichever does not exist yet (nor its partial file)."""
    candidate, n = path, 1
    while candidate.exists() or partial_path(candidate).exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate

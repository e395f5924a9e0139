"""Output paths that cannot lose work: checked before any work (never an input, never an
existing file without overwrite, a folder that takes the name), and published by rename."""

from __future__ import annotations

import errno
import fcntl
import os
import stat
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
    # a link counts as there, even one that leads nowhere or round in a loop
    exists = os.path.lexists(output)
    partial = partial_path(output) if output.suffix.lower() in VIDEO_SUFFIXES else None
    if partial is not None:
        _probe(partial, output)  # first: asking whether a too-long name exists is an error too
        for leftover in (partial, resuming_path(output)):
            regular_or_absent(leftover)
    if resume:
        if exists:
            raise UsageError(f"output {output} exists, and a resume would replace it; move it away first (or set "
                             f"`overwrite` and start over)", setting="resume")
        if partial is None or not partial.exists():
            raise UsageError(f"nothing to resume: {partial or output} does not exist", setting="resume")
        _probe(resuming_path(output), output)
        return output
    if exists and not overwrite:
        raise UsageError(f"output {output} exists; set `overwrite` to replace it", setting="overwrite")
    if partial is not None:
        if partial.exists() and not overwrite:
            how = "`resume` continues it, `overwrite` starts over" if resume is not None else \
                "`overwrite` replaces it"
            raise UsageError(f"{partial} is there from an interrupted run (or another run is writing it); {how}")
    else:
        _probe(output.with_name(f".sd{os.getpid()}{output.suffix}"), output)
    return output


def regular_or_absent(path: Path) -> None:
    """UsageError when `path` is there but is no regular file: a FIFO would hang a reader, and a
    link would lead a partial's writes somewhere else."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise UsageError(f"{path} is not a regular file; remove it (streamdream writes its partial video there)")


class Claim:
    """The exclusive hold a video run keeps, for its whole life, on the files it writes beside
    its output: the partial (or, resuming, the partial it continues and the file it writes
    meanwhile). A second run aiming at the same output is refused at once, and no run empties a
    file another is writing. The holds are flock()s, which the kernel lets go of when the
    process ends, however it ends: a killed run leaves nothing locked."""

    def __init__(self, output: str | Path, resume: bool = False, overwrite: bool = False):
        output = Path(output)
        self.partial, self.resuming = partial_path(output), resuming_path(output)
        self._fds: list[int] = []
        self._made: list[Path] = []  # files this claim created, removed again if nothing is written
        self._resuming_held = not resume  # a resume holds its file to write only from the first frame
        try:
            if resume:
                # the partial it continues now; the file it writes meanwhile only once there is
                # something to write (`open_path`), so a resume killed before that leaves no empty file
                self._hold(self.partial, create=False)
                self.path = self.resuming
            else:
                self.path = self.partial
                self._hold(self.partial, create=True, take_over=overwrite)
        except BaseException:
            self.release()
            raise

    def _hold(self, path: Path, create: bool, take_over: bool = False) -> None:
        # no FIFO's open may block, and no link may lead the writes elsewhere
        flags = os.O_NONBLOCK | os.O_NOFOLLOW | (os.O_RDWR | os.O_CREAT if create else os.O_RDONLY)
        existed = os.path.lexists(path)
        if create and not take_over:
            flags |= os.O_EXCL
        try:
            fd = os.open(path, flags, 0o644)
        except FileExistsError:
            raise UsageError(f"{path} exists: another run is writing it, or one was interrupted") from None
        except FileNotFoundError:
            raise UsageError(f"nothing to resume: {path} is gone (did another run finish it?)",
                             setting="resume") from None
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror}") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise UsageError(f"{path} is not a regular file; remove it")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UsageError(f"another run is writing {path}; let it finish, or give another output") from None
        self._fds.append(fd)
        if create:
            if existed:
                os.ftruncate(fd, 0)  # ours now: what a killed or overwritten run left
            else:
                self._made.append(path)

    def open_path(self) -> Path:
        """The path to write, held: a resume's file is created (or a killed one's leftover taken
        over) here, when the first frame is about to be written."""
        if not self._resuming_held:
            self._hold(self.resuming, create=True, take_over=True)
            self._resuming_held = True
        return self.path

    def abandon(self) -> None:
        """The run ends before it wrote anything: remove the empty files it made, and let go."""
        for path in self._made:
            try:
                if path.stat().st_size == 0:
                    path.unlink()
            except FileNotFoundError:
                pass
        self.release()

    def release(self) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds = []


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

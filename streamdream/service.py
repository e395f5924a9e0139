"""`streamdream service`: an installation that restarts itself. `install` writes a systemd user
unit that runs a command line (cli.py makes it: the installation's webcam run), restarts it on
failure with a growing pause, starts it at login (at boot too, with lingering on) and logs to
the journal; `remove` takes it away. See docs/installation.md for the rest of a kiosk."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from .errors import UsageError

NAME = "streamdream.service"


def unit_folder() -> Path:
    """Where systemd looks for this user's units."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


def quote(arg: str) -> str:
    """One ExecStart word as systemd reads it: specifiers (%) and variables ($) kept literal,
    quoted where it holds spaces or quotes."""
    if any(ord(c) < 32 for c in arg):
        raise UsageError(f"argument {arg!r} holds a control character; a unit's command line cannot carry it")
    text = arg.replace("%", "%%").replace("$", "$$")
    if text and not any(c in text for c in " \t\"'\\;"):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_version() -> int:
    """The systemd here (e.g. 252), or 0 when there is none."""
    if shutil.which("systemctl") is None:
        return 0
    done = subprocess.run(["systemctl", "--version"], capture_output=True, text=True)
    words = done.stdout.split()
    return int(words[1]) if len(words) > 1 and words[1].isdigit() else 0


def unit_text(args: list[str], python: str | None = None, folder: str | None = None, backoff: bool = True) -> str:
    """The unit's text for running `python -m streamdream` with `args`; `backoff` (systemd 254
    and later) lets the pause between restarts grow from 5 s to 5 minutes."""
    python = python or sys.executable
    folder = folder or os.getcwd()
    command = " ".join(quote(a) for a in [python, "-m", "streamdream", *args])
    steps = "\nRestartSteps=6\nRestartMaxDelaySec=300" if backoff else ""
    return f"""[Unit]
Description=streamdream installation
After=graphical-session.target
# never give up restarting (the pause between tries grows where systemd can)
StartLimitIntervalSec=0

[Service]
Type=simple
WorkingDirectory={quote(folder)}
ExecStart={command}
Restart=on-failure
RestartSec={"5" if backoff else "15"}{steps}
Environment=PYTHONUNBUFFERED=1
# its output goes to the journal, under the user unit streamdream

[Install]
WantedBy=default.target
"""


def install(args: list[str], print_only: bool = False, say=print) -> Path | None:
    """Write (or, `print_only`, show) the unit for `args` and enable it where systemctl can; its path."""
    version = systemd_version()
    text = unit_text(args, backoff=version == 0 or version >= 254)
    if print_only:
        say(text.rstrip())
        return None
    folder = unit_folder()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / NAME
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    temporary.replace(path)
    say(f"wrote {path}")
    if shutil.which("systemctl") is None:
        say("systemctl not found: this unit needs systemd (see docs/installation.md)")
        return path
    for step in (["daemon-reload"], ["enable", NAME]):
        done = subprocess.run(["systemctl", "--user", *step], capture_output=True, text=True)
        if done.returncode != 0:
            why = ((done.stderr or done.stdout).strip().splitlines() or ["no reason given"])[-1]
            say(f"systemctl {' '.join(step)} for this user failed ({why}); do it in your desktop session "
                f"(docs/installation.md)")
            return path
    say("enabled: it starts at your next login, or now with systemctl's start for this user; "
        "at boot with lingering on (docs/installation.md)")
    return path


def remove(say=print) -> Path | None:
    """Disable and delete the unit; its path, or None when there was none."""
    path = unit_folder() / NAME
    if shutil.which("systemctl") is not None:
        subprocess.run(["systemctl", "--user", "disable", "--now", NAME], capture_output=True, text=True)
    if not path.exists():
        say(f"no unit at {path}")
        return None
    path.unlink()
    if shutil.which("systemctl") is not None:
        subprocess.run(["systemctl", "--user", "daemon-reload"], capture_output=True, text=True)
    say(f"removed {path}")
    return path

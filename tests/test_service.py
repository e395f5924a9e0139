"""`streamdream service`: the systemd user unit it writes, shows and removes."""

import shutil
import subprocess

import pytest

from streamdream import service
from streamdream.cli import main


def test_the_unit_runs_the_installation_and_restarts_it():
    text = service.unit_text(["webcam", "--installation", "--source", "/dev/v4l/by-id/usb-cam", "--record", "my show.mp4",
                              "--serve"],
                             python="/opt/sd/bin/python", folder="/home/a b")
    assert ('ExecStart=/opt/sd/bin/python -m streamdream webcam --installation --source /dev/v4l/by-id/usb-cam '
            '--record "my show.mp4" --serve') in text
    assert 'WorkingDirectory="/home/a b"' in text
    for line in ("Restart=on-failure", "StartLimitIntervalSec=0", "WantedBy=default.target", "RestartSteps=6"):
        assert line in text
    assert "RestartSteps" not in service.unit_text([], backoff=False)
    assert service.quote("50%") == "50%%" and service.quote("$HOME") == "$$HOME" and service.quote('a"b') == '"a\\"b"'


def test_print_writes_nothing_and_bad_arguments_are_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert main(["service", "install", "--print", "--source", "test", "--serve"]) == 0
    assert "webcam --installation --source test --serve" in capsys.readouterr().out
    assert not (tmp_path / "systemd").exists()
    assert main(["service", "install", "--sorce", "0"]) == 2
    out = capsys.readouterr().out
    assert "--sorce" in out and len(out.strip().splitlines()) == 1
    assert main(["service", "install", "--installation"]) == 2


def test_install_and_remove(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setattr(service.shutil, "which", lambda name: None)  # no systemctl: write the file only
    assert main(["service", "install", "--source", "0"]) == 0
    unit = tmp_path / "systemd" / "user" / "streamdream.service"
    assert "--installation --source 0" in unit.read_text()
    assert main(["service", "remove"]) == 0 and not unit.exists()
    assert main(["service", "remove"]) == 0 and "no unit" in capsys.readouterr().out


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_reads_the_unit_without_complaint(tmp_path):
    path = tmp_path / "streamdream.service"
    path.write_text(service.unit_text(["webcam", "--installation", "--source", "test"],
                                      backoff=service.systemd_version() >= 254))
    done = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True)
    complaints = [line for line in (done.stdout + done.stderr).splitlines() if str(path) in line]
    assert done.returncode == 0 and not complaints, complaints

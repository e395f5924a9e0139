"""The trust cases: what a hostile or careless user does to a resume, a live show, a signal and
the numbers, each as a real process, real UDP or a real file where the case needs one. After
every case nothing is lost: each partial that existed still plays, or has become the output."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from streamdream.cli import main

from .conftest import object_frame, pattern_frame, probe, write_clip
from .test_faults import _decodable, _start, default_signals

GUARD = 120  # seconds: a show the test means to end in frames ends by this at the latest, on any machine
FAST = ["--layers", "block3", "--octaves", "1", "--iterations", "1", "--seed", "1", "--device", "cpu"]


def video(*args):
    return main(["video", *FAST, *map(str, args)])


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("trust") / "in.mp4", frames=60, width=64, height=48, audio=True)


@pytest.fixture
def partial(clip, tmp_path):
    """A partial a run left after 30 of the clip's 60 frames, and the output name it belongs to."""
    out = tmp_path / "r.mp4"
    assert video(clip, "-o", tmp_path / "first.mp4", "--frames", "30") == 0
    (tmp_path / "first.mp4").rename(tmp_path / "r.partial.mp4")
    return out


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial" in p.name or ".resuming" in p.name)


# --- 1. two runs on one output --------------------------------------------------------------------

def test_two_resumes_at_once_one_is_refused_and_the_video_is_whole(clip, partial, tmp_path):
    first = _start([clip, "-o", partial, "--resume"], tmp_path)
    second = _start([clip, "-o", partial, "--resume"], tmp_path)
    outs = [p.communicate(timeout=300)[0] for p in (first, second)]
    codes = sorted(p.returncode for p in (first, second))
    assert codes == [0, 2], outs
    loser = outs[[first.returncode, second.returncode].index(2)]
    assert len(loser.strip().splitlines()) == 1 and "Traceback" not in loser, loser
    assert "kept" not in loser  # it does not claim to have kept what it never held
    assert _decodable(partial) == 60 and _leftovers(tmp_path) == []


HELD = """
import os, sys, time
from streamdream.engine import temporal
real = temporal.StreamDreamer.next_detail
def next_(self, frame, motion):
    print("dreaming", flush=True)
    while os.path.exists(sys.argv[1]):  # held here while the test does its part
        time.sleep(0.02)
    return real(self, frame, motion)
temporal.StreamDreamer.next_detail = next_
from streamdream.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _held(hold: Path, args, cwd) -> subprocess.Popen:
    """`streamdream video ARGS` that stops before its first frame while `hold` exists."""
    hold.write_text("")
    return subprocess.Popen([sys.executable, "-c", HELD, str(hold), "video", *FAST, *map(str, args)], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=default_signals,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_a_fresh_overwrite_beside_a_resume_is_refused(clip, partial, tmp_path):
    hold = tmp_path.parent / f"{tmp_path.name}.hold"
    resuming = _held(hold, [clip, "-o", partial, "--resume"], tmp_path)
    assert resuming.stdout.readline().strip() == "dreaming"  # the resume holds its files, mid-run
    fresh = subprocess.run([sys.executable, "-m", "streamdream", "video", *FAST, str(clip), "-o", str(partial),
                            "--overwrite"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    hold.unlink()
    out_resume = resuming.communicate(timeout=300)[0]
    assert fresh.returncode == 2 and "another run is writing" in fresh.stdout, fresh.stdout + fresh.stderr
    assert resuming.returncode == 0, out_resume
    assert _decodable(partial) == 60 and _leftovers(tmp_path) == []


def test_a_resume_killed_before_its_first_frame_leaves_no_empty_file(clip, partial, tmp_path):
    hold = tmp_path.parent / f"{tmp_path.name}.hold"
    resuming = _held(hold, [clip, "-o", partial, "--resume"], tmp_path)
    assert resuming.stdout.readline().strip() == "dreaming"
    resuming.kill()
    resuming.wait(timeout=60)
    hold.unlink()
    assert _leftovers(tmp_path) == ["r.partial.mp4"] and _decodable(tmp_path / "r.partial.mp4") == 30


# --- 2, 3. a resume must continue the same video --------------------------------------------------

@pytest.mark.parametrize("change,named", [
    (["--crf", "30"], "crf"),
    (["--crf", "0"], "crf"),
    (["--start", "1"], "start"),
    (["--layers", "block4"], "layers"),
    (["--seed", "7"], "seed"),
])
def test_a_resume_with_other_settings_is_refused_naming_them(clip, partial, tmp_path, capsys, change, named):
    args = list(FAST)
    if "--layers" in change:
        args[args.index("--layers") + 1] = change[1]
        change = []
    if "--seed" in change:
        args[args.index("--seed") + 1] = change[1]
        change = []
    before = (tmp_path / "r.partial.mp4").read_bytes()
    assert main(["video", *args, str(clip), "-o", str(partial), "--resume", *change]) == 2
    out = capsys.readouterr().out
    assert named in out and "--overwrite" in out and len(out.strip().splitlines()) == 1, out
    assert (tmp_path / "r.partial.mp4").read_bytes() == before and not partial.exists()


def test_a_resume_with_another_input_of_the_same_size_is_refused(clip, partial, tmp_path, capsys):
    mirrored = write_clip(tmp_path / "mirror.mp4", frames=60, width=64, height=48, audio=True,
                          make_frame=lambda i, w, h: pattern_frame(i, w, h)[:, ::-1].copy())
    assert video(mirrored, "-o", partial, "--resume") == 2
    assert "with another the input" in capsys.readouterr().out
    assert _decodable(tmp_path / "r.partial.mp4") == 30 and not partial.exists()


def test_the_same_input_copied_elsewhere_still_resumes(clip, partial, tmp_path):
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(clip.read_bytes())
    assert video(copy, "-o", partial, "--resume") == 0
    assert _decodable(partial) == 60


def test_an_unseeded_resume_takes_the_partial_s_seed(clip, partial, tmp_path, capsys):
    args = list(FAST)
    del args[args.index("--seed"):args.index("--seed") + 2]
    assert main(["video", *args, str(clip), "-o", str(partial), "--resume"]) == 0
    assert "seed 1;" in capsys.readouterr().out


def test_a_partial_that_is_no_streamdream_partial_is_refused(clip, tmp_path, capsys):
    out = tmp_path / "r.mp4"
    # another program's file with B-frames (libx264's defaults), and no record of what made it
    write_clip(tmp_path / "r.partial.mp4", frames=40, width=64, height=48)
    assert video(clip, "-o", out, "--resume") == 2
    assert "no record" in capsys.readouterr().out
    assert _decodable(tmp_path / "r.partial.mp4") == 40


def test_a_partial_with_b_frames_is_refused(clip, tmp_path, capsys):
    import av

    out = tmp_path / "r.mp4"
    path = tmp_path / "r.partial.mp4"
    with av.open(str(path), "w", format="mp4", options={"movflags": "frag_keyframe+empty_moov"}) as c:
        c.metadata["comment"] = json.dumps({"streamdream": "0.1.0"})
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.codec_context.options = {"bf": "3"}
        for i in range(40):
            frame = av.VideoFrame.from_ndarray(object_frame(i, 64, 48), format="rgb24")
            frame.pts = i
            c.mux(s.encode(frame))
        c.mux(s.encode(None))
    assert video(clip, "-o", out, "--resume") == 2
    assert "B-frames" in capsys.readouterr().out


# --- 4. a resume never replaces an existing output --------------------------------------------------

def test_a_resume_does_not_replace_an_existing_output(clip, partial, tmp_path, capsys):
    partial.write_bytes(b"the user's own file")
    assert video(clip, "-o", partial, "--resume") == 2
    assert "exists" in capsys.readouterr().out
    assert partial.read_bytes() == b"the user's own file" and _decodable(tmp_path / "r.partial.mp4") == 30


# --- 5. debris and odd files --------------------------------------------------------------------------

def test_a_killed_resume_s_leftover_is_taken_over(clip, partial, tmp_path):
    (tmp_path / "r.resuming.mp4").write_bytes(b"")  # what kill -9 leaves before the first fragment
    assert video(clip, "-o", partial, "--resume") == 0
    assert _decodable(partial) == 60 and _leftovers(tmp_path) == []


@pytest.mark.parametrize("flag", ["--resume", "--overwrite"])
def test_a_fifo_as_the_partial_is_refused_not_waited_on(clip, tmp_path, flag):
    os.mkfifo(tmp_path / "r.partial.mp4")
    done = subprocess.run([sys.executable, "-m", "streamdream", "video", *FAST, str(clip), "-o",
                           str(tmp_path / "r.mp4"), flag], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "not a regular file" in done.stdout


@pytest.mark.parametrize("command,name", [("video", "loop.mp4"), ("image", "loop.png")])
def test_a_symlink_loop_as_the_output_counts_as_there(clip, tmp_path, capsys, command, name):
    loop = tmp_path / name
    os.symlink(loop, loop)
    source = clip if command == "video" else "noise:64x48"
    assert main([command, *FAST, str(source), "-o", str(loop)]) == 2
    assert "exists" in capsys.readouterr().out and os.path.islink(loop)


# --- 6, 7, 9. OSC messages cannot stop a show -----------------------------------------------------------

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _osc(address: str, *args) -> bytes:
    from pythonosc.osc_message_builder import OscMessageBuilder

    builder = OscMessageBuilder(address)
    for a in args:
        builder.add_arg(a)
    return builder.build().dgram


def _show_with_osc(send, tmp_path, frames_before=5, dreamt_after=0):
    """A headless show on the test scene, steered over real UDP: `send(sock, port)` runs once
    `frames_before` frames have been shown, and the show ends by itself 60 shown frames later,
    once `dreamt_after` more frames have been dreamt after the sending too."""
    from streamdream.live.show import WebcamOptions, run_webcam
    from streamdream.presets import build_config

    port = _free_port()
    messages, shown = [], []

    class Trigger:
        def write(self, image, at):
            shown.append(at)
            if len(shown) == frames_before:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    send(s, port)

        def close(self):
            pass

        abort = close

    config = build_config("clouds", {"dream": {"width": 64, "octaves": 1, "iterations": 1, "seed": 1, "device": "cpu"}})

    dreamt = {"at_send": None, "now": 0}

    def status(stats, look):
        dreamt["now"] = stats.dreamt
        if len(shown) >= frames_before and dreamt["at_send"] is None:
            dreamt["at_send"] = stats.dreamt

    class Stop(Trigger):
        def write(self, image, at):
            super().write(image, at)
            if len(shown) >= frames_before + 60 and dreamt["at_send"] is not None and \
                    dreamt["now"] >= dreamt["at_send"] + dreamt_after:
                raise KeyboardInterrupt  # as Ctrl-C: a clean stop, counted in frames

    # the duration only guards against a show that never ends: the test ends it in frames
    result = run_webcam(WebcamOptions("test", window=False, osc=port, duration=GUARD), config, say=messages.append,
                        status=status, sinks=[Stop()])
    return result, messages


def test_a_huge_layer_spec_over_osc_is_one_warning_and_the_show_goes_on(tmp_path):
    spec = "+".join(["block8"] * 1150)
    result, messages = _show_with_osc(lambda s, port: s.sendto(_osc("/streamdream/layer", spec), ("127.0.0.1", port)),
                                      tmp_path)
    assert result.stats.frames >= 64 and result.stats.stopped == "interrupted"
    assert any("layer" in m and "too long" in m for m in messages), messages


def test_a_huge_layer_spec_as_a_flag_is_one_line(tmp_path, capsys):
    assert main(["image", "noise:64x48", "-o", str(tmp_path / "o.png"), "--layers", "+".join(["block8"] * 1150)]) == 2
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 1 and "too long" in out and len(out) < 500


def test_a_flood_of_preset_switches_is_merged_and_the_show_goes_on(tmp_path):
    def flood(s, port):
        message = _osc("/streamdream/preset/next")
        for _ in range(20_000):
            s.sendto(message, ("127.0.0.1", port))

    # the dream must go on after the flood: 10 more frames dreamt, not 20,000 switches replayed
    result, messages = _show_with_osc(flood, tmp_path, dreamt_after=10)
    assert result.stats.frames >= 64 and result.stats.stopped == "interrupted"


def test_a_flood_of_switches_ends_the_process_cleanly(tmp_path):
    """As a process: the show ends at its duration with exit 0, not with a thread still
    replaying switches when it exits (which aborted it)."""
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "streamdream", "webcam", "--source", "test", "--no-window",
                                "--osc", str(port), "--duration", "6", "--preset", "clouds", "--width", "64",
                                "--octaves", "1", "--iterations", "1", "--seed", "1", "--device", "cpu"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"}, preexec_fn=default_signals)
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "listening for OSC" in line:
            break
    message = _osc("/streamdream/preset/next")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _ in range(20_000):
            s.sendto(message, ("127.0.0.1", port))
    out = "".join(lines) + process.communicate(timeout=600)[0]
    assert process.returncode == 0, out
    assert "terminate called" not in out and "Traceback" not in out


def test_a_datagram_that_is_not_osc_is_one_warning_without_a_traceback(capfd):
    from streamdream.commands import ControlChannel
    from streamdream.live.controls import OscControl

    warnings, channel = [], ControlChannel()
    server = OscControl(channel, 0, warn=warnings.append)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"/\xff\x00\x00", ("127.0.0.1", server.port))
            s.sendto(_osc("/streamdream/preset", 99999), ("127.0.0.1", server.port))
            big = _osc("/streamdream/layer", "block8" + "+block8" * 2000)  # over 8 KB
            s.sendto(big, ("127.0.0.1", server.port))
        got, deadline = [], time.monotonic() + 30
        while (len(got) < 2 or not warnings) and time.monotonic() < deadline:
            got += channel.drain()
            time.sleep(0.05)
    finally:
        server.close()
    assert any("ignored" in w for w in warnings), warnings
    assert "Traceback" not in capfd.readouterr().err
    # the others arrive whole, as commands for the stage to judge
    assert [c.name for c in got] == ["preset_index", "layer"] and len(got[1].value) > 8000


def test_a_preset_index_out_of_range_is_a_warning():
    from streamdream.commands import Command
    from streamdream.live.stage import LiveStage
    from streamdream.presets import build_config

    config = build_config("clouds", {"dream": {"width": 64, "device": "cpu", "octaves": 1, "iterations": 1}})
    warnings = []
    stage = LiveStage(config, ["clouds", "deep"], {"device": "cpu", "width": 64}, warn=warnings.append)
    stage.looks.wait(120)
    stage.control(Command("preset_index", 99999))
    stage.control(Command("preset_index", -1))
    assert len(warnings) == 2 and all("no preset" in w for w in warnings)


# --- 8. a looped file that goes away --------------------------------------------------------------------

def test_an_installation_waits_for_its_looped_file_and_picks_it_up_again(tmp_path):
    from streamdream.live.show import WebcamOptions, run_webcam
    from streamdream.presets import build_config

    source = write_clip(tmp_path / "loop.mp4", frames=10, width=64, height=48)
    kept = source.read_bytes()
    messages, shown = [], []

    def say(message):
        messages.append(message)
        if "camera lost" in message and not source.exists():
            source.write_bytes(kept)  # plugged back in

    class Watch:
        def write(self, image, at):
            shown.append(at)
            if len(shown) == 3:
                source.unlink()  # deleted mid-show
            if any("camera back" in m for m in messages) and len(shown) > 40:
                raise KeyboardInterrupt

        def close(self):
            pass

        abort = close

    config = build_config("clouds", {"dream": {"width": 64, "octaves": 1, "iterations": 1, "seed": 1, "device": "cpu"},
                                     "live": {"retry_max": 0.5, "fade": 1.0}})
    result = run_webcam(WebcamOptions(str(source), window=False, installation=True, duration=GUARD), config, say=say,
                        sinks=[Watch()])
    assert any("camera lost" in m for m in messages) and any("camera back" in m for m in messages), messages
    assert result.stats.interrupted and result.stats.stopped == "interrupted"


def test_without_installation_a_looped_file_that_goes_away_is_a_lost_camera(tmp_path, capsys):
    source = write_clip(tmp_path / "loop.mp4", frames=10, width=64, height=48)

    class Remove:
        def __init__(self):
            self.shown = 0

        def write(self, image, at):
            self.shown += 1
            if self.shown == 3:
                source.write_bytes(b"")  # cut to nothing mid-show

        def close(self):
            pass

        abort = close

    from streamdream.live.show import CameraLostError, WebcamOptions, run_webcam
    from streamdream.presets import build_config

    config = build_config("clouds", {"dream": {"width": 64, "octaves": 1, "iterations": 1, "seed": 1, "device": "cpu"}})
    with pytest.raises(CameraLostError, match="camera lost"):
        run_webcam(WebcamOptions(str(source), window=False, duration=GUARD), config, say=lambda m: None,
                   sinks=[Remove()])


# --- 10. a signal stops a long first dream between steps ------------------------------------------------

RUNNER = """
import sys
from streamdream.engine import temporal
real = temporal.StreamDreamer.next_detail
def next_(self, frame, motion):
    print("dreaming", flush=True)
    return real(self, frame, motion)
temporal.StreamDreamer.next_detail = next_
from streamdream.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_during_a_big_first_dream_stops_it_cleanly(tmp_path, signum, code):
    clip = write_clip(tmp_path / "big.mp4", frames=3, width=1920, height=1080)
    process = subprocess.Popen([sys.executable, "-c", RUNNER, "video", str(clip), "-o", str(tmp_path / "o.mp4"),
                                "--seed", "1", "--device", "cpu"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, preexec_fn=default_signals,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert process.stdout.readline().strip() == "dreaming"  # inside the first full dream of a 1080p frame
    process.send_signal(signum)
    out = process.communicate(timeout=120)[0]
    assert process.returncode == code, out
    assert "terminate called" not in out and "Traceback" not in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.mp4"]  # nothing half-made left


def test_the_run_s_stop_cancels_a_dream_in_hand(lite0):
    from streamdream.config import DreamConfig
    from streamdream.engine.dreamer import Dreamer
    from streamdream.errors import Cancelled

    spec, network = lite0
    dreamer = Dreamer.from_config(DreamConfig(seed=1, device="cpu", octaves=2, iterations=100), network)
    calls = []
    real = type(dreamer.net).forward

    def counting(self, image):
        calls.append(1)
        if len(calls) == 3:
            dreamer.cancel()  # the run stops while the dream is in hand
        return real(self, image)

    type(dreamer.net).forward = counting
    try:
        with pytest.raises(Cancelled):
            dreamer.dream_frame(np.zeros((64, 96, 3), np.uint8))
    finally:
        type(dreamer.net).forward = real
    assert len(calls) == 3  # the next step never ran, of the 200 asked for


# --- 11. picture sizes from the header -------------------------------------------------------------------

def _claiming_png(path: Path, width: int, height: int) -> Path:
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("side", [20000, 50000])
@pytest.mark.parametrize("role", ["input", "guide"])
def test_a_picture_claiming_a_huge_size_is_refused_before_decoding(tmp_path, capsys, monkeypatch, side, role):
    import cv2

    from streamdream.media import images

    png = _claiming_png(tmp_path / "claims.png", side, side)
    monkeypatch.setattr(images.cv2, "imdecode", lambda *a: (_ for _ in ()).throw(AssertionError("decoded")))
    argv = [str(png)] if role == "input" else ["noise:64x48", "--guide", str(png), "--layers", "block3"]
    assert main(["image", *argv, "-o", str(tmp_path / "o.png"), "--device", "cpu"]) == 2
    out = capsys.readouterr().out
    assert "too many pixels" in out and out.count("error") == 1 and len(out.strip().splitlines()) == 1
    assert cv2 is not None


# --- 12. numbers without bounds ---------------------------------------------------------------------------

@pytest.mark.parametrize("duration", ["nan", "1e-9", "inf", "-1"])
def test_a_duration_out_of_bounds_is_refused(tmp_path, capsys, duration):
    assert main(["webcam", "--source", "test", "--no-window", "--record", str(tmp_path / "r.mp4"),
                 "--duration", duration]) == 2
    assert "--duration" in capsys.readouterr().out and not (tmp_path / "r.mp4").exists()


@pytest.mark.parametrize("table,key", [
    ("[dream]\nnum_classes = 1000000000\n", "num_classes"),
    ("[dream]\njitter = 9223372036854775807\n", "jitter"),
    ("[video]\nrefine_iterations = 1000000000\n", "refine_iterations"),
    ("[live]\ndeepen_iterations = 1000000000\n", "deepen_iterations"),
    ("[zoom]\nkeyframe_every = 1000000000\n", "keyframe_every"),
])
def test_a_preset_number_without_bounds_is_refused(tmp_path, capsys, table, key):
    preset = tmp_path / "p.toml"
    preset.write_text(table)
    assert main(["image", "noise:64x48", "-o", str(tmp_path / "o.png"), "--preset", str(preset)]) == 2
    out = capsys.readouterr().out
    assert key in out and "at most" in out and len(out.strip().splitlines()) == 1


def test_a_preset_nested_thousands_deep_is_one_line(tmp_path, capsys):
    preset = tmp_path / "deep.toml"
    preset.write_text("x = " + "[" * 3000 + "]" * 3000 + "\n")
    assert main(["image", "noise:64x48", "-o", str(tmp_path / "o.png"), "--preset", str(preset)]) == 2
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 1 and "Traceback" not in out


def test_a_huge_array_in_a_preset_is_a_short_line(tmp_path, capsys):
    preset = tmp_path / "big.toml"
    preset.write_text("[dream]\noctaves = [" + ", ".join(["1"] * 200_000) + "]\n")
    assert main(["image", "noise:64x48", "-o", str(tmp_path / "o.png"), "--preset", str(preset)]) == 2
    out = capsys.readouterr().out
    assert "octaves must be int" in out and len(out) < 500


# --- 13. two video streams -----------------------------------------------------------------------------------

def test_the_main_video_stream_is_dreamt_not_a_thumbnail(tmp_path, capsys):
    import av

    path = tmp_path / "two.mkv"
    with av.open(str(path), "w") as c:
        thumb = c.add_stream("libx264", rate=25)
        thumb.width, thumb.height, thumb.pix_fmt = 64, 64, "yuv420p"
        main_stream = c.add_stream("libx264", rate=25)
        main_stream.width, main_stream.height, main_stream.pix_fmt = 160, 96, "yuv420p"
        for i in range(10):
            for stream in (thumb, main_stream):
                frame = av.VideoFrame.from_ndarray(pattern_frame(i, stream.width, stream.height), format="rgb24")
                frame.pts = i
                c.mux(stream.encode(frame))
        for stream in (thumb, main_stream):
            c.mux(stream.encode(None))
    assert video(path, "-o", tmp_path / "o.mp4") == 0
    out = capsys.readouterr().out
    frames, _, facts, _ = probe(tmp_path / "o.mp4")
    assert (facts["width"], facts["height"]) == (160, 96) and len(frames) == 10
    assert "2 video streams" in out and "160x96" in out


# --- 14. live recordings keep the clock's time -----------------------------------------------------------------

def test_a_live_recording_is_timed_by_the_clock_when_the_source_falls_behind(tmp_path):
    from streamdream.frames import Frame
    from streamdream.live.outputs import Recorder
    from streamdream.pipeline import NewestFrame, run

    class Behind:
        """A live source whose own timestamps run at 30 fps while it delivers at 10 at most."""

        live = True

        def frames(self):
            for i in range(10):
                time.sleep(0.1)
                yield Frame(np.full((48, 64, 3), 20 * i, np.uint8), i / 30, i, time.perf_counter())

        def close(self):
            pass

    recorder = Recorder(tmp_path / "rec.mp4", fps=30)
    recorder.start()
    run(Behind(), None, [recorder], policy=NewestFrame())
    recorder.close()
    _, times, _, _ = probe(tmp_path / "rec.mp4")
    # frames at least 0.1 s apart span at least 0.1 s a frame of the clock (their own stamps: 1/30)
    assert len(times) >= 2
    assert times[-1] - times[0] >= 0.1 * (len(times) - 1) - 1e-3


# --- 15. FFmpeg's log kept quiet ----------------------------------------------------------------------------------

def test_a_stream_that_cannot_be_read_is_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENCV_LOG_LEVEL", "OPENCV_FFMPEG_LOGLEVEL")}
    done = subprocess.run([sys.executable, "-m", "streamdream", "webcam", "--source", f"http://127.0.0.1:{_free_port()}/x",
                           "--no-window"], env=env, capture_output=True, text=True, timeout=120)
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "cannot open the stream" in lines[0], lines

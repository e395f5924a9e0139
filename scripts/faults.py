#!/usr/bin/env python
"""Measure what the crash-safety issue promises, and print each target beside its number.

1. SIGKILL at random moments: frames handed to the encoder that the partial file does not play.
2. `--resume` after a kill: every input frame exactly once, audio in step, and E_warp at the
   resume seam against the clip's mean.
3. SIGTERM mid-render: exit code and a playable output.
4. Peak RSS of a 3840x2160 video and a 4000x3000 photo at the default preset (fresh processes).
   Memory does not depend on the number of steps (every step has the same shapes), so the
   default is one iteration per octave; --full runs the preset's ten (about 20 minutes on 2 cores).

    python scripts/faults.py [--input CLIP] [--width 320] [--kills 4] [--full] [--json FILE]

`--trust [--before REV]` instead runs the trust cases (tests/test_trust.py: concurrent resumes,
resumes with other settings, odd files, OSC floods and bad datagrams, a looped file that goes
away, signals in a big first dream, huge picture headers, numbers without bounds, two video
streams, live recording time, FFmpeg's log), prints a table of each case's outcome (with
`--before`, also on an earlier revision, checked out in a temporary worktree), and times how
long a SIGTERM takes to stop a first dream at 1080p and 2160p.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "media" / "bigbuckbunny.mp4"
sys.path.insert(0, str(ROOT))  # the tests' helpers

# a run of the library that says each frame it hands to the file, so a kill can be scored
RUNNER = """
import sys
from streamdream.cli import load_config, build_parser
from streamdream.video import dream_video_file
from streamdream.media.video_in import VideoFileSource
args = build_parser().parse_args(["video", sys.argv[1], "-o", sys.argv[2], "--width", sys.argv[3], "--seed", "1"])
config = load_config(args, video={})
source = VideoFileSource(args.input, config.dream.width)
dream_video_file(config, source, sys.argv[2], lambda done, total: print(done, flush=True))
"""


def decodable(path: Path) -> tuple[int, list[float]]:
    times = []
    try:
        with av.open(str(path)) as c:
            for f in c.decode(video=0):
                times.append(float(f.pts * f.time_base))
    except av.error.FFmpegError:
        pass
    return len(times), times


def kill_loss(clip: Path, width: int, folder: Path, rate: float, target: int, delay: float) -> dict:
    """Kill -9 a run `delay` seconds after it handed its `target`-th frame to the encoder."""
    out = folder / "kill.mp4"
    for p in folder.glob("kill*"):
        p.unlink()
    process = subprocess.Popen([sys.executable, "-c", RUNNER, str(clip), str(out), str(width)],
                               stdout=subprocess.PIPE, text=True, cwd=ROOT)
    handed, deadline = 0, None
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(process.stdout, selectors.EVENT_READ)
    while deadline is None or time.monotonic() < deadline:
        if sel.select(timeout=0.02):
            line = process.stdout.readline()
            if not line:
                break
            handed = int(line)
            if handed >= target and deadline is None:
                deadline = time.monotonic() + delay
    process.kill()
    process.wait()
    kept, _ = decodable(folder / "kill.partial.mp4")
    return {"target": target, "delay": round(delay, 2), "frames_handed": handed, "frames_playable": kept,
            "lost_seconds": round(max(0, handed - kept) / rate, 2)}


def pair_errors(clip: Path, output: Path, width: int) -> list[float]:
    from streamdream.metrics import measure_files

    return list(measure_files(clip, output, width=width).pair_errors)


def peak_rss_mb(command: list[str]) -> tuple[float, float, int]:
    """Peak RSS (MB) of a fresh process running `command`, its seconds and exit code."""
    script = ("import resource, subprocess, sys, json\n"
              "r = subprocess.run(sys.argv[1:])\n"
              "print(json.dumps([resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, r.returncode]))")
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", script, *command], capture_output=True, text=True, cwd=ROOT)
    rss, code = json.loads(result.stdout.strip().splitlines()[-1])
    return rss, time.perf_counter() - start, code


# the trust issue's numbered cases, by the tests that show each
TRUST_CASES = [
    ("1", "two runs on one output", "two_resumes or fresh_overwrite"),
    ("2", "resume with other encoder settings, B-frames", "(other_settings and crf) or b_frames or no_streamdream_partial"),
    ("3", "resume with another input, start or look",
     "(other_settings and (start or layers or seed)) or another_input or copied_elsewhere or unseeded"),
    ("4", "resume over an existing output", "does_not_replace"),
    ("5", "debris, FIFO, symlink loop", "leftover_is_taken_over or killed_before_its_first_frame or fifo or symlink_loop"),
    ("6", "8 KB layer spec over OSC and as a flag", "huge_layer_spec"),
    ("7", "flood of 20,000 preset switches", "flood"),
    ("8", "looped file deleted or cut mid-show", "looped_file"),
    ("9", "bad datagram, over 8 KB, preset 99999 and -1", "not_osc or out_of_range"),
    ("10", "signal during a big first dream", "signal_during or cancels_a_dream"),
    ("11", "picture sizes from the header", "claiming_a_huge_size"),
    ("12", "numbers without bounds", "duration_out_of_bounds or without_bounds or nested or huge_array"),
    ("13", "two video streams", "main_video_stream"),
    ("14", "live recording time", "timed_by_the_clock"),
    ("15", "a stream that cannot be read", "cannot_be_read"),
]


def trust_outcomes(checkout: Path, limit: float = 600) -> dict[str, dict[str, str]]:
    """The trust cases (tests/test_trust.py from this checkout) run against `checkout`'s code:
    case -> {test: outcome}. One process a case, so a case that wedges its process (an old
    version flooded with switches) costs only its own tests, counted as failed when it runs past
    `limit` seconds."""
    import os
    import xml.etree.ElementTree as ET

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        tests = Path(tmp) / "tests"
        tests.mkdir()
        for name in ("__init__.py", "conftest.py", "test_faults.py", "test_trust.py"):
            (tests / name).write_text((ROOT / "tests" / name).read_text())
        env = {**os.environ, "PYTHONPATH": f"{checkout}{os.pathsep}{tmp}"}
        for number, _, select in TRUST_CASES:
            report = Path(tmp) / f"case{number}.xml"
            command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests / "test_trust.py"),
                       "-k", select, "--rootdir", tmp]
            try:
                subprocess.run([*command, f"--junitxml={report}"], cwd=tmp, capture_output=True, text=True,
                               timeout=limit, env=env)
            except subprocess.TimeoutExpired:
                pass
            if report.exists():
                out[number] = {case.get("name"): {"failure": "failed", "error": "error", "skipped": "skipped"}.get(
                    next((child.tag for child in case), "passed"), "passed")
                    for case in ET.parse(report).getroot().iter("testcase")}
            else:
                listed = subprocess.run([*command, "--collect-only", "-q"], cwd=tmp, capture_output=True, text=True,
                                        env=env)
                out[number] = {line.split("::", 1)[1]: "failed (ran past the limit)"
                               for line in listed.stdout.splitlines() if "::" in line}
    return out


def signal_stop_seconds(width: int, height: int) -> dict:
    """Seconds from SIGTERM, sent once the first full dream of a width x height frame has begun,
    to the end of the process; and its exit code."""
    from tests.conftest import write_clip  # noqa: E402 (the tests' clip maker)
    from tests.test_trust import RUNNER as DREAMING  # a `streamdream` that says when it starts dreaming

    with tempfile.TemporaryDirectory() as tmp:
        clip = write_clip(Path(tmp) / "big.mp4", frames=3, width=width, height=height)
        process = subprocess.Popen([sys.executable, "-c", DREAMING, "video", str(clip), "-o", str(Path(tmp) / "o.mp4"),
                                    "--seed", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   cwd=ROOT)
        process.stdout.readline()
        time.sleep(1.0)  # well inside the full dream's first octaves
        sent = time.perf_counter()
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=600)
        return {"size": f"{width}x{height}", "seconds": round(time.perf_counter() - sent, 2), "exit": process.returncode}


def trust(before: str | None) -> dict:
    checkouts = {"after": ROOT}
    worktree = None
    if before:
        worktree = Path(tempfile.mkdtemp()) / "before"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(worktree), before], check=True)
        checkouts = {"before": worktree, **checkouts}
    try:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(checkouts)) as pool:
            futures = {label: pool.submit(trust_outcomes, path) for label, path in checkouts.items()}
        outcomes = {label: future.result() for label, future in futures.items()}
    finally:
        if worktree is not None:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)], check=False)
    rows = []
    print("| case | what | " + " | ".join(checkouts) + " |")
    print("|---|---|" + "---|" * len(checkouts))
    for number, what, _ in TRUST_CASES:
        cells = []
        for label in checkouts:
            tests = outcomes[label].get(number, {})
            cells.append(f"{sum(v == 'passed' for v in tests.values())}/{len(tests)} pass")
        rows.append({"case": number, "what": what, **dict(zip(checkouts, cells))})
        print(f"| {number} | {what} | " + " | ".join(cells) + " |")
    stops = [signal_stop_seconds(1920, 1080), signal_stop_seconds(3840, 2160)]
    for stop in stops:
        print(f"SIGTERM in the first full dream at {stop['size']}: stopped in {stop['seconds']} s, exit {stop['exit']}")
    return {"cases": rows, "outcomes": outcomes, "signal_stops": stops}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", type=Path, default=SHARED)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--kills", type=int, default=4)
    parser.add_argument("--full", action="store_true", help="the preset's iterations for the RSS runs")
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument("--keep", type=Path, help="keep the outputs (crops of the big dreams) in this folder")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--trust", action="store_true", help="the trust cases' table instead (see above)")
    parser.add_argument("--before", metavar="REV", help="with --trust: also run the cases on this revision")
    args = parser.parse_args()
    if args.trust:
        report = trust(args.before)
        if args.json:
            args.json.write_text(json.dumps(report, indent=1))
        return 0
    import os
    import platform

    report: dict = {"machine": f"{platform.machine()} {platform.processor() or ''}, {os.cpu_count()} CPUs, "
                               f"Python {platform.python_version()}"}
    with av.open(str(args.input)) as c:
        rate = float(c.streams.video[0].average_rate)
        total = sum(1 for _ in c.decode(video=0))
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        kills = [kill_loss(args.input, args.width, folder, rate, rng.randint(10, total - 10), rng.uniform(0, 0.5))
                 for _ in range(args.kills)]
        report["sigkill"] = kills
        worst = max(k["lost_seconds"] for k in kills)
        print(f"SIGKILL: worst loss {worst:.2f} s of frames over {len(kills)} kills (target <= 1.5 s): "
              + ", ".join(f"{k['frames_handed']} handed / {k['frames_playable']} playable" for k in kills))

        # resume the last kill's partial with the CLI, then compare the seam
        kept, _ = decodable(folder / "kill.partial.mp4")
        out = folder / "kill.mp4"
        code = subprocess.run([sys.executable, "-m", "streamdream", "video", str(args.input), "-o", str(out),
                               "--width", str(args.width), "--seed", "1", "--resume"], cwd=ROOT,
                              capture_output=True, text=True).returncode
        frames, times = decodable(out)
        with av.open(str(args.input)) as c:
            v = c.streams.video[0]
            in_times = [float(f.pts * f.time_base) for f in c.decode(v)]
            in_times = [t - in_times[0] for t in in_times]
        with av.open(str(out)) as c:
            a = c.streams.audio[0] if c.streams.audio else None
            audio = None
            if a is not None:
                packets = [p for p in c.demux(a) if p.pts is not None]
                audio = max(float((p.pts + p.duration) * p.time_base) for p in packets)
        once = frames == total and np.allclose(times, in_times[:len(times)], atol=1e-3)
        errors = pair_errors(args.input, out, args.width)
        seam = errors[kept - 1] if 0 < kept <= len(errors) else float("nan")  # pair (kept-1, kept)
        mean = float(np.mean(errors))
        report["resume"] = {"exit": code, "kept_before": kept, "frames": frames, "input_frames": total,
                            "every_frame_once": bool(once), "video_seconds": frames / rate, "audio_seconds": audio,
                            "seam_ewarp": seam, "mean_ewarp": mean, "seam_over_mean": seam / mean}
        print(f"resume: exit {code}, {frames} frames of {total} (every input frame once: {once}), audio "
              f"{audio:.3f} s for {frames / rate:.3f} s of video; E_warp at the seam {seam:.5f}, clip mean {mean:.5f}: "
              f"{seam / mean:.2f}x (target <= 1.5x)")

        # SIGTERM once the partial plays a few dozen frames
        out = folder / "term.mp4"
        process = subprocess.Popen([sys.executable, "-m", "streamdream", "video", str(args.input), "-o", str(out),
                                    "--width", str(args.width), "--seed", "1"], cwd=ROOT,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        partial = folder / "term.partial.mp4"
        while process.poll() is None and (not partial.exists() or decodable(partial)[0] < 30):
            time.sleep(0.5)
        shown = decodable(partial)[0] if partial.exists() else 0
        process.send_signal(signal.SIGTERM)
        printed, _ = process.communicate()
        n = decodable(out)[0] if out.exists() else 0
        leftovers = sorted(p.name for p in folder.iterdir() if p.name.startswith(("term", ".")))
        report["sigterm"] = {"exit": process.returncode, "partial_frames_at_signal": shown, "frames": n,
                             "files": leftovers, "said": printed.strip().splitlines()[-1:]}
        print(f"SIGTERM when the partial played {shown} frames: exit {process.returncode} (target 143), {n} playable "
              f"frames in the output, files left: {leftovers}; said: {printed.strip().splitlines()[-1:]}")

        if not args.skip_rss:
            first = cv2.VideoCapture(str(args.input)).read()[1]
            photo = folder / "photo.jpg"
            cv2.imwrite(str(photo), cv2.resize(first, (4000, 3000), interpolation=cv2.INTER_CUBIC))
            big = cv2.resize(first, (3840 + 40, 2160 + 24), interpolation=cv2.INTER_CUBIC)[:, :, ::-1]
            clip4k = folder / "clip4k.mp4"
            with av.open(str(clip4k), "w") as c:
                s = c.add_stream("libx264", rate=25)
                s.width, s.height, s.pix_fmt = 3840, 2160, "yuv420p"
                for i in range(3):
                    image = np.ascontiguousarray(big[i * 4:i * 4 + 2160, i * 6:i * 6 + 3840])
                    c.mux(s.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
                c.mux(s.encode(None))
            steps = [] if args.full else ["--iterations", "1"]
            keep = args.keep or folder
            keep.mkdir(parents=True, exist_ok=True)
            for name, command in [
                ("photo 4000x3000", ["image", str(photo), "-o", str(keep / "photo-dream.png"), "--overwrite"]),
                ("video 3840x2160, 3 frames", ["video", str(clip4k), "-o", str(keep / "clip4k-dream.mp4"),
                                               "--overwrite"]),
            ]:
                rss, seconds, code = peak_rss_mb([sys.executable, "-m", "streamdream", *command, "--seed", "0", *steps])
                report[name] = {"peak_rss_mb": round(rss), "seconds": round(seconds, 1), "exit": code,
                                "iterations": "preset" if args.full else 1}
                print(f"{name}: peak RSS {rss:.0f} MB (target <= 2048 MiB = 2147 MB), {seconds:.0f} s, exit {code}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Schedule benchmark: the targets of schedules and audio-reactive dreaming, measured on clips it
makes, with the numbers beside the targets, written as JSON and as a Markdown table.

    python scripts/bench_schedule.py [--input ../shared/media/bigbuckbunny.mp4] [--width 320]
        [--out out/schedule] [--json docs/schedule/bench.json] [--markdown docs/schedule.md]

Clips: `drums.mp4`, the real clip (ping-ponged to 8 s) with a synthetic kick-and-hat track at
`--bpm`, silent for two seconds in the middle; the real clip with its own sound; the real clip
without sound. Each measure says what it is measured on. Also writes a curve plot and a strip
of the beat-driven output (frames on and between beats) under `--out`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import torch

from streamdream.errors import StreamdreamError
from streamdream.media.video_in import VideoFileSource
from streamdream.metrics import strength, temporal_metrics
from streamdream.presets import build_config
from streamdream.schedule.audio import RATE, analyse
from streamdream.schedule.plan import build_timeline, curves_record, frame_times
from streamdream.video import dream_video_file

sys.path.insert(0, str(Path(__file__).parent))
from bench import machine  # noqa: E402

DEFAULT_INPUT = Path(__file__).resolve().parent.parent.parent / "shared" / "media" / "bigbuckbunny.mp4"
FPS = 25


def drum_track(seconds: float, bpm: float, silent: tuple[float, float], rate: int = RATE):
    """A four-to-the-floor bar: a kick on beats 1 and 3, a snare on 2 and 4, a hat on every
    eighth note (on the beats and between), none in `silent`; mono float32 and the beat times."""
    rng = np.random.default_rng(0)
    out = np.zeros(int(seconds * rate), np.float32)
    period = 60.0 / bpm
    t = np.arange(int(0.25 * rate)) / rate
    kick = np.sin(2 * np.pi * (50 + 120 * np.exp(-t * 30)) * t) * np.exp(-t * 12)
    kick[:110] += rng.standard_normal(110) * np.exp(-np.arange(110) / 25) * 0.5  # the beater's click
    snare = (rng.standard_normal(t.size) * 0.6 + np.sin(2 * np.pi * 190 * t)) * np.exp(-t * 25)
    hat = rng.standard_normal(int(0.04 * rate)) * np.exp(-np.arange(int(0.04 * rate)) / 150) * 0.12

    def add(at: float, sound: np.ndarray) -> None:
        i = int(at * rate)
        if i < out.size and not silent[0] <= at < silent[1]:
            n = min(sound.size, out.size - i)
            out[i:i + n] += sound[:n].astype(np.float32)

    beats, k = [], 0
    while 0.2 + k * period < seconds:
        at = 0.2 + k * period
        add(at, kick if k % 2 == 0 else snare)
        add(at, hat)
        add(at + period / 2, hat)
        if not silent[0] <= at < silent[1]:
            beats.append(at)
        k += 1
    return np.clip(out * 0.8, -1, 1), np.array(beats)


def frames_of(path: Path, width: int, count: int | None = None) -> list[np.ndarray]:
    source = VideoFileSource(path, width, 0.0, count)
    frames = [f.image for f in source.frames()]
    source.close()
    return frames


def write_clip(path: Path, frames: list[np.ndarray], sound: np.ndarray | None = None, crf: int = 16) -> Path:
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=Fraction(FPS))
        video.height, video.width = frames[0].shape[:2]
        video.pix_fmt = "yuv420p"
        video.codec_context.options = {"crf": str(crf), "preset": "fast"}
        audio = None
        if sound is not None:
            audio = out.add_stream("aac", rate=RATE)
            audio.layout = "mono"
        for image in frames:
            out.mux(video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(video.encode(None))
        if audio is not None:
            for start in range(0, sound.size, 1024):
                frame = av.AudioFrame.from_ndarray(sound[None, start:start + 1024], format="fltp", layout="mono")
                frame.sample_rate, frame.pts = RATE, start
                out.mux(audio.encode(frame))
            out.mux(audio.encode(None))
    return path


def dream(clip: Path, out: Path, schedule: dict, width: int, frames: int | None = None, seed: int = 3) -> dict:
    config = build_config(None, {"dream": {"width": width, "seed": seed}, "schedule": schedule})
    curves = out.with_suffix(".json")
    start = time.perf_counter()
    result = dream_video_file(config, VideoFileSource(clip, width, 0.0, frames), out, overwrite=True,
                              schedule_out=curves)
    wall = time.perf_counter() - start
    return {"record": json.loads(curves.read_text()), "seconds_per_frame": wall / max(result.stats.frames, 1)}


def per_frame_strength(clip: Path, out: Path, width: int) -> tuple[np.ndarray, list, list]:
    inputs = frames_of(clip, width)
    outputs = frames_of(out, width)
    n = min(len(inputs), len(outputs))
    return np.array([strength(o, i) for o, i in zip(outputs[:n], inputs[:n])]), inputs[:n], outputs[:n]


def spearman(a, b) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def jumps_off_beat(st: np.ndarray, beat_frames: set[int]) -> float:
    """The largest frame-to-frame change of mean strength, as a share, away from asked-for beats."""
    changes = [abs(st[k] - st[k - 1]) / st[k - 1] for k in range(1, len(st))
               if not any(abs(k - b) <= 1 for b in beat_frames)]
    return float(max(changes)) if changes else 0.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", type=Path, default=DEFAULT_INPUT)
    p.add_argument("--width", type=int, default=320)
    p.add_argument("--bpm", type=float, default=123.0)
    p.add_argument("--out", type=Path, default=Path("out/schedule"))
    p.add_argument("--json", type=Path)
    p.add_argument("--markdown", type=Path)
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    facts = machine(torch.device("cpu"))
    rows, numbers = [], {"machine": f"{facts['cpu']}, {facts['cores']} cores", "width": args.width, "bpm": args.bpm}

    def row(what, value, target, ok, on):
        rows.append((what, value, target, "yes" if ok else "**no**", on))
        print(f"{what:44s} {value:>14}  target {target:12s} {'ok' if ok else 'MISSED'}  ({on})", flush=True)

    real = frames_of(args.input, args.width)
    clip8 = (real + real[::-1]) * ((8 * FPS) // (2 * len(real)) + 1)
    clip8 = clip8[:8 * FPS]
    sound, truth = drum_track(8.0, args.bpm, (4.0, 6.0))
    drums = write_clip(args.out / "drums.mp4", clip8, sound)
    silent = write_clip(args.out / "silent.mp4", real)

    # beats found, at the clip's tempo and three others
    for bpm in sorted({args.bpm, 90.0, 96.0, 110.0, 140.0, 150.0}):
        track, truth = drum_track(8.0, bpm, (4.0, 6.0))
        features = analyse(track, RATE)
        near = np.array([np.abs(features.beats - t).min() for t in truth])
        share = float(np.mean(near <= 1 / FPS))
        tempo_error = abs(features.bpm - bpm) / bpm
        in_silence = int(np.sum((features.beats > 4.0 + 0.5 * 60 / bpm) & (features.beats < 6.0 - 0.05)))
        on = f"drum track at {bpm:g} bpm, 2 s silent"
        row("beats within 1 frame of the truth", f"{share:.0%}", ">= 90%", share >= 0.9, on)
        row("tempo error", f"{tempo_error:.2%} ({features.bpm:.2f})", "<= 2%", tempo_error <= 0.02, on)
        row("beats found in the silence", in_silence, "0", in_silence == 0, on)
        numbers[f"beats_{bpm:g}"] = {"share": share, "tempo": features.bpm, "in_silence": in_silence}
    try:
        build_timeline(build_config(None, {"schedule": {"strength": "0:(1 + rms)"}}), "video", FPS, silent)
        refused = "no"
    except StreamdreamError as exc:
        refused = str(exc)
    row("an audio name on a clip without sound: refused", "yes" if refused != "no" else "no", "yes", refused != "no",
        "the shared clip's frames, no sound")
    own = build_timeline(build_config(None, {"schedule": {"strength": "0:(0.6 + 1.6*beat)"}}), "video", FPS, args.input)
    row("beats found in the shared clip's own sound", len(own.audio.beats), "(shown)", True, args.input.name)

    # a strength ramp
    n = len(real)
    dream(args.input, args.out / "ramp.mp4", {"strength": f"0:(0.4), {n - 1}:(2.0)"}, args.width)
    st, inputs, outputs = per_frame_strength(args.input, args.out / "ramp.mp4", args.width)
    rho, ratio = spearman(st, np.arange(len(st))), float(st[-10:].mean() / st[:10].mean())
    row("ramp: Spearman of strength with frame", f"{rho:.3f}", ">= 0.9", rho >= 0.9, f"{args.input.name}, {n} frames")
    row("ramp: last 10 frames / first 10", f"{ratio:.2f}x", ">= 3x", ratio >= 3, args.input.name)
    m = temporal_metrics(inputs, outputs)
    jump = jumps_off_beat(st, set())
    row("ramp: detail coherence (moving)", f"{m.coherence:.3f} ({m.coherence_moving:.3f})", ">= 0.85 (0.8)",
        m.coherence >= 0.85 and m.coherence_moving >= 0.8, args.input.name)
    row("ramp: largest strength jump a frame", f"{jump:.1%}", "<= 20%", jump <= 0.2, args.input.name)
    row("ramp: concentration max", f"{m.concentration_max:.3f}", "<= 0.2", m.concentration_max <= 0.2, args.input.name)
    numbers.update(ramp_spearman=rho, ramp_ratio=ratio, ramp_coherence=m.coherence, ramp_coherence_moving=m.coherence_moving,
                   ramp_jump=jump, ramp_concentration=m.concentration_max)

    # a layers cross-fade over the whole clip
    dream(args.input, args.out / "layers.mp4", {"layers": f"0:(block6), {n - 1}:(block12)"}, args.width)
    st, inputs, outputs = per_frame_strength(args.input, args.out / "layers.mp4", args.width)
    m = temporal_metrics(inputs, outputs)
    jump = jumps_off_beat(st, set())
    row("layers block6 -> block12: coherence (moving)", f"{m.coherence:.3f} ({m.coherence_moving:.3f})", ">= 0.85 (0.8)",
        m.coherence >= 0.85 and m.coherence_moving >= 0.8, args.input.name)
    row("layers cross-fade: largest strength jump", f"{jump:.1%}", "<= 20%", jump <= 0.2, args.input.name)
    row("layers cross-fade: concentration max", f"{m.concentration_max:.3f}", "<= 0.2", m.concentration_max <= 0.2,
        args.input.name)
    sheet(inputs, outputs, [5, n // 3, 2 * n // 3, n - 25, n - 5], args.out / "layers_sheet.png")
    numbers.update(layers_coherence=m.coherence, layers_coherence_moving=m.coherence_moving, layers_jump=jump,
                   layers_concentration=m.concentration_max)

    # beat-driven strength on the drum clip
    beat = dream(drums, args.out / "beat.mp4", {"strength": "0:(0.6 + 1.6*beat)"}, args.width)
    st, inputs, outputs = per_frame_strength(drums, args.out / "beat.mp4", args.width)
    asked = np.array(beat["record"]["strength"][:len(st)])
    r = float(np.corrcoef(st, asked)[0, 1])
    row("beat: Pearson of strength with the schedule", f"{r:.3f}", ">= 0.7", r >= 0.7, "drum clip")
    # a beat's pulse first shows on the frame at or after it
    beat_frames = [int(np.ceil(b * FPS - 1e-6)) for b in beat["record"]["beats"]]
    peaks = [k for k in range(1, len(st) - 1) if st[k] > st[k - 1] and st[k] >= st[k + 1] and st[k] > np.median(st) * 1.15]
    off = [k for k in peaks if min(abs(k - b) for b in beat_frames) > 2] if beat_frames else peaks
    row("beat: strength peaks more than 2 frames off a beat", f"{len(off)} of {len(peaks)}", "0", not off, "drum clip")
    m = temporal_metrics(inputs, outputs)
    row("beat: detail coherence (moving)", f"{m.coherence:.3f} ({m.coherence_moving:.3f})", "(shown)", True, "drum clip")
    numbers.update(beat_pearson=r, beat_peaks=len(peaks), beat_peaks_off=len(off), beat_coherence=m.coherence)
    strip(inputs, outputs, beat_frames, st, args.out / "beat_strip.png")

    # colours kept, against the codec's own floor
    ycc = lambda image: cv2.cvtColor(image, cv2.COLOR_RGB2YCrCb).astype(np.float32)
    chroma = lambda outs, ins: float(np.mean([np.abs(ycc(o)[..., 1:] - ycc(i)[..., 1:]).mean() for o, i in zip(outs, ins)]))
    for width in sorted({args.width, 640}):
        results = {}
        for name, extra in (("own", {}), ("kept", {"colors": "0:(0)"})):
            config = build_config(None, {"dream": {"width": width, "seed": 3}, "schedule": extra, "video": {"crf": 18}})
            out = args.out / f"colors_{name}_{width}.mp4"
            dream_video_file(config, VideoFileSource(args.input, width, 0.0, 30), out, overwrite=True)
            _, ins, outs = per_frame_strength(args.input, out, width)
            results[name] = chroma(outs, ins)
        originals = frames_of(args.input, width, 30)
        copy = args.out / f"copy_{width}.mp4"
        write_clip(copy, originals, crf=18)
        floor = chroma(frames_of(copy, width), originals)
        row("colors = 0: chroma change (levels)", f"{results['kept']:.2f}", "<= 1.5", results["kept"] <= 1.5,
            f"{args.input.name} at {width} wide, 30 frames, crf 18; the dream's own colours {results['own']:.2f}, "
            f"the input only re-encoded {floor:.2f}")
        numbers[f"chroma_{width}"] = {"kept": results["kept"], "own": results["own"], "codec": floor}

    # cost
    config = build_config(None, {"schedule": {"strength": "smooth: 0:(0.6 + 1.6*beat), 5s:(1 + 0.5*sin(s))",
                                              "layers": "0:(block6), 5s:(block10)"}})
    timeline = build_timeline(config, "video", FPS, drums)
    times = frame_times(2000, FPS)
    start = time.perf_counter()
    for k, t in enumerate(times):
        timeline.commands(k, t)
    per_frame = (time.perf_counter() - start) / len(times)
    share = per_frame / beat["seconds_per_frame"]
    row("schedule cost, share of a frame's time", f"{share:.3%} ({per_frame * 1e6:.0f} us)", "< 2%", share < 0.02,
        f"{args.width} wide default look")
    long_sound, _ = drum_track(300.0, args.bpm, (0, 0))
    start = time.perf_counter()
    analyse(long_sound, RATE)
    seconds = time.perf_counter() - start
    row("audio analysis of a 5-minute track", f"{seconds:.1f} s", "< 10 s", seconds < 10, "drum track (after librosa's first call)")
    numbers.update(schedule_share=share, analysis_seconds=seconds)
    plot(build_timeline(build_config(None, {"schedule": {"strength": "0:(0.6 + 1.6*beat)"}}), "video", FPS, drums),
         args.out / "beat_curves.png")

    numbers["rows"] = rows
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(numbers, indent=1, default=float))
    if args.markdown:
        import shutil

        pictures = args.markdown.parent / "schedule"
        pictures.mkdir(parents=True, exist_ok=True)
        for name in ("beat_strip.png", "beat_curves.png", "layers_sheet.png"):
            shutil.copyfile(args.out / name, pictures / name)
        lines = ["# Schedules and audio: measured", "", f"Written by `scripts/bench_schedule.py` on {numbers['machine']}, "
                 f"{args.width} wide, the default look, seed 3.", "",
                 "| measure | value | target | met | on |", "|---|---|---|---|---|"]
        lines += [f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in rows]
        lines += ["", "The beat-driven clip (`strength = \"0:(0.6 + 1.6*beat)\"` on the drum clip), frames on a beat "
                  "and six frames after, input above, output below, each with its mean strength:", "",
                  "![frames on and between beats](schedule/beat_strip.png)", "", "Its schedule, as "
                  "`streamdream schedule` draws it:", "", "![the schedule's curves](schedule/beat_curves.png)", "",
                  f"The layers cross-fade (`layers = \"0:(block6), {n - 1}:(block12)\"`), input above, output below:", "",
                  "![a layers cross-fade](schedule/layers_sheet.png)"]
        args.markdown.write_text("\n".join(lines) + "\n")


def strip(inputs, outputs, beat_frames, st, path: Path) -> None:
    """Frames on a beat and halfway between, input over output, with their strength."""
    picks = []
    for b in beat_frames[1:6]:
        for k in (b, b + 6):
            if k < len(outputs):
                picks.append(k)
    tiles = []
    for k in picks:
        column = np.concatenate([inputs[k], outputs[k]], axis=0).copy()
        label = f"{k} {'beat' if k in beat_frames else 'between'} {st[k]:.3f}"
        cv2.putText(column, label, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(column)
    if tiles:
        cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(tiles, axis=1), cv2.COLOR_RGB2BGR))


def sheet(inputs, outputs, picks, path: Path) -> None:
    """Input over output at each of `picks`, numbered."""
    picks = [k for k in picks if 0 <= k < len(outputs)]
    columns = [np.concatenate([inputs[k], outputs[k]], axis=0).copy() for k in picks]
    for k, column in zip(picks, columns):
        cv2.putText(column, str(k), (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(columns, axis=1), cv2.COLOR_RGB2BGR))


def plot(timeline, path: Path) -> None:
    from streamdream.schedule.plot import plot_curves

    times = frame_times(8 * FPS, FPS)
    plot_curves(timeline, curves_record(timeline, times), path)


if __name__ == "__main__":
    main()

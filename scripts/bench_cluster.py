#!/usr/bin/env python
"""Cluster benchmark: a `video --cluster local:2` render against a single-process `video` of the
same clip, on this machine: the cost, the per-chunk overheads, the seams, and the dream quality,
written as JSON and as docs/cluster.md.

    python scripts/bench_cluster.py [--input ../shared/media/bigbuckbunny.mp4] [--seconds 60]
        [--fps 10] [--out out/cluster] [--json docs/cluster/bench.json] [--markdown docs/cluster.md]

The clip: a 640x360 window gliding and shaking over a still of the input (a handheld pan, no
cuts), `--seconds` long, with a tone as its audio. The single-process render uses both cores; the
cluster two workers of one core each. Also writes a contact sheet of each seam (frames s-2 .. s+2:
input, single process, cluster) under `--out`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import av
import cv2
import numpy as np
import torch

from streamdream.cluster.render import dream_video_on_cluster
from streamdream.config import ClusterConfig
from streamdream.media.video_in import VideoFileSource
from streamdream.metrics import strength, temporal_metrics
from streamdream.presets import build_config

sys.path.insert(0, str(Path(__file__).parent))
from bench import machine  # noqa: E402

DEFAULT_INPUT = Path(__file__).resolve().parent.parent.parent / "shared" / "media" / "bigbuckbunny.mp4"
WIDTH, HEIGHT = 640, 360
WINDOW = 12  # frames either side of a seam


def make_clip(shots: list[tuple[np.ndarray, float, bool]], path: Path, fps: int) -> Path:
    """Handheld pans over stills, one a shot (still, seconds, a fast mover crossing it or not):
    a 640x360 window on a slow path with a quick shake, cut from shot to shot; a tone as audio."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.codec_context.options = {"crf": "16", "preset": "fast"}
        sound = out.add_stream("aac", rate=48000)
        sound.layout = "mono"
        for still, seconds, mover in shots:
            h, w = still.shape[:2]
            for i in range(round(seconds * fps)):
                t = i / fps
                x = (w - WIDTH) / 2 * (1 + 0.9 * np.sin(2 * np.pi * t / 23)) + 6 * np.sin(2 * np.pi * t * 1.7)
                y = (h - HEIGHT) / 2 * (1 + 0.8 * np.sin(2 * np.pi * t / 17)) + 4 * np.cos(2 * np.pi * t * 2.3)
                m = np.float32([[1, 0, -x], [0, 1, -y]])
                frame = cv2.warpAffine(still, m, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR,
                                       borderMode=cv2.BORDER_REFLECT)
                if mover:  # a textured disc crossing the frame at 24 px a frame
                    cx, cy = int(-60 + (24 * i) % (WIDTH + 120)), HEIGHT // 2 + int(40 * np.sin(i / 5))
                    patch = cv2.resize(still[:120, :120], (120, 120))
                    disc = np.zeros((HEIGHT, WIDTH), np.uint8)
                    cv2.circle(disc, (cx, cy), 55, 255, -1)
                    layer = np.zeros_like(frame)
                    x0, y0 = cx - 60, cy - 60
                    xs, ys = slice(max(0, x0), min(WIDTH, x0 + 120)), slice(max(0, y0), min(HEIGHT, y0 + 120))
                    layer[ys, xs] = patch[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0]
                    frame = np.where(disc[..., None] > 0, layer, frame)
                out.mux(video.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
        out.mux(video.encode(None))
        samples = int(sum(s for _, s, _ in shots) * 48000)
        tone = (0.2 * np.sin(2 * np.pi * 330 * np.arange(samples) / 48000)).astype(np.float32)
        for start in range(0, samples, 1024):
            frame = av.AudioFrame.from_ndarray(tone[None, start:start + 1024], format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 48000, start
            out.mux(sound.encode(frame))
        out.mux(sound.encode(None))
    return path


def audio_seconds(path: Path) -> float:
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        packets = [p for p in c.demux(a) if p.pts is not None]
        return float(max((p.pts + p.duration) for p in packets) * a.time_base)


def render_both(clip: Path, out: Path, name: str, settings: ClusterConfig) -> dict:
    """A single-process and a cluster render of `clip`, and what they are against each other."""
    single_path, cluster_path = out / f"{name}_single.mp4", out / f"{name}_cluster.mp4"
    for p in (single_path, cluster_path):
        p.unlink(missing_ok=True)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "streamdream", "video", str(clip), "-o", str(single_path), "--seed", "3"],
                   check=True, stdout=subprocess.DEVNULL)
    single_seconds = time.perf_counter() - t
    config = build_config(None, {"dream": {"seed": 3}})
    t = time.perf_counter()
    result = dream_video_on_cluster(config, settings, VideoFileSource(clip), cluster_path, say=print)
    cluster_seconds = time.perf_counter() - t
    plan = result.plan
    seams = [c.first - (c.head + 1) // 2 for c in plan.chunks[1:] if not c.at_cut]
    return {"single_seconds": single_seconds, "cluster_seconds": cluster_seconds,
            "cost_ratio": cluster_seconds / single_seconds,
            "plan": {"chunks": len(plan.chunks), "warmup_share": plan.warmup_share, "dreamt": plan.dreamt,
                     "cuts": list(plan.cuts), "cuts_used": list(plan.cuts_used), "seams": seams},
            "seconds": result.seconds, "chunks": result.chunk_seconds,
            **measure(clip, single_path, cluster_path, seams, list(plan.cuts), out, name)}


def frames_of(path: Path) -> list[np.ndarray]:
    source = VideoFileSource(path)
    try:
        return [f.image for f in source.frames()]
    finally:
        source.close()


def times_of(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        return [float(f.pts * f.time_base) for f in c.decode(video=0)]


SHEETS = {"pan_seam_1.jpg": "seam.jpg", "cuts_cut_0.jpg": "cut.jpg"}


def keep_sheets(out: Path, docs: Path) -> None:
    """The contact sheets the page shows: a seam in the long pan and the first cut of the other clip."""
    import shutil

    for name, kept in SHEETS.items():
        shutil.copyfile(out / name, docs / kept)


def shots_metrics(inputs, dreams, a: int, b: int, cuts) -> dict:
    """The measures over frames [a, b), shot by shot: no pair across a scene cut counts (its
    input error, huge, would make any E_warp ratio look small)."""
    edges = [a, *[c for c in cuts if a < c < b], b]
    parts = [(x, y) for x, y in zip(edges, edges[1:]) if y - x >= 2]
    ms = [(y - x - 1, temporal_metrics(inputs[x:y], dreams[x:y], window=y - x)) for x, y in parts]
    pairs = sum(n for n, _ in ms)

    def mean(name):
        return float(sum(n * getattr(m, name) for n, m in ms) / pairs)

    return {"coherence": mean("coherence"), "moving_covered": mean("moving_covered"), "covered": mean("covered"),
            "concentration": mean("concentration"), "strength": mean("strength"),
            "ewarp_ratio": sum(n * m.ewarp_output for n, m in ms) / sum(n * m.ewarp_input for n, m in ms)}


def seam_window(inputs, dreams, single, seam: int, cuts) -> dict:
    """The targets' measures over frames [seam - WINDOW, seam + WINDOW], and the same window of
    the single-process render."""
    a, b = max(0, seam - WINDOW), min(len(inputs), seam + WINDOW + 1)
    here, there = shots_metrics(inputs, dreams, a, b, cuts), shots_metrics(inputs, single, a, b, cuts)
    pairs = [temporal_metrics(inputs[i - 1:i + 1], dreams[i - 1:i + 1]).coherence for i in range(a + 1, b)
             if i not in cuts]
    strengths = [strength(dreams[i], inputs[i]) for i in range(a, b)]
    return {"frame": seam, "coherence": here["coherence"], "ewarp_ratio": here["ewarp_ratio"],
            "single_coherence": there["coherence"], "single_ewarp_ratio": there["ewarp_ratio"],
            "strength_spread": float(max(abs(s / np.mean(strengths) - 1) for s in strengths)),
            "coherence_min_pair": float(min(pairs))}


def measure(clip: Path, single_path: Path, cluster_path: Path, seams: list[int], cuts: list[int], out: Path,
            name: str) -> dict:
    """The seams and the whole, from the three files; contact sheets at the seams and the cuts."""
    inputs, single, cluster = frames_of(clip), frames_of(single_path), frames_of(cluster_path)
    for k, seam in enumerate(seams[:3]):
        sheet(inputs, single, cluster, seam, out / f"{name}_seam_{k}.jpg")
    for k, cut in enumerate(cuts[:2]):
        sheet(inputs, single, cluster, cut, out / f"{name}_cut_{k}.jpg")
    return {"frames_equal": len(cluster) == len(single) == len(inputs), "frames": len(cluster),
            "times_equal": times_of(cluster_path) == times_of(single_path),
            "audio_seconds": [audio_seconds(single_path), audio_seconds(cluster_path)],
            "seams": [seam_window(inputs, cluster, single, seam, cuts) for seam in seams],
            "single": shots_metrics(inputs, single, 0, len(inputs), cuts),
            "cluster": shots_metrics(inputs, cluster, 0, len(inputs), cuts)}


def sheet(inputs, single, cluster, seam: int, path: Path) -> None:
    rows = []
    for stack in (inputs, single, cluster):
        rows.append(np.concatenate([cv2.resize(stack[i], (320, 180)) for i in range(seam - 2, seam + 3)], 1))
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(rows, 0), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", default=str(DEFAULT_INPUT))
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--fps", type=int, default=10)
    ap.add_argument("--out", default="out/cluster")
    ap.add_argument("--json", default="docs/cluster/bench.json")
    ap.add_argument("--markdown", default="docs/cluster.md")
    ap.add_argument("--markdown-only", action="store_true",
                    help="measure the videos of an earlier run again and rewrite the Markdown, rendering nothing")
    args = ap.parse_args()
    if args.markdown_only:
        record = json.loads(Path(args.json).read_text())
        out = Path(args.out)
        for name, part in (("pan", record), ("cuts", record["cuts"])):
            part.update(measure(out / f"{name}.mp4", out / f"{name}_single.mp4", out / f"{name}_cluster.mp4",
                                part["plan"]["seams"], part["plan"]["cuts"], out, name))
        Path(args.json).write_text(json.dumps(record, indent=1))
        if "scan_fps_720p" not in record:
            from streamdream.cluster.scan import scan

            t = time.perf_counter()
            record["scan_fps_720p"] = len(scan(VideoFileSource(args.input), 0.15).times) / (time.perf_counter() - t)
            Path(args.json).write_text(json.dumps(record, indent=1))
        keep_sheets(out, Path(args.json).parent)
        Path(args.markdown).write_text(markdown(record))
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with av.open(args.input) as c:
        pictures = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    still, other = pictures[0], pictures[-1]
    pan = make_clip([(still, args.seconds, False)], out / "pan.mp4", args.fps)
    cuts = make_clip([(still, 12, False), (other, 8, True), (still[:, ::-1].copy(), 10, False)], out / "cuts.mp4",
                     args.fps)
    record = {"machine": machine(torch.device("cpu")),
              "clip": {"seconds": args.seconds, "fps": args.fps, "frames": round(args.seconds * args.fps),
                       "size": [WIDTH, HEIGHT]},
              **render_both(pan, out, "pan", ClusterConfig(address="local:2")),
              "cuts": render_both(cuts, out, "cuts", ClusterConfig(address="local:2", chunk_seconds=3))}
    from streamdream.cluster.scan import scan

    t = time.perf_counter()
    record["scan_fps_720p"] = len(scan(VideoFileSource(args.input), 0.15).times) / (time.perf_counter() - t)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(record, indent=1))
    keep_sheets(out, Path(args.json).parent)
    Path(args.markdown).write_text(markdown(record))
    print(json.dumps({k: record[k] for k in ("single_seconds", "cluster_seconds", "cost_ratio", "plan", "seams")},
                     indent=1))
    print(json.dumps({k: record["cuts"][k] for k in ("frames_equal", "times_equal", "audio_seconds", "plan", "seams")},
                     indent=1))
    return 0


def _summary(m) -> dict:
    return {"covered": m.covered, "moving_covered": m.moving_covered, "concentration": m.concentration,
            "coherence": m.coherence, "strength": m.strength, "ewarp_ratio": m.ratio}


def markdown(r: dict) -> str:
    chunks = r["chunks"]
    load = [x["load"] for x in chunks if x["load"]]
    opened = [x["open"] for x in chunks]
    dream = [x["dream"] for x in chunks]
    lines = [
        "# `video --cluster`: one film on many workers", "",
        f"Generated by `scripts/bench_cluster.py` on {r['machine']['cpu']} ({r['machine']['cores']} cores, no GPU). "
        f"The clip: a {r['clip']['seconds']:g}-second 640x360 handheld pan at {r['clip']['fps']} fps "
        f"({r['clip']['frames']} frames, no cuts) with a tone. "
        "Single process: `streamdream video` with both cores. Cluster: `--cluster local:2`, two workers of one "
        "core each, the default chunks (20 s, 2 s warm-up, 1 s cross-fade).", "",
        "## Cost", "",
        "| | seconds | target |", "|---|---|---|",
        f"| single process | {r['single_seconds']:.1f} | |",
        f"| `--cluster local:2` | {r['cluster_seconds']:.1f} | |",
        f"| ratio | {r['cost_ratio']:.2f}x | <= 1.3x |",
        f"| warm-up share (plan) | {100 * r['plan']['warmup_share']:.1f}% of {r['plan']['dreamt']} frames dreamt, "
        f"{r['plan']['chunks']} chunks | < 12% |", "",
        f"Frames equal to the single-process render's: {r['frames_equal']}; timestamps equal: {r['times_equal']}; "
        f"audio {r['audio_seconds'][1]:.3f} s against {r['audio_seconds'][0]:.3f} s.", "",
        "## Where the time goes", "",
        "| part | seconds |", "|---|---|",
        f"| join the Ray cluster (start a local one) | {r['seconds'].get('connect', 0):.2f} |",
        f"| scan for cuts (64 px, every frame) | {r['seconds'].get('scan', 0):.2f} |",
        f"| load the network, per worker | {np.mean(load) if load else 0:.2f} |",
        f"| open a chunk: seek to its warm-up, build its dream stage | {np.mean(opened):.2f} mean, "
        f"{max(opened):.2f} max |",
        f"| dream a chunk | {np.mean(dream):.1f} mean |",
        f"| chunks and seams on the workers and the driver | {r['seconds'].get('render', 0):.1f} |",
        f"| join (remux, audio copied) | {r['seconds'].get('join', 0):.2f} |", "",
        "## Seams (each cross-fade's middle, +-12 frames)", "",
        "Rows: the input, one process, the cluster; frames s-2 .. s+2 around the middle of the second seam's "
        "cross-fade.", "", "![a seam](cluster/seam.jpg)", "",
        *seams_table(r),
        "", "## Dream quality against one process (within 0.03; strength within 10%)", "",
        *quality_table(r), "",
    ]
    k = r["cuts"]
    lines += [
        "## A clip with cuts and a fast mover, in 3-second chunks", "",
        f"30 s at {r['clip']['fps']} fps: 12 s of pan, a cut, 8 s of another pan with a disc crossing it at 24 px a "
        f"frame, a cut, 10 s of a third. The scan found cuts at frames {k['plan']['cuts']}; "
        f"{len(k['plan']['cuts_used'])} chunks start at them, {k['plan']['chunks']} chunks in all "
        f"(`--chunk-seconds 3`), warm-up {100 * k['plan']['warmup_share']:.1f}% of the work. "
        f"Frames equal to one process's: {k['frames_equal']} ({k['frames']}); timestamps equal: {k['times_equal']}; "
        f"audio {k['audio_seconds'][1]:.3f} s against {k['audio_seconds'][0]:.3f} s. Cost "
        f"{k['cluster_seconds']:.1f} s against {k['single_seconds']:.1f} s ({k['cost_ratio']:.2f}x; short chunks "
        "pay a warm-up each).", "",
        "The first cut (frames 118 .. 122; rows as above): the chunk that starts there dreams the new shot in full "
        "from its first frame, as one process does.", "", "![a cut](cluster/cut.jpg)", "",
        *seams_table(k), "", *quality_table(k), "",
    ]
    lines += model(r, np.mean(load) if load else 0.0, float(np.mean(opened)))
    return "\n".join(lines) + "\n"


def seams_table(r: dict) -> list[str]:
    c = r["cluster"]
    lines = ["| frame | detail coherence (>= 0.9x the clip's) | one process, same frames | E_warp ratio "
             "(<= 1.25x the clip's) | one process, same frames | strength spread (<= 10%) | lowest pair "
             "coherence (>= 0.7) |", "|---|---|---|---|---|---|---|"]
    for w in r["seams"]:
        lines.append(f"| {w['frame']} | {w['coherence']:.3f} ({w['coherence'] / c['coherence']:.2f}x) | "
                     f"{w['single_coherence']:.3f} | {w['ewarp_ratio']:.2f} "
                     f"({w['ewarp_ratio'] / c['ewarp_ratio']:.2f}x) | {w['single_ewarp_ratio']:.2f} | "
                     f"{100 * w['strength_spread']:.1f}% | {w['coherence_min_pair']:.3f} |")
    return lines


def quality_table(r: dict) -> list[str]:
    return ["| | covered | moving covered | concentration | detail coherence | strength | E_warp ratio |",
            "|---|---|---|---|---|---|---|",
            *(f"| {name} | {m['covered']:.3f} | {m['moving_covered']:.3f} | {m['concentration']:.3f} | "
              f"{m['coherence']:.3f} | {m['strength']:.4f} | {m['ewarp_ratio']:.2f} |"
              for name, m in (("single process", r["single"]), ("cluster", r["cluster"])))]


def model(r: dict, load: float, opened: float) -> list[str]:
    """N GPUs on paper, from this machine's overheads; the dream's own rate is a parameter."""
    frames_scanned = r["frames"]
    scan_fps = r["scan_fps_720p"] * (1280 * 720) / (1920 * 1080)  # decode scales about with the pixels
    join_per_frame = r["seconds"].get("join", 0) / frames_scanned
    warm = 2.0 / 22.0  # the defaults inside a long shot: 2 s of warm-up a 20-s chunk
    out = ["", "## Many GPUs, on paper", "",
           "From the overheads above and two measured rates: the scan decodes the shared 1280x720 clip at "
           f"{r['scan_fps_720p']:.0f} fps here, so about {scan_fps:.0f} fps at 1080p (scaled by the pixels); the "
           f"join copies {1 / max(join_per_frame, 1e-9):.0f} frames a second. No GPU was measured: the dream's rate "
           "on one GPU, *g* 1080p frames a second, is a parameter. Time for F frames on N workers, chunks of C frames:",
           "", "    T(N) = connect + F / scan_fps + load + ceil(F (1 + w) / C / N) (C / g + open) + F / join_fps", "",
           f"with w = {100 * warm:.1f}% warm-up inside long shots (less where chunks start at cuts), open = "
           f"{opened:.2f} s and load = {load:.2f} s as measured here.", "",
           "| film | g (assumed) | N = 1 | N = 8 | N = 32 | N = 128 | serial part (scan + join) |",
           "|---|---|---|---|---|---|---|"]
    for name, seconds in (("90-minute film, 24 fps", 90 * 60), ("10-minute music video, 24 fps", 600)):
        f = seconds * 24
        c = 20 * 24
        chunks = int(np.ceil(f / c))
        for g in (2.0, 8.0):
            serial = f / scan_fps + f * join_per_frame
            cells = []
            for n in (1, 8, 32, 128):
                rounds = int(np.ceil(chunks / n))
                total = r["seconds"].get("connect", 0) + serial + load + rounds * ((c * (1 + warm)) / g + opened)
                cells.append(f"{total / 3600:.2f} h")
            out.append(f"| {name} ({chunks} chunks) | {g:g} fps | " + " | ".join(cells) + f" | {serial / 60:.1f} min |")
    out += ["", "Where it stops scaling:",
            "- **Chunks.** N beyond the chunk count adds nothing: a worker dreams a chunk alone. The 90-minute film "
            "has 270 chunks at the default 20 s; a shorter `--chunk-seconds` gives more, each with its own warm-up "
            "(2 s a 10-s chunk is 17%).",
            "- **The serial part.** The scan and the join run on the driver. The scan is a decode of every frame, "
            f"about {90 * 60 * 24 / scan_fps / 60:.0f} minutes for the 90-minute film at 1080p; the join is a copy of "
            f"packets, about {90 * 60 * 24 * join_per_frame / 60:.1f} minutes. With 32 GPUs at 8 fps each they are "
            "over half of the time.",
            "- **Reading the input.** Every worker reads its chunk and its warm-up from the shared path: the film is "
            "read about 1.1 times over, plus once by the scan. At 8 Mbit/s a 90-minute 1080p film is 5.4 GB; 128 "
            "workers starting at once read their first keyframes from the same file server.",
            "", "## Two machines, step by step", "",
            "On the first machine (the head), with streamdream installed with `pip install 'streamdream[cluster]'`:",
            "", "    ray start --head --port 6379 --ray-client-server-port 10001", "",
            "On every other machine, the same install, then:", "",
            "    ray start --address HEAD:6379", "",
            "The film must be readable at the same path on every machine (a shared folder: NFS, SMB). Then on the "
            "head:", "",
            "    streamdream video /shared/film.mp4 -o /shared/film-dream.mp4 --cluster auto", "",
            "or from a third machine, `--cluster ray://HEAD:10001`. `--chunks-dir /shared/chunks` sends each chunk "
            "through the shared folder instead of Ray's object store. Without it, a worker writes the chunk in hand "
            "to a folder of its own under the system's temporary folder; a worker killed mid-chunk leaves its folder "
            "there, and the next worker to start on that machine removes it. If the driver is stopped or lost, the "
            "same command with `--resume` renders only the chunks that are not finished."]
    return out


if __name__ == "__main__":
    sys.exit(main())

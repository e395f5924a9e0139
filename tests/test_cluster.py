"""`video --cluster`: the plan, the seams, the join, and the faults a render on many workers meets.
The render tests share one local Ray cluster (ray.init(num_cpus=2)) and skip where Ray is missing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from streamdream.cli import main
from streamdream.cluster.plan import make_plan
from streamdream.cluster.manifest import chunks_folder
from streamdream.cluster.render import dream_video_on_cluster
from streamdream.cluster.seam import crossfade, seam_frames
from streamdream.config import ClusterConfig, check_cluster
from streamdream.errors import RunError, UsageError
from streamdream.media.outputs import partial_path
from streamdream.media.video_in import VideoFileSource
from streamdream.metrics import temporal_metrics
from streamdream.presets import build_config

from .conftest import object_frame, pattern_frame, probe, write_clip

FAST = {"dream": {"seed": 5, "iterations": 2, "octaves": 2}}


# --- the plan ------------------------------------------------------------------------------------

def test_plan_cuts_at_scene_cuts_and_warms_up_inside_shots():
    times = [i / 25 for i in range(1500)]
    plan = make_plan(times, [100, 130, 400, 1200], ClusterConfig(chunk_seconds=10))
    assert plan.cuts_used == (130, 400, 1200)  # 100 and 130 are 1.2 s apart: one chunk holds both
    firsts = [c.first for c in plan.chunks]
    assert firsts[0] == 0 and firsts == sorted(firsts)
    assert [c.end for c in plan.chunks[:-1]] == firsts[1:] and plan.chunks[-1].end == 1500  # every frame once
    for c in plan.chunks:
        assert c.end - c.first <= 10 * 25
        if c.at_cut:
            assert c.dream_from == c.first and c.head == 0
        else:  # 2 s of warm-up, its last second shared with the chunk before
            assert c.first - c.dream_from == 50 and c.head == 25
    for before, after in zip(plan.chunks, plan.chunks[1:]):
        assert before.tail == after.head
        assert before.body == (before.first, before.end - before.tail)
    # a warm-up never reaches back over a cut into the shot before
    shot = [c for c in plan.chunks if c.first == 265][0]
    assert shot.dream_from == 215 and not shot.at_cut
    shot_start = [c for c in plan.chunks if c.first == 1350][0]
    assert shot_start.dream_from >= 1200


def test_plan_warmup_stops_at_the_shot_start():
    times = [i / 25 for i in range(200)]
    plan = make_plan(times, [100], ClusterConfig(chunk_seconds=2.5, warmup_seconds=2, overlap_seconds=1))
    inside = [c for c in plan.chunks if not c.at_cut]
    assert inside and all(c.dream_from >= 100 for c in inside if c.first > 100)


def test_plan_of_a_film_shorter_than_a_chunk_is_one_chunk():
    times = [i / 25 for i in range(30)]
    plan = make_plan(times, [], ClusterConfig(), workers=2)
    assert len(plan.chunks) == 1 and plan.chunks[0].body == (0, 30) and plan.warmup_share == 0


def test_plan_evens_out_the_workers_and_keeps_the_warmup_small():
    times = [i / 10 for i in range(600)]  # a minute, no cuts
    one, two = make_plan(times, [], ClusterConfig(), 1), make_plan(times, [], ClusterConfig(), 2)
    assert len(one.chunks) == 3 and len(two.chunks) == 4
    assert two.warmup_share < 0.12 and one.warmup_share < 0.12


def test_plan_follows_variable_frame_times():
    rng = np.random.default_rng(1)
    times = list(np.cumsum(rng.uniform(0.02, 0.08, 400)))
    plan = make_plan(times, [], ClusterConfig(chunk_seconds=4, warmup_seconds=1, overlap_seconds=0.5))
    for c in plan.chunks[1:]:
        assert abs((times[c.first] - times[c.dream_from]) - 1.0) < 0.1
        assert abs((times[c.first] - times[c.first - c.head]) - 0.5) < 0.1


@pytest.mark.parametrize("settings, word", [
    (ClusterConfig(chunk_seconds=1.5, warmup_seconds=2), "chunk_seconds"),
    (ClusterConfig(overlap_seconds=3, warmup_seconds=2), "overlap_seconds"),
    (ClusterConfig(address="local:0"), "cluster"),
    (ClusterConfig(address="tcp://x"), "cluster"),
])
def test_cluster_settings_are_checked(settings, word):
    with pytest.raises(UsageError) as err:
        check_cluster(settings)
    assert err.value.setting == word


# --- the seam ------------------------------------------------------------------------------------

def test_crossfade_runs_from_one_dream_to_the_other_without_going_plain():
    g = torch.Generator().manual_seed(0)
    base = torch.full((1, 3, 64, 96), 0.5)
    one = base + 0.1 * torch.randn(1, 3, 64, 96, generator=g)
    two = base + 0.1 * torch.randn(1, 3, 64, 96, generator=g)  # another dream: unlike details half cancel
    assert torch.allclose(crossfade(one, two, base, 0.0), one, atol=1e-6)
    assert torch.allclose(crossfade(one, two, base, 1.0), two, atol=1e-6)
    alone = (one - base).abs().mean()
    plain = ((one + two) / 2 - base).abs().mean() / alone
    kept = (crossfade(one, two, base, 0.5) - base).abs().mean() / alone
    assert plain < 0.75 and 0.95 < kept < 1.05  # a plain mix loses 30%; the seam keeps the strength
    with pytest.raises(ValueError):
        crossfade(one, two[..., :10], base, 0.5)
    with pytest.raises(ValueError):
        crossfade(one, two, base, 1.5)


def test_seam_frames_step_from_the_chunk_before_to_the_chunk_after():
    rng = np.random.default_rng(0)
    inputs = np.full((5, 32, 48, 3), 128, np.uint8)
    before = np.clip(inputs + rng.normal(0, 20, inputs.shape), 0, 255).astype(np.uint8)
    after = np.clip(inputs + rng.normal(0, 20, inputs.shape), 0, 255).astype(np.uint8)
    frames = seam_frames(before, after, inputs)
    assert len(frames) == 5 and frames[0].shape == (32, 48, 3)
    near_after = [np.abs(f.astype(int) - after[i]).mean() for i, f in enumerate(frames)]
    assert near_after == sorted(near_after, reverse=True)  # each frame a step nearer the second dream


# --- renders on a shared local cluster -----------------------------------------------------------

@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'streamdream[cluster]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def cut_clip(path, frames=150, **kw):
    """A sliding pattern, a cut at frame 60, then a moving disc: a long shot after a cut."""
    return write_clip(path, frames=frames, width=96, height=64,
                      make_frame=lambda i, w, h: pattern_frame(i, w, h) if i < 60 else object_frame(i, w, h), **kw)


def render(clip, out, settings=None, crf=None, **kw):
    config = build_config(None, {**FAST, "video": {"crf": crf}} if crf is not None else FAST)
    settings = settings or ClusterConfig(address="local:2", chunk_seconds=1.6, warmup_seconds=0.8, overlap_seconds=0.4)
    return dream_video_on_cluster(config, settings, VideoFileSource(clip), out, **kw)


def test_cluster_render_has_every_frame_once_with_the_single_renders_times_and_audio(ray_cluster, tmp_path):
    clip = cut_clip(tmp_path / "in.mp4", audio=True)
    single, out = tmp_path / "single.mp4", tmp_path / "out.mp4"
    assert main(["video", str(clip), "-o", str(single), "--seed", "5", "--iterations", "2", "--octaves", "2"]) == 0
    result = render(clip, out)
    assert len(result.plan.chunks) >= 3 and 60 in result.plan.cuts_used
    assert any(not c.at_cut for c in result.plan.chunks[1:])  # seams inside the long shot too
    frames, times, facts, audio = probe(out)
    s_frames, s_times, s_facts, s_audio = probe(single)
    assert len(frames) == len(s_frames) == 150
    assert times == s_times
    assert audio == pytest.approx(s_audio, abs=1e-3)
    assert (facts["width"], facts["height"]) == (s_facts["width"], s_facts["height"])
    assert not chunks_folder(out).exists() and not partial_path(out).exists()  # nothing left behind
    # it is a dream, as strong as one process's
    ins = [f.image for f in VideoFileSource(clip).frames()]
    one, many = temporal_metrics(ins, s_frames), temporal_metrics(ins, frames)
    assert many.strength == pytest.approx(one.strength, rel=0.15)
    assert abs(many.covered - one.covered) < 0.1


def test_cluster_render_keeps_variable_frame_times(ray_cluster, tmp_path):
    rng = np.random.default_rng(2)
    times = list(np.round(np.cumsum(rng.uniform(0.03, 0.06, 90)) - 0.03, 3))
    clip = write_clip(tmp_path / "vfr.mp4", frames=90, width=64, height=48, times=times)
    out = tmp_path / "out.mkv"
    render(clip, out)
    _, got, _, _ = probe(out)
    assert got == pytest.approx([t - times[0] for t in times], abs=1e-3)  # from the first frame, as any render


def test_cluster_render_of_an_image_sequence_keeps_the_rate_given(ray_cluster, tmp_path):
    import cv2

    folder = tmp_path / "render"
    folder.mkdir()
    for i in range(72):
        cv2.imwrite(str(folder / f"frame_{i + 1:04d}.png"), pattern_frame(i, 64, 48)[:, :, ::-1])
    out = tmp_path / "out.mp4"
    settings = ClusterConfig(address="local:2", chunk_seconds=1.2, warmup_seconds=0.5, overlap_seconds=0.25)
    # each worker reads its chunk at the rate given, not at the 25 a sequence is read at by default
    result = dream_video_on_cluster(build_config(None, FAST), settings, VideoFileSource(folder, rate=Fraction(24)), out)
    frames, times, facts, _ = probe(out)
    assert len(result.plan.chunks) >= 2 and len(frames) == 72
    assert times == pytest.approx([i / 24 for i in range(72)], abs=1e-3) and facts["rate"] == 24


def test_seams_inside_a_shot_are_coherent(ray_cluster, tmp_path):
    clip = write_clip(tmp_path / "slide.mp4", frames=125, width=96, height=64)  # known motion, no cut
    out = tmp_path / "out.mp4"
    # fine enough a codec that its noise is below this small, faint dream's detail: at crf 18 a
    # single-process render's keyframes drop the coherence to 0.6 here as much as a seam does
    result = render(clip, out, crf=8)
    seams = [c.first - c.head // 2 for c in result.plan.chunks[1:]]
    assert len(seams) >= 3
    ins = [f.image for f in VideoFileSource(clip).frames()]
    outs, _, _, _ = probe(out)
    whole = temporal_metrics(ins, outs)
    for s in seams:
        window = temporal_metrics(ins[s - 12:s + 13], outs[s - 12:s + 13])
        assert window.coherence >= 0.9 * whole.coherence
        pairs = [temporal_metrics(ins[i - 1:i + 1], outs[i - 1:i + 1]).coherence for i in range(s - 11, s + 13)]
        assert min(pairs) >= 0.7


def _pid_recorder(folder: str):
    def record() -> None:
        Path(folder, f"{os.getpid()}.pid").touch()
    return record


def test_a_worker_killed_mid_chunk_costs_only_a_retry(ray_cluster, tmp_path):
    clip = cut_clip(tmp_path / "in.mp4")
    out, pids = tmp_path / "out.mp4", tmp_path / "pids"
    pids.mkdir()
    killed = []

    def progress(done, total, note):
        if done > 5 and not killed:
            victim = int(sorted(pids.iterdir())[0].stem)
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    result = render(clip, out, progress=progress, setup=_pid_recorder(str(pids)))
    assert killed
    frames, _, _, _ = probe(out)
    assert len(frames) == 150
    assert any("lost" in r for r in result.retries)


def test_a_worker_clears_the_chunk_folders_its_killed_predecessors_left(tmp_path, monkeypatch):
    import tempfile

    from streamdream.cluster import worker

    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    gone = tmp_path / f"{worker.CHUNK_PREFIX}{ended.pid}-k1ll3d"
    gone.mkdir()
    (gone / "chunk-00002.partial.mp4").write_bytes(b"\0" * 1000)
    running = tmp_path / f"{worker.CHUNK_PREFIX}{os.getpid()}-busy"  # a worker still at work
    running.mkdir()
    others = [tmp_path / f"{worker.CHUNK_PREFIX}x7_q2ab", tmp_path / f"other-{ended.pid}-x"]  # not ours
    for folder in others:
        folder.mkdir()
    kept = tmp_path / "kept"  # a link named as a dead worker's folder is not followed
    kept.mkdir()
    (tmp_path / f"{worker.CHUNK_PREFIX}{ended.pid}-link").symlink_to(kept)
    others.append(kept)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    worker.ChunkWorker(build_config(None, FAST))
    assert not gone.exists()
    assert running.is_dir() and all(folder.is_dir() for folder in others)
    made = worker.chunk_folder()  # named so that the next worker finds it
    assert made.parent == tmp_path and made.name.startswith(f"{worker.CHUNK_PREFIX}{os.getpid()}-")
    assert worker.sweep_chunk_folders() == []


def _failing_read(marker: str, always: bool):
    def patch() -> None:
        from streamdream.cluster import worker

        real = worker.VideoFileSource

        class Flaky(real):
            def __init__(self, path, width=None, start=0.0, max_frames=None, **rest):
                if always and max_frames == 150:
                    raise OSError("input/output error reading the last chunk")
                try:
                    os.close(os.open(marker, os.O_CREAT | os.O_EXCL))  # the first read anywhere fails
                except FileExistsError:
                    return super().__init__(path, width, start, max_frames, **rest)
                raise OSError("input/output error (a network share hiccup)")

        worker.VideoFileSource = Flaky
    return patch


def test_a_read_that_fails_once_is_tried_again(ray_cluster, tmp_path):
    clip = cut_clip(tmp_path / "in.mp4")
    out = tmp_path / "out.mp4"
    result = render(clip, out, setup=_failing_read(str(tmp_path / "failed"), always=False))
    assert len(probe(out)[0]) == 150
    assert len(result.retries) == 1 and "OSError" in result.retries[0]


def test_a_chunk_no_retry_cures_is_reported_by_its_time_range(ray_cluster, tmp_path):
    clip = cut_clip(tmp_path / "in.mp4")
    out = tmp_path / "out.mp4"
    with pytest.raises(RunError) as err:
        render(clip, out, setup=_failing_read(str(tmp_path / "failed"), always=True))
    message = str(err.value)
    assert "failed 3 times" in message and "of " + str(clip) in message and " s " in message
    assert "\n" not in message
    assert not out.exists()
    assert (chunks_folder(out) / "manifest.json").exists()  # the chunks that finished are kept for a resume


def test_an_interrupted_render_leaves_a_playable_partial_and_resumes(ray_cluster, tmp_path):
    clip = cut_clip(tmp_path / "in.mp4", audio=True)
    out = tmp_path / "out.mp4"
    folder = chunks_folder(out)

    def progress(done, total, note):
        # once the film's first chunk is done (a later one may finish first: then the partial,
        # which holds the chunks from the start, would have nothing yet)
        record = json.loads((folder / "manifest.json").read_text())
        if "0" in record["done"] and done < total:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as err:
        render(clip, out, progress=progress)
    assert "resume" in " ".join(err.value.__notes__)
    kept = json.loads((folder / "manifest.json").read_text())["done"]
    frames, times, _, _ = probe(partial_path(out))
    assert 0 < len(frames) < 150 and times == sorted(times)
    with pytest.raises(UsageError):  # neither resume nor overwrite: refused, nothing touched
        render(clip, out)
    with pytest.raises(UsageError) as other:  # chunks cut another way are not the same film's
        render(clip, out, ClusterConfig(address="local:2", chunk_seconds=2.0, warmup_seconds=0.8,
                                        overlap_seconds=0.4), resume=True)
    assert "chunk_seconds" in str(other.value)
    result = render(clip, out, resume=True)
    assert result.kept == len(kept) and result.kept + result.rendered == len(result.plan.chunks)
    assert len(probe(out)[0]) == 150 and not partial_path(out).exists() and not folder.exists()


def test_a_killed_driver_resumes_with_only_the_unfinished_chunks(ray_cluster, tmp_path):
    clip = cut_clip(tmp_path / "in.mp4")
    out = tmp_path / "out.mp4"
    folder = chunks_folder(out)
    args = ["video", str(clip), "-o", str(out), "--seed", "5", "--iterations", "2", "--octaves", "2",
            "--cluster", "local:2", "--chunk-seconds", "1.6", "--warmup-seconds", "0.8", "--overlap-seconds", "0.4"]
    driver = subprocess.Popen([sys.executable, "-m", "streamdream", *args], start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(1200):
            manifest = folder / "manifest.json"
            if manifest.exists() and json.loads(manifest.read_text())["done"] or driver.poll() is not None:
                break
            time.sleep(0.1)
        assert driver.poll() is None, "the render ended before a chunk was done"
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    done = json.loads((folder / "manifest.json").read_text())["done"]
    assert done and not out.exists()
    # on fewer workers than it was cut for: the finished chunks are still this film's
    config = build_config(None, FAST)
    settings = ClusterConfig(address="local:1", chunk_seconds=1.6, warmup_seconds=0.8, overlap_seconds=0.4)
    result = dream_video_on_cluster(config, settings, VideoFileSource(clip), out, resume=True)
    assert result.workers == 1
    assert result.kept >= len(done) and result.rendered == len(result.plan.chunks) - result.kept
    assert len(probe(out)[0]) == 150


# --- bad input -----------------------------------------------------------------------------------

def test_without_ray_one_line_names_the_extra(tmp_path, monkeypatch, capsys):
    clip = write_clip(tmp_path / "in.mp4", frames=10)
    monkeypatch.setitem(sys.modules, "ray", None)
    out = tmp_path / "out.mp4"
    assert main(["video", str(clip), "-o", str(out), "--cluster", "local:2"]) == 2
    err = capsys.readouterr().out.strip().splitlines()
    assert len(err) == 1 and "pip install 'streamdream[cluster]'" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_an_unreachable_cluster_is_one_line_and_writes_nothing(tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed")
    clip = write_clip(tmp_path / "in.mp4", frames=10)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "streamdream", "video", str(clip), "-o", str(tmp_path / "o.mp4"),
                           "--cluster", "ray://127.0.0.1:9"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 and "ray://127.0.0.1:9" in lines[0], done.stdout + done.stderr
    assert time.monotonic() - started < 60  # well within 30 s of waiting for the address itself
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_a_chunk_shorter_than_its_warmup_is_refused(tmp_path, capsys):
    clip = write_clip(tmp_path / "in.mp4", frames=10)
    assert main(["video", str(clip), "-o", str(tmp_path / "o.mp4"), "--cluster", "local:2",
                 "--chunk-seconds", "1", "--warmup-seconds", "2"]) == 2
    err = capsys.readouterr().out
    assert "--chunk-seconds" in err and "--warmup-seconds" in err


def test_cluster_flags_need_cluster(tmp_path, capsys):
    clip = write_clip(tmp_path / "in.mp4", frames=10)
    assert main(["video", str(clip), "-o", str(tmp_path / "o.mp4"), "--chunk-seconds", "5"]) == 2
    assert "--cluster" in capsys.readouterr().out


def test_scan_times_match_the_source(tmp_path):
    from streamdream.cluster.scan import scan

    clip = cut_clip(tmp_path / "in.mp4", frames=90, rate=Fraction(30000, 1001))
    found = scan(VideoFileSource(clip, start=0.5), 0.15)
    expected = [f.time for f in VideoFileSource(clip, start=0.5).frames()]
    assert found.times == expected and found.cuts == [60 - round(0.5 * 30000 / 1001)]


def _broken_start():
    def fail() -> None:
        raise UsageError("weights /models/dream.pt does not exist")
    return fail


def test_a_worker_that_cannot_start_is_one_line_without_retries(ray_cluster, tmp_path):
    clip = write_clip(tmp_path / "in.mp4", frames=30)
    with pytest.raises(RunError) as err:
        render(clip, tmp_path / "out.mp4", setup=_broken_start())
    message = str(err.value)
    assert message.startswith("a worker could not start") and "weights /models/dream.pt does not exist" in message
    assert "\n" not in message

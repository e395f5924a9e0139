"""`video` on a Ray cluster: scan the film, plan its chunks, dream them on the workers, make the
seams and join it all into the output.

    scan (driver) -> plan -> chunks on the workers -> seams (driver) -> join (driver, no re-encode)

Every finished chunk is on disk, in NAME.chunks beside the output with a manifest, as soon as
it comes back: a driver killed any way at all loses only the chunks in hand, and the same
command with `resume` renders only the rest. A worker that dies takes its chunk with it; the
chunk goes to another worker, and a fresh worker takes the place of the one that died.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from ..config import ClusterConfig, Config
from ..errors import RunError, UsageError
from ..media.audio_in import check_audio
from ..media.outputs import Claim
from ..media.video_in import VideoFileSource, VideoInfo
from ..media.video_out import VideoFileSink
from ..video import check_same_video, made_from, video_timeline
from .connect import Cluster, connect
from .join import encode_frames, join_into
from .manifest import Manifest, check_folder, chunk_file, seam_file, shared_file
from .plan import Chunk, Plan, describe, make_plan
from .scan import scan
from .seam import seam_frames
from .worker import ChunkJob, ChunkResult, ChunkWorker

# how often a chunk is tried before the render gives up on it (a worker lost, a read failing)
ATTEMPTS = 3


# how often the driver asks the workers how far they are
POLL_SECONDS = 0.5


@dataclass
class ClusterResult:
    frames: int  # in the output
    info: VideoInfo
    plan: Plan
    workers: int
    where: str  # the cluster, for the report
    description: str
    audio: str
    rendered: int = 0  # chunks dreamt by this run
    kept: int = 0  # chunks a resume found finished
    redone_frames: int = 0  # frames dreamt again on a resume: the warm-ups of the chunks rendered
    retries: list[str] = field(default_factory=list)  # what was tried again, and why
    seconds: dict = field(default_factory=dict)  # scan, connect, render, seams, join
    chunk_seconds: list[dict] = field(default_factory=list)  # each chunk's open, dream and close
    warnings: list[str] = field(default_factory=list)


def dream_video_on_cluster(config: Config, settings: ClusterConfig, source: VideoFileSource, output: str | Path,
                           progress: Callable[[int, int, str], None] | None = None, overwrite: bool = False,
                           resume: bool = False, audio: str | Path | None = None,
                           schedule_out: str | Path | None = None, say: Callable[[str], None] | None = None,
                           setup: Callable[[], None] | None = None) -> ClusterResult:
    """`streamdream video --cluster` as a library call: dream the opened `source` into `output`
    on the Ray cluster `settings.address` names, as `video.dream_video_file` would on one
    machine (the same settings, schedule and audio), and close the source.

    `progress(done, total, note)` gets the frames dreamt (warm-ups included) and each worker's
    rate. `setup`, if given, runs once in every worker process as it starts. KeyboardInterrupt
    (Ctrl-C, SIGTERM) stops the workers, leaves the finished leading chunks joined in the
    output's partial file, playable, and keeps every finished chunk for `resume`."""
    say = say or (lambda line: None)
    output = Path(output)
    info, max_frames = source.info, source.max_frames
    seconds: dict[str, float] = {}
    cluster = None
    try:
        if audio is not None:
            check_audio(audio)
        timeline = video_timeline(config, info, max_frames, audio, schedule_out, say)
        folder = check_folder(output, resume, overwrite)
        t = time.perf_counter()
        cluster = connect(settings)
        seconds["connect"] = time.perf_counter() - t
        t = time.perf_counter()
        found = scan(source, config.video.scene_cut)
    except BaseException:
        source.close()
        if cluster is not None:
            cluster.close()
        raise
    try:
        seconds["scan"] = time.perf_counter() - t
        if not found.times:
            raise UsageError(f"no frames of {info.path} could be decoded" +
                             (f" at or after `start` {info.start:g} s" if info.start else ""))
        # a resume keeps the first run's chunks, on however many workers it now has
        workers = Manifest.planned_for(folder) if resume else cluster.workers
        plan = make_plan(found.times, found.cuts, settings, workers)
        for line in describe(plan, found.times):
            say(line)
        return _Render(config, settings, info, max_frames, found.times, plan, folder, output, timeline, cluster,
                       progress, say, setup, overwrite, resume, audio, seconds).run()
    finally:
        cluster.close()


class _Render:
    """One cluster render, from the plan to the published output."""

    def __init__(self, config, settings, info, max_frames, times, plan, folder, output, timeline, cluster: Cluster,
                 progress, say, setup, overwrite, resume, audio, seconds):
        self.config, self.settings, self.info, self.times, self.plan = config, settings, info, times, plan
        self.max_frames, self.folder, self.output, self.timeline = max_frames, folder, output, timeline
        self.cluster, self.progress, self.say, self.setup = cluster, progress, say, setup
        self.overwrite, self.resume, self.audio, self.seconds = overwrite, resume, audio, seconds
        self.manifest: Manifest | None = None

    def _made(self, seed: int) -> dict:
        """What the film is made from and with (`video.made_from`), and how it is cut: a resume
        keeps finished chunks only of the same."""
        config = replace(self.config, dream=replace(self.config.dream, seed=seed))
        s = self.settings
        return {**made_from(config, self.info), "frames": self.max_frames,
                "cluster": {"chunk_seconds": s.chunk_seconds, "warmup_seconds": s.warmup_seconds,
                            "overlap_seconds": s.overlap_seconds, "planned_for": self.plan.workers},
                "plan": [[c.first, c.end, c.dream_from, c.head] for c in self.plan.chunks]}

    def _open_manifest(self) -> None:
        seed = self.config.dream.seed
        if self.resume:
            seed = Manifest.seed(self.folder) if seed is None else seed
            self.manifest = Manifest.resume(self.folder, self.plan, self._made(seed), check_same_video)
        else:
            seed = random.randrange(2**31) if seed is None else seed
            self.manifest = Manifest.start(self.folder, self.plan, self._made(seed))
        # an unseeded render dreams every chunk, on every worker, from the one seed
        self.config = replace(self.config, dream=replace(self.config.dream, seed=seed))

    # --- the run --------------------------------------------------------------------------------

    def run(self) -> ClusterResult:
        self._open_manifest()
        kept = len(self.manifest.done)
        if kept:
            self.say(f"resuming: {kept} of {len(self.plan.chunks)} chunks are finished")
        # held from now to the end: a second run aiming at this output is refused at once
        claim = Claim(self.output, False, overwrite=True if self.resume else self.overwrite)
        result = ClusterResult(0, self.info, self.plan, self.cluster.workers, self.cluster.where,
                               f"{self.config.dream.model}, seed {self.config.dream.seed}", "no audio", kept=kept)
        try:
            t = time.perf_counter()
            self._dream_chunks(result)
            self._make_seams()
            self.seconds["render"] = time.perf_counter() - t
            t = time.perf_counter()
            result.frames, result.audio = self._join(claim)
            self.seconds["join"] = time.perf_counter() - t
        except KeyboardInterrupt as exc:
            self.manifest.save()
            kept_frames = self._join_prefix(claim)
            where = f"the first {kept_frames} frames are in {claim.partial}, playable; " if kept_frames else ""
            exc.add_note(f"{where}{len(self.manifest.done)} of {len(self.plan.chunks)} chunks are kept in "
                         f"{self.folder}; run the same again with `resume` to render the rest")
            raise
        except BaseException:
            claim.abandon()
            self.manifest.save()
            raise
        shutil.rmtree(self.folder, ignore_errors=True)
        result.seconds = self.seconds
        return result

    def _worker(self):
        """A new worker (a Ray actor): it loads the network as it starts; calls wait for that."""
        ray, c = self.cluster.ray, self.cluster
        remote = ray.remote(ChunkWorker).options(num_cpus=c.cpus, num_gpus=c.gpus, max_concurrency=2)
        return remote.remote(self.config, self.timeline, c.cpus, self.setup)

    def _job(self, chunk: Chunk) -> ChunkJob:
        shared = self.settings.chunks_dir
        return ChunkJob(str(self.info.path.resolve()), self.config.dream.width, self.info.start, chunk,
                        tuple(self.times[chunk.dream_from:chunk.end]), self.info.rate, self.info.time_base,
                        str(Path(shared).resolve()) if shared else None)

    def _dream_chunks(self, result: ClusterResult) -> None:
        ray = self.cluster.ray
        from ray.exceptions import RayActorError, RayTaskError

        pending = deque(c.number for c in self.plan.chunks if c.number not in self.manifest.done)
        if not pending:
            return
        result.redone_frames = sum(self.plan.chunks[n].first - self.plan.chunks[n].dream_from for n in pending) \
            if self.resume else 0
        total = self.plan.dreamt
        finished = sum(self.plan.chunks[n].dreamt for n in self.manifest.done)
        actors = [self._worker() for _ in range(self.cluster.workers)]
        idle = list(actors)
        running: dict = {}  # ref -> (actor, chunk number)
        attempts = {n: 0 for n in pending}
        counts = {i: (0, time.perf_counter()) for i in range(len(actors))}
        rates = {i: 0.0 for i in range(len(actors))}
        in_hand = {i: 0 for i in range(len(actors))}
        last_poll = 0.0
        try:
            while pending or running:
                while idle and pending:
                    actor, number = idle.pop(0), pending.popleft()
                    attempts[number] += 1
                    running[actor.render.remote(self._job(self.plan.chunks[number]))] = (actor, number)
                ready, _ = ray.wait(list(running), num_returns=1, timeout=POLL_SECONDS)
                for ref in ready:
                    actor, number = running.pop(ref)
                    chunk = self.plan.chunks[number]
                    try:
                        answer: ChunkResult = ray.get(ref)
                    except (RayActorError, RayTaskError) as exc:
                        why = _reason(exc)
                        if isinstance(exc, RayActorError) and exc.actor_init_failed:
                            # the network would not load there (a weights file missing, no
                            # download offline): every worker would fail alike, so no retry
                            raise RunError(f"a worker could not start: {why}") from None
                        if attempts[number] >= ATTEMPTS:
                            raise RunError(f"chunk {number} ({self._span(chunk)}) failed {attempts[number]} times, "
                                           f"last: {why}") from None
                        result.retries.append(f"chunk {number} ({self._span(chunk)}) tried again: {why}")
                        self.say(f"warning: {result.retries[-1]}")
                        pending.appendleft(number)
                        if isinstance(exc, RayActorError):
                            # a fresh worker in its place: one Ray restarts takes calls only once it
                            # is up again, and a chunk sent meanwhile would fail at once
                            ray.kill(actor, no_restart=True)
                            actors[actors.index(actor)] = actor = self._worker()
                        idle.append(actor)
                        continue
                    self._keep(chunk, answer)
                    result.rendered += 1
                    result.chunk_seconds.append({"chunk": number, "host": answer.host, **answer.seconds})
                    result.warnings += [w for w in answer.warnings if w not in result.warnings]
                    finished += chunk.dreamt
                    idle.append(actor)
                now = time.perf_counter()
                if self.progress is not None and now - last_poll >= POLL_SECONDS:
                    last_poll = now
                    # asked all at once: one wait for every worker, not one each
                    asked = {actor.progress.remote(): i for i, actor in enumerate(actors)}
                    answered, _ = ray.wait(list(asked), num_returns=len(asked), timeout=POLL_SECONDS)
                    for ref in answered:
                        i = asked[ref]
                        try:
                            done, current, in_chunk = ray.get(ref)
                        except RayActorError:
                            continue
                        before, at = counts[i]
                        if now > at and done >= before:
                            rates[i] = 0.7 * rates[i] + 0.3 * (done - before) / (now - at) if before else 0.0
                        counts[i] = (done, now)
                        in_hand[i] = in_chunk if current is not None else 0
                    self.progress(min(total, finished + sum(in_hand.values())), total, _rates(rates))
            if self.progress is not None:
                self.progress(total, total, _rates(rates))
        finally:
            for actor in actors:
                ray.kill(actor, no_restart=True)

    def _span(self, chunk: Chunk) -> str:
        end = self.times[chunk.end - 1]
        return f"{self.times[chunk.first]:.2f}-{end:.2f} s of {self.info.path}"

    def _keep(self, chunk: Chunk, answer: ChunkResult) -> None:
        """A chunk back from a worker, on disk before the manifest says it is finished."""
        target = chunk_file(self.folder, chunk.number)
        if answer.video is not None:
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(answer.video)
            os.replace(tmp, target)
        elif Path(answer.path) != target:
            shutil.move(answer.path, target)
        for side, frames, inputs in (("head", answer.head, answer.head_inputs), ("tail", answer.tail, None)):
            if frames is not None:
                path = shared_file(self.folder, chunk.number, side)
                tmp = path.with_name(path.stem + ".tmp.npz")
                np.savez(tmp, dreams=frames, **({"inputs": inputs} if inputs is not None else {}))
                os.replace(tmp, path)
        self.manifest.done[chunk.number] = {"frames": answer.frames, "host": answer.host}
        self.manifest.save()
        self._make_seams()

    def _make_seams(self) -> None:
        """Each seam whose two chunks are finished: the cross-fade, encoded as the chunks are."""
        for before, after in zip(self.plan.chunks, self.plan.chunks[1:]):
            if not before.tail or before.number in self.manifest.seams:
                continue
            if before.number not in self.manifest.done or after.number not in self.manifest.done:
                continue
            with np.load(shared_file(self.folder, before.number, "tail")) as tail, \
                    np.load(shared_file(self.folder, after.number, "head")) as head:
                frames = seam_frames(tail["dreams"], head["dreams"], head["inputs"])
            times = self.times[after.first - after.head:after.first]
            encode_frames(frames, times, seam_file(self.folder, before.number), self.info.rate, self.info.time_base,
                          self.config.video.crf)
            self.manifest.seams.add(before.number)
            self.manifest.save()
            shared_file(self.folder, before.number, "tail").unlink()
            shared_file(self.folder, after.number, "head").unlink()

    # --- the film -------------------------------------------------------------------------------

    def _sink(self, claim: Claim) -> VideoFileSink:
        info = self.info
        soundtrack = Path(self.audio) if self.audio is not None else info.path if info.has_audio else None
        return VideoFileSink(self.output, info.rate, info.time_base, self.config.video.crf, soundtrack,
                             0.0 if self.audio is not None else info.zero, overwrite=self.overwrite,
                             made=self.manifest.made,
                             expected_frames=self.plan.frames, claim=claim)

    def _pieces(self, upto: int) -> list[tuple[Path, list[float]]]:
        """The first `upto` chunks and the seams after them, each with its frames' times."""
        out = []
        for chunk in self.plan.chunks[:upto]:
            a, b = chunk.body
            out.append((chunk_file(self.folder, chunk.number), self.times[a:b]))
            if chunk.tail:
                out.append((seam_file(self.folder, chunk.number), self.times[b:chunk.end]))
        return out

    def _join(self, claim: Claim) -> tuple[int, str]:
        """Every chunk and seam into the output, published."""
        sink = self._sink(claim)
        try:
            frames = join_into(sink, self._pieces(len(self.plan.chunks)), self.info.height, self.info.width)
            if frames != self.plan.frames:
                raise RunError(f"the chunks hold {frames} frames where the film has {self.plan.frames}")
            cut_short = self.max_frames is not None or self.audio is not None
            # as `video` ends a soundtrack it cuts: a frame's length after the last frame
            sink.close(sink.last_time + 1 / float(self.info.rate) if cut_short else None)
        except BaseException:
            sink.abort()
            raise
        return frames, sink.audio.description if sink.audio else "no audio"

    def _join_prefix(self, claim: Claim) -> int:
        """After an interruption: the finished leading chunks, their seams and, where the next seam
        is not made, the last one's own dream of it, into the partial file (kept, not published)."""
        upto = self.manifest.finished_prefix()
        if upto == 0:
            claim.abandon()
            return 0
        sink = self._sink(claim)
        try:
            pieces = self._pieces(upto)
            last = self.plan.chunks[upto - 1]
            if last.tail and last.number not in self.manifest.seams:
                pieces.pop()
                with np.load(shared_file(self.folder, last.number, "tail")) as tail:
                    dreams = list(tail["dreams"])
                open_end = self.folder / "open-end.mp4"
                times = self.times[last.end - last.tail:last.end]
                encode_frames(dreams, times, open_end, self.info.rate, self.info.time_base, self.config.video.crf)
                pieces.append((open_end, times))
            join_into(sink, pieces, self.info.height, self.info.width)
        except BaseException:
            sink.abort()
            return 0
        frames = sink.frames
        sink.abort()  # keeps the partial, playable, and lets go of it
        (self.folder / "open-end.mp4").unlink(missing_ok=True)
        return frames


def _rates(rates: dict[int, float]) -> str:
    return " ".join(f"w{i + 1} {r:.1f}" for i, r in rates.items()) + " fps"


def _reason(exc: BaseException) -> str:
    """One line for why a chunk failed: a worker lost, or the error it raised."""
    from ray.exceptions import RayActorError, RayTaskError

    if isinstance(exc, RayActorError) and exc.actor_init_failed:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        return lines[-1][:300] if lines else "its network did not load"
    if isinstance(exc, RayActorError):
        return "its worker was lost (killed, out of memory, or its machine gone)"
    cause = exc.cause if isinstance(exc, RayTaskError) else exc
    text = str(cause).strip().splitlines()
    line = f"{type(cause).__name__}: {text[0] if text else ''}"[:300]
    if isinstance(cause, UsageError) and "does not exist" in line:
        line += " (every worker must find the film at the same path: a shared folder)"
    return line

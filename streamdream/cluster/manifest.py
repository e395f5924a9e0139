"""What a cluster render has finished, on disk beside its output: NAME.chunks/ holds each
finished chunk, each seam, the pictures a seam yet to be made needs, and manifest.json, which
says which of them are whole. It is written after each piece is in place, so a driver killed any
way at all leaves a folder a resume can trust."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

from ..errors import UsageError
from .plan import Plan

NAME = "manifest.json"


def chunks_folder(output: str | Path) -> Path:
    """Where a cluster render keeps its finished chunks and its manifest until the film is joined."""
    output = Path(output)
    return output.with_name(f"{output.name}.chunks")


def chunk_file(folder: Path, number: int) -> Path:
    return folder / f"chunk-{number:05d}.mp4"


def seam_file(folder: Path, number: int) -> Path:
    """The seam after chunk `number`."""
    return folder / f"seam-{number:05d}.mp4"


def shared_file(folder: Path, number: int, side: str) -> Path:
    """The pictures chunk `number` shares with a neighbour (side: head or tail), until the seam is made."""
    return folder / f"{side}-{number:05d}.npz"


def check_folder(output: str | Path, resume: bool, overwrite: bool) -> Path:
    """The chunks folder, refused (UsageError) when an earlier render left one and neither `resume`
    nor `overwrite` says what to do with it, or when `resume` has nothing to continue."""
    folder = chunks_folder(output)
    there = (folder / NAME).exists()
    if os.path.lexists(folder) and not folder.is_dir():
        raise UsageError(f"{folder} is not a folder; remove it (a cluster render keeps its chunks there)")
    if resume and not there:
        raise UsageError(f"nothing to resume: {folder} holds no cluster render's manifest", setting="resume")
    if there and not resume and not overwrite:
        raise UsageError(f"{folder} holds the chunks of an interrupted cluster render; `resume` continues it, "
                         f"`overwrite` starts over", setting="resume")
    return folder


class Manifest:
    """The finished chunks (`done`: number -> record) and seams (`seams`: the chunk before each)
    of one render, whose record of what it is made from and with is `made`."""

    def __init__(self, folder: Path, plan: Plan, made: dict):
        self.folder, self.plan, self.made = folder, plan, made
        self.done: dict[int, dict] = {}
        self.seams: set[int] = set()

    @classmethod
    def start(cls, folder: Path, plan: Plan, made: dict) -> "Manifest":
        """A fresh folder (what an earlier render left there is removed: `overwrite`)."""
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        manifest = cls(folder, plan, made)
        manifest.save()
        return manifest

    @staticmethod
    def seed(folder: Path) -> int:
        """The seed the render in `folder` dreams with."""
        return json.loads((folder / NAME).read_text())["made"]["dream"]["seed"]

    @staticmethod
    def planned_for(folder: Path) -> int:
        """How many workers the render in `folder` cut its chunks for."""
        return int(json.loads((folder / NAME).read_text())["made"]["cluster"]["planned_for"])

    @classmethod
    def resume(cls, folder: Path, plan: Plan, made: dict, same) -> "Manifest":
        """What an earlier render in `folder` finished, once `same(earlier, now)` (which raises
        UsageError naming what differs) agrees it made the same film. A piece the manifest names
        that is not there, or a chunk whose pictures for a seam still to make are gone, is redone."""
        record = json.loads((folder / NAME).read_text())
        same(SimpleNamespace(path=folder, made=record["made"]), made)
        manifest = cls(folder, plan, made)
        manifest.done = {int(k): v for k, v in record["done"].items() if chunk_file(folder, int(k)).exists()}
        manifest.seams = {int(k) for k in record["seams"] if seam_file(folder, int(k)).exists()}
        for number in list(manifest.done):
            chunk = plan.chunks[number]
            for side, frames, seam in (("head", chunk.head, number - 1), ("tail", chunk.tail, number)):
                if frames and seam not in manifest.seams and not shared_file(folder, number, side).exists():
                    del manifest.done[number]
                    break
        manifest.save()
        return manifest

    def save(self) -> None:
        path = self.folder / NAME
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"made": self.made, "done": {str(k): v for k, v in sorted(self.done.items())},
                                   "seams": sorted(self.seams)}, indent=1))
        os.replace(tmp, path)

    def finished_prefix(self) -> int:
        """How many chunks from the film's start are all finished."""
        n = 0
        while n < len(self.plan.chunks) and n in self.done:
            n += 1
        return n

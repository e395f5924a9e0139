"""What an interrupted run left in a partial video: the whole frames a resume keeps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import UsageError


class Partial:
    """What an interrupted run left in a partial file, as `read_partial` found it."""

    def __init__(self, path: Path, frames: int, last_time: float, last_image: np.ndarray | None,
                 made: dict | None = None):
        self.path = path
        self.made = made or {}  # what it was made from and with (see video_out.VideoFileSink.made)
        self.frames = frames  # leading video packets to keep: one frame each (our files have no B-frames)
        self.last_time = last_time  # seconds: the last kept frame's time
        self.last_image = last_image  # RGB uint8 (H, W, 3) of that frame


def read_partial(path: str | Path) -> Partial:
    """The frames of a partial video to keep: every packet up to the first damaged one (a
    process killed mid-write leaves its last fragment cut off) that still decodes. Our files
    have no B-frames, so any such run of packets from the start is whole. UsageError when
    nothing is kept."""
    import av

    path = Path(path)
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise UsageError(f"cannot read {path} to resume it ({exc.strerror or exc}); remove it or set "
                         f"`overwrite` to start over", setting="resume") from None
    with container:
        if not container.streams.video:
            raise UsageError(f"{path} holds no video to resume; remove it or set `overwrite` to start over",
                             setting="resume")
        made = _made(container)
        stream = container.streams.video[0]
        packets = []
        try:
            for packet in container.demux(stream):
                if packet.is_corrupt or packet.pts is None:
                    break
                if packet.size:
                    packets.append(packet)
        except av.error.FFmpegError:
            pass
        if any(b.pts <= a.pts for a, b in zip(packets, packets[1:])):
            raise UsageError(f"{path} holds B-frames or frames out of order, which a resume cannot continue; set "
                             f"`overwrite` to start over", setting="resume")
        keys = [i for i, p in enumerate(packets) if p.is_keyframe]
        # decode from the last keyframe on: the last frame kept is the state a resume starts from
        keep, last_image = 0, None
        if keys:
            keep = keys[-1]
            try:
                for packet in [*packets[keys[-1]:], None]:
                    for frame in stream.codec_context.decode(packet):
                        last_image = frame.to_ndarray(format="rgb24")
                        keep += 1
            except av.error.FFmpegError:
                pass
        if keep < 2 or last_image is None:
            raise UsageError(f"{path} holds no whole frames to resume from; set `overwrite` to start over",
                             setting="resume")
        last_pts = packets[keep - 1].pts
        time_base = packets[0].time_base
    return Partial(path, keep, float(last_pts * time_base), last_image, made)


def _made(container) -> dict:
    """The record of what a partial was made from and with, that the sink wrote into its header;
    UsageError when there is none (another program's file, or an older streamdream's)."""
    text = next((v for k, v in container.metadata.items() if k.lower() == "comment"), "")
    try:
        made = json.loads(text)
    except ValueError:
        made = None
    if not isinstance(made, dict) or "streamdream" not in made:
        raise UsageError(f"{container.name} carries no record of what it was made from, so a resume cannot check "
                         f"it continues the same video; set `overwrite` to start over", setting="resume")
    return made

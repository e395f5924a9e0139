"""Interlaced video (DV, a VHS capture, broadcast 1080i) made progressive as a player shows it:
each frame's two fields, taken at different moments, woven into one picture comb along every
moving edge, which the dream grew into stripes and the flow read as motion."""

from __future__ import annotations

from fractions import Fraction
from typing import Iterable, Iterator

# FFmpeg's bwdif, one picture per frame (not per field): the frame count and times stay the
# input's; only frames flagged interlaced are touched, so a file that mixes in progressive ones
# keeps them as they are
FILTER = ("bwdif", "mode=send_frame:parity=auto:deint=interlaced")


def is_interlaced(frame) -> bool:
    """Whether a decoded PyAV video frame holds two fields."""
    return bool(getattr(frame, "interlaced_frame", False))


def deinterlaced(frames: Iterable) -> Iterator:
    """The decoded PyAV video frames `frames`, each interlaced one made progressive, in order and
    one for one (the filter holds a frame back to look ahead; the last comes when `frames` ends).
    A change of picture size or format midway starts the filter again."""
    graph = shape = None
    for frame in frames:
        if (frame.width, frame.height, frame.format.name) != shape:
            if graph is not None:
                yield from _drain(graph, end=True)
            graph, shape = _graph(frame), (frame.width, frame.height, frame.format.name)
        if graph is None:  # a picture format the filter does not take: shown as it is, as it comes
            yield frame
            continue
        graph.push(frame)
        yield from _drain(graph, end=False)
    if graph is not None:
        yield from _drain(graph, end=True)


def _graph(frame):
    """The filter for frames like `frame`, or None where FFmpeg will not build it."""
    import av

    graph = av.filter.Graph()
    try:
        source = graph.add_buffer(width=frame.width, height=frame.height, format=frame.format,
                                  time_base=frame.time_base or Fraction(1, 90000))
        bwdif, sink = graph.add(*FILTER), graph.add("buffersink")
        source.link_to(bwdif)
        bwdif.link_to(sink)
        graph.configure()
    except (av.error.FFmpegError, ValueError):
        return None
    return graph


def _drain(graph, end: bool) -> Iterator:
    import av

    if end:
        graph.push(None)
    while True:
        try:
            yield graph.pull()
        except (av.error.BlockingIOError, av.error.EOFError):
            return

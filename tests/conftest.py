from contextlib import contextmanager

import numpy as np
import pytest
import torch

from streamdream import models
from streamdream.cli import in_flags


def said(info) -> str:
    """What the command line shows for a library error caught by pytest.raises: its settings
    named by their flags."""
    return in_flags(str(info.value), info.value.setting)


@pytest.fixture(scope="session")
def lite0():
    """The real EfficientNet-Lite0 network with its shipped ImageNet weights."""
    spec = models.get_spec("lite0")
    return spec, models.load_network(spec)


@pytest.fixture
def picture():
    """A small RGB uint8 picture with edges, gradients and blobs, so layers have something to find."""
    h, w = 72, 96
    y, x = np.mgrid[0:h, 0:w]
    r = 127 + 100 * np.sin(x / 7.0)
    g = 127 + 100 * np.cos(y / 5.0)
    b = np.where((x - 48) ** 2 + (y - 36) ** 2 < 300, 230, 40)
    return np.stack([r, g, b], -1).clip(0, 255).astype(np.uint8)


@pytest.fixture
def image_tensor(picture):
    return torch.from_numpy(picture).permute(2, 0, 1)[None].float() / 255


@contextmanager
def passes_of(net):
    """Within the block, the (h, w) of each picture `net` is run on, in order (a list that grows):
    where a frame's steps ran, and how many."""
    sizes: list[tuple[int, int]] = []
    hook = net.register_forward_pre_hook(lambda module, args: sizes.append(tuple(args[0].shape[2:])))
    try:
        yield sizes
    finally:
        hook.remove()


def pattern_frame(index: int, width: int, height: int, speed: int = 2) -> np.ndarray:
    """A textured scene that slides `speed` pixels right per frame: something for flow to follow."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    x = x - index * speed
    r = 127 + 90 * np.sin(x / 5.0) * np.cos(y / 7.0)
    g = 127 + 90 * np.sin((x + y) / 9.0)
    b = 127 + 90 * np.cos(x / 13.0 - y / 6.0)
    return np.stack([r, g, b], -1).clip(0, 255).astype(np.uint8)


def write_clip(path, frames=20, width=64, height=48, rate=None, audio=False, rotation=0, times=None,
               time_base=None, make_frame=pattern_frame, pix_fmt="yuv420p", keyframe_every=None, pixel_aspect=None,
               audio_codec="aac", layout="mono"):
    """Write a small H.264 clip with PyAV: an optional tone (AAC, or `audio_codec` in `layout`),
    display rotation, explicit frame times, a pixel aspect (sample aspect ratio, a Fraction)
    for non-square pixels."""
    import av
    from fractions import Fraction

    rate = rate or Fraction(25)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=rate)
        video.width, video.height, video.pix_fmt = width, height, pix_fmt
        video.codec_context.options = {"preset": "ultrafast"}
        if keyframe_every:
            video.codec_context.gop_size = keyframe_every
        tb = time_base or Fraction(1, 1000) if times is not None else None
        if tb is not None:
            video.codec_context.time_base = tb
            video.time_base = tb
        if rotation:
            video.set_display_rotation(rotation)
        if pixel_aspect is not None:
            video.codec_context.sample_aspect_ratio = pixel_aspect
        if audio:
            sound = out.add_stream(audio_codec, rate=48000)
            sound.layout = layout
            # the tone as the encoder takes it, in frames of the size it asks for
            to_codec = av.AudioResampler(format=sound.codec_context.format, layout=layout, rate=48000,
                                         frame_size=sound.codec_context.frame_size or 1024)
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(make_frame(i, width, height), format="rgb24")
            if times is not None:
                frame.pts, frame.time_base = round(times[i] / tb), tb
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if audio:
            seconds = (times[-1] + 0.04) if times is not None else frames / float(rate)
            samples = int(seconds * 48000)
            t = np.arange(samples) / 48000.0
            tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for start in range(0, samples, 1024):
                chunk = tone[start:start + 1024][None, :]
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
                frame.sample_rate, frame.pts = 48000, start
                for coded in to_codec.resample(frame):
                    out.mux(sound.encode(coded))
            for coded in to_codec.resample(None):
                out.mux(sound.encode(coded))
            out.mux(sound.encode(None))
    return path


def probe(path):
    """(frames as RGB arrays, frame times, video stream facts, audio seconds or None) of a file."""
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        facts = {"rate": v.average_rate, "width": v.codec_context.width, "height": v.codec_context.height}
        frames, times, rotations = [], [], []
        for f in c.decode(v):
            frames.append(f.to_ndarray(format="rgb24"))
            times.append(float(f.pts * f.time_base))
            rotations.append(f.rotation)
        facts["rotation"] = rotations[0] if rotations else 0
    audio = None
    with av.open(str(path)) as c:
        if c.streams.audio:
            a = c.streams.audio[0]
            packets = [p for p in c.demux(a) if p.pts is not None]
            end = max(float((p.pts + p.duration) * p.time_base) for p in packets)
            audio = end - float(min(p.pts for p in packets) * a.time_base)
    return frames, times, facts, audio


def damage_packets(path, out, which, fill=None):
    """Copy `path` to `out` with the payload of the video packets numbered in `which` overwritten
    (random bytes, or `fill`), the container's own structure left intact."""
    import av

    with av.open(str(path)) as c:
        spans = [(p.pos, p.size) for p in c.demux(video=0) if p.size]
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(0)
    for i in which:
        pos, size = spans[i]
        data[pos:pos + size] = bytes([fill]) * size if fill is not None else rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    out.write_bytes(bytes(data))
    return out, len(spans)


def object_frame(index: int, width: int, height: int, speed: int = 2) -> np.ndarray:
    """A textured disc moving `speed` px right (and gently up and down) per frame over a still,
    differently textured background: a moving subject with known motion and real disocclusions."""
    frame = pattern_frame(0, width, height, speed=0)[::-1].copy()
    r = height // 4
    cx = r + (index * speed) % max(1, width - 2 * r)
    cy = height // 2 + round(0.15 * height * np.sin(index / 6.0))
    yy, xx = np.mgrid[0:height, 0:width]
    inside = (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
    disc = 255 - pattern_frame(index * speed, width, height, speed=1)
    frame[inside] = disc[inside]
    return frame

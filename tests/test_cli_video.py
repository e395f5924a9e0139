"""`streamdream video` end to end on small clips made with PyAV."""

import struct
from fractions import Fraction

import numpy as np
import pytest

from streamdream.cli import main
from streamdream.media import images

from .conftest import damage_packets, pattern_frame, probe, write_clip

FAST = ["--layers", "block3", "--octaves", "1", "--iterations", "2", "--seed", "1", "--device", "cpu"]


def run(*args):
    return main(["video", *FAST, *map(str, args)])


def test_frames_rate_and_audio_are_kept(tmp_path):
    clip = write_clip(tmp_path / "in.mp4", frames=20, audio=True)
    before = clip.read_bytes()
    out = tmp_path / "out.mp4"
    assert run(clip, "-o", out) == 0
    frames, times, facts, audio = probe(out)
    in_frames, in_times, in_facts, in_audio = probe(clip)
    assert len(frames) == 20
    assert facts["rate"] == Fraction(25)
    assert times == pytest.approx(in_times, abs=1e-3)
    assert audio == pytest.approx(in_audio, abs=0.03)
    assert np.abs(frames[5].astype(int) - in_frames[5].astype(int)).mean() > 2  # it dreamt
    assert clip.read_bytes() == before


def test_exact_ntsc_rate(tmp_path):
    clip = write_clip(tmp_path / "in.mp4", frames=12, rate=Fraction(30000, 1001))
    out = tmp_path / "out.mp4"
    assert run(clip, "-o", out) == 0
    frames, times, facts, _ = probe(out)
    assert facts["rate"] == Fraction(30000, 1001)
    assert times[-1] == pytest.approx(11 * 1001 / 30000, abs=1e-3)


def test_variable_frame_rate_keeps_timestamps(tmp_path):
    times = [0.0, 0.04, 0.1, 0.12, 0.2, 0.33, 0.36, 0.5, 0.52, 0.6]
    clip = write_clip(tmp_path / "vfr.mkv", frames=len(times), times=times)
    out = tmp_path / "out.mkv"
    assert run(clip, "-o", out) == 0
    _, out_times, _, _ = probe(out)
    assert out_times == pytest.approx(times, abs=2e-3)


def test_odd_size_is_padded_to_even(tmp_path):
    clip = write_clip(tmp_path / "odd.mkv", frames=5, width=65, height=47, pix_fmt="yuv444p")
    out = tmp_path / "out.mp4"
    assert run(clip, "-o", out) == 0
    frames, _, facts, _ = probe(out)
    assert (facts["width"], facts["height"]) == (66, 48) and len(frames) == 5


def _marked(index, width, height):
    frame = np.full((height, width, 3), 40, np.uint8)
    frame[: height // 3, : width // 3] = (250, 30, 30)  # a red block in the stored top-left
    return frame


def test_rotated_input_is_dreamt_and_written_upright(tmp_path):
    clip = write_clip(tmp_path / "rot.mp4", frames=4, width=64, height=32, rotation=90, make_frame=_marked)
    assert probe(clip)[2]["rotation"] == 90
    out = tmp_path / "out.mp4"
    assert main(["video", "--layers", "block1", "--octaves", "1", "--iterations", "1", "--step", "0.001",
                 str(clip), "-o", str(out)]) == 0
    frames, _, facts, _ = probe(out)
    assert facts["rotation"] == 0
    assert frames[0].shape[:2] == (64, 32)  # upright: the 90-degree turn is in the pixels now
    corner = frames[0][-20:, :10].astype(int)  # turning counterclockwise takes top-left to bottom-left
    assert corner[..., 0].mean() > 150 and corner[..., 1].mean() < 100


def _square(index, width, height):
    frame = np.full((height, width, 3), 40, np.uint8)
    frame[8:24, 8:24] = (250, 30, 30)  # 16 x 16 stored pixels
    return frame


def _red_extent(frame):
    ys, xs = np.nonzero((frame[..., 0] > 150) & (frame[..., 1] < 100))
    return xs.max() - xs.min() + 1, ys.max() - ys.min() + 1


@pytest.mark.parametrize("aspect,shown", [(Fraction(4, 3), (85, 48)), (Fraction(8, 9), (57, 48))])
def test_non_square_pixels_are_dreamt_and_written_as_shown(tmp_path, capsys, aspect, shown):
    # a DVD's or an HDV camera's stored picture is squeezed; a player stretches it by its pixel aspect
    clip = write_clip(tmp_path / "sar.mp4", frames=3, width=64, height=48, make_frame=_square, pixel_aspect=aspect)
    out = tmp_path / "out.mp4"
    assert main(["video", "--layers", "block1", "--octaves", "1", "--iterations", "1", "--step", "0.001",
                 str(clip), "-o", str(out)]) == 0
    assert f"non-square pixels ({aspect.numerator}:{aspect.denominator})" in capsys.readouterr().out
    frames = probe(out)[0]
    assert frames[0].shape[1] in (shown[0], shown[0] + 1) and frames[0].shape[0] == shown[1]  # an odd width is padded
    wide, tall = _red_extent(frames[0])
    assert abs(wide - 16 * aspect) <= 2 and abs(tall - 16) <= 2  # the block is as wide as a player shows it


def test_width_rescales_the_picture_as_shown(tmp_path):
    clip = write_clip(tmp_path / "sar.mp4", frames=2, width=64, height=48, pixel_aspect=Fraction(2, 1))
    out = tmp_path / "out.mp4"
    assert main(["video", "--layers", "block1", "--octaves", "1", "--iterations", "1", "--width", "96",
                 str(clip), "-o", str(out)]) == 0
    assert probe(out)[0][0].shape[:2] == (36, 96)  # shown 128x48


def test_a_nonsense_pixel_aspect_is_taken_as_square(tmp_path):
    from streamdream.media.video_in import VideoFileSource

    clip = write_clip(tmp_path / "sar.mp4", frames=2, width=64, height=48, pixel_aspect=Fraction(100, 1))
    source = VideoFileSource(clip)
    assert (source.info.width, source.info.height) == (64, 48) and not source.notes
    assert next(source.frames()).image.shape == (48, 64, 3)
    source.close()


def test_start_and_frames(tmp_path):
    clip = write_clip(tmp_path / "in.mp4", frames=30, audio=True)
    out = tmp_path / "out.mp4"
    assert run(clip, "-o", out, "--start", "0.4", "--frames", "8") == 0
    frames, times, _, audio = probe(out)
    assert len(frames) == 8 and times[0] == pytest.approx(0.0, abs=1e-3)
    assert audio == pytest.approx(8 / 25, abs=0.05)


def test_no_flow_and_metrics_command(tmp_path, capsys):
    clip = write_clip(tmp_path / "in.mp4", frames=12, width=80, height=60)
    assert run(clip, "-o", tmp_path / "flow.mp4") == 0
    assert run(clip, "-o", tmp_path / "scratch.mp4", "--no-flow") == 0
    out = capsys.readouterr().out
    assert "1 full dream;" in out and "12 full dreams" in out
    assert main(["metrics", str(clip), str(tmp_path / "flow.mp4")]) == 0
    assert "E_warp ratio" in capsys.readouterr().out
    assert main(["metrics", str(clip), str(tmp_path / "flow.mp4"), "--reference", str(tmp_path / "scratch.mp4")]) == 0
    out = capsys.readouterr().out
    assert "moving covered" in out and "detail coherence" in out and "strength / full dream's" in out
    assert main(["metrics", str(clip), str(tmp_path / "flow.mp4"), "--reference", str(tmp_path / "none.mp4")]) == 2
    assert "none.mp4 does not exist" in capsys.readouterr().out


def test_audio_the_container_cannot_take_is_transcoded(tmp_path):
    import av

    clip = tmp_path / "pcm.mkv"
    with av.open(str(clip), "w") as c:
        v = c.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        a = c.add_stream("pcm_s16le", rate=16000)
        a.layout = "mono"
        for i in range(10):
            c.mux(v.encode(av.VideoFrame.from_ndarray(pattern_frame(i, 64, 48), format="rgb24")))
        c.mux(v.encode(None))
        samples = np.zeros((1, 6400), np.int16)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate, frame.pts = 16000, 0
        c.mux(a.encode(frame))
        c.mux(a.encode(None))
    out = tmp_path / "out.mp4"
    assert run(clip, "-o", out) == 0
    with av.open(str(out)) as c:
        assert c.streams.audio and c.streams.audio[0].codec_context.name in ("aac", "pcm_s16le")
    assert probe(out)[3] == pytest.approx(0.4, abs=0.05)


# --- bad input -----------------------------------------------------------------------------------

def _audio_only(path):
    import av

    with av.open(str(path), "w") as c:
        a = c.add_stream("aac", rate=48000)
        a.layout = "mono"
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 48000, 0
        c.mux(a.encode(frame))
        c.mux(a.encode(None))
    return path


def _file(path, data):
    path.write_bytes(data)
    return path


def _cut_off_mp4(path):
    # an MP4 is written index last: cut off (a recording stopped unsaved), its pictures are there
    # and the index is not
    whole = write_clip(path.with_name("whole.mp4"), frames=10, width=64, height=48)
    data = whole.read_bytes()
    assert data.find(b"moov") > data.find(b"mdat") > 0
    return _file(path, data[: data.find(b"moov") - 4])


def _boxes(*boxes: tuple[bytes, int]) -> bytes:
    # ISO base media boxes at the top level: (type, payload length); over 4 GB, a 64-bit length
    out = b""
    for kind, payload in boxes:
        if payload > 2**32 - 16:
            out += struct.pack(">I4sQ", 1, kind, payload + 16) + b"\0" * 16
        else:
            out += struct.pack(">I4s", payload + 8, kind) + b"\0" * payload
    return out


def test_a_cut_off_mp4_is_told_from_a_whole_one_and_from_other_files(tmp_path):
    from streamdream.media.opening import lacks_index

    def check(name, data):
        return lacks_index(_file(tmp_path / name, data))

    assert check("cut.mp4", _boxes((b"ftyp", 16), (b"mdat", 1000))[:600])  # cut inside the pictures
    assert check("cut.mov", _boxes((b"wide", 0), (b"mdat", 100)))  # a camera's QuickTime, index never written
    assert not check("whole.mp4", _boxes((b"ftyp", 16), (b"mdat", 100), (b"moov", 50)))
    assert not check("fast.mp4", _boxes((b"ftyp", 16), (b"moov", 50), (b"mdat", 100))[:100])  # index first
    assert not check("notes.mp4", b"these are not the boxes of a video file")
    assert not check("tiny.mp4", b"abc")
    # a length of 0 runs to the end, a length of 1 is 64 bits long, past what this file holds
    assert check("open.mp4", _boxes((b"ftyp", 16)) + struct.pack(">I4s", 0, b"mdat") + b"\0" * 50)
    assert check("huge.mp4", _boxes((b"ftyp", 16), (b"mdat", 2**33))[:200])
    assert not check("huge_whole.mp4", _boxes((b"ftyp", 16), (b"moov", 40), (b"mdat", 2**33))[:300])
    assert not lacks_index(tmp_path)  # what cannot be read as a file is left to FFmpeg's reason


def test_a_cut_off_mp4_as_the_sound_says_what_happened(tmp_path, capsys):
    clip = write_clip(tmp_path / "in.mp4", frames=3, width=64, height=48)
    assert run(clip, "-o", tmp_path / "out.mp4", "--audio", _cut_off_mp4(tmp_path / "sound.mp4")) == 2
    out = capsys.readouterr().out
    assert "sound.mp4 was cut off before it was finished" in out and len(out.strip().splitlines()) == 1


@pytest.mark.parametrize("make,message", [
    (lambda p: p / "missing.mp4", "does not exist"),
    (lambda p: _cut_off_mp4(p / "unsaved.mp4"), "cut off before it was finished"),
    (lambda p: _file(p / "empty.mp4", b""), "is empty"),
    (lambda p: _file(p / "notes.mp4", b"not a video"), "not a video file"),
    (lambda p: _audio_only(p / "sound.m4a"), "no video stream"),
])
def test_bad_inputs_one_line_exit_2(tmp_path, capsys, make, message):
    source = make(tmp_path)
    before = sorted(tmp_path.iterdir())
    assert run(source, "-o", tmp_path / "out.mp4") == 2
    out = capsys.readouterr().out
    assert message in out and "Traceback" not in out and len(out.strip().splitlines()) == 1
    assert sorted(tmp_path.iterdir()) == before


def test_existing_output_needs_overwrite(tmp_path, capsys):
    clip = write_clip(tmp_path / "in.mp4", frames=3)
    out = tmp_path / "out.mp4"
    out.write_bytes(b"keep me")
    assert run(clip, "-o", out) == 2
    assert out.read_bytes() == b"keep me" and "--overwrite" in capsys.readouterr().out
    assert run(clip, "-o", out, "--overwrite") == 0
    assert len(probe(out)[0]) == 3


def test_input_as_output_is_refused(tmp_path, capsys):
    clip = write_clip(tmp_path / "in.mp4", frames=3)
    before = clip.read_bytes()
    assert run(clip, "-o", clip, "--overwrite") == 2
    assert clip.read_bytes() == before


def test_truncated_file_dreams_what_it_can(tmp_path, capsys):
    clip = write_clip(tmp_path / "in.mkv", frames=30, width=64, height=48)
    cut = tmp_path / "cut.mkv"
    data = clip.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out.mp4"
    assert run(cut, "-o", out) == 0
    assert 0 < len(probe(out)[0]) < 30


def test_corrupt_packets_in_the_middle_are_skipped(tmp_path, capsys):
    clip = write_clip(tmp_path / "in.mkv", frames=30, keyframe_every=10)
    bad, count = damage_packets(clip, tmp_path / "bad.mkv", which=[12, 13, 14])
    out = tmp_path / "out.mp4"
    assert run(bad, "-o", out) == 0
    assert 20 <= len(probe(out)[0]) < 30  # the frames after the damage, up to the next keyframe, are lost
    printed = capsys.readouterr().out
    assert "warning: skipped" in printed and "Traceback" not in printed


def test_zero_decodable_frames(tmp_path, capsys):
    clip = write_clip(tmp_path / "in.mkv", frames=10)
    blank, count = damage_packets(clip, tmp_path / "blank.mkv", which=range(10), fill=0)
    assert run(blank, "-o", tmp_path / "out.mp4") == 2
    assert "no video frames" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blank.mkv", "in.mkv"]


def test_frames_too_large_name_width(tmp_path, capsys, monkeypatch):
    clip = write_clip(tmp_path / "in.mp4", frames=3)
    monkeypatch.setattr(images, "MAX_PIXELS", 1000)
    assert run(clip, "-o", tmp_path / "out.mp4") == 2
    assert "--width" in capsys.readouterr().out
    monkeypatch.undo()


def test_ctrl_c_leaves_a_playable_file(tmp_path, capsys, monkeypatch):
    from streamdream.engine import temporal

    clip = write_clip(tmp_path / "in.mp4", frames=30, audio=True)
    real = temporal.StreamDreamer.next_detail
    calls = {"n": 0}

    def interrupted(self, frame, motion):
        calls["n"] += 1
        if calls["n"] == 7:
            raise KeyboardInterrupt
        return real(self, frame, motion)

    monkeypatch.setattr(temporal.StreamDreamer, "next_detail", interrupted)
    out = tmp_path / "out.mp4"
    assert run(clip, "-o", out) == 130
    frames, _, _, audio = probe(out)
    assert len(frames) == 6
    assert audio == pytest.approx(6 / 25, abs=0.05)
    assert "interrupted" in capsys.readouterr().out


def test_video_with_raft_flow(tmp_path):
    import torch
    from torchvision.models.optical_flow import raft_small

    torch.save(raft_small(weights=None).state_dict(), tmp_path / "raft.pth")
    clip = write_clip(tmp_path / "in.mp4", frames=5)
    out = tmp_path / "out.mp4"
    assert run(clip, "-o", out, "--optical-flow", "raft", "--flow-weights", tmp_path / "raft.pth") == 0
    assert len(probe(out)[0]) == 5


def _yuv_frame(width, height, rgb, matrix, tag=None):
    """A yuv420p PyAV frame of one colour, coded with `matrix` (Kr, Kb) in limited range, tagged `tag`."""
    import av

    (kr, kb), (r, g, b) = matrix, (c / 255 for c in rgb)
    y = kr * r + (1 - kr - kb) * g + kb * b
    levels = (16 + 219 * y, 128 + 224 * (b - y) / (2 * (1 - kb)), 128 + 224 * (r - y) / (2 * (1 - kr)))
    frame = av.VideoFrame(width, height, "yuv420p")
    for plane, level in zip(frame.planes, levels):
        plane.update(np.full(plane.buffer_size, round(level), np.uint8).tobytes())
    if tag is not None:
        frame.colorspace = tag
    return frame


BT709, BT601 = (0.2126, 0.0722), (0.299, 0.114)
SKIN = (224, 172, 140)


@pytest.mark.parametrize("height,matrix", [(578, BT709), (480, BT601)])
def test_an_untagged_picture_is_read_with_the_matrix_its_size_implies(height, matrix):
    # as players guess: BT.709 above standard definition, BT.601 up to it
    from streamdream.media.video_in import rgb_of

    rgb = rgb_of(_yuv_frame(64, height, SKIN, matrix))
    assert np.abs(rgb[10, 10].astype(int) - SKIN).max() <= 3


def test_a_tagged_picture_is_read_with_its_own_matrix():
    from streamdream.media.video_in import rgb_of

    rgb = rgb_of(_yuv_frame(64, 48, SKIN, BT709, tag=1))  # SD-sized, but tagged BT.709
    assert np.abs(rgb[10, 10].astype(int) - SKIN).max() <= 3


def test_a_video_keeps_its_colours_and_tags_them(tmp_path):
    # written in BT.709 and tagged so: a player that guesses BT.601 for an untagged small
    # picture would show the input's skin tones shifted
    import av

    clip = tmp_path / "tagged.mp4"
    with av.open(str(clip), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.colorspace = 1
        for _ in range(3):
            out.mux(stream.encode(_yuv_frame(64, 48, SKIN, BT709, tag=1)))
        out.mux(stream.encode(None))
    output = tmp_path / "out.mp4"
    assert main(["video", "--layers", "block1", "--octaves", "1", "--iterations", "1", "--step", "0.0001",
                 str(clip), "-o", str(output)]) == 0
    with av.open(str(output)) as made:
        context = made.streams.video[0].codec_context
        assert (context.colorspace, context.color_primaries, context.color_trc, context.color_range) == (1, 1, 1, 1)
        frame = next(made.decode(video=0))
    assert np.abs(frame.to_ndarray(format="rgb24")[24, 32].astype(int) - SKIN).max() <= 4


def test_an_hdr_input_says_it_is_tone_mapped(tmp_path):
    import av

    from streamdream.media.video_in import VideoFileSource

    clip = tmp_path / "hlg.mp4"
    with av.open(str(clip), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.color_trc = 18  # ARIB STD-B67, the HLG a phone's HDR video is
        out.mux(stream.encode(av.VideoFrame.from_ndarray(pattern_frame(0, 64, 48), format="rgb24")))
        out.mux(stream.encode(None))
    source = VideoFileSource(clip)
    assert any("HDR (HLG)" in note and "tone-mapped" in note for note in source.notes)
    source.close()
    plain = VideoFileSource(write_clip(tmp_path / "sdr.mp4", frames=1))
    assert plain.notes == []
    plain.close()


def test_a_stream_whose_picture_size_changes_is_dreamt_at_its_first_size(tmp_path):
    # a broadcast or screen-capture stream may change size midway; each part is rescaled to the first
    import av
    from fractions import Fraction as F

    parts = []
    for n, (w, h) in enumerate([(96, 64), (48, 32)]):
        part = tmp_path / f"{n}.ts"
        with av.open(str(part), "w", format="mpegts") as out:
            stream = out.add_stream("libx264", rate=25)
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            for i in range(4):
                frame = av.VideoFrame.from_ndarray(pattern_frame(i, w, h), format="rgb24")
                frame.pts, frame.time_base = (4 * n + i) * 3600, F(1, 90000)
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
        parts.append(part.read_bytes())
    clip = tmp_path / "changing.ts"
    clip.write_bytes(b"".join(parts))
    output = tmp_path / "out.mp4"
    assert main(["video", "--layers", "block1", "--octaves", "1", "--iterations", "1", str(clip), "-o", str(output)]) == 0
    frames = probe(output)[0]
    assert len(frames) == 8 and {f.shape for f in frames} == {(64, 96, 3)}


def _woven(path, frames=8, width=96, height=64):
    """An interlaced H.264 clip: each frame two fields of a bar moving right, a field apart."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.options = {"preset": "ultrafast", "flags": "+ildct+ilme", "x264-params": "interlaced=1:tff=1"}
        for i in range(frames):
            fields = []
            for half in (0, 1):
                field = np.full((height, width, 3), 60, np.uint8)
                left = 8 + 8 * i + 4 * half
                field[16:48, left:left + 16] = 240
                fields.append(field)
            woven = fields[0].copy()
            woven[1::2] = fields[1][1::2]
            out.mux(stream.encode(av.VideoFrame.from_ndarray(woven, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def _comb(image):
    """How much more neighbouring rows differ than rows two apart: a woven frame's combing."""
    rows = image[..., 0].astype(float)
    return np.abs(np.diff(rows, axis=0)).mean() - np.abs(rows[2:] - rows[:-2]).mean()


def test_an_interlaced_clip_is_deinterlaced_frame_for_frame(tmp_path):
    from streamdream.media.video_in import VideoFileSource

    clip = _woven(tmp_path / "woven.mp4")
    raw = probe(clip)[0]
    assert _comb(raw[4]) > 2  # the clip does comb
    source = VideoFileSource(clip)
    frames = list(source.frames())
    source.close()
    assert any("interlaced" in note for note in source.notes)
    assert [round(f.time, 3) for f in frames] == [round(i / 25, 3) for i in range(8)]  # one for one, in time
    assert all(_comb(f.image) < 0.5 for f in frames)  # no row differs from its neighbours more than from the next but one
    progressive = VideoFileSource(write_clip(tmp_path / "progressive.mp4", frames=2))
    assert not progressive.interlaced and not progressive.notes
    progressive.close()


def test_the_deinterlacer_gives_one_frame_for_one_across_a_change_of_size():
    import av
    from fractions import Fraction as F

    from streamdream.media.deinterlace import deinterlaced

    frames = []
    for i, (w, h) in enumerate([(96, 64)] * 3 + [(48, 32)] * 2):
        frame = av.VideoFrame.from_ndarray(pattern_frame(i, w, h), format="rgb24").reformat(format="yuv420p")
        frame.pts, frame.time_base = i, F(1, 25)
        frames.append(frame)
    out = list(deinterlaced(frames))
    # (the filter may count in a finer time base: the times are what must stay)
    assert [(f.width, f.height, f.pts * f.time_base) for f in out] == [(f.width, f.height, f.pts * f.time_base)
                                                                      for f in frames]


@pytest.mark.parametrize("codec,layout,suffix,kept", [
    ("libopus", "stereo", ".mov", "opus transcoded to AAC"),  # MOV takes no Opus
    ("flac", "stereo", ".mov", "flac transcoded to AAC"),
    ("ac3", "5.1", ".mp4", "ac3 transcoded to AAC"),  # a fragmented MP4's header needs an AC-3 packet first
    ("libopus", "stereo", ".mkv", "opus copied"),
    ("ac3", "5.1", ".mov", "ac3 copied"),
])
def test_audio_the_container_cannot_take_as_it_is_is_transcoded_not_fatal(tmp_path, capsys, codec, layout, suffix, kept):
    clip = write_clip(tmp_path / "in.mkv", frames=10, audio=True, audio_codec=codec, layout=layout)
    out = (tmp_path / "out").with_suffix(suffix)
    assert main(["video", "--layers", "block1", "--octaves", "1", "--iterations", "1", str(clip), "-o", str(out)]) == 0
    assert kept in capsys.readouterr().out
    frames, _, _, audio = probe(out)
    assert len(frames) == 10 and audio == pytest.approx(10 / 25, abs=0.05)


def _channels_of(path) -> np.ndarray:
    """The first audio stream of a file, (channels, samples) float32, read through a packed
    resampler: PyAV crashes on a frame of more than 8 planes touched from Python."""
    import av

    with av.open(str(path)) as clip:
        layout = clip.streams.audio[0].codec_context.layout
        packed = av.AudioResampler(format="flt", layout=layout, rate=clip.streams.audio[0].rate)
        chunks = [out.to_ndarray().reshape(-1, len(layout.channels))
                  for frame in clip.decode(audio=0) for out in packed.resample(frame)]
    return np.concatenate(chunks).T


def _clip_with_sound(path, codec, layout, rate, samples):
    """A 10-frame clip whose sound is `samples` (samples, channels) float32 in `codec`, `layout`, `rate`."""
    import av
    from fractions import Fraction as F

    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = out.add_stream(codec, rate=rate)
        sound.layout = layout
        to_codec = av.AudioResampler(format=sound.codec_context.format, layout=layout, rate=rate,
                                     frame_size=sound.codec_context.frame_size or 1024)
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 20 * i, np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, F(1, 25)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        # packed, one plane: PyAV crashes on a frame of more than 8 planes touched from Python
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples, np.float32).reshape(1, -1), format="flt",
                                           layout=layout)
        frame.sample_rate, frame.time_base, frame.pts = rate, F(1, rate), 0
        for coded in to_codec.resample(frame):
            out.mux(sound.encode(coded))
        out.mux(sound.encode(None))
    return path


def _tone(seconds, rate):
    return 0.5 * np.sin(np.arange(round(seconds * rate)) * 2 * np.pi * 440 / rate).astype(np.float32)


@pytest.mark.parametrize("codec,layout,suffix", [("ac3", "5.1(side)", ".mp4"), ("flac", "7.1", ".mov")])
def test_transcoded_surround_sound_keeps_its_channels(tmp_path, capsys, codec, layout, suffix):
    import av

    channels = len(av.AudioLayout(layout).channels)
    loud = channels - 1  # a tone in the last channel only (a side or back speaker), silence in the rest
    samples = np.zeros((19200, channels), np.float32)
    samples[:, loud] = _tone(0.4, 48000)
    clip = _clip_with_sound(tmp_path / "in.mkv", codec, layout, 48000, samples)
    out = (tmp_path / "out").with_suffix(suffix)
    assert main(["video", "--layers", "block1", "--octaves", "1", "--iterations", "1", str(clip), "-o", str(out)]) == 0
    assert f"{codec} transcoded to AAC" in capsys.readouterr().out
    with av.open(str(out)) as written:
        assert written.streams.audio[0].codec_context.name == "aac"
        assert len(written.streams.audio[0].codec_context.layout.channels) == channels
    energy = (_channels_of(out) ** 2).mean(axis=1)
    assert energy[loud] > 0.05  # the tone is where it was (0.125 as written)
    assert np.delete(energy, loud).max() < 0.01 * energy[loud]  # and nowhere else: not folded down


@pytest.mark.parametrize("codec,rate,suffix,written", [("flac", 192000, ".mov", 96000),  # AAC's highest
                                                       ("pcm_s16le", 37800, ".mp4", 44100)])  # the next one up
def test_sound_at_a_rate_aac_does_not_take_is_resampled_not_fatal(tmp_path, capsys, codec, rate, suffix, written):
    import av

    clip = _clip_with_sound(tmp_path / "in.mkv", codec, "stereo", rate, np.repeat(_tone(0.4, rate)[:, None], 2, 1))
    out = (tmp_path / "out").with_suffix(suffix)
    assert main(["video", "--layers", "block1", "--octaves", "1", "--iterations", "1", str(clip), "-o", str(out)]) == 0
    assert f"{codec} transcoded to AAC (stereo, {written / 1000:g} kHz)" in capsys.readouterr().out
    frames, _, _, seconds = probe(out)
    assert len(frames) == 10 and seconds == pytest.approx(0.4, abs=0.05)
    with av.open(str(out)) as written_file:
        assert written_file.streams.audio[0].rate == written
    left = _channels_of(out)[0]
    loud = left[np.abs(left) > 0.05]
    assert loud.size > 0.3 * written  # the tone is there, at its length
    sign = np.signbit(left[round(0.05 * written):round(0.35 * written)])
    assert np.count_nonzero(sign[1:] != sign[:-1]) / 2 / 0.3 == pytest.approx(440, rel=0.02)  # at its pitch


def _flash_and_click(path, flash_at=None, sound_from=0.0, audio_codec="aac", shift=0.0):
    """Write (with `flash_at`) or read back (without) a clip whose picture flashes white on one
    frame and whose sound, beginning `sound_from` seconds in, clicks at the same moment, every
    time stamp `shift` seconds later: the seconds of the flash and of the click, as read back."""
    import av
    from fractions import Fraction as F

    if flash_at is not None:
        with av.open(str(path), "w") as out:
            video = out.add_stream("libx264", rate=25)
            video.width, video.height, video.pix_fmt = 96, 64, "yuv420p"
            sound = out.add_stream(audio_codec, rate=48000)
            sound.layout = "mono"
            to_codec = av.AudioResampler(format=sound.codec_context.format, layout="mono", rate=48000,
                                         frame_size=sound.codec_context.frame_size or 1024)
            for i in range(40):
                frame = av.VideoFrame.from_ndarray(np.full((64, 96, 3), 255 if i == round(flash_at * 25) else 30, np.uint8),
                                                   format="rgb24")
                frame.pts, frame.time_base = i + round(shift * 25), F(1, 25)
                out.mux(video.encode(frame))
            out.mux(video.encode(None))
            samples = round((1.6 - sound_from) * 48000)
            tone = np.zeros(samples, np.float32)
            click = round((flash_at - sound_from) * 48000)
            tone[click:click + 480] = 0.9
            for start in range(0, samples, 960):
                frame = av.AudioFrame.from_ndarray(tone[None, start:start + 960], format="fltp", layout="mono")
                frame.sample_rate, frame.time_base = 48000, F(1, 48000)
                frame.pts = round((sound_from + shift) * 48000) + start
                for coded in to_codec.resample(frame):
                    out.mux(sound.encode(coded))
            out.mux(sound.encode(None))
    with av.open(str(path)) as clip:
        flash = next(float(f.pts * f.time_base) for f in clip.decode(video=0) if f.to_ndarray(format="rgb24").mean() > 128)
    with av.open(str(path)) as clip:
        for frame in clip.decode(audio=0):
            loud = np.nonzero(np.abs(frame.to_ndarray()[0]) > 0.3)[0]
            if len(loud):
                return flash, float(frame.pts * frame.time_base) + loud[0] / frame.sample_rate


@pytest.mark.parametrize("name,codec,suffix", [("in.mp4", "aac", ".mp4"), ("in.mp4", "aac", ".mkv"),
                                               ("in.mkv", "libopus", ".mov")])  # the last transcoded
def test_sound_that_begins_after_the_picture_stays_in_step_with_it(tmp_path, name, codec, suffix):
    clip = tmp_path / name
    flash, click = _flash_and_click(clip, flash_at=1.0, sound_from=0.48, audio_codec=codec)
    assert abs(click - flash) < 0.03  # the clip is in step
    out = (tmp_path / "out").with_suffix(suffix)
    assert main(["video", "--layers", "block1", "--octaves", "1", "--iterations", "1", "--step", "0.0001",
                 str(clip), "-o", str(out)]) == 0
    flash, click = _flash_and_click(out)
    assert abs(click - flash) < 0.03  # counted from its own start, the click came 0.48 s early


# --- HDR (a phone's HLG, HDR10's PQ) -------------------------------------------------------------------

HDR_PATCHES = {  # BT.2100 signal levels and the SDR level each should read as
    "hlg": {"transfer": 18, "grey": (0.4368, 125), "white": (0.75, 246), "peak": (1.0, 255)},
    "pq": {"transfer": 16, "grey": (0.4190, 125), "white": (0.5806, 246), "peak": (0.7518, 255)},
}


def _hdr_clip(path, kind):
    """A 10-bit BT.2020 clip (FFV1) tagged with the HDR transfer of `kind`: three grey patches,
    an 18% grey, diffuse white (203 nits) and 1000 nits, each at its signal level."""
    import av
    from av.video.reformatter import Colorspace

    levels = HDR_PATCHES[kind]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv444p10le"
        context = stream.codec_context
        context.colorspace = context.color_primaries = 9  # BT.2020
        context.color_trc, context.color_range = levels["transfer"], 1
        signal = np.zeros((64, 96, 3), np.uint16)
        for n, name in enumerate(("grey", "white", "peak")):
            signal[:, 32 * n:32 * (n + 1)] = round(levels[name][0] * 65535)
        for _ in range(2):
            frame = av.VideoFrame.from_ndarray(signal, format="rgb48le").reformat(
                format="yuv444p10le", dst_colorspace=Colorspace.BT2020, dst_color_range=1)
            frame.colorspace, frame.color_range = 9, 1
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


@pytest.mark.parametrize("kind", ["hlg", "pq"])
def test_an_hdr_clip_is_tone_mapped_to_sdr_as_it_is_read(tmp_path, kind):
    from streamdream.media.video_in import VideoFileSource

    source = VideoFileSource(_hdr_clip(tmp_path / f"{kind}.mkv", kind))
    picture = next(source.frames()).image.astype(int)
    source.close()
    assert any("tone-mapped" in note for note in source.notes)
    for n, name in enumerate(("grey", "white", "peak")):
        patch = picture[8:-8, 32 * n + 8:32 * (n + 1) - 8]
        assert abs(patch.mean() - HDR_PATCHES[kind][name][1]) <= 8, name  # read as SDR, white was 148-191
        assert np.ptp(patch.mean(axis=(0, 1))) <= 3  # grey stays grey


def test_the_tone_map_keeps_an_out_of_gamut_colour_inside_and_its_hue():
    from streamdream.media import hdr

    red = np.zeros((2, 2, 3), np.uint16)
    red[..., 0] = round(0.75 * 65535)  # BT.2020's own red, beyond BT.709's
    r, g, b = hdr.to_sdr(red, hdr.HLG)[0, 0].astype(int)
    assert r > 200 and g < 40 and b < 40
    with pytest.raises(ValueError):
        hdr.to_sdr(red, 1)


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_a_stream_that_starts_seconds_in_is_written_from_zero_in_step(tmp_path, suffix):
    # a camcorder's or a broadcast's MPEG-TS starts its clock seconds in
    clip = tmp_path / "capture.ts"
    flash, click = _flash_and_click(clip, flash_at=1.0, shift=10.0)
    assert flash == pytest.approx(11.0, abs=0.03) and abs(click - flash) < 0.03
    out = (tmp_path / "out").with_suffix(suffix)
    assert main(["video", "--layers", "block1", "--octaves", "1", "--iterations", "1", "--step", "0.0001",
                 str(clip), "-o", str(out)]) == 0
    times = probe(out)[1]
    assert times[0] == pytest.approx(0.0, abs=1e-3) and times[-1] < 2.0  # the Matroska file began at 10 s
    flash, click = _flash_and_click(out)
    assert flash == pytest.approx(1.0, abs=0.03) and abs(click - flash) < 0.03

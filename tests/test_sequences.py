"""Image sequences as `video` input: a folder of numbered pictures or a printf pattern, read at a
frame rate the user gives (sequences.py)."""

from fractions import Fraction

import cv2
import numpy as np
import pytest

from streamdream.cli import main
from streamdream.errors import UsageError
from streamdream.media.sequences import find_sequence, sequence_rate
from streamdream.media.video_in import VideoFileSource

from .conftest import object_frame, probe

FAST = ["--layers", "block3", "--octaves", "1", "--iterations", "1", "--seed", "1", "--device", "cpu"]


def frames_in(folder, count, name="frame_{:04d}.png", first=1):
    """`count` frames of a disc crossing a still scene, numbered from `first`, as a renderer writes them."""
    folder.mkdir(exist_ok=True)
    for i in range(count):
        cv2.imwrite(str(folder / name.format(first + i)), object_frame(i, 64, 48)[:, :, ::-1])
    return folder


def test_a_folder_of_frames_is_dreamt_at_the_rate_given(tmp_path, capsys):
    folder = frames_in(tmp_path / "render", 30)
    (folder / "thumbnail.png").write_bytes((folder / "frame_0001.png").read_bytes())  # not a frame
    out = tmp_path / "dream.mp4"
    assert main(["video", str(folder), "-o", str(out), "--fps", "24", *FAST]) == 0
    said = capsys.readouterr().out
    assert "30 pictures, frame_0001.png to frame_0030.png, read at 24 frames a second" in said
    frames, times, facts, audio = probe(out)
    assert len(frames) == 30 and audio is None
    assert times == pytest.approx([i / 24 for i in range(30)], abs=1e-3)
    assert facts["rate"] == 24
    source = VideoFileSource(folder)  # with no rate given: 25
    assert [round(f.time, 3) for f in source.frames()][:3] == [0.0, 0.04, 0.08]
    assert source.info.frames == 30
    source.close()


def test_a_pattern_reads_the_same_frames_as_its_folder_in_number_order(tmp_path):
    # numbered without padding: 1, 2, ... 10, 11, 12, which a name sort puts out of order
    folder = frames_in(tmp_path / "render", 12, name="f{}.png")
    by_folder = [f.image for f in VideoFileSource(folder).frames()]
    by_pattern = [f.image for f in VideoFileSource(folder / "f%d.png").frames()]
    wanted = [cv2.imread(str(folder / f"f{i}.png"))[:, :, ::-1] for i in range(1, 13)]
    assert len(by_folder) == len(by_pattern) == 12
    for a, b, c in zip(by_folder, by_pattern, wanted):
        assert np.array_equal(a, b) and np.abs(a.astype(int) - c).mean() < 1  # (RGB as PNG holds it)
    assert find_sequence(tmp_path / "render" / "f%d.png").first == 1


def test_a_sequence_starting_past_one_and_padded_past_its_width(tmp_path):
    folder = frames_in(tmp_path / "render", 6, first=9997)  # 9997 ... 10002: %04d prints 10000 as it is
    sequence = find_sequence(folder)
    assert (sequence.first, sequence.count, sequence.file(5).name) == (9997, 6, "frame_10002.png")
    assert len(list(VideoFileSource(folder).frames())) == 6


def test_a_missing_frame_is_one_line_naming_it_and_nothing_is_written(tmp_path, capsys):
    folder = frames_in(tmp_path / "render", 12)
    (folder / "frame_0007.png").unlink()
    out = tmp_path / "dream.mp4"
    assert main(["video", str(folder), "-o", str(out), *FAST]) == 2
    said = capsys.readouterr().out
    assert "1 frame missing between frame_0001.png and frame_0012.png, the first frame_0007.png" in said
    assert len(said.strip().splitlines()) == 1 and not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["render"]


@pytest.mark.parametrize("args,message", [
    (["{empty}"], "no numbered pictures"),
    (["{render}/none_%03d.png"], "names no pictures"),
    # FFmpeg ends the film at an empty picture, and every frame after it was lost
    (["{empty_picture}"], "1 picture empty (0 bytes), the first frame_0002.png; render or copy it again"),
    (["{render}", "--fps", "fast"], "cannot read the frame rate 'fast'"),
    (["{render}", "--fps", "0"], "fps must be above 0"),
    (["{clip}", "--fps", "24"], "--fps is the frame rate of an image sequence"),
])
def test_bad_sequence_input_is_one_line(tmp_path, capsys, args, message):
    names = {"empty": tmp_path / "empty", "render": frames_in(tmp_path / "render", 3), "clip": tmp_path / "clip.mp4"}
    names["empty"].mkdir()
    names["empty_picture"] = frames_in(tmp_path / "half", 3)
    (names["empty_picture"] / "frame_0002.png").write_bytes(b"")
    assert main(["video", str(tmp_path / "render"), "-o", str(names["clip"]), *FAST]) == 0  # a video file
    capsys.readouterr()
    assert main(["video", *[a.format(**names) for a in args], "-o", str(tmp_path / "out.mp4"), *FAST]) == 2
    said = capsys.readouterr().out
    assert message in said and len(said.strip().splitlines()) == 1


def test_an_interrupted_sequence_resumes_where_its_partial_ends(tmp_path):
    folder = frames_in(tmp_path / "render", 40)
    out = tmp_path / "dream.mp4"
    assert main(["video", str(folder), "-o", str(tmp_path / "first.mp4"), "--fps", "24", "--frames", "20", *FAST]) == 0
    (tmp_path / "first.mp4").rename(tmp_path / "dream.partial.mp4")
    assert main(["video", str(folder), "-o", str(out), "--fps", "24", "--resume", *FAST]) == 0
    frames, times, _, _ = probe(out)
    assert len(frames) == 40 and times == pytest.approx([i / 24 for i in range(40)], abs=1e-3)
    # another sequence (a frame rendered again) is not taken for the same input
    (tmp_path / "dream.mp4").rename(tmp_path / "done.mp4")
    assert main(["video", str(folder), "-o", str(tmp_path / "first.mp4"), "--fps", "24", "--frames", "20", *FAST]) == 0
    (tmp_path / "first.mp4").rename(tmp_path / "dream.partial.mp4")
    cv2.imwrite(str(folder / "frame_0040.png"), np.zeros((48, 64, 3), np.uint8))
    assert main(["video", str(folder), "-o", str(out), "--fps", "24", "--resume", *FAST]) == 2


def test_damaged_pictures_are_named_and_leave_a_gap_in_time(tmp_path, capsys):
    folder = frames_in(tmp_path / "render", 12)
    for number, keep in ((5, 0.5), (9, 0.1)):  # copies that stopped part of the way
        picture = folder / f"frame_{number:04d}.png"
        picture.write_bytes(picture.read_bytes()[:int(picture.stat().st_size * keep)])
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    out = tmp_path / "dream.mp4"
    assert main(["video", str(folder), "-o", str(out), "--fps", "24", *FAST]) == 0
    said = capsys.readouterr().out
    assert (f"skipped 2 pictures of {folder} that would not decode (damaged or cut off): frame_0005.png, "
            f"frame_0009.png; the frame before each is held in its place") in said
    assert "corrupt packets" not in said and "Traceback" not in said
    frames, times, _, _ = probe(out)
    # every other frame keeps its own time: the 5th (index 4) and 9th (index 8) are the gaps
    assert times == pytest.approx([i / 24 for i in range(12) if i not in (4, 8)], abs=1e-3)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # inputs are never written


def test_editors_rates_are_exact():
    assert sequence_rate("23.976") == Fraction(24000, 1001) and sequence_rate("29.97") == Fraction(30000, 1001)
    assert sequence_rate("24000/1001") == Fraction(24000, 1001) and sequence_rate(25) == 25
    assert sequence_rate("12.5") == Fraction(25, 2)
    with pytest.raises(UsageError):
        sequence_rate("1001")


def _exr_frames(folder, pictures):
    """OpenEXR frames of linear light (float32), as a renderer writes them, from sRGB pictures."""
    import av

    folder.mkdir(exist_ok=True)
    with av.open(str(folder / "beauty.%04d.exr"), "w", format="image2") as out:
        stream = out.add_stream("exr", rate=25)
        stream.height, stream.width = pictures[0].shape[:2]
        stream.pix_fmt = "gbrpf32le"
        for i, picture in enumerate(pictures):
            coded = picture.astype(np.float32) / 255
            light = np.where(coded <= 0.04045, coded / 12.92, ((coded + 0.055) / 1.055) ** 2.4).astype(np.float32)
            light[0, 0] = 4.0  # a highlight brighter than white
            frame = av.VideoFrame(stream.width, stream.height, "gbrpf32le")
            for plane, channel in zip(frame.planes, (1, 2, 0)):  # planes G, B, R
                rows = np.frombuffer(plane, np.float32).reshape(-1, plane.line_size // 4)
                rows[:, :stream.width] = light[:, :, channel]
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return folder


def test_an_openexr_render_is_read_in_srgb_as_its_png_twin_is(tmp_path):
    pictures = [object_frame(i, 64, 48) for i in range(4)]
    folder = _exr_frames(tmp_path / "render", pictures)
    read = [f.image for f in VideoFileSource(folder).frames()]
    assert len(read) == 4
    for got, wanted in zip(read, pictures):
        assert (got[0, 0] == 255).all()  # above white: white
        got[0, 0] = wanted[0, 0]
        assert np.abs(got.astype(int) - wanted).max() <= 1  # (read as coded light, the mean level halved)


def test_linear_light_to_srgb_known_values():
    from streamdream.media.video_in import srgb_of_linear

    light = np.array([[[0.0, 0.0031308, 0.18], [0.5, 1.0, 7.0], [-1.0, np.nan, np.inf]]], np.float32)
    assert srgb_of_linear(light).tolist() == [[[0, 10, 118], [188, 255, 255], [0, 0, 255]]]
    with pytest.raises(ValueError):
        srgb_of_linear(np.zeros((4, 4), np.float32))
